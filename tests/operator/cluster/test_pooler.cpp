#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "operator/cluster/desired.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_pooler {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

std::vector<json> objects_for(const json& manifest, bool master, bool replica,
                              const std::vector<std::string>& args) {
  auto object = manifest;
  object["spec"]["enableConnectionPooler"] = master;
  object["spec"]["enableReplicaConnectionPooler"] = replica;
  const auto settings = parse_settings(args, {});
  return desired_objects(read_cluster(object, settings), settings, {});
}

std::vector<std::string> kinds_and_names(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) {
    out.push_back(object["kind"].get<std::string>() + " " + object["metadata"]["name"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("pooler: objects appear and disappear with the poolers") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  CHECK(kinds_and_names(objects_for(*manifest, true, true, {})) ==
        std::vector<std::string>{
            "Service acid-test-cluster-pgscope", "ServiceMonitor acid-test-cluster-pgscope",
            "Service acid-test-cluster-pooler-pgscope", "ServiceMonitor acid-test-cluster-pooler-pgscope",
            "Service acid-test-cluster-pooler-repl-pgscope",
            "ServiceMonitor acid-test-cluster-pooler-repl-pgscope",
            "ConfigMap acid-test-cluster-pgscope-pooler", "Deployment acid-test-cluster-pgscope-pooler",
            "Service acid-test-cluster-pgscope-pooler"});
  CHECK(kinds_and_names(objects_for(*manifest, false, true, {"--monitor-kind=PodMonitor"})) ==
        std::vector<std::string>{
            "PodMonitor acid-test-cluster-pgscope", "PodMonitor acid-test-cluster-pooler-repl-pgscope",
            "ConfigMap acid-test-cluster-pgscope-pooler", "Deployment acid-test-cluster-pgscope-pooler",
            "Service acid-test-cluster-pgscope-pooler"});
  CHECK(kinds_and_names(objects_for(*manifest, false, false, {})) ==
        std::vector<std::string>{"Service acid-test-cluster-pgscope",
                                 "ServiceMonitor acid-test-cluster-pgscope"});
}

TEST_CASE("pooler: monitors select their pooler's pods and no Spilo pod") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
    const auto objects = objects_for(*manifest, true, true, {std::string("--monitor-kind=") + kind});
    for (const bool replica : {false, true}) {
      const std::string name =
          replica ? "acid-test-cluster-pooler-repl-pgscope" : "acid-test-cluster-pooler-pgscope";
      const auto* monitor = find_object(objects, kind, name);
      REQUIRE(monitor != nullptr);
      json pod_selector;
      if (std::string(kind) == "ServiceMonitor") {
        const auto* service = find_object(objects, "Service", name);
        REQUIRE(service != nullptr);
        CHECK(selector_matches(monitor->at("spec").at("selector").at("matchLabels"),
                               service->at("metadata").at("labels")));
        // ...and not the other pooler's Service or the database Service.
        const auto* other = find_object(
            objects, "Service",
            replica ? "acid-test-cluster-pooler-pgscope" : "acid-test-cluster-pooler-repl-pgscope");
        CHECK_FALSE(selector_matches(monitor->at("spec").at("selector").at("matchLabels"),
                                     other->at("metadata").at("labels")));
        const auto* database = find_object(objects, "Service", "acid-test-cluster-pgscope");
        CHECK_FALSE(selector_matches(monitor->at("spec").at("selector").at("matchLabels"),
                                     database->at("metadata").at("labels")));
        CHECK(service->at("spec").at("ports") ==
              json::parse(R"([{"name": "pgbouncer", "port": 5432, "targetPort": 5432, "protocol": "TCP"}])"));
        pod_selector = service->at("spec").at("selector");
      } else {
        pod_selector = monitor->at("spec").at("selector").at("matchLabels");
      }
      INFO(kind << " " << name << " " << pod_selector.dump());
      CHECK(selector_matches(pod_selector, pooler_pod_labels("acid-test-cluster", replica)));
      CHECK_FALSE(selector_matches(pod_selector, pooler_pod_labels("acid-test-cluster", !replica)));
      CHECK_FALSE(selector_matches(pod_selector, spilo_pod_labels("acid-test-cluster", "master")));
      CHECK_FALSE(selector_matches(pod_selector, spilo_pod_labels("acid-test-cluster", "replica")));
      CHECK_FALSE(selector_matches(pod_selector, pooler_pod_labels("acid-other", replica)));
    }
  }
}

TEST_CASE("pooler: /probe through the exporter, with every label") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
    const auto objects = objects_for(*manifest, true, true, {std::string("--monitor-kind=") + kind});
    const auto* monitor = find_object(objects, kind, "acid-test-cluster-pooler-repl-pgscope");
    REQUIRE(monitor != nullptr);
    const auto& endpoint = std::string(kind) == "ServiceMonitor"
                               ? monitor->at("spec").at("endpoints")[0]
                               : monitor->at("spec").at("podMetricsEndpoints")[0];
    CHECK(endpoint["path"] == "/probe");
    CHECK(endpoint["params"] == json::parse(R"({"source": ["pgbouncer"], "auth_module": ["pooler"]})"));
    if (std::string(kind) == "PodMonitor") CHECK(endpoint["portNumber"] == 5432);
    if (std::string(kind) == "ServiceMonitor") CHECK(endpoint["port"] == "pgbouncer");
    const auto target = pod_target("db", "acid-test-cluster-pooler-repl-7d9f-x2",
                                   pooler_pod_labels("acid-test-cluster", true), "10.1.2.3:5432");
    const auto relabeled = apply_relabelings(target, endpoint["relabelings"]);
    CHECK(relabeled.at("__address__") == "acid-test-cluster-pgscope-pooler.db.svc:9187");
    CHECK(relabeled.at("__param_target") == "10.1.2.3:5432");
    CHECK(visible(relabeled) == Labels{{"instance", "10.1.2.3:5432"},
                                       {"cluster", "acid-test-cluster"},
                                       {"namespace", "db"},
                                       {"team", "acid"},
                                       {"role", "replica"},
                                       {"pod", "acid-test-cluster-pooler-repl-7d9f-x2"},
                                       {"pooler", "acid-test-cluster-pooler-repl"}});
  }
}

TEST_CASE("pooler: the exporter Deployment, its config and Service") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  auto object = *manifest;
  object["spec"].erase("enableConnectionPooler");  // the example says false, which would win
  object["spec"]["connectionPooler"] = {{"user", "pgbouncer_admin"}};  // enables the master pooler
  const auto settings = parse_settings({"--exporter-image=registry.example/pgscope:1.2"}, {});
  const auto objects = desired_objects(read_cluster(object, settings), settings, {});
  const auto* config_map = find_object(objects, "ConfigMap", "acid-test-cluster-pgscope-pooler");
  const auto* deployment = find_object(objects, "Deployment", "acid-test-cluster-pgscope-pooler");
  const auto* service = find_object(objects, "Service", "acid-test-cluster-pgscope-pooler");
  REQUIRE(config_map != nullptr);
  REQUIRE(deployment != nullptr);
  REQUIRE(service != nullptr);

  // The config file in the exporter's own auth_modules form.
  const auto config = YAML::Load(config_map->at("data").at("config.yaml").get<std::string>());
  const auto module = config["auth_modules"]["pooler"];
  CHECK(module["type"].as<std::string>() == "userpass");
  CHECK(module["userpass"]["username"].as<std::string>() == "pgbouncer_admin");
  CHECK(module["userpass"]["password_file"].as<std::string>() == "/etc/pgscope/pooler/password");
  CHECK(module["options"]["sslmode"].as<std::string>() == "require");  // the pooler demands TLS

  const auto& spec = deployment->at("spec");
  CHECK(spec["replicas"] == 1);
  CHECK(selector_matches(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]));
  CHECK(selector_matches(service->at("spec").at("selector"), spec["template"]["metadata"]["labels"]));
  CHECK(service->at("spec").at("ports") ==
        json::parse(R"([{"name": "metrics", "port": 9187, "targetPort": 9187, "protocol": "TCP"}])"));
  const auto& pod = spec["template"]["spec"];
  CHECK(pod["securityContext"]["runAsNonRoot"] == true);
  CHECK(pod["automountServiceAccountToken"] == false);
  REQUIRE(pod["containers"].size() == 1);
  const auto& container = pod["containers"][0];
  CHECK(container["image"] == "registry.example/pgscope:1.2");
  CHECK_FALSE(container.contains("args"));
  CHECK(container["env"] ==
        json::parse(R"([{"name": "PG_EXPORTER_CONFIG_FILE", "value": "/etc/pgscope/config/config.yaml"},
      {"name": "PG_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9187"}])"));
  CHECK(container["securityContext"]["readOnlyRootFilesystem"] == true);
  CHECK(container["securityContext"]["allowPrivilegeEscalation"] == false);
  CHECK(container["securityContext"]["capabilities"]["drop"] == json::array({"ALL"}));
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    CHECK(container[probe]["httpGet"] == json::parse(R"({"path": "/healthz", "port": 9187})"));
  }
  CHECK(container["resources"] ==
        json::parse(R"({"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}})"));
  // The credentials: the pooler user's secret of this cluster, key password, where the config expects it.
  CHECK(pod["volumes"] ==
        json::parse(R"([{"name": "config", "configMap": {"name": "acid-test-cluster-pgscope-pooler"}},
      {"name": "pooler-password", "secret": {"secretName": "pgbouncer-admin.acid-test-cluster.credentials.postgresql.acid.zalan.do",
       "items": [{"key": "password", "path": "password"}]}}])"));
  CHECK(container["volumeMounts"][1]["mountPath"] == "/etc/pgscope/pooler");
  CHECK(container["volumeMounts"][0]["mountPath"] == "/etc/pgscope/config");

  // Another pooler user changes the config, and the pod template with it (so the exporter restarts).
  auto other = object;
  other["spec"]["connectionPooler"]["user"] = "pooler";
  const auto changed = desired_objects(read_cluster(other, settings), settings, {});
  const auto* changed_deployment = find_object(changed, "Deployment", "acid-test-cluster-pgscope-pooler");
  CHECK(changed_deployment->at("spec").at("template").at("metadata").at("annotations") !=
        spec["template"]["metadata"]["annotations"]);
}

}  // namespace unity_file_cluster_test_pooler
