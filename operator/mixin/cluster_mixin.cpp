#include "operator/mixin/cluster_mixin.hpp"

#include <algorithm>
#include <cctype>
#include <future>
#include <list>
#include <mutex>
#include <regex>
#include <unordered_map>
#include <vector>

#include "operator/mixin/mixin_programs.hpp"

namespace pgscope::op {
namespace {

// Stand-ins for a cluster's namespace and name in the cached rules. No
// Kubernetes name can be either (uppercase and "_"), so a real value never
// looks like one.
const std::string kNamespacePlaceholder = "\"__PGSCOPE_NAMESPACE__\"";
const std::string kClusterPlaceholder = "\"__PGSCOPE_CLUSTER__\"";

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The threshold key closest to a misspelt one, "" when none is close.
std::string closest_key(const std::string& name, const std::map<std::string, ThresholdKind>& kinds) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(3, name.size() / 4) + 1;
  for (const auto& [key, kind] : kinds) {
    const std::size_t distance = edit_distance(name, key);
    if (distance < best_distance) {
      best = key;
      best_distance = distance;
    }
  }
  return best;
}

// Puts a cluster's matchers in place of the placeholders, in one pass so that
// an inserted value is never searched again. Returns how many it replaced.
std::size_t fill_placeholders(nlohmann::json& value, const std::string& namespace_literal,
                              const std::string& cluster_literal) {
  std::size_t replaced = 0;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text.find("__PGSCOPE_") == std::string::npos) return 0;
    std::string out;
    std::size_t at = 0;
    while (true) {
      const std::size_t ns = text.find(kNamespacePlaceholder, at);
      const std::size_t cl = text.find(kClusterPlaceholder, at);
      const std::size_t next = std::min(ns, cl);
      if (next == std::string::npos) break;
      out.append(text, at, next - at);
      const bool is_ns = next == ns;
      out += is_ns ? namespace_literal : cluster_literal;
      at = next + (is_ns ? kNamespacePlaceholder : kClusterPlaceholder).size();
      ++replaced;
    }
    out.append(text, at, std::string::npos);
    value = std::move(out);
  } else if (value.is_structured()) {
    for (auto& item : value) replaced += fill_placeholders(item, namespace_literal, cluster_literal);
  }
  return replaced;
}

using Template = std::shared_ptr<const nlohmann::json>;

}  // namespace

struct ClusterMixin::State {
  MixinSettings settings;
  std::map<std::string, nlohmann::json> defaults;
  std::map<std::string, ThresholdKind> kinds;
  nlohmann::json mixin_config;  // _config with the settings applied

  // LRU of evaluated rule templates by the canonical JSON of their overrides,
  // most recent first. A future, so that concurrent callers of one key wait
  // for a single evaluation.
  struct Entry {
    std::shared_future<Template> rules;
    std::list<std::string>::iterator position;
    std::uint64_t id = 0;
  };
  mutable std::mutex mutex;
  mutable std::list<std::string> recency;
  mutable std::unordered_map<std::string, Entry> entries;
  mutable MixinCacheStats stats;
  mutable std::uint64_t next_id = 0;

  mutable std::once_flag dashboards_once;
  mutable std::map<std::string, std::string> dashboards;

  Template rule_template(const std::map<std::string, nlohmann::json>& overrides) const;
  std::string check_override(const std::string& key, const nlohmann::json& value) const;
};

Template ClusterMixin::State::rule_template(const std::map<std::string, nlohmann::json>& overrides) const {
  const nlohmann::json config(overrides);
  const std::string key = config.dump();
  std::promise<Template> promise;
  std::shared_future<Template> rules;
  std::uint64_t id = 0;
  bool evaluate = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto found = entries.find(key);
    if (found != entries.end()) {
      ++stats.hits;
      recency.splice(recency.begin(), recency, found->second.position);
      rules = found->second.rules;
    } else {
      ++stats.evaluations;
      evaluate = true;
      id = ++next_id;
      rules = promise.get_future().share();
      recency.push_front(key);
      entries[key] = Entry{rules, recency.begin(), id};
      while (entries.size() > std::max<std::size_t>(settings.cache_capacity, 1)) {
        entries.erase(recency.back());
        recency.pop_back();
      }
    }
  }
  if (evaluate) {
    try {
      nlohmann::json merged = config;
      merged.update(cluster_selector_config(mixin_config, kNamespacePlaceholder, kClusterPlaceholder));
      promise.set_value(std::make_shared<const nlohmann::json>(evaluate_rule_groups(settings, merged)));
    } catch (...) {
      promise.set_exception(std::current_exception());
      // Not cached: the next call tries again.
      std::lock_guard<std::mutex> lock(mutex);
      const auto found = entries.find(key);
      if (found != entries.end() && found->second.id == id) {
        recency.erase(found->second.position);
        entries.erase(found);
      }
    }
  }
  return rules.get();
}

// "" when the override fits its key, else the problem.
std::string ClusterMixin::State::check_override(const std::string& key, const nlohmann::json& value) const {
  const auto kind = kinds.find(key);
  if (kind == kinds.end()) return "unknown threshold " + key;
  std::string problem;
  if (!threshold_json_fits(kind->second, value, &problem)) {
    return "threshold " + key + " = " + value.dump() + ": " + problem + "; expected " +
           describe_threshold_kind(kind->second);
  }
  return "";
}

ClusterMixin::ClusterMixin(MixinSettings settings) : state_(std::make_unique<State>()) {
  static const std::regex label_name("^[a-zA-Z_][a-zA-Z0-9_]*$");
  if (!std::regex_match(settings.cluster_label, label_name)) {
    throw std::invalid_argument("mixin: the cluster label '" + settings.cluster_label +
                                "' is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)");
  }
  state_->settings = std::move(settings);
  const nlohmann::json mixin = evaluate_config_and_kinds(state_->settings);
  state_->mixin_config = mixin.at("config");
  for (const auto& [key, kind_name] : mixin.at("kinds").items()) {
    const ThresholdKind kind = threshold_kind_from_name(kind_name.get<std::string>());
    if (!mixin.at("config").contains(key)) {
      throw std::runtime_error("mixin: _thresholdKinds names " + key + ", which _config does not have");
    }
    const nlohmann::json& value = mixin.at("config").at(key);
    std::string problem;
    if (!threshold_json_fits(kind, value, &problem)) {
      throw std::runtime_error("mixin: the default of " + key + " (" + value.dump() + ") is " + problem +
                               ", not " + describe_threshold_kind(kind));
    }
    state_->kinds.emplace(key, kind);
    state_->defaults.emplace(key, value);
  }
}

ClusterMixin::~ClusterMixin() = default;

std::map<std::string, nlohmann::json> ClusterMixin::threshold_overrides(
    const nlohmann::json& annotations, const std::set<std::string>& other_keys) const {
  std::map<std::string, nlohmann::json> overrides;
  if (annotations.is_null()) return overrides;
  if (!annotations.is_object()) throw InvalidThreshold("metadata.annotations is not an object");
  const std::string prefix = kAnnotationPrefix;
  std::vector<std::string> problems;
  for (const auto& [name, value] : annotations.items()) {
    if (name.compare(0, prefix.size(), prefix) != 0 || other_keys.count(name) != 0) continue;
    const std::string key = name.substr(prefix.size());
    const std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
    const auto kind = state_->kinds.find(key);
    if (kind == state_->kinds.end()) {
      const std::string near = closest_key(key, state_->kinds);
      problems.push_back("annotation " + name + ": \"" + shown + "\": " + key +
                         " is no threshold of the pgscope mixin" +
                         (near.empty() ? "" : " (did you mean " + prefix + near + "?)") +
                         "; the thresholds are listed in docs/operator-thresholds.md");
      continue;
    }
    std::string problem = "not a string";
    std::optional<nlohmann::json> parsed;
    if (value.is_string()) parsed = parse_threshold_text(kind->second, value.get<std::string>(), &problem);
    if (!parsed) {
      problems.push_back("annotation " + name + ": \"" + shown + "\" is " + problem + "; expected " +
                         describe_threshold_kind(kind->second) + " (default " +
                         (state_->defaults.at(key).is_string() ? state_->defaults.at(key).get<std::string>()
                                                               : state_->defaults.at(key).dump()) +
                         ")");
      continue;
    }
    overrides.emplace(key, std::move(*parsed));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& problem : problems) message += (message.empty() ? "" : "; ") + problem;
    throw InvalidThreshold(message);
  }
  return overrides;
}

nlohmann::json ClusterMixin::rule_groups(const std::string& ns, const std::string& cluster,
                                         const std::map<std::string, nlohmann::json>& overrides) const {
  if (ns.empty() || cluster.empty()) {
    throw std::invalid_argument("mixin: rule groups need a namespace and a cluster name (got '" + ns +
                                "', '" + cluster + "')");
  }
  std::string problems;
  for (const auto& [key, value] : overrides) {
    const std::string problem = state_->check_override(key, value);
    if (!problem.empty()) problems += (problems.empty() ? "" : "; ") + problem;
  }
  if (!problems.empty()) throw InvalidThreshold(problems);

  nlohmann::json groups = *state_->rule_template(overrides);
  if (fill_placeholders(groups, promql_string_literal(ns), promql_string_literal(cluster)) == 0) {
    throw std::runtime_error(
        "mixin: the rules name no cluster: pgscopeSelector or recordedSelector is unused");
  }
  return groups;
}

const std::map<std::string, std::string>& ClusterMixin::dashboards() const {
  std::call_once(state_->dashboards_once,
                 [this] { state_->dashboards = evaluate_dashboards(state_->settings); });
  return state_->dashboards;
}

std::map<std::string, nlohmann::json> ClusterMixin::threshold_defaults() const { return state_->defaults; }

const std::map<std::string, ThresholdKind>& ClusterMixin::threshold_kinds() const { return state_->kinds; }

const MixinSettings& ClusterMixin::settings() const { return state_->settings; }

MixinCacheStats ClusterMixin::cache_stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  MixinCacheStats stats = state_->stats;
  stats.entries = state_->entries.size();
  return stats;
}

}  // namespace pgscope::op
