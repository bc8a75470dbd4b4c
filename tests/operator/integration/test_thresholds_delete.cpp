// Per-cluster alert thresholds through annotations, and deletion: nothing of
// a deleted cluster may stay behind, shared dashboards included.
#include <catch2/catch.hpp>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

const std::string kThreshold = "pgscope.io/replicationLagBytesWarning";
const std::string kDefaultLagBytes = "268435456";  // 256 MiB, mixins/config.libsonnet

// Expressions of the rule (alerts and recordings) that mention `text`.
int exprs_mentioning(const json& rule, const std::string& text) {
  int count = 0;
  for (const auto& group : rule["spec"].value("groups", json::array())) {
    for (const auto& item : group.value("rules", json::array())) {
      const auto expr = item.value("expr", json());
      const std::string expr_text = expr.is_string() ? expr.get<std::string>() : expr.dump();
      if (expr_text.find(text) != std::string::npos) ++count;
    }
  }
  return count;
}

}  // namespace

TEST_CASE("a threshold annotation changes the PrometheusRule; an invalid one is reported, the rule kept",
          "[thresholds]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator({"--resync-period=1s"});
  const std::string ns = "thresholds", c = "acid-thresholds";
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", ns, c);
  const auto rule = [&] { return env.get("monitoring.coreos.com/v1", "PrometheusRule", ns, c + "-pgscope"); };
  await(
      "the PrometheusRule", [&] { return rule().has_value(); }, std::chrono::seconds(30), dump);
  const int default_uses = exprs_mentioning(*rule(), kDefaultLagBytes);
  INFO("expressions using the default " << kDefaultLagBytes << ": " << default_uses);
  REQUIRE(default_uses >= 1);

  auto started = Clock::now();
  env.patch_cluster(ns, c, {{"metadata", {{"annotations", {{kThreshold, "1000"}}}}}});
  await(
      "the rule to use 1000 instead of the default",
      [&] {
        const auto now = rule();
        return now && exprs_mentioning(*now, kDefaultLagBytes) == 0 &&
               exprs_mentioning(*now, "1000") >= default_uses;
      },
      std::chrono::seconds(30), dump);
  std::cout << "[thresholds] rule updated " << seconds_since(started) << " s after the annotation"
            << std::endl;
  CHECK(schema_problems(*rule()) == "");
  CHECK(matches_render(env) == "");
  await(
      "an Updated Event for the PrometheusRule",
      [&] {
        return env.has_event(ns, c, "Normal", "Updated", "PrometheusRule " + ns + "/" + c + "-pgscope");
      },
      std::chrono::seconds(10), dump);

  const std::string rv_before = (*rule())["metadata"]["resourceVersion"];
  env.patch_cluster(ns, c, {{"metadata", {{"annotations", {{kThreshold, "a lot"}}}}}});
  await(
      "a Warning Event naming the invalid annotation",
      [&] { return env.has_event(ns, c, "Warning", "InvalidThreshold", kThreshold); },
      std::chrono::seconds(15), dump);
  // Resyncs go by: the rule stays as it was.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto kept = rule();
  REQUIRE(kept);
  CHECK((*kept)["metadata"]["resourceVersion"] == rv_before);
  CHECK(exprs_mentioning(*kept, "1000") >= default_uses);
  CHECK(env.all_present(cluster_objects(ns, c, {})));
  CHECK(op->running());

  // An invalid pgscope.io/inject value is reported too, and changes nothing.
  std::string writes_seen;
  const auto non_event_writes = [&] {
    std::size_t count = 0;
    writes_seen.clear();
    for (const auto& request : env.api().requests()) {
      if (request.user != E2eEnvironment::kUser || !request.changed ||
          request.path.find("/events") != std::string::npos) {
        continue;
      }
      ++count;
      writes_seen += request.method + " " + request.path + "\n";
    }
    return count;
  };
  const auto writes_before = non_event_writes();
  env.patch_cluster(
      ns, c, {{"metadata", {{"annotations", {{kThreshold, "1000"}, {"pgscope.io/inject", "maybe"}}}}}});
  await(
      "a Warning Event naming the invalid inject annotation",
      [&] { return env.has_event(ns, c, "Warning", "InvalidCluster", "pgscope.io/inject"); },
      std::chrono::seconds(15), dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(env.all_present(cluster_objects(ns, c, {})));
  CHECK_FALSE(env.cluster(ns, c)["spec"].contains("sidecars"));
  const auto writes_after = non_event_writes();
  INFO("writes by the operator so far:\n" << writes_seen);
  CHECK(writes_after == writes_before);
  CHECK(env.dashboards(ns).size() >= 1);
  CHECK(op->running());

  env.patch_cluster(
      ns, c, {{"metadata", {{"annotations", {{kThreshold, nullptr}, {"pgscope.io/inject", nullptr}}}}}});
  await(
      "the default threshold back",
      [&] {
        const auto now = rule();
        return now && exprs_mentioning(*now, kDefaultLagBytes) == default_uses;
      },
      std::chrono::seconds(30), dump);
}

TEST_CASE("deleting clusters removes their objects, and the dashboards with the namespace's last cluster",
          "[delete]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  auto op = env.start_operator();
  const auto dump = env.dumper({op.get()});
  const std::string ns = "deletes", other_ns = "keeps";
  const std::string first = "acid-first", second = "acid-second", elsewhere = "acid-elsewhere";
  env.create_cluster("minimal-postgres-manifest.yaml", ns, first,
                     [](json& pg) { pg["spec"]["enableConnectionPooler"] = true; });
  env.create_cluster("minimal-postgres-manifest.yaml", ns, second);
  env.create_cluster("minimal-postgres-manifest.yaml", other_ns, elsewhere);
  await(
      "all three clusters' objects and dashboards",
      [&] {
        return env.all_present(cluster_objects(ns, first, {false, true, true, false})) &&
               env.all_present(cluster_objects(ns, second, {})) &&
               env.all_present(cluster_objects(other_ns, elsewhere, {})) && !env.dashboards(ns).empty() &&
               !env.dashboards(other_ns).empty();
      },
      std::chrono::seconds(40), dump);
  const auto dashboard_count = env.dashboards(ns).size();

  auto started = Clock::now();
  env.delete_cluster(ns, first);
  await(
      "the first cluster's objects (pooler exporter included) and pods to go",
      [&] {
        return env.none_present(all_possible_cluster_objects(ns, first)) &&
               env.pods(ns, first, "spilo").empty() && env.pods(ns, first, "db-connection-pooler").empty();
      },
      std::chrono::seconds(30), dump);
  std::cout << "[delete] first cluster's objects gone after " << seconds_since(started) << " s" << std::endl;
  // The other cluster of the namespace still needs the dashboards.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(env.dashboards(ns).size() == dashboard_count);
  CHECK(env.all_present(cluster_objects(ns, second, {})));

  // Deleted and created again under the same name: a new owner (uid). The
  // objects must name the new one, or the garbage collector takes them.
  const auto old_uid = env.cluster(ns, second)["metadata"]["uid"];
  env.delete_cluster(ns, second);
  env.create_cluster("minimal-postgres-manifest.yaml", ns, second);
  const auto new_uid = env.cluster(ns, second)["metadata"]["uid"];
  REQUIRE(new_uid != old_uid);
  const auto owned_by_new = [&] {
    for (const auto& ref : cluster_objects(ns, second, {})) {
      const auto object = env.get(ref.api_version, ref.kind, ref.ns, ref.name);
      if (!object) return false;
      const auto refs = (*object)["metadata"].value("ownerReferences", json::array());
      if (refs.size() != 1 || refs[0].value("uid", "") != new_uid) return false;
    }
    return true;
  };
  started = Clock::now();
  await("the re-created cluster's objects owned by its new uid", owned_by_new, std::chrono::seconds(30),
        dump);
  std::cout << "[delete] re-created cluster owns its objects after " << seconds_since(started) << " s"
            << std::endl;
  // Garbage collector passes go by (every 0.5 s): they stay.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  CHECK(owned_by_new());
  CHECK(env.dashboards(ns).size() == dashboard_count);

  started = Clock::now();
  env.delete_cluster(ns, second);
  await(
      "the namespace's last cluster's objects and its dashboards to go",
      [&] {
        return env.none_present(all_possible_cluster_objects(ns, second)) && env.dashboards(ns).empty();
      },
      std::chrono::seconds(30), dump);
  std::cout << "[delete] last cluster of the namespace and its dashboards gone after "
            << seconds_since(started) << " s" << std::endl;
  CHECK(env.managed_objects(ns).empty());
  // The other namespace is untouched.
  CHECK(env.all_present(cluster_objects(other_ns, elsewhere, {})));
  CHECK_FALSE(env.dashboards(other_ns).empty());
  CHECK(matches_render(env) == "");
}

TEST_CASE("dashboards in another namespace (--dashboards-namespace) are removed with the last cluster",
          "[delete]") {
  E2E_REQUIRE_REFERENCE_FILES();
  E2eEnvironment env;
  // Grafana's namespace is not among the watched ones: the operator must still see its dashboards there.
  auto op = env.start_operator({"--dashboards-namespace=grafana", "--namespaces=db-one,db-two"});
  const auto dump = env.dumper({op.get()});
  env.create_cluster("minimal-postgres-manifest.yaml", "db-one", "acid-one");
  env.create_cluster("minimal-postgres-manifest.yaml", "db-two", "acid-two");
  await(
      "both clusters' objects and the dashboards in grafana",
      [&] {
        return env.all_present(cluster_objects("db-one", "acid-one", {})) &&
               env.all_present(cluster_objects("db-two", "acid-two", {})) &&
               !env.dashboards("grafana").empty();
      },
      std::chrono::seconds(40), dump);
  CHECK(env.dashboards("db-one").empty());
  CHECK(env.dashboards("db-two").empty());
  for (const auto& dashboard : env.dashboards("grafana")) {
    INFO(object_id(dashboard));
    // An owner in another namespace would make the garbage collector delete it.
    CHECK_FALSE(dashboard["metadata"].contains("ownerReferences"));
    CHECK(schema_problems(dashboard) == "");
  }

  env.delete_cluster("db-one", "acid-one");
  await(
      "the first cluster's objects to go",
      [&] { return env.none_present(all_possible_cluster_objects("db-one", "acid-one")); },
      std::chrono::seconds(30), dump);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK_FALSE(env.dashboards("grafana").empty());

  const auto started = Clock::now();
  env.delete_cluster("db-two", "acid-two");
  await(
      "the dashboards in grafana to go", [&] { return env.dashboards("grafana").empty(); },
      std::chrono::seconds(30), dump);
  std::cout << "[delete] dashboards in grafana gone " << seconds_since(started) << " s after the last cluster"
            << std::endl;
  CHECK(env.managed_objects().empty());
}

}  // namespace pgscope::e2e
