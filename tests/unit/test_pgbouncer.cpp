// The pgBouncer collector without a pgBouncer: how admin console answers map
// to families (any column order, missing and unknown columns), and what a
// scrape shows when the console cannot be reached.
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "pgbouncer/pgbouncer_collector.hpp"
#include "pgbouncer/pgbouncer_metrics.hpp"
#include "support/exporter_process.hpp"

using namespace pgscope;

namespace {

// Stands in for PgResult: text cells, nullopt for NULL.
struct FakeTable {
  std::vector<std::string> names;
  std::vector<std::vector<std::optional<std::string>>> cells;

  int rows() const { return static_cast<int>(cells.size()); }
  int column_index(const char* name) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  bool is_null(int row, int column) const { return !cells[row][column].has_value(); }
  const char* value(int row, int column) const { return cells[row][column]->c_str(); }
};

const ShowTable& show_table(const std::string& part) {
  for (const auto& table : pgbouncer_show_tables()) {
    if (table.part == part) return table;
  }
  FAIL("no table " << part);
  throw std::logic_error("unreachable");
}

const KeyedTable& keyed_table(const std::string& part) {
  for (const auto& table : pgbouncer_keyed_tables()) {
    if (table.part == part) return table;
  }
  FAIL("no table " << part);
  throw std::logic_error("unreachable");
}

struct Found {
  prometheus::MetricType type;
  std::map<std::string, std::string> labels;
  double value;
};

// The samples of family `name`.
std::vector<Found> samples(MetricSink& sink, const std::string& name) {
  std::vector<Found> out;
  for (const auto& family : sink.take()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      Found found{family.type, {}, sample_value(metric, family.type)};
      for (const auto& label : metric.label) found.labels[label.name] = label.value;
      out.push_back(found);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("SHOW POOLS maps by column name, with maxwait_us adding the fraction of a second", "[unit]") {
  // Columns in an order of their own, one unknown to us (a later release's).
  FakeTable pools{{"user", "database", "load_balance_hosts", "maxwait_us", "cl_waiting", "maxwait"},
                  {{"app", "db1", std::nullopt, "250000", "3", "2"}}};
  MetricSink sink;
  CHECK(map_show_table(show_table("pgbouncer_pools"), pools, sink) == 0);
  MetricSink copy = sink;
  auto waiting = samples(copy, "pgbouncer_pools_client_waiting_connections");
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].type == prometheus::MetricType::Gauge);
  CHECK(waiting[0].labels == std::map<std::string, std::string>{{"database", "db1"}, {"user", "app"}});
  CHECK(waiting[0].value == 3);
  auto maxwait = samples(sink, "pgbouncer_pools_client_maxwait_seconds");
  REQUIRE(maxwait.size() == 1);
  CHECK(maxwait[0].value == Approx(2.25));
}

TEST_CASE("SHOW STATS times in microseconds become seconds; counters stay counters", "[unit]") {
  FakeTable stats{{"database", "total_xact_count", "total_query_time", "total_wait_time", "avg_query_time"},
                  {{"db1", "7", "1500000", "250", "3"}, {"pgbouncer", "1", "0", "0", "0"}}};
  MetricSink sink;
  CHECK(map_show_table(show_table("pgbouncer_stats"), stats, sink) == 0);
  MetricSink copy1 = sink, copy2 = sink;
  auto xacts = samples(copy1, "pgbouncer_stats_sql_transactions_pooled_total");
  REQUIRE(xacts.size() == 2);
  CHECK(xacts[0].type == prometheus::MetricType::Counter);
  CHECK(xacts[0].labels == std::map<std::string, std::string>{{"database", "db1"}});
  CHECK(xacts[0].value == 7);
  auto query_time = samples(copy2, "pgbouncer_stats_queries_duration_seconds_total");
  REQUIRE(query_time.size() == 2);
  CHECK(query_time[0].value == Approx(1.5));
  auto wait = samples(sink, "pgbouncer_stats_client_wait_seconds_total");
  REQUIRE(wait.size() == 2);
  CHECK(wait[0].value == Approx(0.00025));
}

TEST_CASE("SHOW DATABASES: NULL labels are empty, NULL values skipped, renamed columns both read", "[unit]") {
  // 1.18 calls it reserve_pool, 1.24 reserve_pool_size.
  FakeTable old_names{
      {"name", "host", "port", "database", "force_user", "pool_size", "reserve_pool", "pool_mode"},
      {{"db1", std::nullopt, "5432", "real", std::nullopt, "20", "5", std::nullopt}}};
  FakeTable new_names{{"name", "pool_size", "reserve_pool_size", "max_client_connections", "paused"},
                      {{"db1", "20", "7", "100", "not-a-number"}}};
  MetricSink sink;
  CHECK(map_show_table(show_table("pgbouncer_databases"), old_names, sink) == 0);
  MetricSink copy = sink;
  auto reserve = samples(copy, "pgbouncer_databases_reserve_pool");
  REQUIRE(reserve.size() == 1);
  CHECK(reserve[0].value == 5);
  CHECK(reserve[0].labels == std::map<std::string, std::string>{{"name", "db1"},
                                                                {"host", ""},
                                                                {"port", "5432"},
                                                                {"database", "real"},
                                                                {"force_user", ""},
                                                                {"pool_mode", ""}});
  MetricSink newer;
  CHECK(map_show_table(show_table("pgbouncer_databases"), new_names, newer) == 1);  // paused
  MetricSink newer_copy = newer;
  auto reserve_new = samples(newer, "pgbouncer_databases_reserve_pool");
  REQUIRE(reserve_new.size() == 1);
  CHECK(reserve_new[0].value == 7);
  CHECK(samples(newer_copy, "pgbouncer_databases_max_client_connections").size() == 1);
}

TEST_CASE("SHOW LISTS and SHOW CONFIG rows become label-less gauges named as pgbouncer_exporter does",
          "[unit]") {
  FakeTable lists{{"list", "items"},
                  {{"databases", "2"}, {"dns_names", "0"}, {"peers", "0"}, {"users", "x"}}};
  MetricSink sink;
  CHECK(map_keyed_table(keyed_table("pgbouncer_lists"), lists, sink) == 1);  // users: not a number
  MetricSink copy1 = sink, copy2 = sink;
  CHECK(samples(copy1, "pgbouncer_databases").at(0).value == 2);
  CHECK(samples(copy2, "pgbouncer_cached_dns_names").size() == 1);
  CHECK(samples(sink, "pgbouncer_peers").empty());  // not mapped by pgbouncer_exporter

  // 1.18 has a `default` column between value and changeable; older ones not.
  FakeTable config{{"key", "value", "changeable"},
                   {{"max_client_conn", "100", "yes"}, {"listen_port", "6432", "no"}}};
  MetricSink config_sink;
  CHECK(map_keyed_table(keyed_table("pgbouncer_config"), config, config_sink) == 0);
  auto max_client = samples(config_sink, "pgbouncer_config_max_client_connections");
  REQUIRE(max_client.size() == 1);
  CHECK(max_client[0].value == 100);
}

TEST_CASE("SHOW VERSION becomes pgbouncer_version_info{version}", "[unit]") {
  FakeTable version{{"version"}, {{"PgBouncer 1.18.0"}}};
  MetricSink sink;
  map_version(version, sink);
  auto info = samples(sink, "pgbouncer_version_info");
  REQUIRE(info.size() == 1);
  CHECK(info[0].labels.at("version") == "PgBouncer 1.18.0");
  CHECK(info[0].value == 1);
}

TEST_CASE("an unreachable pgBouncer: pgbouncer_up 0 and the last error, without the password", "[unit]") {
  const int port = pgscope::test::free_tcp_port();  // nothing listens there
  PgBouncerCollector collector(PgBouncerCollectorConfig{"host=127.0.0.1 port=" + std::to_string(port) +
                                                        " dbname=pgbouncer user=stats password=s3cr3t-pw"});
  MetricSink sink;
  std::vector<CollectorStatus> parts;
  const auto started = Clock::now();
  CHECK_FALSE(collector.collect(Deadline::after(std::chrono::seconds(5)), sink, parts));
  CHECK(Clock::now() - started < std::chrono::seconds(2));
  MetricSink copy = sink;
  auto up = samples(copy, "pgbouncer_up");
  REQUIRE(up.size() == 1);
  CHECK(up[0].value == 0);
  auto error = samples(sink, "pgscope_exporter_last_error_info");
  REQUIRE(error.size() == 1);
  CHECK(error[0].labels.at("source") == "pgbouncer");
  CHECK(error[0].labels.at("kind") == "connection");
  CHECK(error[0].labels.at("message").find("s3cr3t-pw") == std::string::npos);

  MetricSink unavailable;
  collector.describe_unavailable(unavailable);
  CHECK(samples(unavailable, "pgbouncer_up").at(0).value == 0);
}
