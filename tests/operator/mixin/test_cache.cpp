// The cost of a cluster's rules: one jsonnet evaluation per set of
// overrides, then a copy with the cluster's matchers. Figures go to stdout.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "mixin_test_support.hpp"

namespace pgscope::test {
namespace {

op::MixinSettings with_capacity(std::size_t capacity) {
  op::MixinSettings settings;
  settings.cache_capacity = capacity;
  return settings;
}

}  // namespace

TEST_CASE("a cluster's rules are evaluated once per set of overrides", "[mixin][cache]") {
  Stopwatch construct;
  const op::ClusterMixin mixin(with_capacity(8));
  const double construct_ms = construct.wall_ms(), construct_cpu = construct.cpu_ms();

  Stopwatch cold;
  const auto first = mixin.rule_groups("db", "acid-one", {});
  const double cold_ms = cold.wall_ms(), cold_cpu = cold.cpu_ms();
  CHECK(mixin.cache_stats().evaluations == 1);

  // Another cluster without overrides: the same evaluation, other matchers.
  Stopwatch other;
  const auto second = mixin.rule_groups("db", "acid-two", {});
  const double other_ms = other.wall_ms();
  CHECK(mixin.cache_stats().evaluations == 1);
  CHECK(first != second);

  constexpr int kRepeats = 200;
  Stopwatch repeat;
  for (int i = 0; i < kRepeats; ++i) mixin.rule_groups("db", "acid-" + std::to_string(i), {});
  const double per_cluster_ms = repeat.wall_ms() / kRepeats, per_cluster_cpu = repeat.cpu_ms() / kRepeats;
  CHECK(mixin.cache_stats().evaluations == 1);
  CHECK(mixin.cache_stats().hits == kRepeats + 1);

  // Overrides of their own: one more evaluation, shared by clusters with the same ones.
  Stopwatch cold_overrides;
  mixin.rule_groups("db", "acid-one", {{"noLeaderFor", "2m"}});
  const double cold_overrides_ms = cold_overrides.wall_ms(), cold_overrides_cpu = cold_overrides.cpu_ms();
  mixin.rule_groups("db", "acid-two", {{"noLeaderFor", "2m"}});
  CHECK(mixin.cache_stats().evaluations == 2);
  CHECK(mixin.cache_stats().entries == 2);

  std::cout << "[figures] ClusterMixin construction: " << construct_ms << " ms wall, " << construct_cpu
            << " ms CPU\n"
            << "[figures] first cluster (cold, jsonnet): " << cold_ms << " ms wall, " << cold_cpu
            << " ms CPU\n"
            << "[figures] first cluster with new overrides (cold): " << cold_overrides_ms << " ms wall, "
            << cold_overrides_cpu << " ms CPU\n"
            << "[figures] second cluster, same overrides (cached): " << other_ms << " ms wall\n"
            << "[figures] cached, mean of " << kRepeats << " clusters: " << per_cluster_ms << " ms wall, "
            << per_cluster_cpu << " ms CPU\n";
  // A cached cluster costs a copy, far below an evaluation (CPU time: the machine may be busy).
  CHECK(per_cluster_cpu * 50 < cold_cpu);
  CHECK(per_cluster_cpu < 10);
}

TEST_CASE("the cache forgets the least recently used overrides first", "[mixin][cache]") {
  const op::ClusterMixin mixin(with_capacity(2));
  const std::map<std::string, nlohmann::json> a = {{"noLeaderFor", "2m"}}, b = {{"noLeaderFor", "3m"}},
                                              c = {{"noLeaderFor", "4m"}};
  mixin.rule_groups("db", "x", a);
  mixin.rule_groups("db", "x", b);
  mixin.rule_groups("db", "x", a);  // a is now the most recent
  CHECK(mixin.cache_stats().evaluations == 2);
  mixin.rule_groups("db", "x", c);  // evicts b
  CHECK(mixin.cache_stats().entries == 2);
  mixin.rule_groups("db", "x", a);
  CHECK(mixin.cache_stats().evaluations == 3);
  mixin.rule_groups("db", "x", b);
  CHECK(mixin.cache_stats().evaluations == 4);
}

TEST_CASE("concurrent callers share one evaluation and get the same rules", "[mixin][cache]") {
  const op::ClusterMixin mixin(with_capacity(4));
  const std::map<std::string, nlohmann::json> overrides = {{"pausedFor", "2h"}};
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = mixin.rule_groups("db", "acid-main", overrides).dump(); });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mixin.cache_stats().evaluations == 1);
  for (const auto& result : results) CHECK(result == results.front());
}

TEST_CASE("the same input gives the same bytes", "[mixin][cache]") {
  // A fresh instance (no cache shared) and overrides in another order.
  const op::ClusterMixin fresh;
  const auto& shared = shared_mixin();
  const auto annotations_one = nlohmann::json::parse(
      R"({"pgscope.io/noLeaderFor": "2m", "pgscope.io/replicationLagBytesWarning": "536870912"})");
  const auto annotations_two = nlohmann::json::parse(
      R"({"pgscope.io/replicationLagBytesWarning": "536870912", "pgscope.io/noLeaderFor": "2m"})");
  const auto one =
      fresh.rule_groups("db", "acid-main", fresh.threshold_overrides(annotations_one, {})).dump();
  const auto two =
      shared.rule_groups("db", "acid-main", shared.threshold_overrides(annotations_two, {})).dump();
  CHECK(one == two);
  CHECK(fresh.dashboards() == shared.dashboards());
}

}  // namespace pgscope::test
