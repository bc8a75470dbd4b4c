// A flaky API server: 500s, a reset connection, a slow answer, dropped
// watches, and a gap in the watches during which a cluster is deleted,
// another created, and the history compacted (410 on rewatch). The end state
// must be what render says for the clusters that exist: nothing missed,
// nothing left behind.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

kubefake::FaultRule fault(const std::string& method, const std::string& path_contains, int times) {
  kubefake::FaultRule rule;
  rule.method = method;
  rule.path_contains = path_contains;
  rule.times = times;
  return rule;
}

}  // namespace

TEST_CASE("faults are survived with no missed change and nothing left behind", "[faults]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto& api = env.api();

  // Faults from the start: they hit the first lists, watches and writes.
  auto server_error = fault("PATCH", "servicemonitors", 2);
  server_error.status = 500;
  api.add_fault(server_error);
  auto unavailable = fault("GET", "configmaps?labelSelector", 1);  // the first list, not the watch
  unavailable.status = 503;
  unavailable.retry_after_seconds = 1;
  api.add_fault(unavailable);
  auto slow = fault("PATCH", "prometheusrules", 1);
  slow.delay = std::chrono::milliseconds(2000);
  api.add_fault(slow);
  auto reset = fault("PATCH", "/services/", 1);
  reset.reset = true;
  api.add_fault(reset);
  auto dropped = fault("GET", "postgresqls?watch", 3);
  dropped.watch_events_then_drop = 1;
  api.add_fault(dropped);

  auto started = Clock::now();
  auto op = env.start_operator();
  const auto dump = env.dumper({op.get()});
  const std::string ns_a = "faults-a", ns_b = "faults-b";
  env.create_cluster("minimal-postgres-manifest.yaml", ns_a, "acid-one",
                     [](json& pg) { pg["spec"]["enableConnectionPooler"] = true; });
  env.create_cluster("minimal-postgres-manifest.yaml", ns_a, "acid-keep");
  await(
      "both clusters' objects despite the faults",
      [&] {
        return env.all_present(cluster_objects(ns_a, "acid-one", {false, true, true, false})) &&
               env.all_present(cluster_objects(ns_a, "acid-keep", {}));
      },
      std::chrono::seconds(45), dump);
  std::cout << "[faults] converged under 500/503/reset/slow/dropped-watch faults in "
            << seconds_since(started) << " s" << std::endl;
  std::size_t failed = 0;
  for (const auto& request : api.requests()) {
    // Faults answer before authentication: such requests carry no user.
    if (request.status >= 500 || request.status == 0) ++failed;
  }
  std::cout << "[faults] requests answered with a fault: " << failed << std::endl;
  CHECK(failed >= 4);

  // The gap: every watch fails while things change; then the history is compacted.
  auto no_watch = fault("GET", "watch=true", -1);
  no_watch.status = 500;
  api.add_fault(no_watch);
  api.drop_watches();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  env.delete_cluster(ns_a, "acid-one");
  env.delete_cluster(ns_a, "acid-keep");
  env.create_cluster("minimal-postgres-manifest.yaml", ns_b, "acid-two",
                     [](json& pg) { pg["spec"]["enableReplicaConnectionPooler"] = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  api.compact();
  api.clear_faults();
  started = Clock::now();

  await(
      "the changes of the gap: faults-a empty (dashboards included), acid-two complete",
      [&] {
        return env.managed_objects(ns_a).empty() &&
               env.all_present(cluster_objects(ns_b, "acid-two", {false, true, false, true})) &&
               !env.dashboards(ns_b).empty();
      },
      std::chrono::seconds(60), dump);
  std::cout << "[faults] the gap's deletions and creation caught up " << seconds_since(started)
            << " s after the faults ended" << std::endl;
  env.await_quiet(E2eEnvironment::kUser, std::chrono::milliseconds(1500), std::chrono::seconds(30),
                  {op.get()});
  const auto problems = matches_render(env);
  INFO(problems << env.describe({op.get()}));
  CHECK(problems == "");
  CHECK(op->running());
  CHECK(op->get("/healthz").status == 200);
  const double relists = op->metric("pgscope_operator_relists_total{resource=\"postgresqls\"}");
  std::cout << "[faults] postgresql relists: " << relists << std::endl;
  CHECK(relists >= 1);
}

}  // namespace pgscope::e2e
