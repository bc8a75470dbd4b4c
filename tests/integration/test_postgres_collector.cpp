// The PostgreSQL collector end to end: a real server (TestPostgres), the real
// exporter binary (ExporterProcess), and the exposition checked the way
// Prometheus reads it (our parser and promtool).
#include <dirent.h>
#include <libpq-fe.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/docs_check.hpp"
#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;
using Catch::Matchers::Contains;

namespace {

// One server for the test cases that leave it as they found it: initdb is the
// slowest step. Cases that stop the server or need a pristine one start
// their own.
TestPostgres& shared_server() {
  static TestPostgres server;
  return server;
}

std::vector<std::string> exporter_args(const std::string& dsn) {
  return {"--postgres.dsn=" + dsn, "--scrape.timeout=3s", "--log.level=debug"};
}

void ensure_database(const TestPostgres& pg, const std::string& name) {
  if (pg.query_value("SELECT count(*) FROM pg_database WHERE datname = " + sql_literal(name)) == "0") {
    pg.exec("CREATE DATABASE " + sql_identifier(name));
  }
}

}  // namespace

TEST_CASE("a scrape reports pg_up, the server version and the exporter's own metrics", "[integration]") {
  auto& pg = shared_server();
  ExporterProcess exporter(exporter_args(pg.dsn()));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pg_up") == 1.0);

  auto statics = metrics.find("pg_static");
  REQUIRE(statics.size() == 1);
  const int major = std::stoi(pg.query_value("SHOW server_version_num")) / 10000;
  CHECK_THAT(statics[0]->label("short_version"), Catch::StartsWith(std::to_string(major) + "."));
  CHECK(statics[0]->label("version") == pg.query_value("SELECT version()"));

  CHECK(metrics.value("pgscope_exporter_build_info", {{"version", PGSCOPE_VERSION}}) == 1.0);
  auto first_count = metrics.value("pgscope_exporter_scrapes_total");
  REQUIRE(first_count.has_value());
  auto again = scrape_metrics(exporter);
  CHECK(again.value("pgscope_exporter_scrapes_total") > *first_count);

  // Against a healthy server every enabled collector must succeed.
  auto successes = metrics.find("pgscope_exporter_collector_success");
  REQUIRE_FALSE(successes.empty());
  for (const auto* sample : successes) {
    INFO("collector " << sample->label("collector"));
    CHECK_FALSE(sample->label("collector").empty());
    CHECK(sample->value == 1.0);
  }

  auto lint = promtool_check(exporter.scrape().body);
  INFO("promtool:\n" << lint.output);
  CHECK_FALSE(lint.parse_error());

  CHECK(exporter.scrape("/healthz").status == 200);
  auto landing = exporter.scrape("/");
  CHECK(landing.status == 200);
  CHECK_THAT(landing.body, Contains("/metrics"));
}

TEST_CASE("xact_commit rises by the transactions committed", "[integration]") {
  auto& pg = shared_server();
  ensure_database(pg, "testdb");
  pg.exec("CREATE TABLE IF NOT EXISTS commits (n int)", "testdb");
  ExporterProcess exporter(exporter_args(pg.dsn()));
  const std::string metric = "pg_stat_database_xact_commit";
  auto in_view = [&] {
    return std::stod(pg.query_value("SELECT xact_commit FROM pg_stat_database WHERE datname = 'testdb'"));
  };

  auto exported_before = scrape_metrics(exporter).value(metric, {{"datname", "testdb"}});
  REQUIRE(exported_before.has_value());
  const double view_before = in_view();

  // 25 transactions in one session: explicit BEGIN/COMMIT in one query
  // string commit separately.
  std::string sql;
  for (int i = 0; i < 25; ++i)
    sql += "BEGIN; INSERT INTO commits VALUES (" + std::to_string(i) + "); COMMIT; ";
  pg.exec(sql, "testdb");
  // Backends flush their statistics when idle or exiting, not at once: wait
  // until the server's own view shows them.
  double view_after = 0;
  REQUIRE(eventually([&] { return (view_after = in_view()) >= view_before + 25; }, std::chrono::seconds(10)));

  auto exported_after = scrape_metrics(exporter).value(metric, {{"datname", "testdb"}});
  const double view_latest = in_view();
  REQUIRE(exported_after.has_value());
  INFO("exported " << *exported_before << " -> " << *exported_after << "; view " << view_before << " -> "
                   << view_after << " -> " << view_latest);
  CHECK(*exported_after - *exported_before >= 25);
  // The exporter read the view between our two reads (its own sessions in
  // testdb may commit too, so the value is bracketed, not pinned).
  CHECK(*exported_after >= view_after);
  CHECK(*exported_after <= view_latest);
}

TEST_CASE("replication slots show up with their names", "[integration]") {
  auto& pg = shared_server();
  ensure_database(pg, "testdb");
  Finally drop{[&] {
    pg.exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name IN ('pgscope_physical', 'pgscope_logical')");
  }};
  pg.exec("SELECT pg_create_physical_replication_slot('pgscope_physical', true)");
  pg.exec("SELECT pg_create_logical_replication_slot('pgscope_logical', 'test_decoding')", "testdb");

  ExporterProcess exporter(exporter_args(pg.dsn()));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pg_replication_slots_active", {{"slot_name", "pgscope_physical"}}) == 0.0);
  CHECK(metrics.value("pg_replication_slots_active", {{"slot_name", "pgscope_logical"}}) == 0.0);
  auto logical = metrics.find("pg_replication_slots_active", {{"slot_name", "pgscope_logical"}});
  REQUIRE(logical.size() == 1);
  CHECK(logical[0]->label("database") == "testdb");
  for (const std::string slot : {"pgscope_physical", "pgscope_logical"}) {
    INFO("slot " << slot);
    auto retained = metrics.value("pg_replication_slots_pg_wal_lsn_diff", {{"slot_name", slot}});
    REQUIRE(retained.has_value());
    CHECK(*retained >= 0);
    CHECK(metrics.count("pg_replication_slots_wal_status", {{"slot_name", slot}}) == 1);
  }
}

TEST_CASE("hostile database and table names are escaped exactly", "[integration]") {
  auto& pg = shared_server();
  const std::vector<std::string> names = {
      "we\"ird\\db", "new\nline", "zürich", "it's", "trailing\\", "a,b=c}{",
  };
  for (const auto& name : names) {
    ensure_database(pg, name);
    pg.exec("CREATE TABLE IF NOT EXISTS " + sql_identifier(name) + " (id int)", name);
  }

  ExporterProcess exporter(exporter_args(pg.dsn()));
  auto result = exporter.scrape();
  INFO("exporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);

  auto lint = promtool_check(result.body);
  INFO("promtool:\n" << lint.output);
  CHECK_FALSE(lint.parse_error());

  Exposition metrics;
  REQUIRE_NOTHROW(metrics = parse_prom_text(result.body));
  for (const auto& name : names) {
    INFO("name: " << name);
    CHECK(metrics.count("pg_stat_database_xact_commit", {{"datname", name}}) == 1);
    CHECK(metrics.count("pg_database_size_bytes", {{"datname", name}}) == 1);
    CHECK(metrics.count("pg_stat_user_tables_seq_scan", {{"datname", name}, {"relname", name}}) == 1);
  }
}

TEST_CASE("a stopped server gives pg_up 0 within the deadline, and 1 again after restart", "[integration]") {
  TestPostgres pg;
  ExporterProcess exporter(exporter_args(pg.dsn()));
  REQUIRE(scrape_metrics(exporter).value("pg_up") == 1.0);

  pg.stop();
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second scrape must not hang on a reconnect either
    auto result = exporter.scrape();
    INFO("scrape " << attempt << "; exporter log:\n" << exporter.log_tail());
    REQUIRE(result.status == 200);
    CHECK(result.elapsed_ms <= 4000);  // --scrape.timeout=3s + 1 s
    auto metrics = parse_prom_text(result.body);
    CHECK(metrics.value("pg_up") == 0.0);
    auto errors = metrics.find("pgscope_exporter_last_error_info", {{"source", "postgres"}});
    REQUIRE(errors.size() == 1);
    CHECK_FALSE(errors[0]->label("kind").empty());
  }

  pg.start();
  bool back =
      eventually([&] { return scrape_metrics(exporter).value("pg_up") == 1.0; }, std::chrono::seconds(10));
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(back);
  CHECK(scrape_metrics(exporter).count("pg_stat_database_xact_commit") > 0);
}

TEST_CASE("a hung server does not hold the scrape past its deadline", "[integration]") {
  TestPostgres pg;
  ExporterProcess exporter(exporter_args(pg.dsn()));
  REQUIRE(scrape_metrics(exporter).value("pg_up") == 1.0);

  // SIGSTOP the postmaster and all its children (the exporter's backends
  // among them): connections are accepted by the kernel but nothing answers.
  std::vector<pid_t> stopped{pg.postmaster_pid()};
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      pid_t pid = std::atoi(entry->d_name);
      if (pid <= 0) continue;
      std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
      std::string line;
      std::getline(stat, line);
      auto close_paren = line.rfind(')');
      if (close_paren == std::string::npos) continue;
      char state = 0;
      pid_t ppid = 0;
      if (std::sscanf(line.c_str() + close_paren + 1, " %c %d", &state, &ppid) == 2 &&
          ppid == pg.postmaster_pid()) {
        stopped.push_back(pid);
      }
    }
    closedir(proc);
  }
  Finally resume{[&] {
    for (pid_t pid : stopped) kill(pid, SIGCONT);
  }};
  for (pid_t pid : stopped) kill(pid, SIGSTOP);

  auto result = exporter.scrape();
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(result.status == 200);
  CHECK(result.elapsed_ms <= 4000);  // --scrape.timeout=3s + 1 s
}

TEST_CASE("a refused login gives pg_up 0 and never shows the password", "[integration]") {
  auto& pg = shared_server();
  const std::string right = "R1ght-Passw0rd";
  const std::string wrong = "Wr0ng-S3cret-Pw";
  static bool prepared = false;
  if (!prepared) {
    // initdb -A trust lets everyone in; these two roles must give a password.
    pg.exec("CREATE ROLE pgscope_pw LOGIN PASSWORD " + sql_literal(right));
    pg.prepend_hba("host all pgscope_pw,pgscope_nosuchuser 127.0.0.1/32 scram-sha-256");
    pg.reload();
    prepared = true;
  }
  // The reload is asynchronous: wait until a login without password fails.
  REQUIRE(eventually(
      [&] {
        PGconn* conn = PQconnectdb(pg.dsn("postgres", "pgscope_pw").c_str());
        bool refused = PQstatus(conn) != CONNECTION_OK;
        PQfinish(conn);
        return refused;
      },
      std::chrono::seconds(10)));

  SECTION("the right password works (so the failures below are the password's)") {
    ExporterProcess exporter(exporter_args(pg.dsn("postgres", "pgscope_pw") + " password=" + right));
    INFO("exporter log:\n" << exporter.log_tail());
    CHECK(scrape_metrics(exporter).value("pg_up") == 1.0);
  }

  auto check_refused = [&](ExporterProcess& exporter) {
    auto result = exporter.scrape();
    INFO("exporter log:\n" << exporter.log_tail());
    REQUIRE(result.status == 200);
    auto metrics = parse_prom_text(result.body);
    CHECK(metrics.value("pg_up") == 0.0);
    auto errors = metrics.find("pgscope_exporter_last_error_info", {{"source", "postgres"}});
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]->label("kind") == "authentication");
    CHECK_THAT(result.body, !Contains(wrong));
    CHECK_THAT(exporter.scrape("/").body, !Contains(wrong));
    CHECK_THAT(exporter.log(), Contains("authentication"));
    CHECK_THAT(exporter.log(), !Contains(wrong));
  };

  SECTION("a wrong password (flag, keyword form)") {
    ExporterProcess exporter(exporter_args(pg.dsn("postgres", "pgscope_pw") + " password=" + wrong));
    check_refused(exporter);
  }
  SECTION("an unknown user (DATA_SOURCE_NAME, URI form)") {
    ExporterProcess exporter(
        {"--scrape.timeout=3s", "--log.level=debug"},
        {{"DATA_SOURCE_NAME", "postgresql://pgscope_nosuchuser:" + wrong +
                                  "@127.0.0.1:" + std::to_string(pg.port()) + "/postgres?sslmode=disable"}});
    check_refused(exporter);
  }
}

TEST_CASE("the exposition is gzip-compressed when the scraper accepts it", "[integration]") {
  auto& pg = shared_server();
  ExporterProcess exporter(exporter_args(pg.dsn()));

  auto compressed = exporter.scrape("/metrics", {{"Accept-Encoding", "gzip"}}, /*decompress=*/false);
  REQUIRE(compressed.status == 200);
  CHECK(compressed.header("Content-Encoding") == "gzip");
  REQUIRE(compressed.body.size() > 2);
  CHECK(static_cast<unsigned char>(compressed.body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(compressed.body[1]) == 0x8b);

  auto decoded = exporter.scrape("/metrics", {{"Accept-Encoding", "gzip"}}, /*decompress=*/true);
  REQUIRE(decoded.status == 200);
  CHECK(parse_prom_text(decoded.body).value("pg_up") == 1.0);

  auto plain = exporter.scrape();
  REQUIRE(plain.status == 200);
  CHECK(plain.header("Content-Encoding").empty());
  CHECK_THAT(plain.header("Content-Type"), Catch::StartsWith("text/plain"));
  CHECK(compressed.body.size() < plain.body.size());
}

TEST_CASE("per-database metrics follow the include and exclude lists", "[integration]") {
  auto& pg = shared_server();
  for (const char* name : {"keep_me", "skip_me"}) {
    ensure_database(pg, name);
    pg.exec("CREATE TABLE IF NOT EXISTS t (id int)", name);
  }
  auto tables_in = [](const Exposition& metrics, const std::string& database) {
    return metrics.count("pg_stat_user_tables_n_live_tup", {{"datname", database}});
  };

  {
    auto args = exporter_args(pg.dsn());
    args.push_back("--postgres.exclude-databases=skip_me");
    ExporterProcess exporter(args);
    auto metrics = scrape_metrics(exporter);
    CHECK(tables_in(metrics, "keep_me") == 1);
    CHECK(tables_in(metrics, "skip_me") == 0);
    // Server-wide views still list every database.
    CHECK(metrics.value("pg_database_size_bytes", {{"datname", "skip_me"}}) > 0);
  }
  {
    auto args = exporter_args(pg.dsn());
    args.push_back("--postgres.include-databases=keep_me");
    ExporterProcess exporter(args);
    auto metrics = scrape_metrics(exporter);
    CHECK(tables_in(metrics, "keep_me") == 1);
    CHECK(tables_in(metrics, "skip_me") == 0);
  }
  {
    // postgres_exporter's variable name works too.
    ExporterProcess exporter({"--scrape.timeout=3s"},
                             {{"DATA_SOURCE_NAME", pg.dsn()}, {"PG_EXPORTER_EXCLUDE_DATABASES", "keep_me"}});
    auto metrics = scrape_metrics(exporter);
    CHECK(tables_in(metrics, "keep_me") == 0);
    CHECK(tables_in(metrics, "skip_me") == 1);
  }
}

TEST_CASE("pg_settings shows the server's settings, not the exporter's own session's", "[integration]") {
  auto& pg = shared_server();
  pg.exec("ALTER SYSTEM SET statement_timeout = '42s'");
  pg.exec("ALTER SYSTEM SET work_mem = '8MB'");
  pg.reload();
  Finally reset{[&] {
    pg.exec("ALTER SYSTEM RESET statement_timeout");
    pg.exec("ALTER SYSTEM RESET work_mem");
    pg.reload();
  }};
  // The exporter's sessions run with statement_timeout 3s and lock_timeout 1s.
  auto args = exporter_args(pg.dsn());
  args.push_back("--postgres.statement-timeout=3s");
  ExporterProcess exporter(args);
  auto metrics = scrape_metrics(exporter);
  CHECK(metrics.value("pg_settings_statement_timeout_seconds") == 42.0);
  CHECK(metrics.value("pg_settings_lock_timeout_seconds") == 0.0);
  CHECK(metrics.value("pg_settings_default_transaction_read_only") == 0.0);
  CHECK(metrics.value("pg_settings_work_mem_bytes") == 8.0 * 1024 * 1024);
  CHECK(metrics.value("pg_settings_shared_buffers_bytes") ==
        std::stod(
            pg.query_value("SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")));
  CHECK(metrics.value("pg_settings_fsync").has_value());
}

TEST_CASE("every family the exporter emits is described in docs/metrics.md", "[integration][docs]") {
  auto& pg = shared_server();
  pg.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  auto args = exporter_args(pg.dsn());
  // Every collector on, the ones off by default included.
  auto catalog = run_exporter_once({"--dump-catalog"});
  REQUIRE(catalog.exit_code == 0);
  std::istringstream lines(catalog.out);
  std::set<std::string> collectors;
  for (std::string line; std::getline(lines, line);) {
    const std::string key = "  collector: ";
    if (line.rfind(key, 0) == 0) collectors.insert(line.substr(key.size()));
  }
  for (const auto& collector : collectors) args.push_back("--collector." + collector);
  ExporterProcess exporter(args);
  auto metrics = scrape_metrics(exporter);
  const auto missing = undocumented_families(metrics);
  INFO("not in docs/metrics.md: " << Catch::Detail::stringify(missing));
  CHECK(missing.empty());
}
