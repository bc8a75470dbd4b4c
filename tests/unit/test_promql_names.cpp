// The metric names a PromQL expression selects: what the mixin tests hold
// against the exporter's names. A name missed here is a dashboard panel that
// could silently stay empty; a label or function taken for a name is a false
// alarm.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "support/promql_names.hpp"

using pgscope::test::grafana_variable_query_names;
using pgscope::test::promql_metric_names;
using pgscope::test::substitute_grafana_variables;
using Names = std::set<std::string>;

TEST_CASE("plain selectors, with and without matchers", "[promql]") {
  CHECK(promql_metric_names("pg_up") == Names{"pg_up"});
  CHECK(promql_metric_names(R"(pg_up{job=~".*pgscope.*", namespace="acid"} == 0)") == Names{"pg_up"});
  CHECK(promql_metric_names("patroni_primary == 1 and on (namespace, cluster_name, pod) pg_up == 1") ==
        Names{"patroni_primary", "pg_up"});
  CHECK(promql_metric_names("") == Names{});
}

TEST_CASE("functions and aggregations are not names, their arguments are", "[promql]") {
  CHECK(
      promql_metric_names(
          "sum by (namespace, cluster_name) (rate(pg_stat_database_xact_commit_total{datname!=\"\"}[5m]))") ==
      Names{"pg_stat_database_xact_commit_total"});
  CHECK(promql_metric_names("sum(rate(pg_stat_database_xact_commit_total[5m])) by (cluster_name)") ==
        Names{"pg_stat_database_xact_commit_total"});
  CHECK(promql_metric_names("histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[5m])))") ==
        Names{"x_seconds_bucket"});
  CHECK(promql_metric_names("topk(10, pg_stat_user_tables_n_dead_tup)") ==
        Names{"pg_stat_user_tables_n_dead_tup"});
  CHECK(promql_metric_names("count_values(\"version\", pg_static)") == Names{"pg_static"});
  CHECK(promql_metric_names("quantile(0.5, a) + stddev(b) - stdvar(c) * group(d) / bottomk(1, e)") ==
        Names{"a", "b", "c", "d", "e"});
  // Keywords are case-insensitive; a function may have space before its "(".
  CHECK(promql_metric_names("SUM BY (pod) (Rate (pg_x_total[1m]))") == Names{"pg_x_total"});
}

TEST_CASE("label lists of grouping and matching clauses are not names", "[promql]") {
  CHECK(promql_metric_names("sum without (instance, job) (pg_locks_count)") == Names{"pg_locks_count"});
  CHECK(promql_metric_names("pg_settings_max_connections * on (namespace, pod) group_left (datname) "
                            "pg_stat_database_numbackends") ==
        Names{"pg_settings_max_connections", "pg_stat_database_numbackends"});
  CHECK(promql_metric_names("a / ignoring(mode) group_right b") == Names{"a", "b"});
  CHECK(promql_metric_names("a > bool 0 unless b or c") == Names{"a", "b", "c"});
  CHECK(promql_metric_names("atan2(a, b)") == Names{"a", "b"});
  CHECK(promql_metric_names("a atan2 b") == Names{"a", "b"});
}

TEST_CASE("ranges, subqueries, offsets and numbers", "[promql]") {
  CHECK(promql_metric_names("max_over_time(rate(pg_stat_database_deadlocks_total[5m])[1h:1m])") ==
        Names{"pg_stat_database_deadlocks_total"});
  CHECK(promql_metric_names("delta(patroni_postgres_timeline[10m] offset 1h30m) > 0") ==
        Names{"patroni_postgres_timeline"});
  CHECK(promql_metric_names("a offset -5m @ 1609746000 > 1e-3 * 0x1f + .5 - Inf + NaN") == Names{"a"});
  CHECK(promql_metric_names("a @ end()") == Names{"a"});
  CHECK(promql_metric_names("predict_linear(pg_replication_slots_pg_wal_lsn_diff[6h], 4 * 3600) > "
                            "pg_replication_slots_safe_wal_size_bytes") ==
        Names{"pg_replication_slots_pg_wal_lsn_diff", "pg_replication_slots_safe_wal_size_bytes"});
}

TEST_CASE("strings, `or vector(0)` and label_replace", "[promql]") {
  CHECK(promql_metric_names("sum(increase(patroni_cluster_failovers_total[1h])) or vector(0)") ==
        Names{"patroni_cluster_failovers_total"});
  CHECK(promql_metric_names(R"(label_replace(pg_up, "member", "$1", "pod", "(.*)-pooler"))") ==
        Names{"pg_up"});
  CHECK(promql_metric_names(R"(label_join(a, "x", ",", "b", "c"))") == Names{"a"});
  // A string that looks like a selector is still a string.
  CHECK(promql_metric_names(R"(a{state="b{c=\"d\"}", e='f}g', h=~`i\`}) + j)") == Names{"a", "j"});
  CHECK(promql_metric_names("a # a comment naming not_a_metric\n + b") == Names{"a", "b"});
}

TEST_CASE("Prometheus's own series and recording rule names", "[promql]") {
  CHECK(promql_metric_names(
            R"(count by (alertname) (ALERTS{alertstate="firing", cluster_name=~"$cluster"}))") ==
        Names{"ALERTS"});
  CHECK(promql_metric_names("ALERTS_FOR_STATE") == Names{"ALERTS_FOR_STATE"});
  CHECK(
      promql_metric_names("cluster:pg_stat_database_xact_commit:rate5m / "
                          "on (namespace, cluster_name) cluster:pg_stat_database_xact_rollback:rate5m") ==
      Names{"cluster:pg_stat_database_xact_commit:rate5m", "cluster:pg_stat_database_xact_rollback:rate5m"});
  CHECK(promql_metric_names("max by (pod) (member:pg_replication_lag_bytes:max)") ==
        Names{"member:pg_replication_lag_bytes:max"});
}

TEST_CASE("__name__ matchers", "[promql]") {
  CHECK(promql_metric_names(R"({__name__="pg_up", job="x"})") == Names{"pg_up"});
  CHECK(promql_metric_names(R"({__name__ = 'patroni_up'})") == Names{"patroni_up"});
  // A regex names no single metric.
  CHECK(promql_metric_names(R"(count({__name__=~"pg_.*"}))") == Names{});
  CHECK(promql_metric_names(R"({"pg_up"})") == Names{"pg_up"});  // Prometheus 3's quoted name
}

TEST_CASE("Grafana variables anywhere in a dashboard's expression", "[promql][grafana]") {
  CHECK(promql_metric_names(R"(sum by (pod) (rate(pg_stat_database_blks_hit_total{namespace=~"$namespace", )"
                            R"(cluster_name=~"${cluster}", pod=~"[[pod]]"}[$__rate_interval])))") ==
        Names{"pg_stat_database_blks_hit_total"});
  CHECK(promql_metric_names("increase(patroni_cluster_failovers_total[$__range]) / $__range_s") ==
        Names{"patroni_cluster_failovers_total"});
  CHECK(promql_metric_names("rate(a[${__rate_interval}]) + rate(b[[[interval]]])") == Names{"a", "b"});
  CHECK(promql_metric_names("avg_over_time(a[$__interval:${__interval}])") == Names{"a"});
}

TEST_CASE("Grafana template variable queries", "[grafana]") {
  CHECK(grafana_variable_query_names(R"(label_values(pg_up{job=~".*pgscope.*"}, namespace))") ==
        Names{"pg_up"});
  CHECK(grafana_variable_query_names(
            R"(label_values(patroni_primary{namespace=~"$namespace", cluster_name=~"$cluster"}, pod))") ==
        Names{"patroni_primary"});
  CHECK(grafana_variable_query_names("label_values(cluster_name)") == Names{});
  CHECK(grafana_variable_query_names(" label_values (pgbouncer_up , pod) ") == Names{"pgbouncer_up"});
  CHECK(grafana_variable_query_names("query_result(topk(5, sum by (datname) (pg_database_size_bytes)))") ==
        Names{"pg_database_size_bytes"});
  CHECK(grafana_variable_query_names("metrics(pg_.*)") == Names{});
  CHECK(grafana_variable_query_names("label_names()") == Names{});
  CHECK(grafana_variable_query_names("up{job=\"pgscope\"}") == Names{"up"});
  CHECK(grafana_variable_query_names("") == Names{});
}

TEST_CASE("Grafana variables replaced as a dashboard sends the query", "[grafana]") {
  const std::map<std::string, std::string> values = {
      {"cluster", ".+"}, {"pod", ".+"}, {"__rate_interval", "1m"}, {"__range", "5m"}};
  std::set<std::string> unknown;
  CHECK(substitute_grafana_variables(
            R"(rate(a{cluster_name=~"$cluster", pod=~"${pod:regex}", x=~"[[pod]]"}[$__rate_interval]))",
            values, &unknown) == R"(rate(a{cluster_name=~".+", pod=~".+", x=~".+"}[1m]))");
  CHECK(unknown.empty());
  // The longest name counts: $__range_s is not $__range followed by "_s".
  CHECK(substitute_grafana_variables("a / $__range_s + b[$__range]", values, &unknown) ==
        "a / $__range_s + b[5m]");
  CHECK(unknown == std::set<std::string>{"__range_s"});
  unknown.clear();
  CHECK(substitute_grafana_variables(R"x(label_replace(a, "m", "$1", "pod", "(.*)"))x", values, &unknown) ==
        R"x(label_replace(a, "m", "$1", "pod", "(.*)"))x");
  CHECK(unknown.empty());
}

TEST_CASE("label_values split into selector and label", "[grafana]") {
  std::string selector, label;
  REQUIRE(pgscope::test::parse_label_values(
      R"(label_values(pg_up{job=~".*pgscope.*", namespace=~"$namespace"}, cluster_name))", &selector,
      &label));
  CHECK(selector == R"(pg_up{job=~".*pgscope.*", namespace=~"$namespace"})");
  CHECK(label == "cluster_name");
  CHECK_FALSE(pgscope::test::parse_label_values("label_values(namespace)", &selector, &label));
  CHECK_FALSE(pgscope::test::parse_label_values("query_result(up)", &selector, &label));
}

// Verbatim from the mixin (alerts/, dashboards/), where the shapes above meet.
TEST_CASE("real expressions of the mixin", "[promql]") {
  // Recording rule: unless/and with matching clauses, label_replace with "$1".
  CHECK(promql_metric_names(R"x(max by (namespace, cluster_name, pod) (
  label_replace(
    (
      pg_stat_replication_pg_wal_lsn_diff{job=~".*pgscope.*"}
      unless on (namespace, cluster_name, pod, slot_name) pg_replication_slots_slot_is_active{job=~".*pgscope.*", slot_type="logical"}
    )
    and on (namespace, cluster_name, pod) (pg_replication_is_replica{job=~".*pgscope.*"} == 0),
    "pod", "$1", "application_name", "(.+)"
  )
)
or
max by (namespace, cluster_name, pod) (
  label_replace(patroni_cluster_member_lag_bytes{job=~".*pgscope.*"}, "pod", "$1", "member", "(.+)")
))x") == Names{"pg_stat_replication_pg_wal_lsn_diff", "pg_replication_slots_slot_is_active",
               "pg_replication_is_replica", "patroni_cluster_member_lag_bytes"});
  // PatroniFailover: subqueries over aggregations.
  CHECK(promql_metric_names(R"x((
  max by (namespace, cluster_name) (patroni_cluster_failovers_total{job=~".*pgscope.*"})
  - min_over_time((max by (namespace, cluster_name) (patroni_cluster_failovers_total{job=~".*pgscope.*"}))[10m:1m])
  > 0
)
or
(
  max by (namespace, cluster_name) (patroni_postgres_timeline{job=~".*pgscope.*"})
  - min_over_time((max by (namespace, cluster_name) (patroni_postgres_timeline{job=~".*pgscope.*"} > 0))[10m:1m])
  > 0
))x") == Names{"patroni_cluster_failovers_total", "patroni_postgres_timeline"});
  // Pool saturation: group_left without a label list, a label_replace over a comparison.
  CHECK(
      promql_metric_names(
          R"x(sum by (namespace, cluster_name, pod, database, user) (pgbouncer_pools_server_active_connections{job=~".*pgscope.*"})
/ on (namespace, cluster_name, pod, database) group_left
max by (namespace, cluster_name, pod, database) (
  label_replace(pgbouncer_databases_pool_size{job=~".*pgscope.*"} > 0, "database", "$1", "name", "(.*)")
))x") == Names{"pgbouncer_pools_server_active_connections", "pgbouncer_databases_pool_size"});
  // The overview's alerts per cluster: ALERTS with a regex on alertname, and a zero for clusters without any.
  CHECK(
      promql_metric_names(
          R"x(count by (namespace, cluster_name) (ALERTS{alertstate="firing", alertname=~"(Postgres|Patroni|PgBouncer|PgScope).*", namespace=~"$namespace", cluster_name=~"$cluster"}) or (0 * count by (namespace, cluster_name) (pg_up{job=~".*pgscope.*", job=~"$job", namespace=~"$namespace", cluster_name=~"$cluster"})))x") ==
      Names{"ALERTS", "pg_up"});
  // Top statements: topk, a label_replace whose strings hold words and a colon.
  CHECK(
      promql_metric_names(
          R"x((topk(10, sum by (namespace, cluster_name, pod, datname, user, queryid) (rate(pg_stat_statements_seconds_total{job=~".*pgscope.*", job=~"$job", pod=~"$instance", datname=~"$datname", queryid!="other"}[$__rate_interval])))) or on (namespace, cluster_name, pod) label_replace(0 * max by (namespace, cluster_name, pod) (pg_up{job=~".*pgscope.*", job=~"$job", pod=~"$instance"}), "queryid", "no statistics: see the stat_statements collector", "", ""))x") ==
      Names{"pg_stat_statements_seconds_total", "pg_up"});
  // A recording rule over recording rules, with a comparison in parentheses.
  CHECK(promql_metric_names(
            "member:pg_stat_database_blks_hit:rate5m\n/\n(member:pg_stat_database_blks_hit:rate5m + "
            "member:pg_stat_database_blks_read:rate5m > 0)\n") ==
        Names{"member:pg_stat_database_blks_hit:rate5m", "member:pg_stat_database_blks_read:rate5m"});
  CHECK(
      grafana_variable_query_names(
          R"x(label_values(pg_stat_database_numbackends{job=~".*pgscope.*", job=~"$job", namespace=~"$namespace", cluster_name=~"$cluster", pod=~"$instance"}, datname))x") ==
      Names{"pg_stat_database_numbackends"});
}
