#include <catch2/catch.hpp>

#include "core/metric_sink.hpp"
#include "postgres/catalog.hpp"
#include "postgres/row_mapper.hpp"

using namespace pgscope;

namespace {

// A result table in memory, with PgResult's accessors.
struct FakeTable {
  std::vector<std::string> names;
  std::vector<std::vector<const char*>> cells;  // nullptr is SQL NULL
  int rows() const { return static_cast<int>(cells.size()); }
  int columns() const { return static_cast<int>(names.size()); }
  int column_index(const char* name) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  bool is_null(int row, int column) const { return cells[row][column] == nullptr; }
  const char* value(int row, int column) const { return cells[row][column]; }
};

std::string error_of(const std::string& yaml) {
  try {
    parse_catalog(yaml, "q.yaml");
  } catch (const CatalogError& error) {
    return error.what();
  }
  return "";
}

const prometheus::MetricFamily* family(const std::vector<prometheus::MetricFamily>& families,
                                       const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a postgres_exporter queries.yaml file parses unchanged", "[catalog]") {
  auto catalog = parse_catalog(R"yaml(
pg_replication:
  query: "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 ELSE 1 END AS lag"
  master: true
  cache_seconds: 30
  metrics:
    - lag:
        usage: "GAUGE"
        description: "Replication lag behind master in seconds"
pg_postmaster:
  query: "SELECT pg_postmaster_start_time as start_time_seconds from pg_postmaster_start_time()"
  runonserver: ">=10.0.0 <12.0.0"
  metrics:
    - start_time_seconds:
        usage: "GAUGE"
        description: "Time at which postmaster started"
)yaml",
                               "queries.yaml");
  REQUIRE(catalog.entries.size() == 2);
  const auto& replication = catalog.entries[0];
  CHECK(replication.name == "pg_replication");
  CHECK(replication.collector == "queries");
  CHECK(replication.cache_seconds == 30);
  CHECK(replication.metric_name(replication.metrics[0]) == "pg_replication_lag");
  CHECK(replication.origin == "queries.yaml:2");
  const auto& postmaster = catalog.entries[1];
  CHECK(postmaster.branch_for(100000) != nullptr);
  CHECK(postmaster.branch_for(110005) != nullptr);
  CHECK(postmaster.branch_for(120000) == nullptr);
  CHECK(postmaster.branch_for(90600) == nullptr);
}

TEST_CASE("version branches are chosen by server_version_num", "[catalog]") {
  auto catalog = parse_catalog(R"yaml(
pg_stat_x:
  queries:
    - min_version: 170000
      query: SELECT 17 AS v
    - min_version: 140000
      max_version: 170000
      query: SELECT 14 AS v
    - min_version: 120000
      max_version: 140000
      query: SELECT 12 AS v
  metrics:
    - v: {usage: GAUGE}
)yaml",
                               "x.yaml");
  const auto& entry = catalog.entries.at(0);
  CHECK(entry.branch_for(110000) == nullptr);
  CHECK(entry.branch_for(120000)->sql == "SELECT 12 AS v");
  CHECK(entry.branch_for(130012)->sql == "SELECT 12 AS v");
  CHECK(entry.branch_for(140000)->sql == "SELECT 14 AS v");
  CHECK(entry.branch_for(150018)->sql == "SELECT 14 AS v");
  CHECK(entry.branch_for(170000)->sql == "SELECT 17 AS v");
  CHECK(entry.branch_for(180001)->sql == "SELECT 17 AS v");
}

TEST_CASE("catalog mistakes name the file, line and what to do", "[catalog]") {
  CHECK(error_of("q:\n  query: SELECT 1\n  metrics:\n    - a:\n        usage: GAUGES\n") ==
        "q.yaml:5:16: unknown usage \"GAUGES\" (expected LABEL, GAUGE, COUNTER, MAPPEDMETRIC, DURATION or "
        "DISCARD)");
  CHECK_THAT(error_of("q:\n  query: SELECT 1\n  metric:\n    - a: {usage: GAUGE}\n"),
             Catch::StartsWith("q.yaml:3:3: unknown key \"metric\" in query \"q\""));
  CHECK(error_of("q:\n  metrics:\n    - a: {usage: GAUGE}\n") == "q.yaml:1:1: query \"q\" has no \"query\"");
  CHECK_THAT(error_of("q: [unclosed\n"), Catch::StartsWith("q.yaml:2:1: "));
  CHECK_THAT(
      error_of("q:\n  query: SELECT 1\n  metrics:\n    - a: {usage: GAUGE}\n    - a: {usage: LABEL}\n"),
      Catch::Contains("column \"a\" is listed twice"));
  CHECK_THAT(error_of("q:\n  query: x\n  min_version: 150000\n  max_version: 140000\n  metrics:\n    - a: "
                      "{usage: GAUGE}\n"),
             Catch::Contains("max_version must be above min_version"));
}

TEST_CASE("every built-in catalog entry is valid and names a collector", "[catalog]") {
  auto catalog = builtin_catalog();
  REQUIRE_FALSE(catalog.entries.empty());
  for (const auto& entry : catalog.entries) {
    INFO(entry.origin);
    CHECK_FALSE(entry.collector.empty());
    CHECK(entry.collector != "queries");
    // Every entry has a branch for PostgreSQL 15, the version tested here, or
    // says why not through its version range.
    for (int version : {120000, 130000, 140000, 150000, 160000, 170000, 180000}) {
      const auto* branch = entry.branch_for(version);
      if (branch != nullptr) CHECK_FALSE(branch->sql.empty());
    }
  }
  // The dump reads back as the same catalog.
  auto again = parse_catalog(dump_catalog(catalog), "dump");
  REQUIRE(again.entries.size() == catalog.entries.size());
  for (std::size_t i = 0; i < catalog.entries.size(); ++i) {
    CHECK(again.entries[i].name == catalog.entries[i].name);
    CHECK(again.entries[i].branches.size() == catalog.entries[i].branches.size());
    CHECK(again.entries[i].metrics.size() == catalog.entries[i].metrics.size());
  }
}

TEST_CASE("rows become samples by the column rules", "[catalog]") {
  auto catalog = parse_catalog(R"yaml(
pg_stat_database:
  query: SELECT 1
  metrics:
    - datname: {usage: LABEL}
    - xact_commit: {usage: COUNTER, description: commits}
    - blk_read_time: {usage: COUNTER, scale: 0.001, name: pg_stat_database_blk_read_time_seconds_total}
    - state: {usage: MAPPEDMETRIC, mapping: {streaming: 1, catchup: 2}}
    - ignored: {usage: DISCARD}
    - missing_column: {usage: GAUGE}
)yaml",
                               "x.yaml");
  FakeTable table{{"datname", "xact_commit", "blk_read_time", "state", "ignored"},
                  {{"db\"1", "42", "1500", "streaming", "x"},
                   {nullptr, "7", nullptr, "unknown", "y"},
                   {"db3", "not-a-number", "t", "catchup", "z"}}};
  MetricSink sink;
  CHECK(map_rows(catalog.entries[0], table, sink) == 1);
  auto families = sink.take();
  const auto* commits = family(families, "pg_stat_database_xact_commit");
  REQUIRE(commits != nullptr);
  CHECK(commits->type == prometheus::MetricType::Counter);
  REQUIRE(commits->metric.size() == 2);
  CHECK(commits->metric[0].label[0].value == "db\"1");
  CHECK(commits->metric[0].counter.value == 42);
  CHECK(commits->metric[1].label[0].value == "");  // NULL label: empty value
  const auto* read_time = family(families, "pg_stat_database_blk_read_time_seconds_total");
  REQUIRE(read_time != nullptr);
  REQUIRE(read_time->metric.size() == 2);  // NULL value: no sample
  CHECK(read_time->metric[0].counter.value == Approx(1.5));
  CHECK(read_time->metric[1].counter.value == Approx(0.001));  // t is 1
  const auto* state = family(families, "pg_stat_database_state");
  REQUIRE(state != nullptr);
  REQUIRE(state->metric.size() == 2);  // an unmapped value has no sample
  CHECK(state->metric[1].gauge.value == 2);
  CHECK(family(families, "pg_stat_database_ignored") == nullptr);
  CHECK(family(families, "pg_stat_database_missing_column") == nullptr);
}

TEST_CASE("placeholders are replaced by settings, unknown ones are errors", "[catalog]") {
  CatalogEntry entry;
  entry.name = "t";
  entry.origin = "x.yaml:3";
  CHECK(expand_placeholders(entry, "SELECT 1 LIMIT {{table_limit}} OFFSET {{ table_limit }}",
                            {{"table_limit", 50}}) == "SELECT 1 LIMIT 50 OFFSET 50");
  CHECK_THROWS_WITH(expand_placeholders(entry, "LIMIT {{nope}}", {}),
                    "x.yaml:3: query \"t\" uses unknown placeholder {{nope}}");
}

TEST_CASE("the sink merges families and drops repeated series", "[catalog]") {
  MetricSink a;
  a.gauge("m", "help", {{"db", "x"}}, 1);
  MetricSink b;
  b.gauge("m", "help", {{"db", "y"}}, 2);
  b.gauge("m", "help", {{"db", "x"}}, 3);
  b.counter("m", "help", {{"db", "z"}}, 3);  // same name, other type: dropped
  a.merge(std::move(b));
  auto families = a.take();
  REQUIRE(families.size() == 1);
  CHECK(families[0].metric.size() == 2);
  CHECK(a.dropped() == 2);
}

TEST_CASE("the built-in catalog picks the query each PostgreSQL version needs", "[catalog]") {
  const auto catalog = builtin_catalog();
  auto entry = [&](const std::string& name) -> const CatalogEntry& {
    for (const auto& e : catalog.entries) {
      if (e.name == name) return e;
    }
    FAIL("no built-in entry " << name);
    throw std::logic_error("unreachable");
  };
  auto sql_for = [&](const std::string& name, int version) -> std::string {
    const auto* branch = entry(name).branch_for(version);
    return branch == nullptr ? "" : branch->sql;
  };
  // Checkpoint counters left pg_stat_bgwriter for pg_stat_checkpointer in 17.
  CHECK_THAT(sql_for("pg_stat_bgwriter", 160000), Catch::Contains("checkpoints_timed"));
  CHECK_THAT(sql_for("pg_stat_bgwriter", 170000), !Catch::Contains("checkpoints_timed"));
  CHECK(sql_for("pg_stat_checkpointer", 160004).empty());
  CHECK_THAT(sql_for("pg_stat_checkpointer", 170000), Catch::Contains("pg_stat_checkpointer"));
  CHECK_THAT(sql_for("pg_stat_checkpointer", 180000), Catch::Contains("num_done"));
  // Views that appeared in 14 and 16.
  CHECK(sql_for("pg_stat_wal", 130010).empty());
  CHECK_FALSE(sql_for("pg_stat_wal", 140000).empty());
  CHECK(sql_for("pg_stat_io", 150005).empty());
  CHECK_FALSE(sql_for("pg_stat_io", 160000).empty());
  CHECK(sql_for("pg_stat_database_sessions", 130000).empty());
  CHECK(sql_for("pg_stat_replication_slots", 130000).empty());
  // Every cluster-wide server view has a query for the oldest and newest versions we support.
  for (const char* name :
       {"pg_stat_database", "pg_locks", "pg_stat_activity", "pg_replication_slots", "pg_database"}) {
    INFO(name);
    CHECK_FALSE(sql_for(name, 120000).empty());
    CHECK_FALSE(sql_for(name, 180000).empty());
  }
}

// pgscope's query keys on top of postgres_exporter's form, custom files over
// the built-in catalog, and the series cap of a sink.

namespace {

const std::string kMetrics = "  metrics:\n    - a: {usage: GAUGE}\n";

}  // namespace

TEST_CASE("target_databases, predicate and max_series are read and checked", "[catalog]") {
  auto catalog = parse_catalog(
      "q:\n  query: SELECT 1 AS a\n  target_databases: [shop, billing]\n"
      "  predicate: SELECT true\n  max_series: 10\n" +
          kMetrics,
      "q.yaml");
  const auto& entry = catalog.entries.at(0);
  CHECK(entry.target_databases == std::vector<std::string>{"shop", "billing"});
  CHECK(entry.runs_in("shop", false));  // a name overrides the include/exclude lists
  CHECK_FALSE(entry.runs_in("other", true));
  CHECK(entry.predicate == "SELECT true");
  CHECK(entry.max_series == 10);

  auto every = parse_catalog("q:\n  query: SELECT 1 AS a\n  target_databases: '*'\n" + kMetrics, "q.yaml");
  CHECK(every.entries.at(0).runs_in("anything", true));
  CHECK_FALSE(every.entries.at(0).runs_in("excluded", false));
  auto once = parse_catalog("q:\n  query: SELECT 1 AS a\n  master: true\n" + kMetrics, "q.yaml");
  CHECK_FALSE(once.entries.at(0).per_database());

  CHECK(error_of("q:\n  query: x\n  target_databases: []\n" + kMetrics) ==
        "q.yaml:3:21: query \"q\": target_databases is empty (remove it to run once)");
  CHECK_THAT(error_of("q:\n  query: x\n  target_databases: ['*', shop]\n" + kMetrics),
             Catch::Contains("\"*\" already means every database"));
  CHECK_THAT(error_of("q:\n  query: x\n  target_databases: '*'\n  master: true\n" + kMetrics),
             Catch::Contains("master: true contradicts target_databases"));
  CHECK(error_of("q:\n  query: x\n  max_series: 0\n" + kMetrics) ==
        "q.yaml:3:15: query \"q\": max_series must be a positive integer");
  CHECK_THAT(error_of("q:\n  query: x\n  max_series: many\n" + kMetrics),
             Catch::Contains("\"max_series\" must be a positive integer, not \"many\""));
  CHECK_THAT(error_of("q:\n  query: x\n  predicate: ' '\n" + kMetrics),
             Catch::Contains("predicate is empty"));
  CHECK_THAT(error_of("q:\n  query: x\n  cache_seconds: -1\n" + kMetrics),
             Catch::Contains("\"cache_seconds\" must be between 0 and 86400 seconds"));
  CHECK_THAT(error_of("q:\n  query: x\n" + kMetrics + "q:\n  query: y\n" + kMetrics),
             Catch::Contains("query \"q\" is defined twice"));
  CHECK_THAT(error_of("? [a, b]\n: {query: x}\n"), Catch::StartsWith("q.yaml:1:"));
}

TEST_CASE("custom entries replace built-in ones of the same name, never each other", "[catalog]") {
  Catalog catalog = builtin_catalog();
  const auto builtin_size = catalog.entries.size();
  auto replaced = catalog.overlay(parse_catalog(
      "pg_postmaster:\n  query: SELECT 1 AS a\n" + kMetrics + "app_new:\n  query: SELECT 2 AS a\n" + kMetrics,
      "custom.yaml"));
  CHECK(replaced == std::vector<std::string>{"pg_postmaster"});
  CHECK(catalog.entries.size() == builtin_size + 1);
  for (const auto& entry : catalog.entries) {
    if (entry.name == "pg_postmaster") CHECK(entry.origin == "custom.yaml:1");
  }
  try {
    catalog.overlay(parse_catalog("app_new:\n  query: SELECT 3 AS a\n" + kMetrics, "second.yaml"));
    FAIL("a second definition of a custom entry was accepted");
  } catch (const CatalogError& error) {
    CHECK(std::string(error.what()) ==
          "second.yaml:1: query \"app_new\" is already defined at custom.yaml:5 (rename one of them)");
  }
}

TEST_CASE("the dumped catalog reads back as the same catalog", "[catalog]") {
  Catalog catalog = builtin_catalog();
  catalog.overlay(
      parse_catalog("app_x:\n  query: SELECT 1 AS a\n  target_databases: [shop]\n"
                    "  predicate: SELECT true\n  max_series: 7\n  cache_seconds: 30\n" +
                        kMetrics,
                    "custom.yaml"));
  const auto dumped = dump_catalog(catalog);
  const auto again = parse_catalog(dumped, "dump.yaml");
  REQUIRE(again.entries.size() == catalog.entries.size());
  CHECK(dump_catalog(again) == dumped);
  const auto& x = again.entries.back();
  CHECK(x.name == "app_x");
  CHECK(x.target_databases == std::vector<std::string>{"shop"});
  CHECK(x.predicate == "SELECT true\n");
  CHECK(x.max_series == 7);
  CHECK(x.cache_seconds == 30);
}

TEST_CASE("a sink keeps whole leading rows when capped", "[catalog]") {
  MetricSink sink;
  const auto a = sink.family("a", "", prometheus::MetricType::Gauge);
  const auto b = sink.family("b", "", prometheus::MetricType::Gauge);
  for (int row = 0; row < 10; ++row) {
    sink.add(a, {{"row", std::to_string(row)}}, row);
    if (row % 2 == 0) sink.add(b, {{"row", std::to_string(row)}}, row);  // b has NULLs in odd rows
  }
  CHECK(sink.series() == 15);
  CHECK(sink.truncate(100) == 0);
  CHECK(sink.truncate(8) == 7);
  auto families = sink.take();
  // Four samples of each family: rows 0-3 of a, rows 0, 2, 4, 6 of b.
  REQUIRE(families.size() == 2);
  CHECK(families[0].metric.size() == 4);
  CHECK(families[1].metric.size() == 4);
  CHECK(families[0].metric.back().label.at(0).value == "3");

  MetricSink empty;
  CHECK(empty.truncate(0) == 0);
  MetricSink one;
  one.gauge("x", "", {}, 1);
  CHECK(one.truncate(0) == 1);
  CHECK(one.series() == 0);
}

TEST_CASE("inputs found by fuzzing are refused with a message, never a crash", "[catalog]") {
  const std::string metrics = "  metrics: [{a: {usage: GAUGE}}]\n";
  // A number no version has: out_of_range from stoi, then int overflow.
  CHECK_THAT(error_of("e:\n  runonserver: \">=99999999999\"\n  query: SELECT 1 AS a\n" + metrics),
             Catch::Contains("cannot read version range clause"));
  CHECK_THAT(error_of("e:\n  runonserver: \">=999999\"\n  query: SELECT 1 AS a\n" + metrics),
             Catch::Contains("cannot read version range clause"));
  // Control characters and NUL cannot be dumped back, and SQL has no use for them.
  CHECK(error_of(std::string("e:\n  query: \"SELECT 1 AS a\\0 -- rest\"\n") + metrics) ==
        "q.yaml:2:10: \"query\" holds the control character U+0000 at byte 14 (remove it)");
  CHECK_THAT(error_of("e:\n  query: \"SELECT 1 AS a\\x04\"\n" + metrics), Catch::Contains("U+0004"));
  // Text that is not UTF-8 (a mapping key the dump rewrote as U+FFFD).
  CHECK_THAT(
      error_of("e:\n  query: S\n  metrics:\n  - a:\n      usage: MAPPEDMETRIC\n      mapping: {\xf9: 2}\n"),
      Catch::Contains("is not valid UTF-8 at byte 1"));
  CHECK_THAT(error_of("e:\n  query: \"SELECT 1 AS a \\u2028\"\n" + metrics), Catch::Contains("U+2028"));
  CHECK(error_of("e:\n  query: SELECT 'žluťoučký' AS a\n" + metrics).empty());
  // A branch narrowed to nothing by the entry's bounds.
  CHECK_THAT(
      error_of("e:\n  max_version: 100\n  queries: [{query: SELECT 1 AS a, min_version: 200}]\n" + metrics),
      Catch::Contains("could never run"));
  // A 50 000-character name overflowed std::regex's recursion.
  CHECK_THAT(error_of("e:\n  query: SELECT 1 AS a\n  metrics: [{a: {usage: GAUGE, name: " +
                      std::string(50000, 'm') + "}}]\n"),
             Catch::Contains("is longer than 1000 bytes"));
  CHECK_THAT(error_of("e:\n  query: SELECT 1 AS a\n  metrics: [{a: {usage: GAUGE, name: " +
                      std::string(500, 'm') + "}}]\n"),
             Catch::Contains("is not a valid metric name"));
  CHECK_THAT(
      error_of("e:\n  query: SELECT 1 AS a\n  metrics: [{" + std::string(300, 'c') + ": {usage: LABEL}}]\n"),
      Catch::Contains("is longer than 256 bytes"));
  // Tabs and line breaks stay allowed in SQL.
  CHECK(error_of("e:\n  query: \"SELECT\\t1 AS a\\n\"\n" + metrics).empty());
}
