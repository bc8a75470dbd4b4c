// The operator in a cluster that is not ready for it: prometheus-operator's
// CRDs missing, RBAC that forbids a kind. It must say so (Warning Events),
// stay up, and catch up as soon as the cluster is fixed.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {

TEST_CASE("missing monitoring CRDs: a Warning Event, the operator stays up, objects appear once installed",
          "[crds]") {
  E2E_REQUIRE_REFERENCE_FILES();
  EnvironmentOptions options;
  options.monitoring_crds = false;
  E2eEnvironment env(options);
  auto op = env.start_operator();
  const auto dump = env.dumper({op.get()});
  const std::string ns = "no-crds", c = "acid-no-crds";
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  const double warned = await(
      "a MonitoringCRDsMissing Warning Event",
      [&] { return env.has_event(ns, c, "Warning", "MonitoringCRDsMissing", "ServiceMonitor"); },
      std::chrono::seconds(30), dump);
  std::cout << "[crds] MonitoringCRDsMissing reported after " << warned << " s" << std::endl;
  // What needs no CRD is there; the operator keeps running and healthy.
  await(
      "the metrics Service and the dashboards",
      [&] { return env.get("v1", "Service", ns, c + "-pgscope") && !env.dashboards(ns).empty(); },
      std::chrono::seconds(15), dump);
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    REQUIRE(op->running());
    CHECK(op->get("/healthz").status == 200);
  }

  const auto installed_at = Clock::now();
  env.install_monitoring_crds();
  await(
      "the ServiceMonitor and PrometheusRule once the CRDs are installed",
      [&] { return env.all_present(cluster_objects(ns, c, {})); }, std::chrono::seconds(90), dump);
  std::cout << "[crds] monitoring objects created " << seconds_since(installed_at)
            << " s after the CRDs were installed" << std::endl;
  CHECK(matches_render(env) == "");
  CHECK(op->get("/readyz").status == 200);
}

TEST_CASE("no write permission for prometheusrules: a Warning Event naming it, restored: the rule appears",
          "[forbidden]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  const auto shipped = shipped_rbac_rules();
  env.api().set_rules(E2eEnvironment::kUser,
                      without_verbs(shipped, "monitoring.coreos.com", "prometheusrules",
                                    {"create", "update", "patch", "delete"}));
  auto op = env.start_operator();
  const auto dump = env.dumper({op.get()});
  const std::string ns = "forbidden", c = "acid-forbidden";
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  const double warned = await(
      "a Forbidden Warning Event naming prometheusrules",
      [&] { return env.has_event(ns, c, "Warning", "Forbidden", "prometheusrules"); },
      std::chrono::seconds(30), dump);
  std::cout << "[forbidden] Forbidden Event after " << warned << " s" << std::endl;
  // The rest of the cluster's monitoring is not held back.
  await(
      "the ServiceMonitor and its Service",
      [&] {
        return env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pgscope") &&
               env.get("v1", "Service", ns, c + "-pgscope");
      },
      std::chrono::seconds(15), dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(op->running());
  CHECK(op->get("/healthz").status == 200);
  CHECK_FALSE(env.get("monitoring.coreos.com/v1", "PrometheusRule", ns, c + "-pgscope"));

  const auto restored_at = Clock::now();
  env.api().set_rules(E2eEnvironment::kUser, shipped);
  await(
      "the PrometheusRule once permitted",
      [&] { return env.get("monitoring.coreos.com/v1", "PrometheusRule", ns, c + "-pgscope").has_value(); },
      std::chrono::seconds(60), dump);
  std::cout << "[forbidden] PrometheusRule created " << seconds_since(restored_at)
            << " s after the permission was restored" << std::endl;
}

TEST_CASE("no permission at all for prometheusrules (not even list): reported, and recovered from",
          "[forbidden]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  const auto shipped = shipped_rbac_rules();
  env.api().set_rules(E2eEnvironment::kUser,
                      without_verbs(shipped, "monitoring.coreos.com", "prometheusrules",
                                    {"get", "list", "watch", "create", "update", "patch", "delete"}));
  auto op = env.start_operator({}, E2eEnvironment::kUser, {}, false);
  const auto dump = env.dumper({op.get()});
  const std::string ns = "forbidden-all", c = "acid-forbidden-all";
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  const auto warned_at = Clock::now();
  const bool warned = eventually(
      [&] {
        for (const auto& event : env.cluster_events(ns, c)) {
          if (event.value("type", "") == "Warning" &&
              event.value("message", "").find("prometheusrules") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20));
  INFO(env.describe({op.get()}));
  CHECK(warned);
  if (warned)
    std::cout << "[forbidden] Warning Event for unlistable prometheusrules after " << seconds_since(warned_at)
              << " s" << std::endl;
  // The kinds it may write are not held back by the one it may not.
  CHECK(eventually(
      [&] {
        return env.get("monitoring.coreos.com/v1", "ServiceMonitor", ns, c + "-pgscope") &&
               env.get("v1", "Service", ns, c + "-pgscope");
      },
      std::chrono::seconds(5)));
  REQUIRE(op->running());
  CHECK(op->get("/healthz").status == 200);

  const auto restored_at = Clock::now();
  env.api().set_rules(E2eEnvironment::kUser, shipped);
  await(
      "every object of the cluster once permitted",
      [&] { return env.all_present(cluster_objects(ns, c, {})); }, std::chrono::seconds(60), dump);
  std::cout << "[forbidden] recovered " << seconds_since(restored_at)
            << " s after the permission was restored" << std::endl;
}

}  // namespace pgscope::e2e
