#include <stdexcept>
#include <string>

#include "operator/kube/client.hpp"

namespace pgscope::kube {

const ResourceType& postgresql_type() {
  // Zalando's CRD names its kind in lower case: `kind: postgresql`.
  static const ResourceType type{"acid.zalan.do", "v1", "postgresql", "postgresqls", true};
  return type;
}

const ResourceType& service_monitor_type() {
  static const ResourceType type{"monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", true};
  return type;
}

const ResourceType& pod_monitor_type() {
  static const ResourceType type{"monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", true};
  return type;
}

const ResourceType& prometheus_rule_type() {
  static const ResourceType type{"monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", true};
  return type;
}

const ResourceType& service_type() {
  static const ResourceType type{"", "v1", "Service", "services", true};
  return type;
}

const ResourceType& config_map_type() {
  static const ResourceType type{"", "v1", "ConfigMap", "configmaps", true};
  return type;
}

const ResourceType& secret_type() {
  static const ResourceType type{"", "v1", "Secret", "secrets", true};
  return type;
}

const ResourceType& pod_type() {
  static const ResourceType type{"", "v1", "Pod", "pods", true};
  return type;
}

const ResourceType& event_type() {
  static const ResourceType type{"", "v1", "Event", "events", true};
  return type;
}

const ResourceType& deployment_type() {
  static const ResourceType type{"apps", "v1", "Deployment", "deployments", true};
  return type;
}

const ResourceType& lease_type() {
  static const ResourceType type{"coordination.k8s.io", "v1", "Lease", "leases", true};
  return type;
}

const ResourceType& type_of(const json& object) {
  static const ResourceType* const known[] = {
      &postgresql_type(), &service_monitor_type(), &pod_monitor_type(), &prometheus_rule_type(),
      &service_type(),    &config_map_type(),      &secret_type(),      &pod_type(),
      &event_type(),      &deployment_type(),      &lease_type()};
  const auto field = [&](const char* name) {
    if (!object.is_object()) return std::string();
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string api_version = field("apiVersion");
  const std::string kind = field("kind");
  for (const ResourceType* type : known) {
    if (type->api_version() == api_version && type->kind == kind) return *type;
  }
  throw std::invalid_argument("pgscope-operator does not handle objects of apiVersion \"" + api_version +
                              "\", kind \"" + kind + "\"");
}

}  // namespace pgscope::kube
