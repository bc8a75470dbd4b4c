#pragma once

// The jsonnet programs the operator runs over the embedded mixin. ClusterMixin
// (cluster_mixin.hpp) is the interface meant for use; these are its steps,
// open to tests that need the mixin without its validation and cache.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "operator/mixin/mixin_settings.hpp"

namespace pgscope::op {

// The rule groups of the mixin, recording groups then alerting groups, with
// `config` merged into its _config (any keys: no validation here).
nlohmann::json evaluate_rule_groups(const MixinSettings& settings, const nlohmann::json& config);

// The _config keys that restrict every expression to one cluster, given the
// mixin's _config (evaluate_config_and_kinds): pgscopeSelector with
// namespaceLabel=<namespace_literal>,clusterLabel=<cluster_literal> appended,
// and recordedSelector with those two matchers. The literals are PromQL
// strings, quotes included (promql_string_literal). Computed here rather
// than in jsonnet, which re-evaluates a computed field on every read: the
// rules took 4 s instead of 0.7 that way.
nlohmann::json cluster_selector_config(const nlohmann::json& mixin_config,
                                       const std::string& namespace_literal,
                                       const std::string& cluster_literal);

// The dashboards: file name -> JSON text, as scripts/mixin writes them.
std::map<std::string, std::string> evaluate_dashboards(const MixinSettings& settings);

// The mixin's _config (with the settings applied) and _thresholdKinds:
// {"config": {...}, "kinds": {"noLeaderFor": "duration", ...}}.
nlohmann::json evaluate_config_and_kinds(const MixinSettings& settings);

}  // namespace pgscope::op
