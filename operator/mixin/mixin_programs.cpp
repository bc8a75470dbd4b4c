#include "operator/mixin/mixin_programs.hpp"

#include "operator/mixin/jsonnet_eval.hpp"

namespace pgscope::op {
namespace {

// What MixinSettings sets in _config.
nlohmann::json settings_config(const MixinSettings& settings) {
  nlohmann::json config = {{"clusterLabel", settings.cluster_label}};
  if (!settings.runbook_base_url.empty()) config["runbookBaseURL"] = settings.runbook_base_url;
  return config;
}

// The mixin with the settings and extra _config keys applied (ext code
// "config"), as `mixin` in the programs below.
const char* const kMixinWithConfig = R"jsonnet(
local mixin = (import 'mixins/mixin.libsonnet') + { _config+:: std.extVar('config') };
)jsonnet";

const char* const kRuleGroups = "mixin.prometheusRules.groups + mixin.prometheusAlerts.groups\n";

const char* const kDashboards = "mixin.grafanaDashboards\n";

const char* const kConfigAndKinds = "{ config: mixin._config, kinds: mixin._thresholdKinds }\n";

}  // namespace

nlohmann::json evaluate_rule_groups(const MixinSettings& settings, const nlohmann::json& config) {
  nlohmann::json merged = settings_config(settings);
  merged.update(config);
  return nlohmann::json::parse(evaluate_jsonnet("rules.jsonnet", std::string(kMixinWithConfig) + kRuleGroups,
                                                {{"config", merged.dump()}}));
}

nlohmann::json cluster_selector_config(const nlohmann::json& mixin_config,
                                       const std::string& namespace_literal,
                                       const std::string& cluster_literal) {
  const std::string only = mixin_config.at("namespaceLabel").get<std::string>() + "=" + namespace_literal +
                           "," + mixin_config.at("clusterLabel").get<std::string>() + "=" + cluster_literal;
  const std::string raw = mixin_config.at("pgscopeSelector").get<std::string>();
  return {{"pgscopeSelector", raw.empty() ? only : raw + "," + only}, {"recordedSelector", only}};
}

std::map<std::string, std::string> evaluate_dashboards(const MixinSettings& settings) {
  return evaluate_jsonnet_multi("dashboards.jsonnet", std::string(kMixinWithConfig) + kDashboards,
                                {{"config", settings_config(settings).dump()}});
}

nlohmann::json evaluate_config_and_kinds(const MixinSettings& settings) {
  const std::string text = evaluate_jsonnet("config.jsonnet", std::string(kMixinWithConfig) + kConfigAndKinds,
                                            {{"config", settings_config(settings).dump()}});
  return nlohmann::json::parse(text);
}

}  // namespace pgscope::op
