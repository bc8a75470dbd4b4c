#pragma once

// The monitoring mixin (mixins/, alerts/, dashboards/) evaluated inside the
// operator, per PostgreSQL cluster: the PrometheusRule groups of one cluster
// with its own thresholds, and the dashboards all clusters share.
//
// Thresholds per cluster come from annotations of the postgresql object,
// `pgscope.io/<key>: "<value>"`, one per key of the mixin's _thresholdKinds
// (docs/operator-thresholds.md lists them). The pgscope.io/ prefix is shared
// with the operator's other annotations (pgscope.io/inject, ...): the caller
// names those in `other_keys`, and every other pgscope.io/ annotation must be
// a threshold. A typo then becomes an error the user sees (an Event), instead
// of a threshold silently left at its default.
//
// Cost: jsonnet 0.18 takes about half a second for the rules. A cluster's rules
// depend on its namespace and name only through two label matchers, so the
// mixin is evaluated once per set of overrides (and settings, fixed per
// instance), with placeholders for those values, and kept in an LRU cache;
// each cluster's rules are that result with its own matchers put in, which
// takes well under a millisecond. Clusters without overrides share one
// evaluation. The dashboards do not depend on the cluster: evaluated once.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "operator/mixin/mixin_settings.hpp"
#include "operator/mixin/threshold_values.hpp"

namespace pgscope::op {

// A pgscope.io/ annotation that is no threshold, or whose value does not fit
// its threshold. The message names each annotation, its value and what is
// expected, for an Event on the postgresql object.
class InvalidThreshold : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

struct MixinCacheStats {
  std::uint64_t hits = 0;         // rule_groups calls served by an earlier evaluation
  std::uint64_t evaluations = 0;  // jsonnet runs of the rules (each ~0.5 s)
  std::size_t entries = 0;        // override sets held
};

class ClusterMixin {
 public:
  // The annotation prefix of thresholds.
  static constexpr const char* kAnnotationPrefix = "pgscope.io/";

  // Evaluates the mixin's configuration (~0.1 s). Throws std::invalid_argument
  // for a cluster label that is no Prometheus label name, std::runtime_error
  // when the embedded mixin does not evaluate.
  explicit ClusterMixin(MixinSettings settings = {});
  ~ClusterMixin();
  ClusterMixin(const ClusterMixin&) = delete;
  ClusterMixin& operator=(const ClusterMixin&) = delete;

  // The pgscope.io/<key> annotations of a postgresql object (its
  // metadata.annotations: an object of strings, or null) as overrides:
  // key -> JSON number or duration string. Annotations outside pgscope.io/
  // and those in `other_keys` (full names: "pgscope.io/inject") are skipped.
  // Throws InvalidThreshold listing every unknown key and bad value.
  std::map<std::string, nlohmann::json> threshold_overrides(const nlohmann::json& annotations,
                                                            const std::set<std::string>& other_keys) const;

  // The PrometheusRule spec.groups of one cluster: recording groups, then
  // alerting groups, every expression restricted to
  // namespace="<ns>",<cluster label>="<cluster>". Deterministic and thread-safe.
  // Throws std::invalid_argument for an empty namespace or cluster,
  // InvalidThreshold for overrides that threshold_overrides would not give.
  nlohmann::json rule_groups(const std::string& ns, const std::string& cluster,
                             const std::map<std::string, nlohmann::json>& overrides) const;

  // Dashboard file name ("pgscope-cluster.json") -> its JSON text, evaluated
  // on first use (~1 s), then the same every time.
  const std::map<std::string, std::string>& dashboards() const;

  // Each threshold key with its default value (number or duration string).
  std::map<std::string, nlohmann::json> threshold_defaults() const;
  // Each threshold key with the kind of value it takes.
  const std::map<std::string, ThresholdKind>& threshold_kinds() const;

  const MixinSettings& settings() const;
  MixinCacheStats cache_stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pgscope::op
