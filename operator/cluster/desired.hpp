// Every object pgscope-operator wants for one Zalando cluster, computed
// without touching the API server: same input, byte-identical output, so an
// unchanged cluster causes no writes and `render` is reviewable.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "operator/cluster/cluster.hpp"
#include "operator/cluster/settings.hpp"

namespace pgscope::op {

using json = nlohmann::json;

// What the monitoring mixin provides (built by the operator's mixin part).
struct MixinOutput {
  json rule_groups;                               // PrometheusRule spec.groups; null or [] = no rule object
  std::map<std::string, std::string> dashboards;  // file name ("pgscope-cluster.json") -> JSON text
};

// Labels on everything the operator creates.
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "pgscope-operator";
inline constexpr const char* kPartOfLabel = "app.kubernetes.io/part-of";
inline constexpr const char* kClusterLabel = "pgscope.io/cluster";
inline constexpr const char* kClusterNamespaceLabel = "pgscope.io/cluster-namespace";
// database | pooler | pooler-exporter | rules | dashboard: what monitors select on.
inline constexpr const char* kComponentLabel = "pgscope.io/component";
inline constexpr const char* kPoolerLabel = "pgscope.io/pooler";
// Objects shared by clusters (dashboards: one set per namespace) carry
// pgscope.io/shared and no cluster label or ownerReference; the operator
// deletes them when no cluster needs them any more.
inline constexpr const char* kSharedLabel = "pgscope.io/shared";

// A desired object that cannot be created as computed (a dashboard over the
// ConfigMap size limit, a dashboard file name that makes no object name,
// rule groups that are not a list).
class DesiredObjectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// In this order: [metrics Service], database monitor; per enabled pooler
// (master, then replica) [its Service] and monitor; while any pooler is
// enabled the pooler exporter's ConfigMap, Deployment and Service; the
// PrometheusRule (unless --no-rules or no groups); the dashboard ConfigMaps by
// file name (unless --no-dashboards). [..] = ServiceMonitor mode only.
std::vector<json> desired_objects(const ClusterInfo& cluster, const OperatorSettings& settings,
                                  const MixinOutput& mixin);

// Labels that find every per-cluster object of this cluster (for pruning what
// is no longer desired); shared objects carry kSharedLabel instead.
std::map<std::string, std::string> cluster_selector_labels(const ClusterInfo& cluster);

// Names, for the operator and its tests.
std::string monitor_name(const ClusterInfo& cluster);                          // <cluster>-pgscope
std::string pooler_monitor_name(const ClusterInfo& cluster, PoolerRole role);  // <pooler>-pgscope
std::string pooler_exporter_name(const ClusterInfo& cluster);                  // <cluster>-pgscope-pooler
std::string dashboard_configmap_name(const std::string& file_name);  // pgscope-dashboard-<file w/o .json>

// Largest ConfigMap data (keys and values) Kubernetes accepts.
inline constexpr std::size_t kConfigMapLimitBytes = 1024 * 1024;

}  // namespace pgscope::op
