// Series stay bounded on big servers: the per-database table cap and the
// pg_stat_statements top N, each with a count or a sum of what was left out.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

TEST_CASE("caps bound per-table and per-statement series and account for the rest", "[integration]") {
  TestPostgres pg;
  pg.exec("CREATE DATABASE many_tables");
  // Five tables of clearly different sizes, analysed so the catalog knows them.
  std::string ddl;
  for (int i = 1; i <= 5; ++i) {
    ddl += "CREATE TABLE t" + std::to_string(i) + " (id int primary key, payload text); INSERT INTO t" +
           std::to_string(i) + " SELECT g, repeat('x', 200) FROM generate_series(1, " +
           std::to_string(i * 2000) + ") g; ";
  }
  pg.exec(ddl + "ANALYZE", "many_tables");
  pg.exec("CREATE EXTENSION pg_stat_statements");
  for (int i = 0; i < 30; ++i)
    pg.exec("SELECT " + std::to_string(i) + " AS distinct_statement_" + std::to_string(i));

  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--postgres.table-limit=2",
                            "--postgres.statement-limit=5", "--collector.stat_statements",
                            "--scrape.timeout=10s"});
  auto metrics = scrape_metrics(exporter);
  INFO("exporter log:\n" << exporter.log_tail());

  // The two largest tables, and a count of the three left out.
  auto tables = metrics.find("pg_stat_user_tables_n_live_tup", {{"datname", "many_tables"}});
  REQUIRE(tables.size() == 2);
  std::set<std::string> kept{tables[0]->label("relname"), tables[1]->label("relname")};
  CHECK(kept == std::set<std::string>{"t4", "t5"});
  CHECK(metrics.value("pg_table_limit_omitted_tables", {{"datname", "many_tables"}}) == 3.0);
  CHECK(metrics.count("pg_statio_user_tables_heap_blocks_read", {{"datname", "many_tables"}}) == 2);

  // Five statements and one "other" series that sums the rest.
  auto calls = metrics.find("pg_stat_statements_calls_total");
  CHECK(calls.size() == 6);
  auto other = metrics.value("pg_stat_statements_calls_total", {{"queryid", "other"}});
  REQUIRE(other.has_value());
  double exported = 0;
  for (const auto* sample : calls) exported += sample->value;
  // Every call counted by the view appears once (the scrape itself adds a few
  // statements between the two readings, so allow for them).
  const double in_view = std::stod(pg.query_value("SELECT sum(calls) FROM pg_stat_statements"));
  CHECK(exported <= in_view);
  CHECK(exported >= in_view - 20);
  CHECK(*other >= 25);  // at least the 30 distinct statements less the five kept
}
