// What the operator needs to know about one Zalando cluster, read from its
// acid.zalan.do/v1 `postgresql` object.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "operator/cluster/settings.hpp"

namespace pgscope::op {

using json = nlohmann::json;

// A postgresql object the operator cannot work with; the message starts with
// the field path and says what to change.
class InvalidCluster : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The annotation that turns sidecar injection on or off for one cluster.
inline constexpr const char* kInjectAnnotation = "pgscope.io/inject";

struct ClusterInfo {
  std::string name;
  std::string ns;
  std::string uid;  // "" when the manifest has none (render): then no ownerReferences
  std::string team;
  // Selects the cluster's database pods and nothing else: Zalando's cluster
  // labels (application=spilo) plus cluster-name=<name>. Pooler pods carry
  // cluster-name too but another application.
  std::map<std::string, std::string> pod_labels;
  bool pooler_master = false;
  bool pooler_replica = false;
  std::string pooler_user;  // spec.connectionPooler.user, else --zalando.pooler-user
  bool inject = false;      // --inject-sidecars, overridden by the pgscope.io/inject annotation
  json annotations = json::object();
};

// Throws InvalidCluster for a missing or malformed metadata.name,
// metadata.namespace or spec.teamId, a wrong apiVersion/kind, pooler switches
// that are not booleans, or a pgscope.io/inject annotation other than "true"
// or "false". metadata.uid may be absent.
ClusterInfo read_cluster(const json& postgresql, const OperatorSettings& settings);

enum class PoolerRole { Master, Replica };
// Zalando's names: <cluster>-pooler, <cluster>-pooler-repl (Deployment,
// Service and the connection-pooler label of their pods).
std::string pooler_name(const ClusterInfo& cluster, PoolerRole role);

// The Secret Zalando keeps a user's credentials in (keys username, password).
std::string credentials_secret_name(const OperatorSettings& settings, const std::string& user,
                                    const ClusterInfo& cluster);

}  // namespace pgscope::op
