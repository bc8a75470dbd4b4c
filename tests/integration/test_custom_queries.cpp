// Custom queries: postgres_exporter's queries.yaml unchanged, pgscope's own
// keys (target databases, predicates, version branches, caps, timeouts,
// caching), failures isolated per query, and reloads good and bad.
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/temp_dir/temp_dir.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

double query_metric(const Exposition& metrics, const std::string& family, const std::string& query) {
  auto value = metrics.value(family, {{"query", query}});
  INFO(family << "{query=\"" << query << "\"}");
  REQUIRE(value.has_value());
  return *value;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// Written for this test in postgres_exporter's queries.yaml form, with the
// quoting and layout its documentation uses.
const char* const kPostgresExporterFile = R"(pg_postmaster:
  query: "SELECT extract(epoch from pg_postmaster_start_time()) as start_time_seconds"
  master: true
  metrics:
    - start_time_seconds:
        usage: "GAUGE"
        description: "Time at which postmaster started"

shop_orders:
  query: "SELECT status, count(*) AS total, sum(amount) AS amount, 1500 AS wait, 'ignored' AS note, CASE WHEN count(*) > 1 THEN 'many' ELSE 'one' END AS size FROM orders GROUP BY status"
  master: true
  cache_seconds: 30
  metrics:
    - status:
        usage: "LABEL"
        description: "Order status"
    - total:
        usage: "COUNTER"
        description: "Orders in this status"
    - amount:
        usage: "GAUGE"
        description: "Sum of their amounts"
    - wait:
        usage: "DURATION"
        description: "A duration in milliseconds"
    - note:
        usage: "DISCARD"
        description: "Not exported"
    - size:
        usage: "MAPPEDMETRIC"
        description: "One or many"
        mapping:
          one: 1
          many: 2

shop_too_old:
  query: "SELECT 1 AS value"
  runonserver: "<10.0.0"
  metrics:
    - value:
        usage: "GAUGE"
        description: "Only on servers before 10"

shop_recent:
  query: "SELECT 1 AS value"
  runonserver: ">=12.0.0"
  metrics:
    - value:
        usage: "GAUGE"
        description: "On 12 and later"
)";

}  // namespace

TEST_CASE("a postgres_exporter queries.yaml works unchanged", "[integration]") {
  TestPostgres pg;
  pg.exec("CREATE DATABASE shop");
  pg.exec(
      "CREATE TABLE orders (status text, amount numeric); INSERT INTO orders VALUES ('paid', 10), ('paid', "
      "5.5), ('open', 7)",
      "shop");
  TempDir dir;
  const auto file = dir.write("queries.yaml", kPostgresExporterFile);
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn("shop"), "--extend.query-path=" + file});
  const auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  CHECK(metrics.value("shop_orders_total", {{"status", "paid"}}) == 2.0);
  CHECK(metrics.value("shop_orders_total", {{"status", "open"}}) == 1.0);
  CHECK(metrics.families.at("shop_orders_total").type == "counter");
  CHECK(metrics.value("shop_orders_amount", {{"status", "paid"}}) == 15.5);
  CHECK(metrics.value("shop_orders_wait_milliseconds", {{"status", "open"}}) == 1500.0);
  CHECK(metrics.value("shop_orders_size", {{"status", "paid"}}) == 2.0);
  CHECK(metrics.value("shop_orders_size", {{"status", "open"}}) == 1.0);
  CHECK(metrics.names_with_prefix("shop_orders_note").empty());
  CHECK_FALSE(metrics.has_family("shop_too_old_value"));
  CHECK(metrics.value("shop_recent_value") == 1.0);
  // The file's pg_postmaster replaces the built-in entry of that name.
  const double started = std::stod(pg.query_value("SELECT extract(epoch from pg_postmaster_start_time())"));
  REQUIRE(metrics.value("pg_postmaster_start_time_seconds").has_value());
  CHECK(*metrics.value("pg_postmaster_start_time_seconds") == Approx(started).margin(1));
  CHECK(exporter.log().find("custom queries replace built-in ones: pg_postmaster") != std::string::npos);
  CHECK(query_metric(metrics, "pgscope_exporter_query_success", "shop_orders") == 1.0);
  // Built-in collectors still run beside the custom ones.
  CHECK(metrics.value("pg_up") == 1.0);
  CHECK(metrics.count("pg_stat_database_xact_commit", {{"datname", "shop"}}) == 1);

  SECTION("--dump-catalog shows the effective catalog, custom entries included") {
    auto dump = run_exporter_once({"--extend.query-path=" + file, "--dump-catalog"});
    REQUIRE(dump.exit_code == 0);
    CHECK(dump.out.find("shop_orders:") != std::string::npos);
    CHECK(dump.out.find("extract(epoch from pg_postmaster_start_time())") != std::string::npos);
    CHECK(dump.out.find("pg_stat_database:") != std::string::npos);
    // What it prints is itself a query file that gives the same catalog.
    const auto again = dir.write("dumped.yaml", dump.out);
    auto second = run_exporter_once({"--extend.query-path=" + again, "--dump-catalog"});
    REQUIRE(second.exit_code == 0);
    CHECK(second.out == dump.out);
  }
}

TEST_CASE("pgscope's query keys: databases, predicates, versions, caps, timeouts", "[integration]") {
  TestPostgres pg;
  pg.exec("CREATE DATABASE shop");
  pg.exec("CREATE DATABASE other");
  pg.exec(
      "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 3); GRANT SELECT ON orders "
      "TO PUBLIC",
      "shop");
  pg.exec("CREATE TABLE secret (id int); CREATE ROLE monitor LOGIN IN ROLE pg_monitor");
  TempDir dir;
  const auto file = dir.write("pgscope.yaml", R"(
app_every_db:
  target_databases: "*"
  query: SELECT current_database() AS datname, 1 AS present
  metrics:
    - datname: {usage: LABEL}
    - present: {usage: GAUGE, description: The query ran here}
app_named_db:
  target_databases: [shop]
  query: SELECT current_database() AS datname, count(*) AS tables FROM pg_tables WHERE schemaname = 'public'
  metrics:
    - datname: {usage: LABEL}
    - tables: {usage: GAUGE, description: Tables in public}
app_when_orders:
  target_databases: ["*"]
  predicate: SELECT to_regclass('public.orders') IS NOT NULL
  query: SELECT current_database() AS datname, count(*) AS rows FROM orders
  metrics:
    - datname: {usage: LABEL}
    - rows: {usage: GAUGE, description: Rows of orders}
app_never:
  predicate: SELECT false
  query: SELECT 1 AS value
  metrics:
    - value: {usage: GAUGE, description: Never}
app_branches:
  queries:
    - min_version: 990000
      query: SELECT 99 AS branch
    - min_version: 120000
      max_version: 990000
      query: SELECT 12 AS branch
  metrics:
    - branch: {usage: GAUGE, description: Which branch ran}
app_capped:
  max_series: 5
  query: SELECT g AS i, g AS v FROM generate_series(1, 20) g ORDER BY g
  metrics:
    - i: {usage: LABEL}
    - v: {usage: GAUGE, description: Twenty rows}
app_syntax:
  query: SELEKT 1 AS value
  metrics:
    - value: {usage: GAUGE, description: Broken}
app_denied:
  query: SELECT count(*) AS value FROM secret
  metrics:
    - value: {usage: GAUGE, description: Not for monitor}
app_slow:
  timeout_seconds: 0.5
  query: SELECT 1 AS value FROM pg_sleep(5)
  metrics:
    - value: {usage: GAUGE, description: Too slow}
)");
  ExporterProcess exporter(
      {"--postgres.dsn=" + pg.dsn("postgres", "monitor"), "--extend.query-path=" + file});
  const auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail(60));

  CHECK(metrics.count("app_every_db_present") == 3);
  for (const char* db : {"postgres", "shop", "other"})
    CHECK(metrics.count("app_every_db_present", {{"datname", db}}) == 1);
  CHECK(metrics.count("app_named_db_tables") == 1);
  CHECK(metrics.value("app_named_db_tables", {{"datname", "shop"}}) == 1.0);
  CHECK(metrics.count("app_when_orders_rows") == 1);
  CHECK(metrics.value("app_when_orders_rows", {{"datname", "shop"}}) == 3.0);
  CHECK(query_metric(metrics, "pgscope_exporter_query_success", "app_when_orders") == 1.0);
  CHECK_FALSE(metrics.has_family("app_never_value"));
  CHECK(query_metric(metrics, "pgscope_exporter_query_success", "app_never") == 1.0);
  CHECK(query_metric(metrics, "pgscope_exporter_query_executions_total", "app_never") == 0.0);
  CHECK(metrics.value("app_branches_branch") == 12.0);
  CHECK(metrics.count("app_capped_v") == 5);
  CHECK(metrics.value("app_capped_v", {{"i", "5"}}) == 5.0);
  CHECK(query_metric(metrics, "pgscope_exporter_query_series_dropped", "app_capped") == 15.0);

  // Each failure is its own: the query's success is 0, everything else runs.
  for (const char* broken : {"app_syntax", "app_denied", "app_slow"}) {
    CHECK(query_metric(metrics, "pgscope_exporter_query_success", broken) == 0.0);
  }
  CHECK(query_metric(metrics, "pgscope_exporter_query_duration_seconds", "app_slow") < 2.0);
  CHECK(metrics.value("pg_up") == 1.0);
  CHECK(query_metric(metrics, "pgscope_exporter_query_success", "pg_stat_database") == 1.0);
  CHECK(metrics.count("pg_stat_database_xact_commit") >= 3);
  const auto log = exporter.log();
  CHECK(log.find("query app_syntax in database \\\"postgres\\\" failed") != std::string::npos);
  CHECK(log.find("permission denied for table secret") != std::string::npos);
  CHECK(log.find("query app_slow in database \\\"postgres\\\" failed") != std::string::npos);

  // Logged once per change of state, not at every scrape.
  scrape_metrics(exporter);
  CHECK(occurrences(exporter.log(), "query app_syntax in database \\\"postgres\\\" failed") == 1);
}

TEST_CASE("cached results are reused until their TTL ends and look the same", "[integration]") {
  TestPostgres pg;
  pg.exec("CREATE EXTENSION pg_stat_statements");
  TempDir dir;
  const auto file = dir.write("cached.yaml", R"(
app_cached:
  cache_seconds: 2
  query: SELECT random() AS value /* app_cached */
  metrics:
    - value: {usage: GAUGE, description: A fresh number at every run}
app_uncached:
  query: SELECT random() + 0 AS value
  metrics:
    - value: {usage: GAUGE, description: A fresh number at every run}
)");
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--extend.query-path=" + file});
  const auto first = scrape_metrics(exporter);
  const auto second = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(first.value("app_cached_value") == second.value("app_cached_value"));
  CHECK(first.value("app_uncached_value") != second.value("app_uncached_value"));
  CHECK(query_metric(second, "pgscope_exporter_query_executions_total", "app_cached") == 1.0);
  CHECK(query_metric(second, "pgscope_exporter_query_cache_hits_total", "app_cached") == 1.0);
  CHECK(query_metric(second, "pgscope_exporter_query_executions_total", "app_uncached") == 2.0);
  // The server agrees: the cached query ran once for two scrapes.
  const auto server_calls = [&] {
    return pg.query_value(
        "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE "
        "'%/* app_cached */%' AND query NOT LIKE '%pg_stat_statements%'");
  };
  CHECK(server_calls() == "1");
  // The exposition of a cached result is the fresh one's: same family, type, help.
  CHECK(first.families.at("app_cached_value").help == second.families.at("app_cached_value").help);
  CHECK(first.families.at("app_cached_value").type == second.families.at("app_cached_value").type);

  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  const auto third = scrape_metrics(exporter);
  CHECK(third.value("app_cached_value") != first.value("app_cached_value"));
  CHECK(query_metric(third, "pgscope_exporter_query_executions_total", "app_cached") == 2.0);
  CHECK(server_calls() == "2");
}

TEST_CASE("a collector's series are capped by --postgres.max-series, and counted", "[integration]") {
  TestPostgres pg;
  TempDir dir;
  const auto file = dir.write("many.yaml", R"(
app_many_a:
  collector: many
  query: SELECT g AS i, g AS v FROM generate_series(1, 20) g ORDER BY g
  metrics:
    - i: {usage: LABEL}
    - v: {usage: GAUGE, description: Twenty rows}
app_many_b:
  collector: many
  query: SELECT g AS i, g AS v FROM generate_series(1, 20) g ORDER BY g
  metrics:
    - i: {usage: LABEL}
    - v: {usage: GAUGE, description: Twenty more}
)");
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--extend.query-path=" + file,
                            "--postgres.max-series=30", "--no-collector.settings"});
  const auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());
  const auto kept = metrics.count("app_many_a_v") + metrics.count("app_many_b_v");
  CHECK(kept == 30);
  const double dropped = query_metric(metrics, "pgscope_exporter_query_series_dropped", "app_many_a") +
                         query_metric(metrics, "pgscope_exporter_query_series_dropped", "app_many_b");
  CHECK(dropped == 10.0);
}

TEST_CASE("queries reload on SIGHUP and POST /-/reload; a bad reload keeps the old ones", "[integration]") {
  TestPostgres pg;
  TempDir dir;
  auto config_with = [&](int value, const std::string& usage = "GAUGE") {
    return "queries:\n  app_conf:\n    query: SELECT " + std::to_string(value) +
           " AS value\n    metrics:\n      - value: {usage: " + usage +
           ", description: From the config file}\n";
  };
  const auto config = dir.write("config.yaml", config_with(1));
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--config.file=" + config});
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(scrape_metrics(exporter).value("app_conf_value") == 1.0);

  dir.write("config.yaml", config_with(2));
  REQUIRE(kill(exporter.pid(), SIGHUP) == 0);
  CHECK(eventually([&] { return scrape_metrics(exporter).value("app_conf_value") == 2.0; },
                   std::chrono::seconds(10)));
  CHECK(scrape_metrics(exporter).value("pgscope_exporter_config_last_reload_successful") == 1.0);

  // A mistake: refused with file, line and reason; the old queries keep running.
  dir.write("config.yaml", config_with(3, "GAGE"));
  auto refused = exporter.post("/-/reload");
  CHECK(refused.status == 500);
  INFO("refused: " << refused.body);
  CHECK(refused.body.find(config + ":5:24: unknown usage \"GAGE\"") != std::string::npos);
  auto after = scrape_metrics(exporter);
  CHECK(after.value("app_conf_value") == 2.0);
  CHECK(after.value("pgscope_exporter_config_last_reload_successful") == 0.0);
  CHECK(exporter.log().find("reload failed, the previous configuration keeps running") != std::string::npos);

  dir.write("config.yaml", config_with(4));
  auto accepted = exporter.post("/-/reload");
  CHECK(accepted.status == 200);
  auto fixed = scrape_metrics(exporter);
  CHECK(fixed.value("app_conf_value") == 4.0);
  CHECK(fixed.value("pgscope_exporter_config_last_reload_successful") == 1.0);
  CHECK(exporter.scrape("/-/reload").status == 405);
}

TEST_CASE("a query file with a mistake is refused at start-up with file, line and reason", "[integration]") {
  TempDir dir;
  const auto file = dir.write("bad.yaml",
                              "app_ok:\n  query: SELECT 1 AS v\n  metrics:\n    - v: {usage: GAUGE}\n"
                              "app_bad:\n  query: SELECT 1 AS v\n  target_databases: []\n  metrics:\n"
                              "    - v: {usage: GAUGE}\n");
  auto result = run_exporter_once({"--postgres.dsn=host=127.0.0.1", "--extend.query-path=" + file});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find(file + ":7:") != std::string::npos);
  CHECK(result.err.find("target_databases is empty") != std::string::npos);

  auto missing =
      run_exporter_once({"--postgres.dsn=host=127.0.0.1", "--extend.query-path=/nonexistent.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent.yaml") != std::string::npos);

  const auto twice =
      dir.write("twice.yaml", "app_ok:\n  query: SELECT 2 AS v\n  metrics:\n    - v: {usage: GAUGE}\n");
  const auto once =
      dir.write("once.yaml", "app_ok:\n  query: SELECT 1 AS v\n  metrics:\n    - v: {usage: GAUGE}\n");
  auto duplicate =
      run_exporter_once({"--postgres.dsn=host=127.0.0.1", "--extend.query-path=" + once + "," + twice});
  CHECK(duplicate.exit_code == 2);
  CHECK(duplicate.err.find("already defined at " + once + ":1") != std::string::npos);
}
