// Scrapes stay within their deadline and never make PostgreSQL wait: a frozen
// server, a table locked by a migration, and many scrapers at once.
#include <libpq-fe.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

TestPostgres& shared_server() {
  static TestPostgres server;
  return server;
}

// Every process of the server: the postmaster and its children.
std::vector<pid_t> server_processes(const TestPostgres& pg) {
  std::vector<pid_t> pids{pg.postmaster_pid()};
  auto listed = run_process({"pgrep", "-P", std::to_string(pg.postmaster_pid())});
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) pids.push_back(std::stoi(line));
  }
  return pids;
}

// Freezes the server (SIGSTOP: connections hang rather than fail) until
// destroyed, also when an assertion throws.
struct Frozen {
  std::vector<pid_t> pids;
  explicit Frozen(std::vector<pid_t> p) : pids(std::move(p)) {
    for (pid_t pid : pids) kill(pid, SIGSTOP);
  }
  ~Frozen() {
    for (pid_t pid : pids) kill(pid, SIGCONT);
  }
};

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
Connection connect(const std::string& dsn) {
  Connection connection(PQconnectdb(dsn.c_str()), &PQfinish);
  REQUIRE(PQstatus(connection.get()) == CONNECTION_OK);
  return connection;
}
void run(PGconn* connection, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql.c_str()), &PQclear);
  INFO(sql << ": " << PQerrorMessage(connection));
  REQUIRE(
      (PQresultStatus(result.get()) == PGRES_COMMAND_OK || PQresultStatus(result.get()) == PGRES_TUPLES_OK));
}

}  // namespace

TEST_CASE("a frozen server still gets an answer within Prometheus's scrape timeout", "[integration]") {
  TestPostgres pg;  // its own: freezing it must not disturb the other cases
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--scrape.timeout=30s"});
  REQUIRE(scrape_metrics(exporter).value("pg_up") == 1.0);  // connections open and idle

  {
    Frozen frozen(server_processes(pg));
    const auto start = std::chrono::steady_clock::now();
    auto metrics = scrape_metrics(exporter, {{"X-Prometheus-Scrape-Timeout-Seconds", "2"}});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("scrape took " << seconds << " s\nexporter log:\n" << exporter.log_tail());
    CHECK(seconds < 2.0);  // the header's 2 s less the margin, not --scrape.timeout's 30 s
    CHECK(seconds > 1.5);  // it did wait for the server up to the deadline
    CHECK(metrics.value("pg_up") == 0.0);
    CHECK(metrics.value("pgscope_exporter_last_error_info", {{"source", "postgres"}, {"kind", "timeout"}}) ==
          1.0);
    CHECK(metrics.value("pgscope_exporter_scrapes_total").has_value());
  }
  // Thawed: the exporter reconnects by itself.
  double up = 0;
  for (int attempt = 0; attempt < 20 && up != 1.0; ++attempt) {
    up = scrape_metrics(exporter).value("pg_up").value_or(0);
    if (up != 1.0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(up == 1.0);
}

TEST_CASE("a table locked by a migration is skipped by size functions, not waited for", "[integration]") {
  auto& pg = shared_server();
  pg.exec("CREATE DATABASE migrating");
  pg.exec(
      "CREATE TABLE busy (id int primary key, payload text); CREATE TABLE calm (id int primary key);"
      "INSERT INTO busy SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g;"
      "INSERT INTO calm SELECT generate_series(1, 10)",
      "migrating");
  const std::vector<std::string> args{"--postgres.dsn=" + pg.dsn(), "--scrape.timeout=10s",
                                      "--postgres.lock-timeout=5s"};
  const Labels busy{{"datname", "migrating"}, {"relname", "busy"}};
  const Labels calm{{"datname", "migrating"}, {"relname", "calm"}};

  auto migration = connect(pg.dsn("migrating"));
  run(migration.get(), "BEGIN; ALTER TABLE busy ADD COLUMN added int");  // holds AccessExclusiveLock

  {
    // A fresh exporter: table sizes are cached for minutes, so only a first
    // scrape measures them under the lock.
    ExporterProcess exporter(args);
    const auto start = std::chrono::steady_clock::now();
    auto during = scrape_metrics(exporter);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("scrape took " << seconds << " s\nexporter log:\n" << exporter.log_tail());
    CHECK(seconds < 2.0);  // lock_timeout is 5 s: a wait would show
    CHECK(during.value("pg_size_skipped_relations", {{"datname", "migrating"}}) == 1.0);
    CHECK_FALSE(during.value("pg_stat_user_tables_table_size_bytes", busy));
    CHECK(during.value("pg_stat_user_tables_table_size_bytes", calm) > 0);
    // Its activity counters need no lock and are still there.
    CHECK(during.value("pg_stat_user_tables_n_live_tup", busy));
    CHECK(during.value("pgscope_exporter_collector_success", {{"collector", "stat_user_tables"}}) == 1.0);
  }

  run(migration.get(), "COMMIT");
  ExporterProcess exporter(args);
  auto after = scrape_metrics(exporter);
  CHECK(after.value("pg_size_skipped_relations", {{"datname", "migrating"}}) == 0.0);
  CHECK(after.value("pg_stat_user_tables_table_size_bytes", busy) > 0);
}

TEST_CASE("many scrapes at once share collections and one connection per database", "[integration]") {
  auto& pg = shared_server();
  pg.exec("CREATE DATABASE shared_a");
  pg.exec("CREATE DATABASE shared_b");
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--scrape.timeout=10s"});
  scrape_metrics(exporter);
  const auto databases =
      std::stoi(pg.query_value("SELECT count(*) FROM pg_database WHERE datallowconn AND NOT datistemplate"));

  std::vector<std::future<int>> scrapers;
  for (int i = 0; i < 20; ++i) {
    scrapers.push_back(std::async(std::launch::async, [&] { return exporter.scrape().status; }));
  }
  int peak = 0;
  for (int i = 0; i < 20; ++i) {
    peak = std::max(
        peak, std::stoi(pg.query_value(
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgscope-exporter'")));
  }
  for (auto& scraper : scrapers) CHECK(scraper.get() == 200);
  INFO("databases: " << databases << ", peak exporter connections: " << peak);
  CHECK(peak <= databases);
  CHECK(peak >= 1);
}
