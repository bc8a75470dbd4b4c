// Everything the operator writes, checked against the real CRDs
// (prometheus-operator's, Zalando's) and the core object schemas, with
// Zalando's example manifests as input.
#include <catch2/catch.hpp>
#include <filesystem>

#include "fixtures.hpp"
#include "operator/cluster/desired.hpp"
#include "operator/cluster/sidecar.hpp"
#include "support/kube_schema/schema.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_schema {

using namespace pgscope::op;
using namespace pgscope::op::testing;
namespace kubefake = pgscope::kubefake;

namespace {

std::optional<kubefake::SchemaRegistry> registry() {
  const auto dir = reference_dir();
  if (!dir) return std::nullopt;
  kubefake::SchemaRegistry registry;
  for (const char* crd :
       {"prometheus-operator/monitoring.coreos.com_servicemonitors.yaml",
        "prometheus-operator/monitoring.coreos.com_podmonitors.yaml",
        "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", "zalando/postgresql.crd.yaml"}) {
    registry.load_crd((std::filesystem::path(*dir) / crd).string());
  }
  registry.add_core_kinds();
  return registry;
}

void check_valid(const kubefake::SchemaRegistry& registry, const json& object, const std::string& what) {
  const auto api_version = object.at("apiVersion").get<std::string>();
  const auto kind = object.at("kind").get<std::string>();
  INFO(what << ": " << kind << " " << object["metadata"].value("name", "?"));
  const json* schema = registry.schema(api_version, kind);
  REQUIRE(schema != nullptr);
  const auto violations = kubefake::validate(*schema, object);
  INFO(kubefake::describe(violations));
  CHECK(violations.empty());
  // Nothing the API server would drop or fill in: what is read back equals what was written.
  CHECK(kubefake::prune_unknown(*schema, object) == object);
  CHECK(kubefake::apply_defaults(*schema, object) == object);
}

}  // namespace

TEST_CASE("schema: every object for Zalando's examples is valid") {
  const auto schemas = registry();
  if (!schemas) return;
  const auto mixin = generated_mixin();
  int checked = 0;
  for (const char* file : {"complete-postgres-manifest.yaml", "minimal-postgres-manifest.yaml",
                           "minimal-master-replica-svcmonitor.yaml", "standby-manifest.yaml"}) {
    const auto manifest = zalando_manifest(file);
    REQUIRE(manifest);
    for (const char* kind : {"ServiceMonitor", "PodMonitor"}) {
      for (const bool poolers : {false, true}) {
        auto object = *manifest;
        object["spec"]["enableConnectionPooler"] = poolers;
        object["spec"]["enableReplicaConnectionPooler"] = poolers;
        const auto settings = parse_settings({std::string("--monitor-kind=") + kind, "--release=kps",
                                              "--labels=tier=gold", "--inject-sidecars"},
                                             {});
        const auto cluster = read_cluster(object, settings);
        const std::string what = std::string(file) + " " + kind + (poolers ? " with poolers" : "");
        for (const auto& desired : desired_objects(cluster, settings, mixin)) {
          check_valid(*schemas, desired, what);
          ++checked;
        }
        // The postgresql object with the sidecar injected.
        object["spec"]["sidecars"] =
            desired_sidecars(object["spec"].value("sidecars", json()), cluster, settings);
        const auto* schema = schemas->schema("acid.zalan.do/v1", "postgresql");
        REQUIRE(schema != nullptr);
        const auto violations = kubefake::validate(*schema, object);
        INFO(what << " postgresql with sidecars: " << kubefake::describe(violations));
        CHECK(violations.empty());
        CHECK(kubefake::prune_unknown(*schema, object)["spec"]["sidecars"] == object["spec"]["sidecars"]);
      }
    }
  }
  // Per file: ServiceMonitor mode 8 objects, 15 with poolers; PodMonitor mode 7, 12 with poolers.
  CHECK(checked == 4 * (8 + 15 + 7 + 12));
}

TEST_CASE("schema: the global sidecar is a valid container") {
  const auto schemas = registry();
  if (!schemas) return;
  const auto global = global_sidecar_configuration(parse_settings({}, {}));
  const json pod{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", "acid-test-cluster-0"}, {"namespace", "db"}}},
                 {"spec", {{"containers", global["operatorConfiguration"]["configuration"]["sidecars"]}}}};
  const auto violations = kubefake::validate(*schemas->schema("v1", "Pod"), pod);
  INFO(kubefake::describe(violations));
  CHECK(violations.empty());
}

}  // namespace unity_file_cluster_test_schema
