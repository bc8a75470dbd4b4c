#include <catch2/catch.hpp>
#include <optional>
#include <set>

#include "fixtures.hpp"
#include "operator/cluster/desired.hpp"
#include "operator/cluster/render.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_desired {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

// Zalando's complete example with both poolers enabled; nothing when the
// reference files are missing (the test then returns, skipped).
std::optional<json> complete_with_poolers() {
  auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (manifest) {
    (*manifest)["spec"]["enableConnectionPooler"] = true;
    (*manifest)["spec"]["enableReplicaConnectionPooler"] = true;
  }
  return manifest;
}

std::vector<std::string> kinds_and_names(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) {
    out.push_back(object["kind"].get<std::string>() + " " + object["metadata"]["name"].get<std::string>());
  }
  return out;
}

// Every empty list or map in `value`, as paths: the API server drops them,
// so writing one would differ from what is read back.
void find_empty(const json& value, const std::string& path, std::vector<std::string>& out) {
  if ((value.is_object() || value.is_array()) && value.empty()) out.push_back(path);
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) find_empty(child, path + "." + key, out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      find_empty(value[i], path + "[" + std::to_string(i) + "]", out);
  }
}

void find_ports(const json& value, std::vector<json>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      if (key == "ports") {
        for (const auto& port : child) out.push_back(port);
      } else {
        find_ports(child, out);
      }
    }
  } else if (value.is_array()) {
    for (const auto& child : value) find_ports(child, out);
  }
}

}  // namespace

TEST_CASE("desired: objects of a cluster without pooler, ServiceMonitor mode") {
  const auto manifest = zalando_manifest("minimal-postgres-manifest.yaml");
  if (!manifest) return;
  const auto settings = parse_settings({}, {});
  const auto cluster = read_cluster(*manifest, settings);
  const auto objects = desired_objects(cluster, settings, generated_mixin());
  CHECK(kinds_and_names(objects) == std::vector<std::string>{
                                        "Service acid-minimal-cluster-pgscope",
                                        "ServiceMonitor acid-minimal-cluster-pgscope",
                                        "PrometheusRule acid-minimal-cluster-pgscope",
                                        "ConfigMap pgscope-dashboard-pgscope-cluster",
                                        "ConfigMap pgscope-dashboard-pgscope-exporter",
                                        "ConfigMap pgscope-dashboard-pgscope-instance",
                                        "ConfigMap pgscope-dashboard-pgscope-overview",
                                        "ConfigMap pgscope-dashboard-pgscope-pgbouncer",
                                    });
  const auto& service = objects[0];
  CHECK(service["spec"]["clusterIP"] == "None");
  CHECK(service["spec"]["selector"] ==
        json{{"application", "spilo"}, {"cluster-name", "acid-minimal-cluster"}});
  CHECK(service["spec"]["ports"] ==
        json::parse(R"([{"name": "metrics", "port": 9187, "targetPort": 9187, "protocol": "TCP"}])"));

  const auto& monitor = objects[1];
  CHECK(selector_matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"]));
  const auto& endpoint = monitor["spec"]["endpoints"][0];
  CHECK(endpoint["port"] == "metrics");
  CHECK(endpoint["path"] == "/metrics");
  CHECK(endpoint["interval"] == "30s");
  CHECK(endpoint["scrapeTimeout"] == "10s");
}

TEST_CASE("desired: the database selector takes Spilo pods of this cluster only") {
  const auto manifest = complete_with_poolers();
  if (!manifest) return;
  const auto& with_poolers = *manifest;
  for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
    const auto settings = parse_settings({std::string("--monitor-kind=") + kind}, {});
    const auto cluster = read_cluster(with_poolers, settings);
    const auto objects = desired_objects(cluster, settings, {});
    // What selects pods: the Service in ServiceMonitor mode, the PodMonitor itself otherwise.
    const json selector =
        std::string(kind) == "ServiceMonitor"
            ? find_object(objects, "Service", "acid-test-cluster-pgscope")->at("spec").at("selector")
            : find_object(objects, "PodMonitor", "acid-test-cluster-pgscope")
                  ->at("spec")
                  .at("selector")
                  .at("matchLabels");
    INFO(kind << " selector " << selector.dump());
    CHECK(selector_matches(selector, spilo_pod_labels("acid-test-cluster", "master")));
    CHECK(selector_matches(selector, spilo_pod_labels("acid-test-cluster", "replica")));
    CHECK(selector_matches(selector, spilo_pod_labels("acid-test-cluster", "")));
    CHECK_FALSE(selector_matches(selector, pooler_pod_labels("acid-test-cluster", false)));
    CHECK_FALSE(selector_matches(selector, pooler_pod_labels("acid-test-cluster", true)));
    CHECK_FALSE(selector_matches(selector, spilo_pod_labels("acid-other-cluster", "master")));
  }
}

TEST_CASE("desired: relabeling gives every database series cluster, namespace, team, role, pod") {
  const auto manifest = zalando_manifest("minimal-postgres-manifest.yaml");
  if (!manifest) return;
  for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
    const auto settings = parse_settings({std::string("--monitor-kind=") + kind}, {});
    const auto objects = desired_objects(read_cluster(*manifest, settings), settings, {});
    const auto* monitor = find_object(objects, kind, "acid-minimal-cluster-pgscope");
    REQUIRE(monitor != nullptr);
    const auto& endpoint = std::string(kind) == "ServiceMonitor"
                               ? monitor->at("spec").at("endpoints")[0]
                               : monitor->at("spec").at("podMetricsEndpoints")[0];
    if (std::string(kind) == "PodMonitor") CHECK(endpoint["portNumber"] == 9187);
    const auto target =
        pod_target("db", "acid-minimal-cluster-1",
                   spilo_pod_labels("acid-minimal-cluster", "replica", "acid"), "10.0.0.7:9187");
    const auto labels = visible(apply_relabelings(target, endpoint["relabelings"]));
    CHECK(labels == Labels{{"cluster", "acid-minimal-cluster"},
                           {"namespace", "db"},
                           {"team", "acid"},
                           {"role", "replica"},
                           {"pod", "acid-minimal-cluster-1"}});
  }
  // The label name is a setting; the meta label follows the Zalando label key.
  const auto settings =
      parse_settings({"--cluster-label=pg_cluster", "--zalando.cluster-name-label=pg.example/cluster"}, {});
  const auto objects = desired_objects(read_cluster(*manifest, settings), settings, {});
  const auto target = pod_target(
      "db", "p-0", {{"application", "spilo"}, {"pg.example/cluster", "c1"}, {"team", "t"}}, "1.2.3.4:9187");
  const auto labels = visible(apply_relabelings(target, objects[1]["spec"]["endpoints"][0]["relabelings"]));
  CHECK(labels.at("pg_cluster") == "c1");
  CHECK(labels.count("cluster") == 0);
  CHECK(labels.count("role") == 0);  // no spilo-role label: no role, rather than an empty one
}

TEST_CASE("desired: labels, release and ownerReferences") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  auto with_pooler = *manifest;
  with_pooler["spec"]["enableConnectionPooler"] = true;
  const auto settings = parse_settings({"--release=kps", "--labels=tier=gold"}, {});
  const auto cluster = read_cluster(with_pooler, settings);
  const auto objects = desired_objects(cluster, settings, generated_mixin());
  int dashboards = 0;
  for (const auto& object : objects) {
    const auto& metadata = object["metadata"];
    const auto& labels = metadata["labels"];
    const std::string kind = object["kind"];
    INFO(kind << " " << metadata["name"]);
    CHECK(labels["app.kubernetes.io/managed-by"] == "pgscope-operator");
    CHECK(labels["app.kubernetes.io/part-of"] == "pgscope");
    const bool selected_by_prometheus_or_grafana = kind == "ServiceMonitor" || kind == "PodMonitor" ||
                                                   kind == "PrometheusRule" ||
                                                   labels.contains("pgscope.io/shared");
    CHECK(labels.contains("release") == selected_by_prometheus_or_grafana);
    CHECK(labels.contains("tier") == selected_by_prometheus_or_grafana);
    if (labels.contains("pgscope.io/shared")) {
      ++dashboards;
      CHECK(labels["pgscope.io/shared"] == "dashboards");
      CHECK(labels["grafana_dashboard"] == "1");
      CHECK_FALSE(labels.contains("pgscope.io/cluster"));
      CHECK_FALSE(metadata.contains("ownerReferences"));
      CHECK(labels["release"] == "kps");
      continue;
    }
    CHECK(labels["pgscope.io/cluster"] == "acid-test-cluster");
    CHECK(labels["pgscope.io/cluster-namespace"] == "db");
    CHECK(metadata["namespace"] == "db");
    for (const auto& [key, value] : cluster_selector_labels(cluster)) CHECK(labels[key] == value);
    REQUIRE(metadata.contains("ownerReferences"));
    CHECK(metadata["ownerReferences"] ==
          json::parse(R"([{"apiVersion": "acid.zalan.do/v1", "kind": "postgresql",
        "name": "acid-test-cluster", "uid": "9b0e6e3c-1d7a-4a53-9d0c-3a2f0c4e5d61", "controller": true,
        "blockOwnerDeletion": false}])"));
  }
  CHECK(dashboards == 5);

  auto without_uid = with_pooler;
  without_uid["metadata"].erase("uid");
  for (const auto& object :
       desired_objects(read_cluster(without_uid, settings), settings, generated_mixin())) {
    CHECK_FALSE(object["metadata"].contains("ownerReferences"));
  }
}

TEST_CASE("desired: dashboards go where configured and are the same for every cluster") {
  const auto complete = zalando_manifest("complete-postgres-manifest.yaml");
  const auto minimal = zalando_manifest("minimal-postgres-manifest.yaml", "other");
  if (!complete || !minimal) return;
  const auto settings = parse_settings({"--dashboards-namespace=grafana", "--dashboard-label=dash=on"}, {});
  const auto mixin = generated_mixin();
  const auto a = desired_objects(read_cluster(*complete, settings), settings, mixin);
  const auto b = desired_objects(read_cluster(*minimal, settings), settings, mixin);
  std::vector<json> dashboards_a, dashboards_b;
  for (const auto& o : a) {
    if (o["kind"] == "ConfigMap") dashboards_a.push_back(o);
  }
  for (const auto& o : b) {
    if (o["kind"] == "ConfigMap") dashboards_b.push_back(o);
  }
  REQUIRE(dashboards_a.size() == mixin.dashboards.size());
  CHECK(dashboards_a == dashboards_b);  // shared: clusters must not fight over them
  for (const auto& dashboard : dashboards_a) {
    CHECK(dashboard["metadata"]["namespace"] == "grafana");
    CHECK(dashboard["metadata"]["labels"]["dash"] == "on");
    CHECK_FALSE(dashboard["metadata"]["labels"].contains("grafana_dashboard"));
    REQUIRE(dashboard["data"].size() == 1);
    const std::string file = dashboard["data"].begin().key();
    const auto& text = dashboard["data"].begin().value();
    CHECK(dashboard["metadata"]["name"] == dashboard_configmap_name(file));
    CHECK(text == mixin.dashboards.at(file));
  }
}

TEST_CASE("desired: --no-rules, --no-dashboards and an empty mixin") {
  const auto manifest = zalando_manifest("minimal-postgres-manifest.yaml");
  if (!manifest) return;
  const auto settings = parse_settings({"--no-rules", "--no-dashboards"}, {});
  CHECK(desired_objects(read_cluster(*manifest, settings), settings, generated_mixin()).size() == 2);
  const auto defaults = parse_settings({}, {});
  MixinOutput empty;
  empty.rule_groups = json::array();
  CHECK(desired_objects(read_cluster(*manifest, defaults), defaults, empty).size() == 2);
  MixinOutput bad;
  bad.rule_groups = json::object({{"groups", json::array()}});
  CHECK_THROWS_AS(desired_objects(read_cluster(*manifest, defaults), defaults, bad), DesiredObjectError);
}

TEST_CASE("desired: a dashboard over the ConfigMap limit is refused") {
  const auto manifest = zalando_manifest("minimal-postgres-manifest.yaml");
  if (!manifest) return;
  const auto settings = parse_settings({}, {});
  const auto cluster = read_cluster(*manifest, settings);
  MixinOutput mixin;
  mixin.dashboards["huge.json"] = "{\"title\": \"" + std::string(kConfigMapLimitBytes, 'x') + "\"}";
  CHECK_THROWS_WITH(desired_objects(cluster, settings, mixin),
                    Catch::Contains("huge.json") && Catch::Contains("limit"));
  mixin.dashboards.clear();
  mixin.dashboards["Bad Name.json"] = "{}";
  CHECK_THROWS_AS(desired_objects(cluster, settings, mixin), DesiredObjectError);
  mixin.dashboards.clear();
  mixin.dashboards["broken.json"] = "{";
  CHECK_THROWS_WITH(desired_objects(cluster, settings, mixin), Catch::Contains("not valid JSON"));
  // The real dashboards fit, each in its own ConfigMap.
  for (const auto& [file, text] : generated_mixin().dashboards)
    CHECK(file.size() + text.size() < kConfigMapLimitBytes);
}

TEST_CASE("desired: nothing an API server would rewrite") {
  const auto manifest = complete_with_poolers();
  if (!manifest) return;
  const auto& with_poolers = *manifest;
  for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
    const auto settings = parse_settings({std::string("--monitor-kind=") + kind}, {});
    const auto objects = desired_objects(read_cluster(with_poolers, settings), settings, generated_mixin());
    std::vector<std::string> empty;
    std::vector<json> ports;
    for (const auto& object : objects) {
      find_empty(object,
                 object["kind"].get<std::string>() + "/" + object["metadata"]["name"].get<std::string>(),
                 empty);
      find_ports(object, ports);
    }
    CHECK(empty.empty());
    INFO(json(empty).dump());
    // Services of the database and both poolers (ServiceMonitor mode), the
    // pooler exporter's Service and container.
    CHECK(ports.size() == (std::string(kind) == "ServiceMonitor" ? 5 : 2));
    for (const auto& port : ports) CHECK(port["protocol"] == "TCP");
  }
}

TEST_CASE("desired: deterministic") {
  const auto manifest = complete_with_poolers();
  if (!manifest) return;
  const auto& with_poolers = *manifest;
  const auto settings = parse_settings({"--release=kps"}, {});
  const auto mixin = generated_mixin();
  const auto first = to_yaml(desired_objects(read_cluster(with_poolers, settings), settings, mixin));
  const auto second = to_yaml(desired_objects(read_cluster(with_poolers, settings), settings, mixin));
  CHECK(first == second);
  CHECK(first.size() > 100000);  // the dashboards are in it
}

TEST_CASE("desired: long cluster names still give valid Service names") {
  auto object = json::parse(R"({"metadata": {"name": "", "namespace": "db", "uid": "u"},
    "spec": {"teamId": "acid", "enableConnectionPooler": true, "enableReplicaConnectionPooler": true}})");
  object["metadata"]["name"] = "acid-" + std::string(48, 'a');  // 53, Zalando's maximum
  const auto settings = parse_settings({}, {});
  const auto objects = desired_objects(read_cluster(object, settings), settings, {});
  std::set<std::string> names;
  for (const auto& o : objects) {
    const std::string name = o["metadata"]["name"];
    CHECK(name.size() <= 63);
    if (o["kind"] == "Service") names.insert(name);
  }
  CHECK(names.size() == 4);  // database, two poolers, pooler exporter: still distinct
}

}  // namespace unity_file_cluster_test_desired
