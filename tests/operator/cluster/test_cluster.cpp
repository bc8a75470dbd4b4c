#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "operator/cluster/cluster.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_cluster {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

json minimal_object() {
  return json::parse(R"({"apiVersion": "acid.zalan.do/v1", "kind": "postgresql",
    "metadata": {"name": "acid-a", "namespace": "db", "uid": "u-1"},
    "spec": {"teamId": "acid", "numberOfInstances": 2}})");
}

std::string invalid(const json& object, const OperatorSettings& settings = {}) {
  try {
    read_cluster(object, settings);
  } catch (const InvalidCluster& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cluster: Zalando's example manifests") {
  const auto complete = zalando_manifest("complete-postgres-manifest.yaml");
  const auto minimal = zalando_manifest("minimal-postgres-manifest.yaml");
  if (!complete || !minimal) return;
  const auto c = read_cluster(*complete, {});
  CHECK(c.name == "acid-test-cluster");
  CHECK(c.ns == "db");
  CHECK(c.uid == "9b0e6e3c-1d7a-4a53-9d0c-3a2f0c4e5d61");
  CHECK(c.team == "acid");
  CHECK(c.pod_labels ==
        std::map<std::string, std::string>{{"application", "spilo"}, {"cluster-name", "acid-test-cluster"}});
  CHECK_FALSE(c.pooler_master);  // enableConnectionPooler: false
  CHECK_FALSE(c.pooler_replica);
  CHECK(c.pooler_user == "pooler");
  CHECK_FALSE(c.inject);

  const auto m = read_cluster(*minimal, {});
  CHECK(m.name == "acid-minimal-cluster");
  CHECK_FALSE(m.pooler_master);
  CHECK_FALSE(m.pooler_replica);
}

TEST_CASE("cluster: master pooler as Zalando decides it") {
  struct Case {
    const char* enable;  // nullptr = unset
    bool section;
    bool expected;
  };
  const Case cases[] = {{nullptr, false, false}, {nullptr, true, true},   {"true", false, true},
                        {"true", true, true},    {"false", false, false}, {"false", true, false}};
  for (const auto& c : cases) {
    auto object = minimal_object();
    if (c.enable != nullptr) object["spec"]["enableConnectionPooler"] = std::string(c.enable) == "true";
    if (c.section) object["spec"]["connectionPooler"] = {{"numberOfInstances", 2}};
    INFO("enableConnectionPooler=" << (c.enable ? c.enable : "unset") << " section=" << c.section);
    const auto cluster = read_cluster(object, {});
    CHECK(cluster.pooler_master == c.expected);
    CHECK_FALSE(cluster.pooler_replica);  // a section never enables the replica pooler
  }
  auto null_section = minimal_object();
  null_section["spec"]["connectionPooler"] = nullptr;  // "connectionPooler:" with nothing under it
  CHECK_FALSE(read_cluster(null_section, {}).pooler_master);
}

TEST_CASE("cluster: replica pooler only with enableReplicaConnectionPooler: true") {
  auto object = minimal_object();
  object["spec"]["enableReplicaConnectionPooler"] = true;
  auto cluster = read_cluster(object, {});
  CHECK(cluster.pooler_replica);
  CHECK_FALSE(cluster.pooler_master);
  object["spec"]["enableReplicaConnectionPooler"] = false;
  object["spec"]["connectionPooler"] = {{"user", "bouncer_admin"}};
  cluster = read_cluster(object, {});
  CHECK_FALSE(cluster.pooler_replica);
  CHECK(cluster.pooler_user == "bouncer_admin");  // the section's user wins over --zalando.pooler-user
  CHECK(credentials_secret_name({}, cluster.pooler_user, cluster) ==
        "bouncer-admin.acid-a.credentials.postgresql.acid.zalan.do");
}

TEST_CASE("cluster: configured Zalando labels make the pod selector") {
  const auto settings = parse_settings(
      {"--zalando.cluster-labels=application=db,env=prod", "--zalando.cluster-name-label=pg-cluster"}, {});
  const auto cluster = read_cluster(minimal_object(), settings);
  CHECK(cluster.pod_labels ==
        std::map<std::string, std::string>{{"application", "db"}, {"env", "prod"}, {"pg-cluster", "acid-a"}});
}

TEST_CASE("cluster: the inject annotation overrides --inject-sidecars") {
  auto object = minimal_object();
  CHECK_FALSE(read_cluster(object, {}).inject);
  const auto injecting = parse_settings({"--inject-sidecars"}, {});
  CHECK(read_cluster(object, injecting).inject);
  object["metadata"]["annotations"] = {{"pgscope.io/inject", "false"}};
  CHECK_FALSE(read_cluster(object, injecting).inject);
  object["metadata"]["annotations"] = {{"pgscope.io/inject", "true"}};
  CHECK(read_cluster(object, {}).inject);
  CHECK(read_cluster(object, {}).annotations["pgscope.io/inject"] == "true");
  object["metadata"]["annotations"] = {{"pgscope.io/inject", "yes"}};
  CHECK_THAT(invalid(object), Catch::StartsWith("metadata.annotations[\"pgscope.io/inject\"]") &&
                                  Catch::Contains("\"true\" or \"false\""));
}

TEST_CASE("cluster: invalid objects name the field and what to do") {
  auto object = minimal_object();
  object["metadata"].erase("namespace");
  CHECK_THAT(invalid(object), Catch::StartsWith("metadata.namespace: missing") && Catch::Contains("render"));
  object = minimal_object();
  object["metadata"].erase("name");
  CHECK_THAT(invalid(object), Catch::StartsWith("metadata.name: missing"));
  object = minimal_object();
  object["metadata"]["name"] = "Acid_A";
  CHECK_THAT(invalid(object), Catch::StartsWith("metadata.name:"));
  object = minimal_object();
  object["spec"].erase("teamId");
  CHECK_THAT(invalid(object), Catch::StartsWith("spec.teamId: missing"));
  object = minimal_object();
  object["spec"]["teamId"] = 7;
  CHECK_THAT(invalid(object), Catch::StartsWith("spec.teamId: expected a non-empty string"));
  object = minimal_object();
  object.erase("spec");
  CHECK_THAT(invalid(object), Catch::StartsWith("spec: missing"));
  object = minimal_object();
  object["kind"] = "Deployment";
  CHECK_THAT(invalid(object), Catch::StartsWith("kind:"));
  object = minimal_object();
  object["apiVersion"] = "acid.zalan.do/v2";
  CHECK_THAT(invalid(object), Catch::StartsWith("apiVersion:"));
  object = minimal_object();
  object["spec"]["enableConnectionPooler"] = "true";
  CHECK_THAT(invalid(object), Catch::StartsWith("spec.enableConnectionPooler: expected true or false"));
  object = minimal_object();
  object["metadata"]["annotations"] = {{"pgscope.io/threshold", 5}};
  CHECK_THAT(invalid(object), Catch::Contains("quote it"));
  CHECK_THAT(invalid(json::array()), Catch::Contains("expected a postgresql object"));

  object = minimal_object();
  object["metadata"].erase("uid");  // render: no uid, no problem
  CHECK(read_cluster(object, {}).uid.empty());
}

TEST_CASE("cluster: a user whose secret name would be invalid is refused") {
  auto object = minimal_object();
  object["spec"]["connectionPooler"] = {{"user", "Pooler"}};
  const auto cluster = read_cluster(object, {});
  CHECK_THROWS_WITH(credentials_secret_name({}, cluster.pooler_user, cluster),
                    Catch::StartsWith("credentials secret of user Pooler") &&
                        Catch::Contains("spec.connectionPooler.user"));
}

}  // namespace unity_file_cluster_test_cluster
