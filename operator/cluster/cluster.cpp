#include "operator/cluster/cluster.hpp"

#include "operator/cluster/kube_names.hpp"
#include "operator/cluster/settings_values.hpp"

namespace pgscope::op {

namespace {

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

std::string required_string(const json& object, const char* key, const std::string& path, const char* fix) {
  const json* value = member(object, key);
  if (value == nullptr) throw InvalidCluster(path + ": missing; " + fix);
  if (!value->is_string() || value->get<std::string>().empty()) {
    throw InvalidCluster(path + ": expected a non-empty string, got " + value->dump() + "; " + fix);
  }
  return value->get<std::string>();
}

// true/false, or absent (a JSON null is absent too, as in Go's *bool).
int optional_bool(const json& spec, const char* key) {
  const json* value = member(spec, key);
  if (value == nullptr) return -1;
  if (!value->is_boolean()) {
    throw InvalidCluster(std::string("spec.") + key + ": expected true or false, got " + value->dump());
  }
  return value->get<bool>() ? 1 : 0;
}

}  // namespace

ClusterInfo read_cluster(const json& postgresql, const OperatorSettings& settings) {
  if (!postgresql.is_object())
    throw InvalidCluster("(object): expected a postgresql object, got " + postgresql.dump());
  if (const json* api_version = member(postgresql, "apiVersion");
      api_version && *api_version != "acid.zalan.do/v1") {
    throw InvalidCluster("apiVersion: expected acid.zalan.do/v1, got " + api_version->dump());
  }
  if (const json* kind = member(postgresql, "kind"); kind && *kind != "postgresql") {
    throw InvalidCluster("kind: expected postgresql, got " + kind->dump());
  }
  const json* metadata = member(postgresql, "metadata");
  if (metadata == nullptr || !metadata->is_object()) {
    throw InvalidCluster("metadata: missing; a postgresql object needs metadata.name and metadata.namespace");
  }
  ClusterInfo cluster;
  cluster.name = required_string(*metadata, "name", "metadata.name", "name the cluster");
  if (!is_dns_label(cluster.name)) {
    throw InvalidCluster("metadata.name: \"" + cluster.name +
                         "\" is not a valid cluster name (lower-case letters, digits and -, at most 63)");
  }
  cluster.ns = required_string(*metadata, "namespace", "metadata.namespace",
                               "set the object's namespace (render: add metadata.namespace to the manifest)");
  if (!is_dns_label(cluster.ns)) {
    throw InvalidCluster("metadata.namespace: \"" + cluster.ns + "\" is not a namespace name");
  }
  if (const json* uid = member(*metadata, "uid")) {
    if (!uid->is_string()) throw InvalidCluster("metadata.uid: expected a string, got " + uid->dump());
    cluster.uid = uid->get<std::string>();
  }
  if (const json* annotations = member(*metadata, "annotations")) {
    if (!annotations->is_object()) {
      throw InvalidCluster("metadata.annotations: expected a map of strings, got " + annotations->dump());
    }
    for (const auto& [key, value] : annotations->items()) {
      if (!value.is_string()) {
        throw InvalidCluster("metadata.annotations[\"" + key + "\"]: expected a string, got " + value.dump() +
                             "; quote it in YAML");
      }
    }
    cluster.annotations = *annotations;
  }

  const json* spec = member(postgresql, "spec");
  if (spec == nullptr || !spec->is_object()) {
    throw InvalidCluster("spec: missing; a postgresql object needs spec.teamId at least");
  }
  cluster.team = required_string(*spec, "teamId", "spec.teamId",
                                 "Zalando's operator requires the owning team (it labels every pod with it)");

  cluster.pod_labels = settings.zalando.cluster_labels;
  cluster.pod_labels[settings.zalando.cluster_name_label] = cluster.name;

  // Zalando's needMasterConnectionPoolerWorker: enableConnectionPooler decides
  // when set; unset, a connectionPooler section is enough.
  const json* section = member(*spec, "connectionPooler");
  if (section != nullptr && !section->is_object()) {
    throw InvalidCluster("spec.connectionPooler: expected a map, got " + section->dump());
  }
  const int enable_master = optional_bool(*spec, "enableConnectionPooler");
  cluster.pooler_master = enable_master == 1 || (enable_master == -1 && section != nullptr);
  cluster.pooler_replica = optional_bool(*spec, "enableReplicaConnectionPooler") == 1;
  cluster.pooler_user = settings.zalando.pooler_user;
  if (section != nullptr) {
    if (const json* user = member(*section, "user")) {
      if (!user->is_string() || user->get<std::string>().empty()) {
        throw InvalidCluster("spec.connectionPooler.user: expected a user name, got " + user->dump());
      }
      cluster.pooler_user = user->get<std::string>();
    }
  }

  cluster.inject = settings.inject_sidecars;
  if (const json* inject = member(cluster.annotations, kInjectAnnotation)) {
    if (*inject == "true") {
      cluster.inject = true;
    } else if (*inject == "false") {
      cluster.inject = false;
    } else {
      throw InvalidCluster(std::string("metadata.annotations[\"") + kInjectAnnotation +
                           "\"]: expected \"true\" or " + "\"false\", got " + inject->dump());
    }
  }
  return cluster;
}

std::string pooler_name(const ClusterInfo& cluster, PoolerRole role) {
  return cluster.name + (role == PoolerRole::Master ? "-pooler" : "-pooler-repl");
}

std::string credentials_secret_name(const OperatorSettings& settings, const std::string& user,
                                    const ClusterInfo& cluster) {
  const auto name = format_secret_name(settings.zalando.secret_name_template, user, cluster.name);
  if (!is_dns_subdomain(name)) {
    throw InvalidCluster("credentials secret of user " + user + ": \"" + name +
                         "\" is not a valid Secret name; check the user name (spec.connectionPooler.user, "
                         "--monitoring-user) and --zalando.secret-name-template");
  }
  return name;
}

}  // namespace pgscope::op
