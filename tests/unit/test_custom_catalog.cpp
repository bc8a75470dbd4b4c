// pgscope's query keys on top of postgres_exporter's form, custom files over
// the built-in catalog, and the series cap of a sink.
#include <catch2/catch.hpp>

#include "core/metric_sink.hpp"
#include "postgres/catalog.hpp"

using namespace pgscope;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_catalog(yaml, "q.yaml");
  } catch (const CatalogError& error) {
    return error.what();
  }
  return "";
}

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
