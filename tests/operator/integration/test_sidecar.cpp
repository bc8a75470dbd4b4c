// Sidecar injection by annotation: every change of spec.sidecars rolls all
// database pods, so the operator must add the exporter once, keep the
// user's sidecars, and then leave the list alone (resyncs, restarts).
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

const json kUserSidecar = {
    {"name", "telegraf-sidecar"},
    {"image", "telegraf:latest"},
    {"ports", json::array({json{{"name", "metrics"}, {"containerPort", 8094}, {"protocol", "TCP"}}})},
    {"resources",
     {{"limits", {{"cpu", "500m"}, {"memory", "500Mi"}}},
      {"requests", {{"cpu", "100m"}, {"memory", "100Mi"}}}}}};

std::vector<std::string> sidecar_names(const json& postgresql) {
  std::vector<std::string> out;
  for (const auto& sidecar : postgresql["spec"].value("sidecars", json::array()))
    out.push_back(sidecar["name"]);
  return out;
}

}  // namespace

TEST_CASE("injection by annotation appends the exporter once, keeps the user's sidecar, and removes it again",
          "[sidecar]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--resync-period=1s"});
  const std::string ns = "sidecars", c = "acid-sidecar";
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c,
                     [](json& pg) { pg["spec"]["sidecars"] = json::array({kUserSidecar}); });
  await(
      "the cluster's objects", [&] { return env.all_present(cluster_objects(ns, c, {})); },
      std::chrono::seconds(30), dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(sidecar_names(env.cluster(ns, c)) == std::vector<std::string>{"telegraf-sidecar"});
  CHECK(env.zalando().rolling_restarts(ns, c) == 0);

  auto started = Clock::now();
  env.patch_cluster(ns, c, {{"metadata", {{"annotations", {{"pgscope.io/inject", "true"}}}}}});
  await(
      "the exporter sidecar after the user's",
      [&] {
        return sidecar_names(env.cluster(ns, c)) ==
               std::vector<std::string>{"telegraf-sidecar", "pgscope-exporter"};
      },
      std::chrono::seconds(30), dump);
  std::cout << "[sidecar] injected " << seconds_since(started) << " s after the annotation" << std::endl;
  const auto injected = env.cluster(ns, c);
  CHECK(injected["spec"]["sidecars"][0] == kUserSidecar);
  CHECK(schema_problems(injected) == "");
  // Its credentials come from a Secret Zalando keeps.
  for (const auto& variable : injected["spec"]["sidecars"][1].value("env", json::array())) {
    if (!variable.contains("valueFrom")) continue;
    const std::string secret = variable["valueFrom"]["secretKeyRef"].value("name", "");
    INFO(variable.dump());
    CHECK(env.get("v1", "Secret", ns, secret));
  }
  await(
      "a SidecarInjected Event", [&] { return env.has_event(ns, c, "Normal", "SidecarInjected"); },
      std::chrono::seconds(10), dump);
  // The rolled pods now run the exporter.
  await(
      "database pods with the exporter container",
      [&] {
        for (const auto& pod : env.pods(ns, c, "spilo")) {
          bool found = false;
          for (const auto& container : pod["spec"]["containers"])
            found |= container["name"] == "pgscope-exporter";
          if (!found) return false;
        }
        return true;
      },
      std::chrono::seconds(10), dump);
  CHECK(env.zalando().rolling_restarts(ns, c) == 1);
  // spec.sidecars is an atomic list in Zalando's CRD: a merge patch (with the
  // resourceVersion read) keeps the user's sidecar its owner's.
  std::size_t sidecar_patches = 0;
  for (const auto& request : env.api().requests()) {
    if (request.user != E2eEnvironment::kUser || request.path.find("/postgresqls/") == std::string::npos)
      continue;
    if (request.method == "GET") continue;
    INFO(request.method << " " << request.path << " " << request.content_type);
    CHECK(request.method == "PATCH");
    CHECK(request.content_type == "application/merge-patch+json");
    ++sidecar_patches;
  }
  CHECK(sidecar_patches == 1);

  // Resyncs, then a new operator process: no further change to the sidecars.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  CHECK(env.zalando().rolling_restarts(ns, c) == 1);
  op->stop();
  const auto rv_before_restart = env.cluster(ns, c)["metadata"]["resourceVersion"];
  auto second = env.start_operator({"--resync-period=1s"});
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  CHECK(env.zalando().rolling_restarts(ns, c) == 1);
  CHECK(env.cluster(ns, c)["metadata"]["resourceVersion"] == rv_before_restart);
  std::cout << "[sidecar] rolling restarts after injection, resyncs and an operator restart: "
            << env.zalando().rolling_restarts(ns, c) << std::endl;
  CHECK(matches_render(env) == "");

  started = Clock::now();
  env.patch_cluster(ns, c, {{"metadata", {{"annotations", {{"pgscope.io/inject", "false"}}}}}});
  await(
      "the exporter sidecar removed, the user's kept",
      [&] { return sidecar_names(env.cluster(ns, c)) == std::vector<std::string>{"telegraf-sidecar"}; },
      std::chrono::seconds(30), env.dumper({second.get()}));
  std::cout << "[sidecar] removed " << seconds_since(started) << " s after the annotation turned false"
            << std::endl;
  CHECK(env.cluster(ns, c)["spec"]["sidecars"][0] == kUserSidecar);
  await(
      "a SidecarRemoved Event", [&] { return env.has_event(ns, c, "Normal", "SidecarRemoved"); },
      std::chrono::seconds(10), env.dumper({second.get()}));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  CHECK(env.zalando().rolling_restarts(ns, c) == 2);
}

TEST_CASE("--inject-sidecars injects into a cluster without sidecars, exactly once", "[sidecar]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--inject-sidecars", "--resync-period=1s"});
  const std::string ns = "sidecars-flag", c = "acid-flag";
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  await(
      "the exporter sidecar",
      [&] { return sidecar_names(env.cluster(ns, c)) == std::vector<std::string>{"pgscope-exporter"}; },
      std::chrono::seconds(30), dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  // The cluster was created without the sidecar: adding it is the one roll.
  CHECK(env.zalando().rolling_restarts(ns, c) == 1);
  CHECK(schema_problems(env.cluster(ns, c)) == "");

  // An opt-out annotation wins over the flag.
  env.patch_cluster(ns, c, {{"metadata", {{"annotations", {{"pgscope.io/inject", "false"}}}}}});
  await(
      "the sidecar removed", [&] { return sidecar_names(env.cluster(ns, c)).empty(); },
      std::chrono::seconds(30), dump);
  CHECK_FALSE(env.cluster(ns, c)["spec"].contains("sidecars"));
}

}  // namespace pgscope::e2e
