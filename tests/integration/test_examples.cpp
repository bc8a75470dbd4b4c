// The example query files of examples/queries/, loaded with --extend.query-path and run
// against a real PostgreSQL: each must give the numbers a user expects on a known setup,
// never wait for a lock held by DDL, and keep its own names next to the built-in catalog.
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;
using Catch::Matchers::Contains;

namespace {

const std::vector<std::string> kFiles = {"table_bloat.yaml", "partitions.yaml", "role_connections.yaml"};
// Every entry the files define.
const std::vector<std::string> kEntries = {"pg_table_bloat", "pg_partitioned_table", "pg_role_connections",
                                           "pg_database_client_connections"};

std::string example_path(const std::string& file) {
  return std::string(PGSCOPE_SOURCE_DIR) + "/examples/queries/" + file;
}

std::string all_examples() {
  std::string paths;
  for (const auto& file : kFiles) paths += (paths.empty() ? "" : ",") + example_path(file);
  return paths;
}

// Top-level keys of a --dump-catalog output: the entry names.
std::set<std::string> dumped_entries(const std::string& yaml) {
  std::set<std::string> names;
  std::istringstream lines(yaml);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != ' ' && line[0] != '-' && line.back() == ':') {
      names.insert(line.substr(0, line.size() - 1));
    }
  }
  return names;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Connection connect(const std::string& dsn) {
  Connection connection(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK)
    FAIL("cannot connect (" << dsn << "): " << PQerrorMessage(connection.get()));
  return connection;
}

void run(PGconn* connection, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    FAIL(sql << ": " << PQerrorMessage(connection));
}

// One server for the whole file, with a second database `shop` holding what the
// examples are to find, and `app_conns`, which the exporters below leave out (so
// their own sessions do not count there) and the role tests connect to.
TestPostgres& shop_server() {
  static TestPostgres server;
  static bool prepared = false;
  if (prepared) return server;
  server.exec("CREATE DATABASE shop");
  server.exec("CREATE DATABASE app_conns CONNECTION LIMIT 8");
  server.exec(
      "CREATE ROLE app_limited LOGIN CONNECTION LIMIT 5; "
      "CREATE ROLE app_group NOLOGIN");

  // Bloat: the same shape twice. orders_bloated had 100000 rows of which 9 in 10 were
  // deleted evenly (every page keeps live rows, so not even a VACUUM could shrink it);
  // orders_fresh was loaded with the 10000 rows that remain.
  const std::string shape = "(id int PRIMARY KEY, customer int, note text, created timestamptz)";
  const std::string rows = "SELECT g, g % 97, repeat('n', 60), now() FROM generate_series(1, ";
  server.exec("CREATE TABLE orders_bloated " + shape + "; INSERT INTO orders_bloated " + rows + "100000) g",
              "shop");
  server.exec("DELETE FROM orders_bloated WHERE id % 10 <> 0", "shop");
  server.exec("CREATE TABLE orders_fresh " + shape + "; INSERT INTO orders_fresh " + rows + "10000) g",
              "shop");
  server.exec("ANALYZE orders_bloated; ANALYZE orders_fresh", "shop");

  // Partitions: three ranges and a default that holds 1000 out-of-range rows; a list-
  // partitioned table whose default is hash-partitioned itself (200 rows below it); one
  // without a default.
  server.exec(
      "CREATE TABLE events (id bigint, at date NOT NULL, payload text) PARTITION BY RANGE (at); "
      "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01'); "
      "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); "
      "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); "
      "CREATE TABLE events_default PARTITION OF events DEFAULT; "
      "CREATE TABLE logs (id int, kind text) PARTITION BY LIST (kind); "
      "CREATE TABLE logs_a PARTITION OF logs FOR VALUES IN ('a'); "
      "CREATE TABLE logs_other PARTITION OF logs DEFAULT PARTITION BY HASH (id); "
      "CREATE TABLE logs_other_0 PARTITION OF logs_other FOR VALUES WITH (MODULUS 2, REMAINDER 0); "
      "CREATE TABLE logs_other_1 PARTITION OF logs_other FOR VALUES WITH (MODULUS 2, REMAINDER 1); "
      "CREATE TABLE plain_parts (id int) PARTITION BY LIST (id); "
      "CREATE TABLE plain_parts_1 PARTITION OF plain_parts FOR VALUES IN (1); "
      "CREATE TABLE plain_parts_2 PARTITION OF plain_parts FOR VALUES IN (2)",
      "shop");
  server.exec(
      "INSERT INTO events SELECT g, date '2025-01-01' + g % 300, 'in range' FROM generate_series(1, 300) g; "
      "INSERT INTO events SELECT g, date '2019-01-01' + g % 300, repeat('p', 100) "
      "FROM generate_series(1, 1000) g; "
      "INSERT INTO logs SELECT g, 'z' FROM generate_series(1, 200) g",
      "shop");
  // The inserting session's counts reach the statistics when it ends, asynchronously.
  // ANALYZE sets the live row count outright, so it must come after them, or they
  // would be added on top.
  REQUIRE(eventually(
      [&] {
        return server.query_value(
                   "SELECT sum(n_tup_ins) FROM pg_stat_user_tables "
                   "WHERE relname IN ('events_default', 'logs_other_0', 'logs_other_1')",
                   "shop") == "1200";
      },
      std::chrono::seconds(20)));
  server.exec("ANALYZE events_default", "shop");
  prepared = true;
  return server;
}

std::vector<std::string> exporter_args(const TestPostgres& pg, const std::string& query_path) {
  return {"--postgres.dsn=" + pg.dsn(), "--extend.query-path=" + query_path,
          "--postgres.exclude-databases=app_conns", "--scrape.timeout=10s", "--log.level=debug"};
}

const Labels kBloated = {{"datname", "shop"}, {"schemaname", "public"}, {"relname", "orders_bloated"}};
const Labels kFresh = {{"datname", "shop"}, {"schemaname", "public"}, {"relname", "orders_fresh"}};
const Labels kEvents = {{"datname", "shop"}, {"schemaname", "public"}, {"relname", "events"}};

}  // namespace

TEST_CASE("the example files load next to the built-in catalog, by flag or config file", "[integration]") {
  const auto builtin = run_exporter_once({"--dump-catalog"});
  REQUIRE(builtin.exit_code == 0);
  const auto with_flag = run_exporter_once({"--extend.query-path=" + all_examples(), "--dump-catalog"});
  INFO(with_flag.err);
  REQUIRE(with_flag.exit_code == 0);

  // They add their entries and replace none of the built-in ones.
  auto expected = dumped_entries(builtin.out);
  REQUIRE(expected.size() > 20);
  for (const auto& entry : kEntries) {
    CHECK(expected.count(entry) == 0);
    expected.insert(entry);
  }
  CHECK(dumped_entries(with_flag.out) == expected);
  CHECK_THAT(with_flag.out + with_flag.err, !Contains("replaces the built-in"));
  // What the files ask for is in effect.
  CHECK_THAT(with_flag.out, Contains("cache_seconds: 300"));
  CHECK_THAT(with_flag.out, Contains("target_databases: [\"*\"]"));

  // The same files pasted, indented, under a config file's queries: section.
  char path[] = "/tmp/pgscope-examples-XXXXXX.yaml";
  const int fd = mkstemps(path, 5);
  REQUIRE(fd >= 0);
  close(fd);
  Finally remove_config{[&] { unlink(path); }};
  {
    std::ofstream config(path);
    config << "queries:\n";
    for (const auto& file : kFiles) {
      std::istringstream lines(read_file(example_path(file)));
      for (std::string line; std::getline(lines, line);) config << (line.empty() ? "" : "  ") << line << "\n";
    }
  }
  const auto with_config = run_exporter_once({"--config.file=" + std::string(path), "--dump-catalog"});
  INFO(with_config.err);
  REQUIRE(with_config.exit_code == 0);
  CHECK(with_config.out == with_flag.out);
}

TEST_CASE("table_bloat.yaml: a table with deleted rows shows its bloat, a freshly loaded one none",
          "[integration]") {
  auto& pg = shop_server();
  ExporterProcess exporter(exporter_args(pg, example_path("table_bloat.yaml")));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_table_bloat"}}) == 1.0);
  const auto bloated_ratio = metrics.value("pg_table_bloat_ratio", kBloated);
  const auto fresh_ratio = metrics.value("pg_table_bloat_ratio", kFresh);
  const auto bloated_bytes = metrics.value("pg_table_bloat_estimated_bytes", kBloated);
  const auto fresh_bytes = metrics.value("pg_table_bloat_estimated_bytes", kFresh);
  const auto bloated_size = metrics.value("pg_table_bloat_table_bytes", kBloated);
  REQUIRE(bloated_ratio.has_value());
  REQUIRE(fresh_ratio.has_value());
  REQUIRE(bloated_bytes.has_value());
  REQUIRE(fresh_bytes.has_value());
  REQUIRE(bloated_size.has_value());

  // 9 rows in 10 are gone: about 90 % of the table is space the live rows do not need.
  CHECK(*bloated_ratio > 0.8);
  CHECK(*bloated_ratio <= 1.0);
  CHECK(*fresh_ratio < 0.1);
  CHECK(*fresh_ratio >= 0.0);
  CHECK(*bloated_bytes > 10 * (*fresh_bytes + 8192));
  CHECK(*bloated_bytes == Approx(*bloated_ratio * *bloated_size));
  // The size it is measured against is the table's (main fork's) real size.
  CHECK(*bloated_size == std::stod(pg.query_value("SELECT pg_relation_size('orders_bloated')", "shop")));
  // One series per table and metric, and none for the postgres database's empty schema.
  CHECK(metrics.count("pg_table_bloat_ratio", kBloated) == 1);
  CHECK(metrics.count("pg_table_bloat_ratio", {{"datname", "postgres"}}) == 0);

  // It ran once in each database the exporter reads (postgres, shop; app_conns is left
  // out), and the next scrape within cache_seconds answers from the cache, unchanged.
  CHECK(metrics.value("pgscope_exporter_query_executions_total", {{"query", "pg_table_bloat"}}) == 2.0);
  auto again = scrape_metrics(exporter);
  CHECK(again.value("pgscope_exporter_query_success", {{"query", "pg_table_bloat"}}) == 1.0);
  CHECK(again.value("pgscope_exporter_query_executions_total", {{"query", "pg_table_bloat"}}) == 2.0);
  CHECK(again.value("pgscope_exporter_query_cache_hits_total", {{"query", "pg_table_bloat"}}) == 2.0);
  CHECK(again.value("pg_table_bloat_ratio", kBloated) == bloated_ratio);
}

TEST_CASE("partitions.yaml: partition counts and what landed in the default partition", "[integration]") {
  auto& pg = shop_server();
  ExporterProcess exporter(exporter_args(pg, example_path("partitions.yaml")));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_partitioned_table"}}) == 1.0);

  // Three ranges and the default; 1000 rows out of range.
  CHECK(metrics.value("pg_partitioned_table_partitions", kEvents) == 4.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition", kEvents) == 1.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition_rows", kEvents) == 1000.0);
  const auto default_bytes = metrics.value("pg_partitioned_table_default_partition_bytes", kEvents);
  REQUIRE(default_bytes.has_value());
  CHECK(*default_bytes > 0);
  CHECK(*default_bytes == std::stod(pg.query_value("SELECT pg_relation_size('events_default')", "shop")));

  // A default partition that is partitioned itself: the rows below it count.
  const Labels logs = {{"datname", "shop"}, {"relname", "logs"}};
  CHECK(metrics.value("pg_partitioned_table_partitions", logs) == 2.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition", logs) == 1.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition_rows", logs) == 200.0);
  // ... and it is a partitioned table of its own, without a default.
  const Labels logs_other = {{"datname", "shop"}, {"relname", "logs_other"}};
  CHECK(metrics.value("pg_partitioned_table_partitions", logs_other) == 2.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition", logs_other) == 0.0);

  // No default partition: the flag is 0 and there are no rows or bytes to report.
  const Labels plain = {{"datname", "shop"}, {"relname", "plain_parts"}};
  CHECK(metrics.value("pg_partitioned_table_partitions", plain) == 2.0);
  CHECK(metrics.value("pg_partitioned_table_default_partition", plain) == 0.0);
  CHECK(metrics.count("pg_partitioned_table_default_partition_rows", plain) == 0);
  CHECK(metrics.count("pg_partitioned_table_default_partition_bytes", plain) == 0);

  // Exactly the four partitioned tables of shop; the postgres database has none.
  CHECK(metrics.count("pg_partitioned_table_partitions") == 4);
  CHECK(metrics.count("pg_partitioned_table_partitions", {{"datname", "shop"}}) == 4);

  // Rows moved out of the default partition show at the next scrape (no cache).
  pg.exec("DELETE FROM events_default WHERE id <= 400", "shop");
  CHECK(eventually(
      [&] {
        return scrape_metrics(exporter).value("pg_partitioned_table_default_partition_rows", kEvents) ==
               600.0;
      },
      std::chrono::seconds(10)));
}

TEST_CASE("role_connections.yaml: connections per role and database against their limits", "[integration]") {
  auto& pg = shop_server();
  // Three sessions as a role limited to 5, in a database limited to 8.
  std::vector<Connection> sessions;
  for (int i = 0; i < 3; ++i) sessions.push_back(connect(pg.dsn("app_conns", "app_limited")));

  ExporterProcess exporter(exporter_args(pg, example_path("role_connections.yaml")));
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_role_connections"}}) == 1.0);
  CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_database_client_connections"}}) ==
        1.0);

  const Labels role = {{"rolname", "app_limited"}};
  CHECK(metrics.value("pg_role_connections", role) == 3.0);
  CHECK(metrics.value("pg_role_connection_limit", role) == 5.0);
  CHECK(metrics.value("pg_role_connection_limit_used_ratio", role).value_or(-1) == Approx(0.6));
  // No limit: -1 as is, and no ratio.
  CHECK(metrics.value("pg_role_connection_limit", {{"rolname", "postgres"}}) == -1.0);
  CHECK(metrics.count("pg_role_connection_limit_used_ratio", {{"rolname", "postgres"}}) == 0);
  // The exporter's own session counts (it runs as postgres; this entry runs once).
  const auto own = metrics.value("pg_role_connections", {{"rolname", "postgres"}});
  REQUIRE(own.has_value());
  CHECK(*own >= 1.0);
  // A role that cannot log in and has no sessions is left out.
  CHECK(metrics.count("pg_role_connections", {{"rolname", "app_group"}}) == 0);

  const Labels database = {{"datname", "app_conns"}};
  CHECK(metrics.value("pg_database_client_connections", database) == 3.0);
  CHECK(metrics.value("pg_database_connection_limit_used_ratio", database).value_or(-1) == Approx(3.0 / 8));
  CHECK(metrics.count("pg_database_connection_limit_used_ratio", {{"datname", "shop"}}) == 0);
  // One series per role and per database.
  CHECK(metrics.count("pg_role_connections", role) == 1);
  CHECK(metrics.count("pg_database_client_connections", database) == 1);

  // A session that ends is gone at a later scrape.
  sessions.pop_back();
  CHECK(eventually(
      [&] {
        auto now = scrape_metrics(exporter);
        return now.value("pg_role_connections", role) == 2.0 &&
               now.value("pg_database_client_connections", database) == 2.0;
      },
      std::chrono::seconds(10)));
}

TEST_CASE("every example entry succeeds while DDL holds locks on the tables, and promtool accepts them",
          "[integration]") {
  auto& pg = shop_server();
  // An ALTER TABLE in progress: AccessExclusiveLock on a bloated table and on a
  // partitioned table with all its partitions, held until the end of the test.
  auto ddl = connect(pg.dsn("shop"));
  run(ddl.get(),
      "BEGIN; LOCK TABLE orders_bloated IN ACCESS EXCLUSIVE MODE; "
      "LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
  auto held = [&] {
    return pg.query_value(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.mode = 'AccessExclusiveLock' AND l.granted "
        "AND c.relname IN ('orders_bloated', 'events', 'events_default')",
        "shop");
  };
  REQUIRE(held() == "3");

  // A fresh exporter, so that the bloat query really runs (no cache); a waiting query
  // would fail at lock_timeout.
  auto args = exporter_args(pg, all_examples());
  args.push_back("--postgres.lock-timeout=2s");
  ExporterProcess exporter(args);
  auto result = exporter.scrape();
  INFO("exporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);
  auto metrics = parse_prom_text(result.body);

  for (const auto& entry : kEntries) {
    INFO("query " << entry);
    CHECK(metrics.value("pgscope_exporter_query_success", {{"query", entry}}) == 1.0);
    CHECK(metrics.value("pgscope_exporter_query_executions_total", {{"query", entry}}) >= 1.0);
    const auto seconds = metrics.value("pgscope_exporter_query_duration_seconds", {{"query", entry}});
    REQUIRE(seconds.has_value());
    CHECK(*seconds < 1.0);
  }
  // The locked tables are still reported.
  CHECK(metrics.value("pg_table_bloat_ratio", kBloated).value_or(0) > 0.8);
  CHECK(metrics.value("pg_partitioned_table_partitions", kEvents) == 4.0);
  CHECK(held() == "3");

  // The exposition parses, and promtool has nothing to say about the examples' names.
  auto lint = promtool_check(result.body);
  INFO("promtool:\n" << lint.output);
  CHECK_FALSE(lint.parse_error());
  for (const std::string prefix : {"pg_table_bloat", "pg_partitioned_table", "pg_role_connection",
                                   "pg_database_client_connections", "pg_database_connection_limit_used"}) {
    CHECK_THAT(lint.output, !Contains(prefix));
  }
  run(ddl.get(), "ROLLBACK");
}
