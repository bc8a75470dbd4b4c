#include "operator/cluster/sidecar.hpp"

#include <sstream>

#include "operator/cluster/render.hpp"

namespace pgscope::op {

namespace {

json env_value(const std::string& name, const std::string& value) {
  return json{{"name", name}, {"value", value}};
}

json env_secret(const std::string& name, const std::string& secret, const std::string& key) {
  return json{{"name", name}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

std::string listen_address(const OperatorSettings& settings) {
  return ":" + std::to_string(settings.exporter_port);
}

json metrics_port(const OperatorSettings& settings) {
  return json::array(
      {json{{"name", "metrics"}, {"containerPort", settings.exporter_port}, {"protocol", "TCP"}}});
}

// Measured: about 80 MiB RSS on a server of 2000 tables, 130 MiB on 40 000.
// Canonical quantities, so the API server stores them as written.
json sidecar_resources() {
  return json{{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}},
              {"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}};
}

bool is_ours(const json& sidecar) {
  return sidecar.is_object() && sidecar.contains("name") && sidecar["name"] == kSidecarName;
}

// Prefixes every line with "# " (an empty line with "#").
std::string commented(const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) out += line.empty() ? "#\n" : "# " + line + "\n";
  return out;
}

}  // namespace

json exporter_sidecar(const ClusterInfo& cluster, const OperatorSettings& settings) {
  const auto secret = credentials_secret_name(settings, settings.monitoring_user, cluster);
  return json{{"name", kSidecarName},
              {"image", settings.exporter_image},
              {"ports", metrics_port(settings)},
              {"env", json::array({env_value("PG_EXPORTER_WEB_LISTEN_ADDRESS", listen_address(settings)),
                                   env_value("PG_EXPORTER_PATRONI_URL", "http://localhost:8008"),
                                   // Spilo's pg_hba trusts no plain TCP from afar, but
                                   // localhost with md5 and without TLS is allowed.
                                   env_value("DATA_SOURCE_URI", "localhost:5432/postgres?sslmode=disable"),
                                   env_secret("DATA_SOURCE_USER", secret, "username"),
                                   env_secret("DATA_SOURCE_PASS", secret, "password")})},
              {"resources", sidecar_resources()}};
}

json desired_sidecars(const json& current_sidecars, const ClusterInfo& cluster,
                      const OperatorSettings& settings) {
  if (!current_sidecars.is_null() && !current_sidecars.is_array()) {
    throw InvalidCluster("spec.sidecars: expected a list of containers, got " + current_sidecars.dump());
  }
  const json current = current_sidecars.is_null() ? json::array() : current_sidecars;
  json result = json::array();
  bool placed = false;
  for (const auto& sidecar : current) {
    if (!is_ours(sidecar)) {
      result.push_back(sidecar);
    } else if (cluster.inject && !placed) {
      result.push_back(exporter_sidecar(cluster, settings));
      placed = true;
    }
    // A second one of ours (hand-made duplicate) is dropped.
  }
  if (cluster.inject && !placed) result.push_back(exporter_sidecar(cluster, settings));
  if (result == current) return current_sidecars;
  if (result.empty()) return nullptr;  // a merge patch with null removes the field
  return result;
}

json global_sidecar_configuration(const OperatorSettings& settings) {
  const json probe{{"httpGet", {{"path", "/healthz"}, {"port", settings.exporter_port}}},
                   {"periodSeconds", 30},
                   {"timeoutSeconds", 5},
                   {"failureThreshold", 4}};
  // Global sidecars are full containers, so args and a liveness probe are
  // allowed; no readiness probe, which would take the database pod out of
  // its Services whenever the exporter is slow.
  const json container{
      {"name", kSidecarName},
      {"image", settings.exporter_image},
      {"args", json::array({"--web.listen-address=" + listen_address(settings),
                            "--patroni.url=http://localhost:8008"})},
      {"env", json::array({env_value("DATA_SOURCE_URI", "localhost:5432/postgres?sslmode=disable"),
                           // Zalando sets these two before the sidecar's own
                           // variables, so $(...) expands to them.
                           env_value("DATA_SOURCE_USER", "$(POSTGRES_USER)"),
                           env_value("DATA_SOURCE_PASS", "$(POSTGRES_PASSWORD)")})},
      {"ports", metrics_port(settings)},
      {"livenessProbe", probe},
      {"resources", sidecar_resources()}};
  json config_map = nullptr;
  // That form has no ports and no env: only the exporter's defaults work.
  if (settings.exporter_image.find(':') == std::string::npos && settings.exporter_port == 9187) {
    config_map = {
        {"data", {{"sidecar_docker_images", std::string(kSidecarName) + ":" + settings.exporter_image}}}};
  }
  return json{{"operatorConfiguration", {{"configuration", {{"sidecars", json::array({container})}}}}},
              {"configMap", config_map}};
}

std::string global_sidecar_comment(const OperatorSettings& settings) {
  const auto configuration = global_sidecar_configuration(settings);
  std::string text =
      "Sidecar injection is off: to run the exporter in every Spilo pod, give Zalando's operator a global\n"
      "sidecar. With the OperatorConfiguration (POSTGRES_OPERATOR_CONFIGURATION_OBJECT), add this to it\n"
      "(kubectl edit operatorconfiguration <name>; keep any sidecars already listed):\n\n" +
      to_yaml_document(configuration["operatorConfiguration"]);
  if (settings.monitoring_user != "postgres") {
    text +=
        "\nA global sidecar cannot name a per-cluster secret: it connects as the superuser Zalando passes\n"
        "in POSTGRES_USER, not as --monitoring-user=" +
        settings.monitoring_user + ".\n";
  }
  if (configuration["configMap"].is_null()) {
    text +=
        "\nThe ConfigMap-based configuration (CONFIG_MAP_NAME) cannot carry this sidecar: its sidecars key\n"
        "takes no containers, and sidecar_docker_images (deprecated) splits name:image on every \":\", so\n"
        "the image " +
        settings.exporter_image +
        " cannot be written there (nor a port other than the default\n"
        "9187). Use the OperatorConfiguration or --inject-sidecars.\n";
  } else {
    text +=
        "\nWith the ConfigMap-based configuration (CONFIG_MAP_NAME): sidecar_docker_images (deprecated)\n"
        "gives name and image only, so the exporter listens on its default :9187 without Patroni metrics\n"
        "and without a declared port (a PodMonitor cannot scrape it; the ServiceMonitor can):\n\n" +
        to_yaml_document(configuration["configMap"]);
  }
  return commented(text);
}

}  // namespace pgscope::op
