// Two replicas with --leader-elect: one writes, the other waits; when the
// leader dies without a word (SIGKILL), the other takes the Lease within
// lease duration + retry period and reconciles what changed meanwhile.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

const std::vector<std::string> kLeaderFlags{"--leader-elect", "--leader-elect.lease-duration=2s",
                                            "--leader-elect.renew-deadline=1500ms",
                                            "--leader-elect.retry-period=300ms", "--resync-period=1s"};

std::string lease_holder(const E2eEnvironment& env) {
  const auto lease =
      env.get("coordination.k8s.io/v1", "Lease", E2eEnvironment::kOperatorNamespace, "pgscope-operator");
  return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
}

bool held_by(const E2eEnvironment& env, const OperatorProcess& process) {
  return lease_holder(env).rfind(process.name() + "_", 0) == 0;
}

// Writes of a user other than Lease updates.
std::size_t non_lease_writes(const E2eEnvironment& env, const std::string& user, std::string* what) {
  std::size_t count = 0;
  for (const auto& request : env.api().requests()) {
    if (request.user != user || !request.changed || request.path.find("/leases") != std::string::npos)
      continue;
    ++count;
    if (what) *what += request.method + " " + request.path + "\n";
  }
  return count;
}

}  // namespace

TEST_CASE("two operators with leader election: one writes; kill -9 the leader and the other takes over",
          "[leader]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  const std::string user_a = E2eEnvironment::kUser, user_b = "pgscope-operator-b";
  env.add_operator_user(user_b);
  const std::string ns = "leader";

  auto a = env.start_operator(kLeaderFlags, user_a);
  auto dump = env.dumper({a.get()});
  await(
      "operator a to hold the Lease", [&] { return held_by(env, *a); }, std::chrono::seconds(15), dump);
  auto b = env.start_operator(kLeaderFlags, user_b);
  dump = env.dumper({a.get(), b.get()});

  env.create_cluster("minimal-postgres-manifest.yaml", ns, "acid-before");
  await(
      "the first cluster's objects", [&] { return env.all_present(cluster_objects(ns, "acid-before", {})); },
      std::chrono::seconds(30), dump);
  // A few resyncs and renewals go by.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  std::string b_writes;
  CHECK(non_lease_writes(env, user_b, &b_writes) == 0);
  INFO("writes by the standby:\n" << b_writes);
  CHECK(env.api().writes_by(user_b) == 0);  // not even the Lease
  CHECK(non_lease_writes(env, user_a, nullptr) > 0);
  CHECK(held_by(env, *a));
  CHECK(schema_problems(*env.get("coordination.k8s.io/v1", "Lease", E2eEnvironment::kOperatorNamespace,
                                 "pgscope-operator")) == "");
  CHECK(a->metric("pgscope_operator_leader") == 1);
  CHECK(b->metric("pgscope_operator_leader") == 0);

  const auto killed_at = Clock::now();
  a->kill_hard();
  env.create_cluster("minimal-postgres-manifest.yaml", ns, "acid-after");
  const double takeover = await(
      "operator b to take the Lease", [&] { return held_by(env, *b); }, std::chrono::seconds(15), dump);
  const double reconciled = await(
      "the cluster created after the kill to be reconciled",
      [&] { return env.all_present(cluster_objects(ns, "acid-after", {})); }, std::chrono::seconds(30), dump);
  const double reconciled_since_kill = seconds_since(killed_at);
  (void)reconciled;
  std::cout << "[leader] takeover " << takeover << " s after kill -9 of the leader (lease 2 s, retry 0.3 s); "
            << "new cluster reconciled " << reconciled_since_kill << " s after the kill" << std::endl;
  // lease duration + retry period, and slack for a loaded machine.
  CHECK(takeover <= 2.0 + 0.3 + 1.5);
  CHECK(non_lease_writes(env, user_b, nullptr) > 0);
  CHECK(b->metric("pgscope_operator_leader") == 1);
  CHECK(matches_render(env) == "");
}

}  // namespace pgscope::e2e
