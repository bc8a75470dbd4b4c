// The pgBouncer collector end to end: a real PostgreSQL behind a real
// pgBouncer (transaction pooling, pool size 2, as Zalando runs it), the
// exporter binary, and every value compared with what the admin console
// itself answers.
#include "support/test_pgbouncer.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/docs_check.hpp"
#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/temp_dir/temp_dir.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

TestPostgres& shared_server() {
  static TestPostgres server;
  return server;
}

// Shared by the cases that leave it as they found it (no clients left,
// running); the case that stops pgBouncer starts its own.
TestPgBouncer& shared_bouncer() {
  static TestPgBouncer bouncer(shared_server(), [] {
    TestPgBouncerOptions options;
    options.default_pool_size = 2;
    options.max_client_conn = 50;
    return options;
  }());
  return bouncer;
}

std::vector<std::string> exporter_args(const TestPgBouncer& bouncer, const TestPostgres* pg) {
  std::vector<std::string> args{"--pgbouncer.dsn=" + bouncer.admin_dsn(), "--scrape.timeout=5s",
                                "--log.level=debug"};
  if (pg != nullptr) args.push_back("--postgres.dsn=" + pg->dsn());
  return args;
}

const std::map<std::string, std::string>& row_where(const ShowRows& rows, const std::string& column,
                                                    const std::string& value) {
  for (const auto& row : rows) {
    if (row.count(column) != 0 && row.at(column) == value) return row;
  }
  FAIL("no row with " << column << " = " << value);
  throw std::logic_error("unreachable");
}

double number(const std::map<std::string, std::string>& row, const std::string& column) {
  return std::stod(row.at(column));
}

// Runs `sql` through pgBouncer over one client connection per call.
void run_through(const TestPgBouncer& bouncer, const std::vector<std::string>& statements) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(bouncer.client_dsn().c_str()), &PQfinish);
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  for (const auto& sql : statements) {
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    INFO(sql << ": " << PQerrorMessage(conn.get()));
    REQUIRE((PQresultStatus(result.get()) == PGRES_TUPLES_OK ||
             PQresultStatus(result.get()) == PGRES_COMMAND_OK));
  }
}

}  // namespace

TEST_CASE("pgBouncer: up, version, pools, databases, lists and config match the admin console",
          "[integration]") {
  auto& pg = shared_server();
  auto& bouncer = shared_bouncer();
  run_through(bouncer, {"SELECT 1"});  // so that the pool postgres/postgres exists
  ExporterProcess exporter(exporter_args(bouncer, &pg));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pgbouncer_up") == 1.0);
  CHECK(metrics.value("pg_up") == 1.0);
  CHECK(metrics.value("pgscope_exporter_collector_success", {{"collector", "pgbouncer"}}) == 1.0);
  for (const char* part : {"pgbouncer_version", "pgbouncer_lists", "pgbouncer_config", "pgbouncer_databases",
                           "pgbouncer_pools", "pgbouncer_stats"}) {
    INFO(part);
    CHECK(metrics.value("pgscope_exporter_collector_success", {{"collector", part}}) == 1.0);
  }
  CHECK(metrics.count("pgscope_exporter_last_error_info", {{"source", "pgbouncer"}}) == 0);

  const auto version = bouncer.show("SHOW VERSION").at(0).at("version");
  CHECK(metrics.value("pgbouncer_version_info", {{"version", version}}) == 1.0);

  const auto databases = bouncer.show("SHOW DATABASES");
  const auto& postgres_db = row_where(databases, "name", "postgres");
  const Labels db_labels{{"name", "postgres"},     {"host", "127.0.0.1"}, {"port", std::to_string(pg.port())},
                         {"database", "postgres"}, {"force_user", ""},    {"pool_mode", ""}};
  CHECK(metrics.value("pgbouncer_databases_pool_size", db_labels) == number(postgres_db, "pool_size"));
  CHECK(metrics.value("pgbouncer_databases_pool_size", db_labels) == 2.0);
  CHECK(metrics.value("pgbouncer_databases_reserve_pool", db_labels) == number(postgres_db, "reserve_pool"));
  CHECK(metrics.value("pgbouncer_databases_max_connections", db_labels) ==
        number(postgres_db, "max_connections"));
  CHECK(metrics.value("pgbouncer_databases_paused", db_labels) == 0.0);
  CHECK(metrics.value("pgbouncer_databases_disabled", db_labels) == 0.0);
  CHECK(metrics.count("pgbouncer_databases_current_connections") == databases.size());

  const auto pools = bouncer.show("SHOW POOLS");
  const auto& pool = row_where(pools, "database", "postgres");
  const Labels pool_labels{{"database", "postgres"}, {"user", "postgres"}};
  CHECK(metrics.value("pgbouncer_pools_server_idle_connections", pool_labels) == number(pool, "sv_idle"));
  CHECK(metrics.value("pgbouncer_pools_server_idle_connections", pool_labels) >= 1.0);
  CHECK(metrics.value("pgbouncer_pools_client_waiting_connections", pool_labels) == 0.0);
  CHECK(metrics.value("pgbouncer_pools_client_maxwait_seconds", pool_labels) == 0.0);
  for (const char* family :
       {"pgbouncer_pools_client_active_connections", "pgbouncer_pools_server_active_connections",
        "pgbouncer_pools_server_used_connections", "pgbouncer_pools_server_testing_connections",
        "pgbouncer_pools_server_login_connections", "pgbouncer_pools_client_active_cancel_connections"}) {
    INFO(family);
    CHECK(metrics.count(family) == pools.size());
    CHECK(metrics.families.at(family).type == "gauge");
  }

  const auto lists = bouncer.show("SHOW LISTS");
  CHECK(metrics.value("pgbouncer_databases") == number(row_where(lists, "list", "databases"), "items"));
  CHECK(metrics.value("pgbouncer_users") == number(row_where(lists, "list", "users"), "items"));
  for (const char* family :
       {"pgbouncer_pools", "pgbouncer_free_clients", "pgbouncer_used_clients", "pgbouncer_login_clients",
        "pgbouncer_free_servers", "pgbouncer_used_servers", "pgbouncer_cached_dns_names",
        "pgbouncer_cached_dns_zones", "pgbouncer_in_flight_dns_queries"}) {
    INFO(family);
    CHECK(metrics.count(family) == 1);
  }

  const auto config = bouncer.show("SHOW CONFIG");
  CHECK(metrics.value("pgbouncer_config_max_client_connections") ==
        number(row_where(config, "key", "max_client_conn"), "value"));
  CHECK(metrics.value("pgbouncer_config_max_client_connections") == 50.0);
  CHECK(metrics.value("pgbouncer_config_max_user_connections") == 0.0);

  CHECK(metrics.families.at("pgbouncer_stats_sql_transactions_pooled_total").type == "counter");
  CHECK(metrics.count("pgbouncer_stats_queries_pooled_total", {{"database", "postgres"}}) == 1);
}

TEST_CASE("pgBouncer: clients beyond the pool size show as waiting, with their wait, until served",
          "[integration]") {
  auto& bouncer = shared_bouncer();
  ExporterProcess exporter(exporter_args(bouncer, nullptr));
  const Labels pool{{"database", "postgres"}, {"user", "postgres"}};

  // Five clients each hold a transaction open; the pool has two server
  // connections, so three wait until the first ones commit.
  std::atomic<bool> release{false};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> clients;
  Finally join{[&] {
    release = true;
    for (auto& client : clients) client.join();
  }};
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&] {
      auto fail = [&](PGconn* conn, const std::string& what) {
        std::lock_guard<std::mutex> lock(errors_mutex);
        errors.push_back(what + ": " + PQerrorMessage(conn));
      };
      std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(bouncer.client_dsn().c_str()), &PQfinish);
      if (PQstatus(conn.get()) != CONNECTION_OK) return fail(conn.get(), "connect");
      std::unique_ptr<PGresult, decltype(&PQclear)> begun(PQexec(conn.get(), "BEGIN; SELECT 1"), &PQclear);
      if (PQresultStatus(begun.get()) != PGRES_TUPLES_OK) return fail(conn.get(), "BEGIN");
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::unique_ptr<PGresult, decltype(&PQclear)> done(PQexec(conn.get(), "COMMIT"), &PQclear);
      if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) return fail(conn.get(), "COMMIT");
    });
  }

  // pgBouncer opens server connections one at a time, so four clients may
  // wait for a moment before the second one is up: wait for the steady state.
  Exposition metrics;
  const auto value = [&](const char* family) { return metrics.value(family, pool).value_or(-1); };
  CHECK(eventually(
      [&] {
        metrics = scrape_metrics(exporter);
        return value("pgbouncer_pools_server_active_connections") == 2 &&
               value("pgbouncer_pools_client_waiting_connections") >= 3 &&
               value("pgbouncer_pools_client_maxwait_seconds") > 0;
      },
      std::chrono::seconds(10)));
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(value("pgbouncer_pools_client_waiting_connections") == 3.0);
  CHECK(value("pgbouncer_pools_client_active_connections") == 2.0);
  CHECK(value("pgbouncer_pools_client_maxwait_seconds") > 0.0);
  CHECK(number(row_where(bouncer.show("SHOW POOLS"), "database", "postgres"), "cl_waiting") == 3.0);

  release = true;
  for (auto& client : clients) client.join();
  clients.clear();
  {
    std::lock_guard<std::mutex> lock(errors_mutex);
    INFO("client errors: " << Catch::Detail::stringify(errors));
    CHECK(errors.empty());
  }
  CHECK(eventually(
      [&] {
        metrics = scrape_metrics(exporter);
        return value("pgbouncer_pools_client_waiting_connections") == 0.0;
      },
      std::chrono::seconds(10)));
  CHECK(value("pgbouncer_pools_client_maxwait_seconds") == 0.0);
  CHECK(metrics.value("pgbouncer_stats_client_wait_seconds_total", {{"database", "postgres"}}) > 0.0);
}

TEST_CASE("pgBouncer: stats counters rise by the transactions and queries run through it", "[integration]") {
  auto& bouncer = shared_bouncer();
  ExporterProcess exporter(exporter_args(bouncer, nullptr));
  const Labels db{{"database", "postgres"}};
  run_through(bouncer, {"SELECT 1"});
  const auto before = scrape_metrics(exporter);
  const auto shown_before = row_where(bouncer.show("SHOW STATS"), "database", "postgres");

  // Seven autocommit queries and one transaction of three statements.
  run_through(bouncer, {"SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4", "SELECT 5", "SELECT 6", "SELECT 7",
                        "BEGIN", "SELECT 8", "COMMIT"});
  const auto after = scrape_metrics(exporter);
  const auto shown_after = row_where(bouncer.show("SHOW STATS"), "database", "postgres");
  INFO("exporter log:\n" << exporter.log_tail());

  const auto xacts = [&](const Exposition& m) {
    return m.value("pgbouncer_stats_sql_transactions_pooled_total", db).value_or(-1);
  };
  const auto queries = [&](const Exposition& m) {
    return m.value("pgbouncer_stats_queries_pooled_total", db).value_or(-1);
  };
  CHECK(xacts(before) == number(shown_before, "total_xact_count"));
  CHECK(xacts(after) == number(shown_after, "total_xact_count"));
  CHECK(xacts(after) - xacts(before) == 8.0);
  CHECK(queries(after) == number(shown_after, "total_query_count"));
  CHECK(queries(after) - queries(before) == 10.0);
  CHECK(after.value("pgbouncer_stats_queries_duration_seconds_total", db).value_or(-1) ==
        Approx(number(shown_after, "total_query_time") / 1e6));
  CHECK(after.value("pgbouncer_stats_server_in_transaction_seconds_total", db).value_or(-1) ==
        Approx(number(shown_after, "total_xact_time") / 1e6));
  CHECK(after.value("pgbouncer_stats_received_bytes_total", db) == number(shown_after, "total_received"));
  CHECK(after.value("pgbouncer_stats_sent_bytes_total", db) >
        before.value("pgbouncer_stats_sent_bytes_total", db));
}

TEST_CASE("pgBouncer down: pgbouncer_up 0 at once, PostgreSQL unaffected, back when it returns",
          "[integration]") {
  auto& pg = shared_server();
  TestPgBouncer bouncer(pg);  // its own: this case stops it
  ExporterProcess exporter(exporter_args(bouncer, &pg));
  REQUIRE(scrape_metrics(exporter).value("pgbouncer_up") == 1.0);

  bouncer.stop();
  for (int scrape = 0; scrape < 2; ++scrape) {
    auto result = exporter.scrape();
    INFO("exporter log:\n" << exporter.log_tail());
    REQUIRE(result.status == 200);
    CHECK(result.elapsed_ms < 2000);
    auto metrics = parse_prom_text(result.body);
    CHECK(metrics.value("pgbouncer_up") == 0.0);
    CHECK(metrics.value("pg_up") == 1.0);
    CHECK(metrics.value("pgscope_exporter_collector_success", {{"collector", "pgbouncer"}}) == 0.0);
    CHECK(metrics.value("pgscope_exporter_last_error_info",
                        {{"source", "pgbouncer"}, {"kind", "connection"}}) == 1.0);
    CHECK(metrics.value("pgscope_exporter_last_error_timestamp_seconds", {{"source", "pgbouncer"}}) > 0.0);
    CHECK(metrics.names_with_prefix("pgbouncer_pools_").empty());
  }
  // Logged once per change, not once per scrape.
  const auto log = exporter.log();
  std::size_t logged = 0;
  for (auto at = log.find("pgbouncer: cannot scrape"); at != std::string::npos;
       at = log.find("pgbouncer: cannot scrape", at + 1)) {
    ++logged;
  }
  CHECK(logged == 1);

  bouncer.start();
  auto metrics = scrape_metrics(exporter);  // the first scrape after the restart already sees it
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(metrics.value("pgbouncer_up") == 1.0);
  CHECK(metrics.count("pgbouncer_pools_client_active_connections") > 0);
  CHECK(exporter.log().find("pgbouncer: scraping works again") != std::string::npos);
}

TEST_CASE("pgBouncer: the console's users, and a DSN that is no pgBouncer at all", "[integration]") {
  auto& pg = shared_server();
  auto& bouncer = shared_bouncer();
  SECTION("a stats_users member reads everything") {
    ExporterProcess exporter({"--pgbouncer.dsn=" + bouncer.admin_dsn("pgscope_stats")});
    auto metrics = scrape_metrics(exporter);
    INFO("exporter log:\n" << exporter.log_tail());
    CHECK(metrics.value("pgbouncer_up") == 1.0);
    CHECK(metrics.count("pgbouncer_config_max_client_connections") == 1);
    CHECK(metrics.count("pgbouncer_stats_queries_pooled_total") > 0);
    CHECK_FALSE(metrics.value("pg_up").has_value());  // no PostgreSQL DSN: no PostgreSQL collector
  }
  SECTION("anyone else is refused at login: an authentication error") {
    ExporterProcess exporter({"--pgbouncer.dsn=" + bouncer.admin_dsn("pgscope_nobody")});
    auto metrics = scrape_metrics(exporter);
    INFO("exporter log:\n" << exporter.log_tail());
    CHECK(metrics.value("pgbouncer_up") == 0.0);
    CHECK(metrics.count("pgscope_exporter_last_error_info",
                        {{"source", "pgbouncer"}, {"kind", "authentication"}}) == 1);
  }
  SECTION("PostgreSQL itself answers no SHOW command: a query error, pgbouncer_up 0") {
    ExporterProcess exporter({"--pgbouncer.dsn=" + pg.dsn()});
    auto metrics = scrape_metrics(exporter);
    INFO("exporter log:\n" << exporter.log_tail());
    CHECK(metrics.value("pgbouncer_up") == 0.0);
    CHECK(metrics.count("pgscope_exporter_last_error_info", {{"source", "pgbouncer"}, {"kind", "query"}}) ==
          1);
  }
}

TEST_CASE("pgBouncer: the exposition passes promtool", "[integration]") {
  auto& pg = shared_server();
  auto& bouncer = shared_bouncer();
  run_through(bouncer, {"SELECT 1"});
  ExporterProcess exporter(exporter_args(bouncer, &pg));
  auto result = exporter.scrape();
  REQUIRE(result.status == 200);
  REQUIRE(parse_prom_text(result.body).value("pgbouncer_up") == 1.0);
  auto check = promtool_check(result.body);
  INFO(check.output);
  CHECK_FALSE(check.parse_error());
}

TEST_CASE("pgBouncer: every family it emits is described in docs/metrics.md", "[integration][docs]") {
  auto& bouncer = shared_bouncer();
  run_through(bouncer, {"SELECT 1"});
  ExporterProcess exporter(exporter_args(bouncer, nullptr));
  const auto missing = undocumented_families(scrape_metrics(exporter));
  INFO("not in docs/metrics.md: " << Catch::Detail::stringify(missing));
  CHECK(missing.empty());
}

TEST_CASE("pgBouncer: scraped through /probe with source=pgbouncer and an auth module", "[integration]") {
  auto& bouncer = shared_bouncer();
  const TempDir dir("pgscope-bouncer-probe");
  const std::string config =
      dir.write("config.yaml",
                "auth_modules:\n  pooler:\n    type: userpass\n    userpass: {username: pgscope_stats}\n"
                "    options: {sslmode: disable}\n");
  ExporterProcess exporter({"--config.file=" + config});
  const std::string target = "127.0.0.1:" + std::to_string(bouncer.port());
  auto result = exporter.scrape("/probe?target=" + target + "&source=pgbouncer&auth_module=pooler");
  INFO("exporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);
  auto metrics = parse_prom_text(result.body);
  CHECK(metrics.value("pgbouncer_up") == 1.0);
  CHECK(metrics.count("pgbouncer_databases_pool_size", {{"name", "postgres"}}) == 1);
  CHECK_FALSE(metrics.has_family("pg_up"));
  // The same target as PostgreSQL is another target, not pgBouncer's console.
  auto wrong = exporter.scrape("/probe?target=" + target + "&source=mysql");
  CHECK(wrong.status == 400);
}
