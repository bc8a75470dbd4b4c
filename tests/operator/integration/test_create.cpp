// A new Zalando cluster gets its monitoring: every object appears, valid
// against the real schemas, selecting the right pods, with the labels a
// dashboard user filters on, and Events that say what was done.
#include <catch2/catch.hpp>
#include <iostream>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

constexpr const char* kNs = "team-a";
constexpr const char* kCluster = "acid-minimal-cluster";

std::string label(const json& object, const std::string& key) {
  return object["metadata"].value("labels", json::object()).value(key, "");
}

void require_owned_by(const json& object, const json& postgresql) {
  INFO(object_id(object));
  const auto refs = object["metadata"].value("ownerReferences", json::array());
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].value("kind", "") == "postgresql");
  CHECK(refs[0].value("apiVersion", "") == "acid.zalan.do/v1");
  CHECK(refs[0].value("name", "") == postgresql["metadata"].value("name", ""));
  CHECK(refs[0].value("uid", "") == postgresql["metadata"].value("uid", ""));
}

// The labels Prometheus would give each target of the endpoint.
void require_target_labels(const json& relabelings, const std::vector<json>& pods, int port,
                           const std::string& ns, const std::string& cluster) {
  REQUIRE_FALSE(pods.empty());
  for (const auto& pod : pods) {
    const auto labels = relabel_pod_target(relabelings, pod, port);
    const std::string name = pod["metadata"]["name"];
    INFO("target " << name);
    CHECK(labels.count("cluster"));
    if (labels.count("cluster")) CHECK(labels.at("cluster") == cluster);
    CHECK(labels.count("namespace"));
    if (labels.count("namespace")) CHECK(labels.at("namespace") == ns);
    CHECK(labels.count("team"));
    if (labels.count("team")) CHECK(labels.at("team") == "acid");
    CHECK(labels.count("role"));
    if (labels.count("role")) CHECK(labels.at("role") == label(pod, "spilo-role"));
    CHECK(labels.count("pod"));
    if (labels.count("pod")) CHECK(labels.at("pod") == name);
  }
}

std::vector<std::string> names_selected(const json& selector_labels, const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) {
    if (labels_match(selector_labels, object["metadata"].value("labels", json::object()))) {
      out.push_back(object["metadata"]["name"]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a cluster from Zalando's minimal manifest gets a ServiceMonitor, rules and dashboards",
          "[create]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator();
  const auto dump = env.dumper({op.get()});
  const std::string c = kCluster;

  const auto postgresql = env.create_cluster("minimal-postgres-manifest.yaml", kNs, c);
  const double converged = await(
      "ServiceMonitor, Service, PrometheusRule and dashboards of " + c,
      [&] {
        bool dashboards = false;
        for (const auto& object : env.managed_objects(kNs)) {
          if (label(object, "pgscope.io/shared") == "dashboards") dashboards = true;
        }
        return env.get("monitoring.coreos.com/v1", "ServiceMonitor", kNs, c + "-pgscope") &&
               env.get("v1", "Service", kNs, c + "-pgscope") &&
               env.get("monitoring.coreos.com/v1", "PrometheusRule", kNs, c + "-pgscope") && dashboards;
      },
      std::chrono::seconds(30), dump);
  std::cout << "[create] time to converge after the postgresql was created: " << converged << " s"
            << std::endl;

  // Dashboards are reconciled apart from the cluster: let everything settle.
  env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1000), std::chrono::seconds(30),
                  {op.get()});
  const auto managed = env.managed_objects();
  {  // every object validates against the real CRD and core schemas
    REQUIRE(managed.size() >= 4);
    for (const auto& object : managed) {
      INFO(object_id(object));
      CHECK(schema_problems(object) == "");
    }
  }

  {  // per-cluster objects carry the cluster's labels and an ownerReference; dashboards are shared
    int dashboards = 0;
    for (const auto& object : managed) {
      INFO(object_id(object));
      CHECK(label(object, "app.kubernetes.io/managed-by") == "pgscope-operator");
      if (label(object, "pgscope.io/shared") == "dashboards") {
        ++dashboards;
        CHECK(object["kind"] == "ConfigMap");
        CHECK(label(object, "grafana_dashboard") == "1");
        CHECK_FALSE(object["metadata"].contains("ownerReferences"));
        CHECK(object["metadata"]["name"].get<std::string>().rfind("pgscope-dashboard-", 0) == 0);
        for (const auto& [file, text] : object["data"].items()) {
          INFO(file);
          CHECK(json::accept(text.get<std::string>()));
          CHECK(file.size() + text.get<std::string>().size() <= 1024 * 1024);
        }
        continue;
      }
      CHECK(label(object, "pgscope.io/cluster") == c);
      CHECK(label(object, "pgscope.io/cluster-namespace") == kNs);
      require_owned_by(object, postgresql);
    }
    CHECK(dashboards >= 1);
  }

  {  // the Service selects the database pods, the ServiceMonitor that Service only
    const auto db_pods = env.pods(kNs, c, "spilo");
    REQUIRE(db_pods.size() == 2);
    const auto service = *env.get("v1", "Service", kNs, c + "-pgscope");
    const auto all_pods = env.api().list("v1", "Pod", kNs);
    CHECK(names_selected(service["spec"]["selector"], all_pods) ==
          std::vector<std::string>{c + "-0", c + "-1"});
    REQUIRE(service["spec"]["ports"].size() == 1);
    CHECK(service["spec"]["ports"][0]["name"] == "metrics");

    const auto monitor = *env.get("monitoring.coreos.com/v1", "ServiceMonitor", kNs, c + "-pgscope");
    const auto all_services = env.api().list("v1", "Service", kNs);
    CHECK(names_selected(monitor["spec"]["selector"].value("matchLabels", json::object()), all_services) ==
          std::vector<std::string>{c + "-pgscope"});
    REQUIRE(monitor["spec"]["endpoints"].size() == 1);
    const auto& endpoint = monitor["spec"]["endpoints"][0];
    CHECK(endpoint["port"] == "metrics");
    require_target_labels(endpoint.value("relabelings", json::array()), db_pods,
                          service["spec"]["ports"][0].value("targetPort", 0), kNs, c);
  }

  {  // Events on the postgresql object say what was created
    const auto events_dump = [&] { return env.describe({op.get()}); };
    await(
        "Created Events for the Service, ServiceMonitor and PrometheusRule",
        [&] {
          return env.has_event(kNs, c, "Normal", "Created",
                               "Service " + std::string(kNs) + "/" + c + "-pgscope") &&
                 env.has_event(kNs, c, "Normal", "Created",
                               "ServiceMonitor " + std::string(kNs) + "/" + c + "-pgscope") &&
                 env.has_event(kNs, c, "Normal", "Created",
                               "PrometheusRule " + std::string(kNs) + "/" + c + "-pgscope");
        },
        std::chrono::seconds(10), events_dump);
    for (const auto& event : env.cluster_events(kNs, c)) {
      INFO(event.dump());
      CHECK(schema_problems(event) == "");
      CHECK(event["involvedObject"].value("uid", "") == postgresql["metadata"].value("uid", ""));
    }
  }

  {  // live objects are what render prints for the same cluster
    CHECK(matches_render(env) == "");
  }

  {  // writes are server-side applies as field manager pgscope-operator, creates included
    std::size_t applies = 0;
    for (const auto& request : env.api().requests()) {
      if (request.user != E2eEnvironment::kUser || request.method == "GET") continue;
      if (request.path.find("/events") != std::string::npos) continue;
      INFO(request.method << " " << request.path << " " << request.content_type);
      CHECK(request.method == "PATCH");
      CHECK(request.content_type == "application/apply-patch+yaml");
      CHECK(request.field_manager == "pgscope-operator");
      ++applies;
    }
    CHECK(applies >= 4);
  }

  {  // health endpoints and metrics
    CHECK(op->get("/healthz").status == 200);
    CHECK(op->get("/readyz").status == 200);
    CHECK(op->metric("pgscope_operator_watched_clusters") == 1);
  }
}

TEST_CASE("with --monitor-kind=PodMonitor the monitors select pods directly, database and pooler apart",
          "[create]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--monitor-kind=PodMonitor"});
  const auto dump = env.dumper({op.get()});
  const std::string c = "acid-podmonitor";
  env.create_cluster("minimal-postgres-manifest.yaml", kNs, c, [](json& pg) {
    pg["spec"]["enableConnectionPooler"] = true;
    pg["spec"]["enableReplicaConnectionPooler"] = true;
  });
  const double converged = await(
      "PodMonitors of the database and both poolers",
      [&] {
        return env.get("monitoring.coreos.com/v1", "PodMonitor", kNs, c + "-pgscope") &&
               env.get("monitoring.coreos.com/v1", "PodMonitor", kNs, c + "-pooler-pgscope") &&
               env.get("monitoring.coreos.com/v1", "PodMonitor", kNs, c + "-pooler-repl-pgscope") &&
               env.get("apps/v1", "Deployment", kNs, c + "-pgscope-pooler");
      },
      std::chrono::seconds(30), dump);
  std::cout << "[create] PodMonitor mode with poolers converged in " << converged << " s" << std::endl;

  CHECK_FALSE(env.get("monitoring.coreos.com/v1", "ServiceMonitor", kNs, c + "-pgscope"));
  CHECK_FALSE(env.get("v1", "Service", kNs, c + "-pgscope"));
  for (const auto& object : env.managed_objects()) {
    INFO(object_id(object));
    CHECK(schema_problems(object) == "");
  }

  const auto all_pods = env.api().list("v1", "Pod", kNs);
  const auto db_pods = env.pods(kNs, c, "spilo");
  const auto monitor = *env.get("monitoring.coreos.com/v1", "PodMonitor", kNs, c + "-pgscope");
  CHECK(names_selected(monitor["spec"]["selector"]["matchLabels"], all_pods) ==
        std::vector<std::string>{c + "-0", c + "-1"});
  const auto& endpoint = monitor["spec"]["podMetricsEndpoints"][0];
  require_target_labels(endpoint.value("relabelings", json::array()), db_pods,
                        endpoint.value("portNumber", 0), kNs, c);

  for (const std::string& pooler : {c + "-pooler", c + "-pooler-repl"}) {
    INFO(pooler);
    const auto pooler_monitor = *env.get("monitoring.coreos.com/v1", "PodMonitor", kNs, pooler + "-pgscope");
    const auto selected = names_selected(pooler_monitor["spec"]["selector"]["matchLabels"], all_pods);
    CHECK(selected == std::vector<std::string>{pooler + "-sim-0", pooler + "-sim-1"});
    std::vector<json> pooler_pods;
    for (const auto& pod : all_pods) {
      if (label(pod, "connection-pooler") == pooler) pooler_pods.push_back(pod);
    }
    const auto& pooler_endpoint = pooler_monitor["spec"]["podMetricsEndpoints"][0];
    for (const auto& pod : pooler_pods) {
      const auto labels = relabel_pod_target(pooler_endpoint.value("relabelings", json::array()), pod, 5432);
      INFO("target " << pod["metadata"]["name"]);
      CHECK(labels.count("cluster"));
      if (labels.count("cluster")) CHECK(labels.at("cluster") == c);
      CHECK(labels.count("pooler"));
      if (labels.count("pooler")) CHECK(labels.at("pooler") == pooler);
      CHECK(labels.count("role"));
      if (labels.count("role")) CHECK(labels.at("role") == label(pod, "spilo-role"));
      // Multi-target: the pooler pod is the target, the exporter the address.
      CHECK(labels.count("__param_target"));
      if (labels.count("__param_target")) {
        CHECK(labels.at("__param_target") ==
              "pod-ip-of-" + pod["metadata"]["name"].get<std::string>() + ":5432");
      }
      CHECK(labels.count("__address__"));
      if (labels.count("__address__")) {
        CHECK(labels.at("__address__").rfind(c + "-pgscope-pooler." + std::string(kNs) + ".svc:", 0) == 0);
      }
    }
  }
}

TEST_CASE("with --namespaces only the listed namespaces' clusters are monitored", "[create]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--namespaces=watched-a,watched-b", "--release=kube-prometheus-stack"});
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", "watched-a", "acid-a");
  env.create_cluster("minimal-postgres-manifest.yaml", "watched-b", "acid-b");
  env.create_cluster("minimal-postgres-manifest.yaml", "ignored", "acid-ignored");
  await(
      "both watched clusters' objects",
      [&] {
        return env.all_present(cluster_objects("watched-a", "acid-a", {})) &&
               env.all_present(cluster_objects("watched-b", "acid-b", {}));
      },
      std::chrono::seconds(30), dump);
  env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1000), std::chrono::seconds(30),
                  {op.get()});
  CHECK(env.managed_objects("ignored").empty());
  CHECK(env.cluster_events("ignored", "acid-ignored").empty());
  CHECK(op->metric("pgscope_operator_watched_clusters") == 2);
  // kube-prometheus-stack's Prometheus selects on release: every monitor and rule carries it.
  for (const auto& object : env.managed_objects()) {
    const std::string kind = object["kind"];
    if (kind != "ServiceMonitor" && kind != "PrometheusRule") continue;
    INFO(object_id(object));
    CHECK(label(object, "release") == "kube-prometheus-stack");
  }
}

}  // namespace pgscope::e2e
