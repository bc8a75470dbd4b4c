#include "operator/cluster/desired.hpp"

#include "operator/cluster/desired_parts.hpp"
#include "operator/cluster/kube_names.hpp"

namespace pgscope::op {

namespace parts {

json cluster_labels(const ClusterInfo& cluster, const std::string& component) {
  return json{{kManagedByLabel, kManagedByValue},
              {kPartOfLabel, "pgscope"},
              {kClusterLabel, cluster.name},
              {kClusterNamespaceLabel, cluster.ns},
              {kComponentLabel, component}};
}

void add_selected_labels(json& labels, const OperatorSettings& settings) {
  for (const auto& [key, value] : settings.labels) labels[key] = value;
  if (!settings.release.empty()) labels["release"] = settings.release;
}

json owned_metadata(const ClusterInfo& cluster, const std::string& name, json labels) {
  json metadata{{"name", name}, {"namespace", cluster.ns}, {"labels", std::move(labels)}};
  if (!cluster.uid.empty()) {
    // blockOwnerDeletion stays false: true needs update on postgresqls/finalizers,
    // which clusters with OwnerReferencesPermissionEnforcement check.
    metadata["ownerReferences"] = json::array({json{{"apiVersion", "acid.zalan.do/v1"},
                                                    {"kind", "postgresql"},
                                                    {"name", cluster.name},
                                                    {"uid", cluster.uid},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", false}}});
  }
  return metadata;
}

json relabel(const std::string& source_label, const std::string& target_label) {
  return json{
      {"sourceLabels", json::array({source_label})}, {"targetLabel", target_label}, {"action", "replace"}};
}

json relabel_replacement(const std::string& target_label, const std::string& replacement) {
  return json{{"targetLabel", target_label}, {"replacement", replacement}, {"action", "replace"}};
}

json member_relabelings(const OperatorSettings& settings) {
  const auto& zalando = settings.zalando;
  return json::array({relabel(pod_label_meta(zalando.cluster_name_label), settings.cluster_label),
                      relabel("__meta_kubernetes_namespace", "namespace"),
                      relabel(pod_label_meta(zalando.team_label), "team"),
                      relabel(pod_label_meta(zalando.pod_role_label), "role"),
                      relabel("__meta_kubernetes_pod_name", "pod")});
}

json service_port(const std::string& name, int port) {
  return json{{"name", name}, {"port", port}, {"targetPort", port}, {"protocol", "TCP"}};
}

json headless_service(const ClusterInfo& cluster, const std::string& name, json labels, json pod_selector,
                      const std::string& port_name, int port) {
  return json{{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", owned_metadata(cluster, name, std::move(labels))},
              {"spec",
               {{"clusterIP", "None"},
                {"selector", std::move(pod_selector)},
                {"ports", json::array({service_port(port_name, port)})}}}};
}

json scrape_endpoint(const OperatorSettings& settings, const std::string& path, json relabelings) {
  return json{{"path", path},
              {"interval", settings.scrape_interval},
              {"scrapeTimeout", settings.scrape_timeout},
              {"relabelings", std::move(relabelings)}};
}

json monitor(const ClusterInfo& cluster, const OperatorSettings& settings, const std::string& name,
             json labels, json selector_labels, json endpoint, const std::string& service_port_name,
             int pod_port) {
  const bool service_monitor = settings.monitor_kind == MonitorKind::ServiceMonitor;
  json spec{{"selector", {{"matchLabels", std::move(selector_labels)}}}};
  if (service_monitor) {
    endpoint["port"] = service_port_name;
    spec["endpoints"] = json::array({std::move(endpoint)});
  } else {
    // portNumber, not a port name: a user's sidecar may declare a port of the
    // same name, and every declared port with that name would be scraped.
    endpoint["portNumber"] = pod_port;
    spec["podMetricsEndpoints"] = json::array({std::move(endpoint)});
  }
  return json{{"apiVersion", "monitoring.coreos.com/v1"},
              {"kind", monitor_kind_name(settings.monitor_kind)},
              {"metadata", owned_metadata(cluster, name, std::move(labels))},
              {"spec", std::move(spec)}};
}

}  // namespace parts

namespace {

void add_database_monitor(const ClusterInfo& cluster, const OperatorSettings& settings,
                          std::vector<json>& out) {
  const auto name = monitor_name(cluster);
  json pod_selector(cluster.pod_labels);
  auto endpoint = parts::scrape_endpoint(settings, "/metrics", parts::member_relabelings(settings));
  auto monitor_labels = parts::cluster_labels(cluster, "database");
  parts::add_selected_labels(monitor_labels, settings);
  if (settings.monitor_kind == MonitorKind::ServiceMonitor) {
    const auto service_labels = parts::cluster_labels(cluster, "database");
    out.push_back(parts::headless_service(cluster, name, service_labels, pod_selector, "metrics",
                                          settings.exporter_port));
    json selector{
        {kManagedByLabel, kManagedByValue}, {kClusterLabel, cluster.name}, {kComponentLabel, "database"}};
    out.push_back(parts::monitor(cluster, settings, name, monitor_labels, selector, endpoint, "metrics",
                                 settings.exporter_port));
  } else {
    out.push_back(parts::monitor(cluster, settings, name, monitor_labels, pod_selector, endpoint, "metrics",
                                 settings.exporter_port));
  }
}

void add_rules(const ClusterInfo& cluster, const OperatorSettings& settings, const MixinOutput& mixin,
               std::vector<json>& out) {
  if (!settings.rules || mixin.rule_groups.is_null()) return;
  if (!mixin.rule_groups.is_array()) {
    throw DesiredObjectError("mixin rule groups: expected a list of groups, got " +
                             std::string(mixin.rule_groups.type_name()));
  }
  if (mixin.rule_groups.empty()) return;  // an empty groups list is no rule at all
  auto labels = parts::cluster_labels(cluster, "rules");
  parts::add_selected_labels(labels, settings);
  out.push_back(json{{"apiVersion", "monitoring.coreos.com/v1"},
                     {"kind", "PrometheusRule"},
                     {"metadata", parts::owned_metadata(cluster, monitor_name(cluster), labels)},
                     {"spec", {{"groups", mixin.rule_groups}}}});
}

void add_dashboards(const ClusterInfo& cluster, const OperatorSettings& settings, const MixinOutput& mixin,
                    std::vector<json>& out) {
  if (!settings.dashboards) return;
  const auto& ns = settings.dashboards_namespace.empty() ? cluster.ns : settings.dashboards_namespace;
  for (const auto& [file, text] : mixin.dashboards) {
    const auto name = dashboard_configmap_name(file);
    if (!json::accept(text)) throw DesiredObjectError("dashboard " + file + ": not valid JSON");
    const auto size = file.size() + text.size();
    if (size > kConfigMapLimitBytes) {
      throw DesiredObjectError("dashboard " + file + ": its ConfigMap would hold " + std::to_string(size) +
                               " bytes, over Kubernetes' limit of " + std::to_string(kConfigMapLimitBytes));
    }
    // The same for every cluster that puts it in this namespace: no cluster
    // label and no owner, or clusters would take it from each other.
    json labels{{kManagedByLabel, kManagedByValue},
                {kPartOfLabel, "pgscope"},
                {kSharedLabel, "dashboards"},
                {kComponentLabel, "dashboard"},
                {settings.dashboard_label_key, settings.dashboard_label_value}};
    parts::add_selected_labels(labels, settings);
    out.push_back(json{{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
                       {"data", {{file, text}}}});
  }
}

}  // namespace

std::string monitor_name(const ClusterInfo& cluster) { return fit_dns_label(cluster.name + "-pgscope"); }

std::string pooler_monitor_name(const ClusterInfo& cluster, PoolerRole role) {
  return fit_dns_label(pooler_name(cluster, role) + "-pgscope");
}

std::string pooler_exporter_name(const ClusterInfo& cluster) {
  return fit_dns_label(cluster.name + "-pgscope-pooler");
}

std::string dashboard_configmap_name(const std::string& file_name) {
  std::string base = file_name;
  if (base.size() > 5 && base.compare(base.size() - 5, 5, ".json") == 0) base.resize(base.size() - 5);
  const auto name = "pgscope-dashboard-" + base;
  if (!is_dns_subdomain(name)) {
    throw DesiredObjectError("dashboard " + file_name + ": \"" + name +
                             "\" is not a ConfigMap name; name dashboard files with [a-z0-9-.] only");
  }
  return name;
}

std::map<std::string, std::string> cluster_selector_labels(const ClusterInfo& cluster) {
  return {{kManagedByLabel, kManagedByValue},
          {kClusterLabel, cluster.name},
          {kClusterNamespaceLabel, cluster.ns}};
}

std::vector<json> desired_objects(const ClusterInfo& cluster, const OperatorSettings& settings,
                                  const MixinOutput& mixin) {
  std::vector<json> out;
  add_database_monitor(cluster, settings, out);
  for (auto& object : parts::pooler_objects(cluster, settings)) out.push_back(std::move(object));
  add_rules(cluster, settings, mixin, out);
  add_dashboards(cluster, settings, mixin, out);
  return out;
}

}  // namespace pgscope::op
