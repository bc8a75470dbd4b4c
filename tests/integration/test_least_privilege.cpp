// The exporter as the least privileged user that can do its job
// (docs/least-privilege.md): a PostgreSQL role that is only a member of
// pg_monitor runs every built-in collector that is on by default, and
// stat_statements, as the superuser does; a role without it loses the
// queries that need it, visibly (query and collector success 0, the reason
// in the log) and nothing else. For pgBouncer, a stats_users member reads
// what an admin_users member does; anyone else gets pgbouncer_up 0 and why.
#include <libpq-fe.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postgres/catalog.hpp"
#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_pgbouncer.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

// One server for the PostgreSQL cases: roles as in docs/least-privilege.md
// (pgscope with pg_monitor and the optional grants for replication origins,
// pgscope_plain with LOGIN only), pg_stat_statements, a second database with
// a table, a logical slot, and statements and sessions of another role.
TestPostgres& shared_server() {
  static TestPostgres server;
  static bool prepared = [] {
    server.exec(
        "CREATE EXTENSION pg_stat_statements;"
        "CREATE ROLE pgscope LOGIN IN ROLE pg_monitor;"
        "CREATE ROLE pgscope_plain LOGIN;"
        "CREATE ROLE app LOGIN;"
        // Replication origins are the one thing pg_monitor does not show;
        // docs/least-privilege.md gives this grant for who uses them.
        "SELECT pg_replication_origin_create('least_privilege_origin');"
        "SELECT pg_replication_origin_advance('least_privilege_origin', '0/1000');"
        "GRANT SELECT ON pg_catalog.pg_replication_origin_status TO pgscope;"
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_replication_origin_status() TO pgscope;");
    server.exec("CREATE DATABASE appdb OWNER app");
    server.exec(
        "CREATE TABLE orders (id int PRIMARY KEY, note text);"
        "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 1000) g;"
        "ANALYZE orders;",
        "appdb");
    server.exec("SELECT pg_create_logical_replication_slot('least_privilege_slot', 'test_decoding')",
                "appdb");
    server.exec("SET ROLE app; SELECT count(*) AS app_statement FROM pg_class", "appdb");
    return true;
  }();
  (void)prepared;
  return server;
}

// A session of role app in appdb, idle in a transaction, while it lives.
class IdleTransaction {
 public:
  explicit IdleTransaction(const TestPostgres& pg)
      : conn_(PQconnectdb(pg.dsn("appdb", "app").c_str()), &PQfinish) {
    REQUIRE(PQstatus(conn_.get()) == CONNECTION_OK);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexec(conn_.get(), "BEGIN; SELECT count(*) FROM pg_class"), &PQclear);
    REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
    // Old enough to tell from the exporter's own short transactions.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

std::vector<std::string> postgres_args(const TestPostgres& pg, const std::string& user) {
  return {"--postgres.dsn=" + pg.dsn("postgres", user), "--collector.stat_statements", "--scrape.timeout=10s",
          "--log.level=debug"};
}

// label value -> sample value of every sample of `name`
std::map<std::string, double> by_label(const Exposition& metrics, const std::string& name,
                                       const std::string& label) {
  std::map<std::string, double> values;
  for (const auto* sample : metrics.find(name)) values[sample->label(label)] = sample->value;
  return values;
}

std::set<std::string> family_names(const Exposition& metrics, const std::string& prefix) {
  const auto names = metrics.names_with_prefix(prefix);
  return {names.begin(), names.end()};
}

}  // namespace

TEST_CASE("least privilege: a pg_monitor member runs every default collector and stat_statements",
          "[integration]") {
  auto& pg = shared_server();
  IdleTransaction idle(pg);
  ExporterProcess superuser(postgres_args(pg, "postgres"));
  ExporterProcess monitor(postgres_args(pg, "pgscope"));
  const auto reference = scrape_metrics(superuser);
  const auto metrics = scrape_metrics(monitor);
  INFO("exporter log (pgscope):\n" << monitor.log_tail(60));

  CHECK(metrics.value("pg_up") == 1.0);
  const auto queries = by_label(metrics, "pgscope_exporter_query_success", "query");
  REQUIRE(queries.size() > 20);
  for (const auto& [query, success] : queries) {
    INFO("query " << query);
    CHECK(success == 1.0);
  }
  CHECK(queries.size() == by_label(reference, "pgscope_exporter_query_success", "query").size());
  const auto collectors = by_label(metrics, "pgscope_exporter_collector_success", "collector");
  CHECK(collectors.count("postgres") == 1);
  CHECK(collectors.count("stat_statements") == 1);
  for (const auto& [collector, success] : collectors) {
    INFO("collector " << collector);
    CHECK(success == 1.0);
  }
  CHECK_FALSE(metrics.has_family("pgscope_exporter_last_error_info"));

  // What the superuser sees, pg_monitor sees: the same families.
  CHECK(family_names(metrics, "pg_") == family_names(reference, "pg_"));
  // pg_read_all_stats (in pg_monitor): other roles' statements with their queryid.
  const auto app = metrics.find("pg_stat_statements_calls_total", {{"user", "app"}, {"datname", "appdb"}});
  REQUIRE_FALSE(app.empty());
  CHECK_FALSE(app.front()->label("queryid").empty());
  // pg_ls_waldir() is granted to pg_monitor: the WAL directory is measured.
  CHECK(metrics.value("pg_wal_segments").value_or(0) >= 1);
  // Per-database collectors reach the other database (PUBLIC's CONNECT).
  CHECK(metrics.count("pg_stat_user_tables_n_live_tup", {{"datname", "appdb"}, {"relname", "orders"}}) == 1);
  CHECK(metrics.count("pg_replication_slots_active", {{"slot_name", "least_privilege_slot"}}) == 1);
  CHECK(metrics.count("pg_replication_origin_status_remote_lsn_bytes",
                      {{"roname", "least_privilege_origin"}}) == 1);
  // pg_read_all_stats: other roles' sessions with their state and times.
  CHECK(metrics.value("pg_stat_activity_count", {{"datname", "appdb"}, {"state", "idle in transaction"}}) ==
        1.0);
  CHECK(metrics.value("pg_oldest_transaction_age_seconds", {{"source", "backend"}}).value_or(0) >= 2.0);
}

TEST_CASE("least privilege: without pg_monitor, what needs it fails visibly and the rest works",
          "[integration]") {
  auto& pg = shared_server();
  IdleTransaction idle(pg);
  ExporterProcess plain(postgres_args(pg, "pgscope_plain"));
  const auto metrics = scrape_metrics(plain);
  const std::string log = plain.log();
  INFO("exporter log (pgscope_plain):\n" << plain.log_tail(60));

  CHECK(plain.running());
  CHECK(metrics.value("pg_up") == 1.0);
  CHECK_FALSE(metrics.has_family("pgscope_exporter_last_error_info"));  // nothing stopped the source

  const auto queries = by_label(metrics, "pgscope_exporter_query_success", "query");
  std::set<std::string> failed;
  for (const auto& [query, success] : queries) {
    if (success == 0) failed.insert(query);
  }
  // Exactly what docs/least-privilege.md says fails without pg_monitor.
  CHECK(failed == std::set<std::string>{"pg_wal"});

  // Each failure is logged with the server's reason; its metrics are absent
  // (unless another entry that worked emits the same name).
  const auto catalog = pgscope::builtin_catalog();
  std::map<std::string, std::set<std::string>> emitted_by;  // metric -> entries
  std::map<std::string, std::string> collector_of;
  for (const auto& entry : catalog.entries) {
    collector_of[entry.name] = entry.collector;
    for (const auto& spec : entry.metrics) {
      if (spec.usage != pgscope::Usage::Label && spec.usage != pgscope::Usage::Discard) {
        emitted_by[entry.metric_name(spec)].insert(entry.name);
      }
    }
  }
  std::set<std::string> failed_collectors;
  for (const auto& query : failed) {
    INFO("query " << query);
    failed_collectors.insert(collector_of[query]);
    const std::string line = "query " + query + " in database";
    const auto at = log.find(line);
    REQUIRE(at != std::string::npos);
    const auto end = log.find('\n', at);
    const std::string logged = log.substr(at, end - at);
    INFO(logged);
    CHECK(logged.find("failed") != std::string::npos);
    CHECK(logged.find("permission denied") != std::string::npos);
    for (const auto& [metric, entries] : emitted_by) {
      const bool only_failed = std::all_of(entries.begin(), entries.end(), [&](const std::string& e) {
        return failed.count(e) != 0 || queries.count(e) == 0;
      });
      if (entries.count(query) != 0 && only_failed) {
        INFO("metric " << metric);
        CHECK(metrics.count(metric) == 0);
      }
    }
  }
  const auto collectors = by_label(metrics, "pgscope_exporter_collector_success", "collector");
  for (const auto& [collector, success] : collectors) {
    INFO("collector " << collector);
    if (collector == "postgres") {
      CHECK(success == 1.0);  // the source itself: connected, queried
    } else {
      CHECK(success == (failed_collectors.count(collector) != 0 ? 0.0 : 1.0));
    }
  }
  // What works without pg_monitor still reports.
  CHECK(metrics.count("pg_stat_user_tables_n_live_tup", {{"datname", "appdb"}, {"relname", "orders"}}) == 1);
  CHECK(metrics.count("pg_settings_max_connections") == 1);
  // pg_stat_statements without pg_read_all_stats: its own statements only are
  // attributed; everyone else's come with an empty queryid.
  CHECK(queries.at("pg_stat_statements") == 1.0);
  const auto app = metrics.find("pg_stat_statements_calls_total", {{"user", "app"}});
  REQUIRE_FALSE(app.empty());
  for (const auto* sample : app) CHECK(sample->label("queryid").empty());
  // No grant on pg_replication_origin_status: no origins, and no error.
  CHECK(queries.at("pg_replication_origin_status") == 1.0);
  CHECK(metrics.count("pg_replication_origin_status_remote_lsn_bytes") == 0);
  // Other roles' sessions are there without state or times: silently less,
  // which is why pg_monitor is the minimum, not an option.
  CHECK(metrics.value("pg_stat_activity_count", {{"datname", "appdb"}, {"state", "idle in transaction"}}) ==
        0.0);
  // (The exporter's own sessions, of this role, may be inside a transaction
  // of a few milliseconds.)
  CHECK(metrics.value("pg_oldest_transaction_age_seconds", {{"source", "backend"}}).value_or(99) < 1.0);
  // A second scrape fails the same way without crashing, and logs nothing new
  // (a failure is logged when it starts, not at every scrape).
  const auto again = scrape_metrics(plain);
  CHECK(again.value("pg_up") == 1.0);
  CHECK(plain.running());
}

TEST_CASE("least privilege: a database closed to PUBLIC needs CONNECT granted, or excluding",
          "[integration]") {
  auto& pg = shared_server();
  pg.exec("CREATE DATABASE private_db");
  Finally drop{[&] { pg.exec("DROP DATABASE private_db WITH (FORCE)"); }};
  pg.exec("REVOKE CONNECT ON DATABASE private_db FROM PUBLIC");

  SECTION("without CONNECT: its per-database queries fail, and the log says why") {
    ExporterProcess monitor(postgres_args(pg, "pgscope"));
    const auto metrics = scrape_metrics(monitor);
    INFO("exporter log:\n" << monitor.log_tail());
    CHECK(metrics.value("pg_up") == 1.0);
    CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_stat_user_tables"}}) == 0.0);
    CHECK(metrics.count("pg_stat_user_tables_n_live_tup", {{"datname", "appdb"}}) == 1);  // the others work
    CHECK(monitor.log().find("permission denied for database") != std::string::npos);
  }
  SECTION("with CONNECT granted: everything works") {
    pg.exec("GRANT CONNECT ON DATABASE private_db TO pgscope");
    ExporterProcess monitor(postgres_args(pg, "pgscope"));
    const auto metrics = scrape_metrics(monitor);
    INFO("exporter log:\n" << monitor.log_tail());
    for (const auto& [query, success] : by_label(metrics, "pgscope_exporter_query_success", "query")) {
      INFO("query " << query);
      CHECK(success == 1.0);
    }
    CHECK(metrics.count("pg_table_limit_omitted_tables", {{"datname", "private_db"}}) == 1);
  }
  SECTION("or excluded") {
    ExporterProcess monitor([&] {
      auto args = postgres_args(pg, "pgscope");
      args.push_back("--postgres.exclude-databases=private_db");
      return args;
    }());
    const auto metrics = scrape_metrics(monitor);
    INFO("exporter log:\n" << monitor.log_tail());
    for (const auto& [query, success] : by_label(metrics, "pgscope_exporter_query_success", "query")) {
      INFO("query " << query);
      CHECK(success == 1.0);
    }
    CHECK(metrics.count("pg_table_limit_omitted_tables", {{"datname", "private_db"}}) == 0);
  }
}

TEST_CASE("least privilege: pgBouncer's stats_users read the console; anyone else is refused, visibly",
          "[integration]") {
  TestPostgres pg;
  TestPgBouncer bouncer(pg);
  ExporterProcess admin({"--pgbouncer.dsn=" + bouncer.admin_dsn("pgscope_admin")});
  ExporterProcess stats({"--pgbouncer.dsn=" + bouncer.admin_dsn("pgscope_stats")});
  ExporterProcess nobody({"--pgbouncer.dsn=" + bouncer.admin_dsn("pgscope_nobody")});

  const auto reference = scrape_metrics(admin);
  const auto metrics = scrape_metrics(stats);
  {
    INFO("exporter log (pgscope_stats):\n" << stats.log_tail());
    CHECK(metrics.value("pgbouncer_up") == 1.0);
    CHECK(metrics.value("pgscope_exporter_collector_success", {{"collector", "pgbouncer"}}) == 1.0);
    CHECK_FALSE(metrics.has_family("pgscope_exporter_last_error_info"));
    // Every SHOW the collector runs is open to stats_users: the same families
    // as for an admin.
    const auto families = family_names(metrics, "pgbouncer_");
    CHECK(families.size() > 10);
    CHECK(families == family_names(reference, "pgbouncer_"));
  }

  const auto refused = scrape_metrics(nobody);
  INFO("exporter log (pgscope_nobody):\n" << nobody.log_tail());
  CHECK(nobody.running());
  CHECK(refused.value("pgbouncer_up") == 0.0);
  CHECK(refused.value("pgscope_exporter_collector_success", {{"collector", "pgbouncer"}}) == 0.0);
  const auto errors =
      refused.find("pgscope_exporter_last_error_info", {{"source", "pgbouncer"}, {"kind", "authentication"}});
  REQUIRE(errors.size() == 1);
  CHECK(errors.front()->label("message").find("not allowed") != std::string::npos);
  CHECK(refused.count("pgbouncer_pools_client_active_connections") == 0);
  const std::string log = nobody.log();
  CHECK(log.find("pgbouncer: cannot scrape (authentication)") != std::string::npos);
  CHECK(log.find("not allowed") != std::string::npos);
}
