// Zalando's pooler pods run pgBouncer alone (no sidecar field, an unnamed
// port 5432, client TLS required), so they are scraped from outside: one
// exporter Deployment per cluster answers /probe?target=<pooler pod>:5432 with
// the pooler user's credentials, and a monitor per pooler points Prometheus
// at it through multi-target relabeling.
#include "operator/cluster/desired.hpp"
#include "operator/cluster/desired_parts.hpp"
#include "operator/cluster/kube_names.hpp"

namespace pgscope::op::parts {

namespace {

constexpr int kPoolerPort = 5432;
constexpr const char* kAuthModule = "pooler";
constexpr const char* kConfigDir = "/etc/pgscope/config";
constexpr const char* kPasswordDir = "/etc/pgscope/pooler";

// The exporter's config file: only the auth module /probe uses. The user
// name is written as a JSON string, which YAML reads the same.
std::string exporter_config(const ClusterInfo& cluster) {
  return "# Written by pgscope-operator for cluster " + cluster.ns + "/" + cluster.name +
         ": credentials for /probe of its connection poolers.\n"
         "auth_modules:\n"
         "  " +
         kAuthModule +
         ":\n"
         "    type: userpass\n"
         "    userpass:\n"
         "      username: " +
         json(cluster.pooler_user).dump() + "\n      password_file: " + kPasswordDir +
         "/password\n"
         "    options:\n"
         "      sslmode: require\n";
}

json pooler_relabelings(const ClusterInfo& cluster, const OperatorSettings& settings) {
  const auto exporter_address =
      pooler_exporter_name(cluster) + "." + cluster.ns + ".svc:" + std::to_string(settings.exporter_port);
  json relabelings =
      json::array({relabel("__address__", "__param_target"), relabel("__param_target", "instance"),
                   relabel_replacement("__address__", exporter_address)});
  for (auto& item : member_relabelings(settings)) relabelings.push_back(std::move(item));
  relabelings.push_back(relabel(pod_label_meta("connection-pooler"), "pooler"));
  return relabelings;
}

void add_pooler_monitor(const ClusterInfo& cluster, const OperatorSettings& settings, PoolerRole role,
                        std::vector<json>& out) {
  const auto pooler = pooler_name(cluster, role);
  const auto name = pooler_monitor_name(cluster, role);
  // What Zalando puts on pooler pods and nothing else has.
  const json pod_selector{{"application", "db-connection-pooler"}, {"connection-pooler", pooler}};
  auto endpoint = scrape_endpoint(settings, "/probe", pooler_relabelings(cluster, settings));
  endpoint["params"] = {{"source", json::array({"pgbouncer"})}, {"auth_module", json::array({kAuthModule})}};
  auto monitor_labels = cluster_labels(cluster, "pooler");
  monitor_labels[kPoolerLabel] = pooler;
  add_selected_labels(monitor_labels, settings);
  if (settings.monitor_kind == MonitorKind::ServiceMonitor) {
    auto service_labels = cluster_labels(cluster, "pooler");
    service_labels[kPoolerLabel] = pooler;
    out.push_back(headless_service(cluster, name, service_labels, pod_selector, "pgbouncer", kPoolerPort));
    const json selector{{kManagedByLabel, kManagedByValue},
                        {kClusterLabel, cluster.name},
                        {kComponentLabel, "pooler"},
                        {kPoolerLabel, pooler}};
    out.push_back(
        monitor(cluster, settings, name, monitor_labels, selector, endpoint, "pgbouncer", kPoolerPort));
  } else {
    out.push_back(
        monitor(cluster, settings, name, monitor_labels, pod_selector, endpoint, "pgbouncer", kPoolerPort));
  }
}

json exporter_container(const OperatorSettings& settings) {
  const json probe{{"httpGet", {{"path", "/healthz"}, {"port", settings.exporter_port}}}};
  return json{
      {"name", "pgscope-exporter"},
      {"image", settings.exporter_image},
      {"env", json::array({json{{"name", "PG_EXPORTER_CONFIG_FILE"},
                                {"value", std::string(kConfigDir) + "/config.yaml"}},
                           json{{"name", "PG_EXPORTER_WEB_LISTEN_ADDRESS"},
                                {"value", ":" + std::to_string(settings.exporter_port)}}})},
      {"ports", json::array({json{
                    {"name", "metrics"}, {"containerPort", settings.exporter_port}, {"protocol", "TCP"}}})},
      {"readinessProbe", probe},
      {"livenessProbe", probe},
      {"resources", {{"requests", {{"cpu", "50m"}, {"memory", "32Mi"}}}, {"limits", {{"memory", "128Mi"}}}}},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}}}},
      {"volumeMounts",
       json::array({json{{"name", "config"}, {"mountPath", kConfigDir}, {"readOnly", true}},
                    json{{"name", "pooler-password"}, {"mountPath", kPasswordDir}, {"readOnly", true}}})}};
}

void add_pooler_exporter(const ClusterInfo& cluster, const OperatorSettings& settings,
                         std::vector<json>& out) {
  const auto name = pooler_exporter_name(cluster);
  const auto labels = cluster_labels(cluster, "pooler-exporter");
  const auto config = exporter_config(cluster);
  const auto secret = credentials_secret_name(settings, cluster.pooler_user, cluster);
  out.push_back(json{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", owned_metadata(cluster, name, labels)},
                     {"data", {{"config.yaml", config}}}});

  const json pod_selector{{kClusterLabel, cluster.name}, {kComponentLabel, "pooler-exporter"}};
  json template_labels = labels;
  template_labels["app.kubernetes.io/name"] = "pgscope-exporter";
  // The exporter reads its config and password file at start: a new config
  // (another pooler user, hence another secret) must restart it.
  const json template_annotations{{"pgscope.io/config-hash", stable_hash_hex(config + "\n" + secret)}};
  json pod_spec{
      {"automountServiceAccountToken", false},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65534},
        {"runAsGroup", 65534},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", json::array({exporter_container(settings)})},
      {"volumes",
       json::array({json{{"name", "config"}, {"configMap", {{"name", name}}}},
                    json{{"name", "pooler-password"},
                         {"secret",
                          {{"secretName", secret},
                           {"items", json::array({json{{"key", "password"}, {"path", "password"}}})}}}}})}};
  out.push_back(json{{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", owned_metadata(cluster, name, labels)},
                     {"spec",
                      {{"replicas", 1},
                       {"selector", {{"matchLabels", pod_selector}}},
                       {"template",
                        {{"metadata", {{"labels", template_labels}, {"annotations", template_annotations}}},
                         {"spec", pod_spec}}}}}});

  out.push_back(json{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", owned_metadata(cluster, name, labels)},
                     {"spec",
                      {{"selector", pod_selector},
                       {"ports", json::array({service_port("metrics", settings.exporter_port)})}}}});
}

}  // namespace

std::vector<json> pooler_objects(const ClusterInfo& cluster, const OperatorSettings& settings) {
  std::vector<json> out;
  if (cluster.pooler_master) add_pooler_monitor(cluster, settings, PoolerRole::Master, out);
  if (cluster.pooler_replica) add_pooler_monitor(cluster, settings, PoolerRole::Replica, out);
  if (cluster.pooler_master || cluster.pooler_replica) add_pooler_exporter(cluster, settings, out);
  return out;
}

}  // namespace pgscope::op::parts
