// Each cluster's rules read only that cluster's series: every vector
// selector, of exporter series and of recorded ones alike, carries the
// cluster's namespace and name.
#include <catch2/catch.hpp>
#include <set>

#include "mixin_test_support.hpp"
#include "operator/mixin/mixin_programs.hpp"
#include "promql_selectors.hpp"
#include "support/promql_names.hpp"

namespace pgscope::test {
namespace {

const std::string kJobMatcherValue = ".*pgscope.*";

// Selectors of `groups` that are not restricted to ns/cluster (recorded
// series: the name has a colon) or, for exporter series, lack the job matcher.
std::vector<std::string> unrestricted_selectors(const nlohmann::json& groups,
                                                const std::string& cluster_label, const std::string& ns,
                                                const std::string& cluster) {
  std::vector<std::string> problems;
  for (const auto& rule : rules_of(groups)) {
    const std::string expr = rule.at("expr").get<std::string>();
    const auto selectors = vector_selectors(expr);
    std::set<std::string> selected;
    for (const auto& selector : selectors) {
      selected.insert(selector.metric);
      const bool recorded = selector.metric.find(':') != std::string::npos;
      const bool restricted = selector.has("namespace", "=", ns) &&
                              selector.has(cluster_label, "=", cluster) &&
                              (recorded || selector.has("job", "=~", kJobMatcherValue));
      if (!restricted) problems.push_back(rule_name(rule) + ": " + selector.text());
    }
    // An independent reading of the names: a selector this scanner missed would go unchecked.
    if (selected != promql_metric_names(expr))
      problems.push_back(rule_name(rule) + ": selectors not all read");
  }
  return problems;
}

std::size_t selector_count(const nlohmann::json& groups) {
  std::size_t count = 0;
  for (const auto& rule : rules_of(groups))
    count += vector_selectors(rule.at("expr").get<std::string>()).size();
  return count;
}

}  // namespace

TEST_CASE("every selector of a cluster's rules names its namespace and cluster", "[mixin][isolation]") {
  const auto& mixin = shared_mixin();
  const std::vector<std::pair<std::string, std::string>> clusters = {
      {"team-a", "acid-orders"}, {"team-b", "acid-billing"}, {"team-a", "acid-billing"}};
  std::set<std::string> all_exprs;
  for (const auto& [ns, cluster] : clusters) {
    const auto groups = mixin.rule_groups(ns, cluster, {});
    INFO(ns << "/" << cluster);
    CHECK(unrestricted_selectors(groups, "cluster", ns, cluster).empty());
    CHECK(selector_count(groups) > 60);  // 82 today: the scanner does find them
    for (const auto& rule : rules_of(groups)) all_exprs.insert(rule.at("expr").get<std::string>());
    // Each cluster's selectors match none of the others': its namespace or name differs.
    for (const auto& [other_ns, other_cluster] : clusters) {
      if (other_ns == ns && other_cluster == cluster) continue;
      for (const auto& rule : rules_of(groups)) {
        for (const auto& selector : vector_selectors(rule.at("expr").get<std::string>())) {
          CHECK_FALSE(
              (selector.has("namespace", "=", other_ns) && selector.has("cluster", "=", other_cluster)));
        }
      }
    }
  }
  // No expression is shared between the clusters.
  CHECK(all_exprs.size() == 3 * rules_of(mixin.rule_groups("team-a", "acid-orders", {})).size());
}

TEST_CASE("without recordedSelector the reads of recorded series would see every cluster",
          "[mixin][isolation]") {
  // The mixin before this setting: only pgscopeSelector restricted. The
  // check above must catch exactly the reads of recorded series.
  op::MixinSettings settings;
  nlohmann::json config = {
      {"pgscopeSelector", R"(job=~".*pgscope.*",namespace="team-a",cluster="acid-orders")"}};
  const auto groups = op::evaluate_rule_groups(settings, config);
  const auto problems = unrestricted_selectors(groups, "cluster", "team-a", "acid-orders");
  REQUIRE_FALSE(problems.empty());
  std::set<std::string> rules_with_problems;
  for (const auto& problem : problems) {
    INFO(problem);
    CHECK(problem.find(":pg") != std::string::npos);  // a recorded name, member:pg... or cluster:pg...
    rules_with_problems.insert(problem.substr(0, problem.find(": ")));
  }
  CHECK(rules_with_problems.count("PostgresReplicationLagHigh{warning,unit=bytes}") == 1);
  CHECK(rules_with_problems.count("PgBouncerPoolSaturated{warning}") == 1);
  CHECK(rules_with_problems.count("record cluster:pg_stat_database_xact:rate5m") == 1);
}

TEST_CASE("cluster names are quoted as PromQL strings", "[mixin][isolation]") {
  const auto& mixin = shared_mixin();
  // Kubernetes names cannot hold these; the quoting must hold anyway.
  const std::string odd = "we\"ird\\name";
  const auto groups = mixin.rule_groups("team-a", odd, {});
  CHECK(unrestricted_selectors(groups, "cluster", "team-a", odd).empty());
  CHECK(groups.dump().find(R"(cluster=\"we\\\"ird\\\\name\")") != std::string::npos);
}

TEST_CASE("the cached rules with a cluster's matchers filled in equal a direct evaluation",
          "[mixin][isolation]") {
  const auto& mixin = shared_mixin();
  const std::map<std::string, nlohmann::json> overrides = {{"noLeaderFor", "2m"}};
  const auto cached = mixin.rule_groups("team-b", "acid-billing", overrides);

  op::MixinSettings settings;
  nlohmann::json config = {{"noLeaderFor", "2m"}};
  const auto mixin_config = op::evaluate_config_and_kinds(settings).at("config");
  config.update(op::cluster_selector_config(mixin_config, op::promql_string_literal("team-b"),
                                            op::promql_string_literal("acid-billing")));
  const auto direct = op::evaluate_rule_groups(settings, config);
  CHECK(cached.dump() == direct.dump());
}

TEST_CASE("rule groups need a namespace and a cluster", "[mixin][isolation]") {
  const auto& mixin = shared_mixin();
  CHECK_THROWS_AS(mixin.rule_groups("", "acid-orders", {}), std::invalid_argument);
  CHECK_THROWS_AS(mixin.rule_groups("team-a", "", {}), std::invalid_argument);
}

}  // namespace pgscope::test
