// What someone else changes on the operator's objects is put back; a
// converged state costs no writes, also not to a freshly started operator.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {

TEST_CASE("drift is repaired: a deleted ServiceMonitor, edited endpoints, an edited Service label",
          "[drift]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  // A long resync: only the watch of the operator's own objects can notice.
  auto op = env.start_operator({"--resync-period=10m"});
  const std::string ns = "drift", c = "acid-drift";
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  await(
      "the cluster's objects", [&] { return env.all_present(cluster_objects(ns, c, {})); },
      std::chrono::seconds(30), dump);
  env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1000), std::chrono::seconds(30),
                  {op.get()});
  const auto monitoring = std::string("monitoring.coreos.com/v1");
  const auto original_monitor = *env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
  const auto original_service = *env.get("v1", "Service", ns, c + "-pgscope");

  auto started = Clock::now();
  env.api().remove(monitoring, "ServiceMonitor", ns, c + "-pgscope");
  await(
      "the deleted ServiceMonitor back",
      [&] {
        const auto now = env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
        return now && (*now)["metadata"]["uid"] != original_monitor["metadata"]["uid"];
      },
      std::chrono::seconds(15), dump);
  std::cout << "[drift] deleted ServiceMonitor recreated after " << seconds_since(started) << " s"
            << std::endl;
  CHECK((*env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope"))["spec"] == original_monitor["spec"]);

  started = Clock::now();
  env.api().merge_patch(
      monitoring, "ServiceMonitor", ns, c + "-pgscope",
      {{"spec", {{"endpoints", json::array({json{{"port", "web"}, {"path", "/other"}}})}}}});
  await(
      "the ServiceMonitor's endpoints restored",
      [&] {
        const auto now = env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
        return now && (*now)["spec"]["endpoints"] == original_monitor["spec"]["endpoints"];
      },
      std::chrono::seconds(15), dump);
  std::cout << "[drift] edited endpoints restored after " << seconds_since(started) << " s" << std::endl;

  started = Clock::now();
  env.api().merge_patch("v1", "Service", ns, c + "-pgscope",
                        {{"metadata", {{"labels", {{"pgscope.io/component", "something-else"}}}}}});
  await(
      "the Service's label restored",
      [&] {
        const auto now = env.get("v1", "Service", ns, c + "-pgscope");
        return now && (*now)["metadata"]["labels"] == original_service["metadata"]["labels"];
      },
      std::chrono::seconds(15), dump);
  std::cout << "[drift] edited Service label restored after " << seconds_since(started) << " s" << std::endl;

  // A dashboard ConfigMap deleted by hand comes back too.
  const auto dashboards = env.dashboards(ns);
  REQUIRE_FALSE(dashboards.empty());
  const std::string dashboard = dashboards.front()["metadata"]["name"];
  env.api().remove("v1", "ConfigMap", ns, dashboard);
  await(
      "the deleted dashboard back", [&] { return env.get("v1", "ConfigMap", ns, dashboard).has_value(); },
      std::chrono::seconds(15), dump);

  // An edit that lands while the operator's own write is still on its way
  // back: the late answer must not hide the edit from its cache (it did
  // once; only the next resync, 10 minutes here, would have seen it).
  kubefake::FaultRule late_answer;
  late_answer.method = "PATCH";
  late_answer.path_contains = "/servicemonitors/" + c + "-pgscope";
  late_answer.delay_answer = std::chrono::milliseconds(2000);
  env.api().add_fault(late_answer);
  const auto recreated = *env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
  started = Clock::now();
  env.api().remove(monitoring, "ServiceMonitor", ns, c + "-pgscope");
  await(
      "the ServiceMonitor written again (its answer held back 2 s)",
      [&] {
        const auto now = env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
        return now && (*now)["metadata"]["uid"] != recreated["metadata"]["uid"];
      },
      std::chrono::seconds(15), dump);
  env.api().merge_patch(
      monitoring, "ServiceMonitor", ns, c + "-pgscope",
      {{"spec", {{"endpoints", json::array({json{{"port", "web"}, {"path", "/edited-in-flight"}}})}}}});
  await(
      "the edit made before the operator's answer arrived repaired",
      [&] {
        const auto now = env.get(monitoring, "ServiceMonitor", ns, c + "-pgscope");
        return now && (*now)["spec"]["endpoints"] == original_monitor["spec"]["endpoints"];
      },
      std::chrono::seconds(15), dump);
  std::cout << "[drift] edit made while the operator's write was in flight repaired after "
            << seconds_since(started) << " s (its answer held back 2 s)" << std::endl;

  CHECK(matches_render(env) == "");
  // Repaired, then quiet: no fight with itself.
  const auto writes = env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1000),
                                      std::chrono::seconds(20), {op.get()});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(env.api().writes_by(E2eEnvironment::kUser) == writes);
}

TEST_CASE("an operator restarted on a converged state makes no writes", "[restart]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  const std::string ns = "restart";
  {
    auto first = env.start_operator();
    env.create_cluster("minimal-postgres-manifest.yaml", ns, "acid-one");
    env.create_cluster("complete-postgres-manifest.yaml", ns, "acid-two", [](json& pg) {
      pg["spec"]["enableConnectionPooler"] = true;
      pg["spec"]["enableReplicaConnectionPooler"] = true;
    });
    await(
        "both clusters' objects",
        [&] {
          return env.all_present(cluster_objects(ns, "acid-one", {})) &&
                 env.all_present(cluster_objects(ns, "acid-two", {false, true, true, true}));
        },
        std::chrono::seconds(40), env.dumper({first.get()}));
    const auto writes = env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1500),
                                        std::chrono::seconds(30), {first.get()});
    std::cout << "[restart] writes to converge two clusters: " << writes << std::endl;
    CHECK(first->stop() == 0);
  }
  env.api().clear_requests();
  const auto started = Clock::now();
  auto second = env.start_operator({"--resync-period=1s"});
  std::cout << "[restart] second operator ready after " << seconds_since(started) << " s" << std::endl;
  // Its first full reconcile of every cluster, then resyncs.
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  std::size_t writes = 0;
  std::string what;
  for (const auto& request : env.api().requests()) {
    if (request.user == E2eEnvironment::kUser && request.changed) {
      ++writes;
      what += request.method + " " + request.path + "\n";
    }
  }
  INFO("writes by the restarted operator:\n" << what << env.describe({second.get()}));
  std::cout << "[restart] writes by the restarted operator on a converged state: " << writes << std::endl;
  CHECK(writes == 0);
  CHECK(env.api().writes_by(E2eEnvironment::kUser) == 0);
  CHECK(second->metric("pgscope_operator_watched_clusters") == 2);
}

TEST_CASE("a cluster deleted while the operator was down leaves nothing behind", "[restart]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  const std::string ns = "gone-while-down", c = "acid-gone";
  {
    auto first = env.start_operator();
    env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
    await(
        "the cluster's objects and dashboards",
        [&] { return env.all_present(cluster_objects(ns, c, {})) && !env.dashboards(ns).empty(); },
        std::chrono::seconds(30), env.dumper({first.get()}));
    env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1000), std::chrono::seconds(30),
                    {first.get()});
    CHECK(first->stop() == 0);
  }
  env.delete_cluster(ns, c);
  // The garbage collector takes what the cluster owned; the shared dashboards are the operator's to remove.
  await(
      "the owned objects gone", [&] { return env.none_present(all_possible_cluster_objects(ns, c)); },
      std::chrono::seconds(10), env.dumper());
  REQUIRE_FALSE(env.dashboards(ns).empty());
  const auto started = Clock::now();
  auto second = env.start_operator();
  await(
      "the dashboards of the namespace without clusters to go", [&] { return env.dashboards(ns).empty(); },
      std::chrono::seconds(30), env.dumper({second.get()}));
  std::cout << "[restart] dashboards of a cluster deleted while down removed " << seconds_since(started)
            << " s after the operator started" << std::endl;
  CHECK(env.managed_objects().empty());
}

}  // namespace pgscope::e2e
