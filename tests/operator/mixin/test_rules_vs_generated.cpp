// A cluster's rules are the committed mixin (mixins/generated) with the
// cluster's matchers added, and a threshold override changes that threshold
// and nothing else.
#include <catch2/catch.hpp>

#include "mixin_test_support.hpp"

namespace pgscope::test {
namespace {

// The committed rule files in the order rule_groups gives them.
nlohmann::json committed_groups() {
  nlohmann::json groups = load_yaml(source_path("mixins/generated/rules.yaml")).at("groups");
  const nlohmann::json alerts = load_yaml(source_path("mixins/generated/alerts.yaml"));
  for (const auto& group : alerts.at("groups")) groups.push_back(group);
  return groups;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A cluster's groups with its matchers taken out again.
nlohmann::json without_cluster_matchers(nlohmann::json groups, const std::string& matchers) {
  for (auto& group : groups) {
    for (auto& rule : group.at("rules")) {
      std::string expr = rule.at("expr").get<std::string>();
      expr = replace_all(expr, "{" + matchers + "}", "");
      expr = replace_all(expr, "," + matchers, "");
      rule["expr"] = expr;
    }
  }
  return groups;
}

// The rules that differ between two rule group lists of the same shape.
std::vector<std::pair<nlohmann::json, nlohmann::json>> changed_rules(const nlohmann::json& a,
                                                                     const nlohmann::json& b) {
  const auto rules_a = rules_of(a);
  const auto rules_b = rules_of(b);
  REQUIRE(rules_a.size() == rules_b.size());
  std::vector<std::pair<nlohmann::json, nlohmann::json>> changed;
  for (std::size_t i = 0; i < rules_a.size(); ++i) {
    if (rules_a[i] != rules_b[i]) changed.emplace_back(rules_a[i], rules_b[i]);
  }
  return changed;
}

}  // namespace

TEST_CASE("with the mixin's own cluster label the rules are the committed files plus the matchers",
          "[mixin][generated]") {
  const auto& mixin = shared_mixin("cluster_name");
  const auto groups = mixin.rule_groups("db", "acid-main", {});
  const auto committed = committed_groups();
  const auto restored = without_cluster_matchers(groups, R"(namespace="db",cluster_name="acid-main")");
  REQUIRE(restored.size() == committed.size());
  for (std::size_t g = 0; g < committed.size(); ++g) {
    INFO("group " << committed[g].at("name"));
    CHECK(restored[g].at("name") == committed[g].at("name"));
    const auto& rules = restored[g].at("rules");
    const auto& expected = committed[g].at("rules");
    REQUIRE(rules.size() == expected.size());
    for (std::size_t r = 0; r < expected.size(); ++r) {
      INFO(rule_name(expected[r]));
      CHECK(rules[r] == expected[r]);
    }
  }
}

TEST_CASE("with the operator's cluster label the rules keep their names, durations and labels",
          "[mixin][generated]") {
  const auto groups = shared_mixin().rule_groups("db", "acid-main", {});
  const auto rules = rules_of(groups);
  const auto expected = rules_of(committed_groups());
  REQUIRE(rules.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(rule_name(expected[i]));
    CHECK(rule_name(rules[i]) == rule_name(expected[i]));
    CHECK(rules[i].value("for", "") == expected[i].value("for", ""));
    CHECK(rules[i].value("labels", nlohmann::json()) == expected[i].value("labels", nlohmann::json()));
    // Aggregations and descriptions use the operator's label, not Zalando's.
    CHECK(rules[i].dump().find("cluster_name") == std::string::npos);
  }
}

TEST_CASE("an override changes its threshold and nothing else", "[mixin][overrides]") {
  const auto& mixin = shared_mixin();
  const auto defaults = mixin.rule_groups("db", "acid-main", {});

  SECTION("replication lag in bytes, from an annotation") {
    const auto overrides =
        mixin.threshold_overrides({{"pgscope.io/replicationLagBytesWarning", "536870912"}}, {});
    const auto changed = changed_rules(defaults, mixin.rule_groups("db", "acid-main", overrides));
    REQUIRE(changed.size() == 1);
    const auto& [before, after] = changed.front();
    CHECK(rule_name(after) == "PostgresReplicationLagHigh{warning,unit=bytes}");
    CHECK(before.at("expr") ==
          R"(member:pg_replication_lag_bytes:max{namespace="db",cluster="acid-main"} > 268435456)");
    CHECK(after.at("expr") ==
          R"(member:pg_replication_lag_bytes:max{namespace="db",cluster="acid-main"} > 536870912)");
    const std::string description = after.at("annotations").at("description");
    CHECK(description.find("(more than 512MiB)") != std::string::npos);
    CHECK(before.at("for") == after.at("for"));
    CHECK(before.at("labels") == after.at("labels"));
  }

  SECTION("a fraction keeps all its digits") {
    const auto changed = changed_rules(
        defaults, mixin.rule_groups("db", "acid-main", {{"replicationLagBytesWarning", 536870912.5}}));
    REQUIRE(changed.size() == 1);
    CHECK(changed.front().second.at("expr").get<std::string>().find("> 536870912.5") != std::string::npos);
  }

  SECTION("how long no leader may be seen") {
    const auto overrides = mixin.threshold_overrides({{"pgscope.io/noLeaderFor", "2m"}}, {});
    const auto changed = changed_rules(defaults, mixin.rule_groups("db", "acid-main", overrides));
    REQUIRE(changed.size() == 1);
    const auto& [before, after] = changed.front();
    CHECK(rule_name(after) == "PatroniNoLeader{critical}");
    CHECK(before.at("for") == "1m");
    CHECK(after.at("for") == "2m");
    CHECK(before.at("expr") == after.at("expr"));
    CHECK(after.at("annotations").at("description").get<std::string>().find("for 2m") != std::string::npos);
  }

  SECTION("connections: the warning level only") {
    const auto changed =
        changed_rules(defaults, mixin.rule_groups("db", "acid-main", {{"connectionsUsedWarning", 0.7}}));
    REQUIRE(changed.size() == 1);
    CHECK(rule_name(changed.front().second) == "PostgresTooManyConnections{warning}");
    CHECK(changed.front().second.at("expr").get<std::string>().find("> 0.7\n") != std::string::npos);
  }
}

}  // namespace pgscope::test
