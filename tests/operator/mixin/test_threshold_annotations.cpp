// pgscope.io/<threshold> annotations: what is accepted, and the messages for
// what is not (they become Warning Events on the postgresql object).
#include <catch2/catch.hpp>

#include "mixin_test_support.hpp"

namespace pgscope::test {
namespace {

const std::set<std::string> kOperatorKeys = {"pgscope.io/inject", "pgscope.io/monitor-kind"};

// The message of the InvalidThreshold the annotations raise, "" when none.
std::string rejection(const nlohmann::json& annotations) {
  try {
    shared_mixin().threshold_overrides(annotations, kOperatorKeys);
  } catch (const op::InvalidThreshold& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("threshold annotations become overrides of the right type", "[mixin][thresholds]") {
  const auto overrides = shared_mixin().threshold_overrides(
      {
          {"pgscope.io/replicationLagBytesWarning", "536870912"},
          {"pgscope.io/connectionsUsedWarning", "0.8"},
          {"pgscope.io/noLeaderFor", "2m"},
          {"pgscope.io/failoverWindow", "1h30m"},
          {"pgscope.io/archiveStaleSeconds", "900"},
          {"pgscope.io/deadlocksFor", "0"},
          {"pgscope.io/inject", "true"},  // the operator's, not a threshold
          {"kubectl.kubernetes.io/last-applied-configuration", "{}"},
          {"other.pgscope.io/x", "y"},
      },
      kOperatorKeys);
  const std::map<std::string, nlohmann::json> expected = {{"replicationLagBytesWarning", 536870912},
                                                          {"connectionsUsedWarning", 0.8},
                                                          {"noLeaderFor", "2m"},
                                                          {"failoverWindow", "1h30m"},
                                                          {"archiveStaleSeconds", 900},
                                                          {"deadlocksFor", "0"}};
  CHECK(overrides == expected);
  CHECK(overrides.at("replicationLagBytesWarning").is_number_integer());
  CHECK(shared_mixin().threshold_overrides(nullptr, kOperatorKeys).empty());
  CHECK(shared_mixin().threshold_overrides(nlohmann::json::object(), kOperatorKeys).empty());
}

TEST_CASE("bad threshold values are rejected with the annotation, the value and what is expected",
          "[mixin][thresholds]") {
  struct Case {
    std::string key, value, expected_words;
  };
  const std::vector<Case> cases = {
      {"replicationLagBytesWarning", "-5", "a decimal number, 0 or more"},
      {"replicationLagBytesWarning", "512Mi", "a decimal number, 0 or more"},
      {"replicationLagBytesWarning", "1e9", "a decimal number, 0 or more"},
      {"replicationLagBytesWarning", " 5", "a decimal number, 0 or more"},
      {"replicationLagBytesWarning", "1234567890123456", "more than 15 significant digits"},
      {"connectionsUsedWarning", "85", "from 0 to 1"},
      {"noLeaderFor", "2 minutes", "a Prometheus duration"},
      {"noLeaderFor", "1m1h", "a Prometheus duration"},
      {"noLeaderFor", "-1m", "a Prometheus duration"},
      {"noLeaderFor", "", "a Prometheus duration"},
      {"noLeaderFor", "99999999999y", "a Prometheus duration"},
      {"failoverWindow", "0m", "longer than 0"},
      {"slotPredictionLookback", "0", "longer than 0"},
      {"archiveStaleSeconds", "600.5", "a whole number of seconds"},
      {"archiveStaleSeconds", "0", "a whole number of seconds"},
  };
  for (const auto& c : cases) {
    const std::string annotation = "pgscope.io/" + c.key;
    const std::string message = rejection({{annotation, c.value}});
    INFO(annotation << ": \"" << c.value << "\" -> " << message);
    CHECK(message.find(annotation) != std::string::npos);
    CHECK(message.find("\"" + c.value + "\"") != std::string::npos);
    CHECK(message.find(c.expected_words) != std::string::npos);
    CHECK(message.find("(default ") != std::string::npos);
  }
  CHECK(rejection({{"pgscope.io/noLeaderFor", 5}}).find("not a string") != std::string::npos);
  CHECK(rejection(nlohmann::json::array()) == "metadata.annotations is not an object");
}

TEST_CASE("unknown pgscope.io annotations are rejected, with the nearest threshold", "[mixin][thresholds]") {
  const std::string typo = rejection({{"pgscope.io/replicationLagByteWarning", "536870912"}});
  CHECK(typo.find("pgscope.io/replicationLagByteWarning") != std::string::npos);
  CHECK(typo.find("\"536870912\"") != std::string::npos);
  CHECK(typo.find("did you mean pgscope.io/replicationLagBytesWarning?") != std::string::npos);
  CHECK(typo.find("docs/operator-thresholds.md") != std::string::npos);

  const std::string case_slip = rejection({{"pgscope.io/nolEaderfor", "2m"}});
  CHECK(case_slip.find("did you mean pgscope.io/noLeaderFor?") != std::string::npos);

  const std::string unrelated = rejection({{"pgscope.io/schedule", "nightly"}});
  CHECK(unrelated.find("pgscope.io/schedule") != std::string::npos);
  CHECK(unrelated.find("did you mean") == std::string::npos);

  // The operator's own keys are skipped only when the caller names them.
  CHECK(rejection({{"pgscope.io/inject", "true"}}).empty());
  CHECK_THROWS_AS(shared_mixin().threshold_overrides({{"pgscope.io/inject", "true"}}, {}),
                  op::InvalidThreshold);
}

TEST_CASE("every problem of an object is reported at once", "[mixin][thresholds]") {
  const std::string message = rejection({{"pgscope.io/noLeaderFor", "soon"},
                                         {"pgscope.io/replicationLagBytesWarning", "lots"},
                                         {"pgscope.io/replicationLagBytesWarning2", "1"}});
  CHECK(message.find("pgscope.io/noLeaderFor") != std::string::npos);
  CHECK(message.find("\"lots\"") != std::string::npos);
  CHECK(message.find("pgscope.io/replicationLagBytesWarning2") != std::string::npos);
  // Short enough for an Event (Kubernetes keeps 1024 characters of a message).
  CHECK(message.size() < 1024);
}

TEST_CASE("overrides given to rule_groups are checked as well", "[mixin][thresholds]") {
  const auto& mixin = shared_mixin();
  CHECK_THROWS_AS(mixin.rule_groups("db", "a", {{"noSuchThreshold", 1}}), op::InvalidThreshold);
  CHECK_THROWS_AS(mixin.rule_groups("db", "a", {{"noLeaderFor", 60}}), op::InvalidThreshold);
  CHECK_THROWS_AS(mixin.rule_groups("db", "a", {{"replicationLagBytesWarning", "1"}}), op::InvalidThreshold);
  CHECK_THROWS_AS(mixin.rule_groups("db", "a", {{"replicationLagBytesWarning", -1}}), op::InvalidThreshold);
  CHECK_THROWS_AS(mixin.rule_groups("db", "a", {{"failoverWindow", "0s"}}), op::InvalidThreshold);
}

TEST_CASE("the threshold defaults are those of mixins/config.libsonnet", "[mixin][thresholds]") {
  const auto defaults = shared_mixin().threshold_defaults();
  CHECK(defaults.size() == shared_mixin().threshold_kinds().size());
  CHECK(defaults.size() > 40);
  CHECK(defaults.at("replicationLagBytesWarning") == 256 * 1024 * 1024);
  CHECK(defaults.at("noLeaderFor") == "1m");
  CHECK(defaults.at("connectionsUsedWarning") == 0.85);
  CHECK(defaults.count("dashboardTopN") == 0);  // a number of _config, but no alert threshold
  CHECK(defaults.count("pgscopeSelector") == 0);
  CHECK(shared_mixin().threshold_kinds().at("archiveStaleSeconds") == op::ThresholdKind::window_seconds);
  // Every default is accepted back as an annotation.
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [key, value] : defaults) {
    annotations["pgscope.io/" + key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  CHECK(shared_mixin().threshold_overrides(annotations, {}) == defaults);
}

TEST_CASE("settings are checked", "[mixin][thresholds]") {
  op::MixinSettings settings;
  settings.cluster_label = "cluster-name";
  CHECK_THROWS_AS(op::ClusterMixin(settings), std::invalid_argument);
}

}  // namespace pgscope::test
