// A cluster changes shape: more or fewer instances (the monitors' selectors
// already cover them: no writes), poolers switched on and off (their monitors
// and the pooler exporter come and go).
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

std::vector<std::string> selected_names(const json& selector, const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) {
    if (labels_match(selector, object["metadata"].value("labels", json::object()))) {
      out.push_back(object["metadata"]["name"]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("scaling a cluster needs no writes: the selectors cover the new pods", "[scale]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--resync-period=1s"});
  const std::string ns = "scale", c = "acid-scale";
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  await(
      "the cluster's objects", [&] { return env.all_present(cluster_objects(ns, c, {})); },
      std::chrono::seconds(30), dump);
  const auto writes_converged = env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1500),
                                                std::chrono::seconds(30), {op.get()});
  std::cout << "[scale] writes to converge a new cluster: " << writes_converged << std::endl;

  // prometheus-operator reports on the monitor in its status: a MODIFIED
  // event of our own object that must reconcile to nothing.
  auto monitor_with_status = *env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pgscope");
  monitor_with_status["status"] = {
      {"bindings",
       json::array({json{{"group", "monitoring.coreos.com"},
                         {"resource", "prometheuses"},
                         {"name", "kube-prometheus-stack"},
                         {"namespace", "monitoring"},
                         {"conditions", json::array({json{{"type", "Accepted"},
                                                          {"status", "True"},
                                                          {"lastTransitionTime", "2026-01-01T00:00:00Z"},
                                                          {"observedGeneration", 1}}})}}})}};
  env.api().update_status(monitor_with_status);

  env.patch_cluster(ns, c, {{"spec", {{"numberOfInstances", 3}}}});
  await(
      "the third database pod", [&] { return env.pods(ns, c, "spilo").size() == 3; },
      std::chrono::seconds(10), dump);
  // Several resyncs (1 s) and the postgresql's MODIFIED events go by.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  const auto writes_after_up = env.api().writes_by(E2eEnvironment::kUser);
  std::cout << "[scale] writes by the operator for scaling 2->3: " << writes_after_up - writes_converged
            << std::endl;
  CHECK(writes_after_up == writes_converged);

  const auto service = *env.get("v1", "Service", ns, c + "-pgscope");
  CHECK(selected_names(service["spec"]["selector"], env.api().list("v1", "Pod", ns)) ==
        std::vector<std::string>{c + "-0", c + "-1", c + "-2"});
  const auto monitor = *env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pgscope");
  const auto new_pod = *env.get("v1", "Pod", ns, c + "-2");
  const auto labels =
      relabel_pod_target(monitor["spec"]["endpoints"][0].value("relabelings", json::array()), new_pod, 9187);
  CHECK(labels.count("role"));
  if (labels.count("role")) CHECK(labels.at("role") == "replica");
  CHECK(labels.count("pod"));
  if (labels.count("pod")) CHECK(labels.at("pod") == c + "-2");

  env.patch_cluster(ns, c, {{"spec", {{"numberOfInstances", 1}}}});
  await(
      "one database pod left", [&] { return env.pods(ns, c, "spilo").size() == 1; }, std::chrono::seconds(10),
      dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto writes_after_down = env.api().writes_by(E2eEnvironment::kUser);
  std::cout << "[scale] writes by the operator for scaling 3->1: " << writes_after_down - writes_after_up
            << std::endl;
  CHECK(writes_after_down == writes_after_up);
  CHECK(env.all_present(cluster_objects(ns, c, {})));
}

TEST_CASE("enabling and disabling the connection poolers adds and removes their monitoring", "[pooler]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator();
  const std::string ns = "pooler", c = "acid-test-cluster";
  const auto dump = env.dumper({op.get()});
  // Zalando's complete manifest, as it ships (poolers off).
  env.create_cluster("complete-postgres-manifest.yaml", ns, c);
  await(
      "the cluster's objects", [&] { return env.all_present(cluster_objects(ns, c, {})); },
      std::chrono::seconds(30), dump);
  CHECK_FALSE(env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pooler-pgscope"));
  CHECK_FALSE(env.get("apps/v1", "Deployment", ns, c + "-pgscope-pooler"));

  const auto both = cluster_objects(ns, c, {false, true, true, true});
  auto started = Clock::now();
  env.patch_cluster(ns, c,
                    {{"spec", {{"enableConnectionPooler", true}, {"enableReplicaConnectionPooler", true}}}});
  await(
      "monitors of both poolers and the pooler exporter", [&] { return env.all_present(both); },
      std::chrono::seconds(30), dump);
  std::cout << "[pooler] both poolers monitored " << seconds_since(started) << " s after enabling them"
            << std::endl;

  for (const auto& object : env.managed_objects(ns)) {
    INFO(object_id(object));
    CHECK(schema_problems(object) == "");
  }
  const auto services = env.api().list("v1", "Service", ns);
  const auto pods = env.api().list("v1", "Pod", ns);
  for (const std::string& pooler : {c + "-pooler", c + "-pooler-repl"}) {
    INFO(pooler);
    const auto monitor = *env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, pooler + "-pgscope");
    CHECK(selected_names(monitor["spec"]["selector"].value("matchLabels", json::object()), services) ==
          std::vector<std::string>{pooler + "-pgscope"});
    const auto service = *env.get("v1", "Service", ns, pooler + "-pgscope");
    CHECK(selected_names(service["spec"]["selector"], pods) ==
          std::vector<std::string>{pooler + "-sim-0", pooler + "-sim-1"});
  }
  // The database monitor's Service still selects database pods only.
  const auto db_service = *env.get("v1", "Service", ns, c + "-pgscope");
  CHECK(selected_names(db_service["spec"]["selector"], pods) == std::vector<std::string>{c + "-0", c + "-1"});
  // The exporter reads the pooler user's password from Zalando's secret.
  const auto exporter = *env.get("apps/v1", "Deployment", ns, c + "-pgscope-pooler");
  bool secret_found = false;
  for (const auto& volume : exporter["spec"]["template"]["spec"].value("volumes", json::array())) {
    if (!volume.contains("secret")) continue;
    const std::string secret = volume["secret"].value("secretName", "");
    INFO("secret " << secret);
    CHECK(env.get("v1", "Secret", ns, secret));
    secret_found = true;
  }
  CHECK(secret_found);
  CHECK(matches_render(env) == "");

  started = Clock::now();
  env.patch_cluster(ns, c, {{"spec", {{"enableReplicaConnectionPooler", false}}}});
  const auto replica_only =
      std::vector<ObjectRef>{{"monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pooler-repl-pgscope"},
                             {"v1", "Service", ns, c + "-pooler-repl-pgscope"}};
  await(
      "the replica pooler's monitor to go", [&] { return env.none_present(replica_only); },
      std::chrono::seconds(30), dump);
  std::cout << "[pooler] replica pooler monitor removed after " << seconds_since(started) << " s"
            << std::endl;
  CHECK(env.all_present(cluster_objects(ns, c, {false, true, true, false})));
  await(
      "a Deleted Event for the replica pooler's monitor",
      [&] { return env.has_event(ns, c, "Normal", "Deleted", c + "-pooler-repl-pgscope"); },
      std::chrono::seconds(10), dump);

  started = Clock::now();
  env.patch_cluster(ns, c, {{"spec", {{"enableConnectionPooler", false}}}});
  std::vector<ObjectRef> pooler_parts;
  for (const auto& ref : both) {
    if (ref.name != c + "-pgscope") pooler_parts.push_back(ref);
  }
  await(
      "every pooler object to go", [&] { return env.none_present(pooler_parts); }, std::chrono::seconds(30),
      dump);
  std::cout << "[pooler] pooler monitoring and exporter removed after " << seconds_since(started) << " s"
            << std::endl;
  CHECK(env.all_present(cluster_objects(ns, c, {})));
  CHECK(matches_render(env) == "");

  // Zalando runs the master pooler for a connectionPooler section alone
  // (enableConnectionPooler unset), with the user named there.
  started = Clock::now();
  env.patch_cluster(
      ns, c, {{"spec", {{"enableConnectionPooler", nullptr}, {"connectionPooler", {{"user", "bouncer"}}}}}});
  await(
      "the master pooler's monitoring for a connectionPooler section",
      [&] {
        return env.all_present(cluster_objects(ns, c, {false, true, true, false}));
      },
      std::chrono::seconds(30), dump);
  std::cout << "[pooler] pooler from a connectionPooler section monitored after " << seconds_since(started)
            << " s" << std::endl;
  REQUIRE(env.pods(ns, c, "db-connection-pooler").size() == 2);
  const auto exporter_now = *env.get("apps/v1", "Deployment", ns, c + "-pgscope-pooler");
  bool bouncer_secret = false;
  for (const auto& volume : exporter_now["spec"]["template"]["spec"].value("volumes", json::array())) {
    if (volume.contains("secret")) {
      bouncer_secret |= volume["secret"].value("secretName", "") ==
                        "bouncer." + c + ".credentials.postgresql.acid.zalan.do";
    }
  }
  CHECK(bouncer_secret);
  // enableConnectionPooler: false wins over the section.
  env.patch_cluster(ns, c, {{"spec", {{"enableConnectionPooler", false}}}});
  await(
      "the pooler's monitoring gone again", [&] { return env.none_present(pooler_parts); },
      std::chrono::seconds(30), dump);
  CHECK(env.pods(ns, c, "db-connection-pooler").empty());
}

}  // namespace pgscope::e2e
