// Prometheus's own tools on a cluster's rules: `promtool check rules`, and a
// rule unit test showing that a cluster's rule file ignores other clusters.
#include <catch2/catch.hpp>

#include "mixin_test_support.hpp"

namespace pgscope::test {
namespace {

// A PrometheusRule's spec.groups as the rule file the operator's ConfigMap
// becomes in Prometheus (JSON is YAML).
std::string rule_file(const nlohmann::json& groups) { return nlohmann::json{{"groups", groups}}.dump(2); }

}  // namespace

TEST_CASE("promtool accepts a cluster's rules", "[mixin][promtool]") {
  if (promtool_path().empty()) {
    WARN("promtool is not installed (apt-get install -y prometheus): rules not checked");
    return;
  }
  const auto& mixin = shared_mixin();
  TempDir dir;
  const auto plain = dir.write("plain.json", rule_file(mixin.rule_groups("team-a", "acid-orders", {})));
  const auto overrides = mixin.threshold_overrides({{"pgscope.io/replicationLagBytesWarning", "536870912"},
                                                    {"pgscope.io/failoverWindow", "1h30m"},
                                                    {"pgscope.io/connectionsUsedCritical", "0.99"}},
                                                   {});
  const auto tuned =
      dir.write("tuned.json", rule_file(mixin.rule_groups("team-b", "acid-billing", overrides)));
  const auto result =
      run_command(promtool_path() + " check rules --lint=all --lint-fatal " + plain + " " + tuned);
  INFO(result.output);
  CHECK(result.status == 0);
  // And the check fails on a broken file, so that it means something.
  const auto broken =
      dir.write("broken.json", rule_file({{{"name", "x"}, {"rules", {{{"alert", "X"}, {"expr", "up{"}}}}}}));
  CHECK(run_command(promtool_path() + " check rules " + broken).status != 0);
}

TEST_CASE("a cluster's rule file fires for its cluster only", "[mixin][promtool]") {
  if (promtool_path().empty()) {
    WARN("promtool is not installed (apt-get install -y prometheus): isolation not checked");
    return;
  }
  // Only acid-a's rules are loaded. The input has acid-b's exporter series
  // and the series acid-b's own rule file records: acid-a's rules must
  // neither alert on them nor record anything for acid-b.
  TempDir dir;
  dir.write("acid-a.json", rule_file(shared_mixin().rule_groups("db", "acid-a", {})));
  const std::string test = R"(rule_files:
  - acid-a.json
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'pg_up{job="pgscope", namespace="db", cluster="acid-a", pod="acid-a-0"}'
        values: '0x20'
      - series: 'pg_up{job="pgscope", namespace="db", cluster="acid-b", pod="acid-b-0"}'
        values: '0x20'
      - series: 'member:pg_replication_lag_bytes:max{namespace="db", cluster="acid-b", pod="acid-b-1"}'
        values: '1000000000x20'
      - series: 'member:pg_stat_database_numbackends:sum{namespace="db", cluster="acid-b", pod="acid-b-0"}'
        values: '7x20'
      - series: 'pg_stat_database_numbackends{job="pgscope", namespace="db", cluster="acid-a", pod="acid-a-0", datname="app"}'
        values: '3x20'
    promql_expr_test:
      - expr: count by (alertname, cluster, pod) (ALERTS{alertstate="firing"})
        eval_time: 10m
        exp_samples:
          - labels: '{alertname="PostgresDown", cluster="acid-a", pod="acid-a-0"}'
            value: 1
      - expr: cluster:pg_stat_database_numbackends:sum
        eval_time: 10m
        exp_samples:
          - labels: 'cluster:pg_stat_database_numbackends:sum{namespace="db", cluster="acid-a"}'
            value: 3
)";
  const std::string file = dir.write("isolation-test.yaml", test);
  const auto result = run_command("cd " + dir.path() + " && " + promtool_path() + " test rules " + file);
  INFO(result.output);
  CHECK(result.status == 0);

  // The same test against the rules of acid-b fails: acid-b's series are there.
  dir.write("acid-a.json", rule_file(shared_mixin().rule_groups("db", "acid-b", {})));
  CHECK(run_command("cd " + dir.path() + " && " + promtool_path() + " test rules " + file).status != 0);
}

}  // namespace pgscope::test
