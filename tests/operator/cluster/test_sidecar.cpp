#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "fixtures.hpp"
#include "operator/cluster/render.hpp"
#include "operator/cluster/sidecar.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_sidecar {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

ClusterInfo cluster_named(const std::string& name, bool inject) {
  ClusterInfo cluster;
  cluster.name = name;
  cluster.ns = "db";
  cluster.team = "acid";
  cluster.inject = inject;
  return cluster;
}

json telegraf() {
  return json::parse(R"({"name": "telegraf-sidecar", "image": "telegraf:latest",
    "ports": [{"name": "metrics", "containerPort": 8094, "protocol": "TCP"}]})");
}

json vault() { return json::parse(R"({"name": "vault-agent", "image": "vault:1.15"})"); }

}  // namespace

TEST_CASE("sidecar: only the fields Zalando's CRD allows, credentials from the cluster's secret") {
  const auto settings = parse_settings({}, {});
  const auto sidecar = exporter_sidecar(cluster_named("acid-test-cluster", true), settings);
  std::set<std::string> keys;
  for (const auto& item : sidecar.items()) keys.insert(item.key());
  CHECK(keys == std::set<std::string>{"name", "image", "ports", "env", "resources"});
  CHECK(sidecar["name"] == "pgscope-exporter");
  CHECK(sidecar["image"] == settings.exporter_image);
  CHECK(sidecar["ports"] ==
        json::parse(R"([{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}])"));
  CHECK(sidecar["env"] == json::parse(R"([
    {"name": "PG_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9187"},
    {"name": "PG_EXPORTER_PATRONI_URL", "value": "http://localhost:8008"},
    {"name": "DATA_SOURCE_URI", "value": "localhost:5432/postgres?sslmode=disable"},
    {"name": "DATA_SOURCE_USER", "valueFrom": {"secretKeyRef":
      {"name": "postgres.acid-test-cluster.credentials.postgresql.acid.zalan.do", "key": "username"}}},
    {"name": "DATA_SOURCE_PASS", "valueFrom": {"secretKeyRef":
      {"name": "postgres.acid-test-cluster.credentials.postgresql.acid.zalan.do", "key": "password"}}}])"));
  CHECK(sidecar["resources"]["requests"]["cpu"] == "50m");

  const auto monitoring = parse_settings({"--monitoring-user=pg_monitor", "--exporter-port=9999"}, {});
  const auto other = exporter_sidecar(cluster_named("c1", true), monitoring);
  CHECK(other["env"][3]["valueFrom"]["secretKeyRef"]["name"] ==
        "pg-monitor.c1.credentials.postgresql.acid.zalan.do");
  CHECK(other["env"][0]["value"] == ":9999");
  CHECK(other["ports"][0]["containerPort"] == 9999);
}

TEST_CASE("sidecar: injection keeps the user's sidecars and their order") {
  const auto settings = parse_settings({}, {});
  const auto on = cluster_named("c1", true);
  const auto ours = exporter_sidecar(on, settings);

  CHECK(desired_sidecars(nullptr, on, settings) == json::array({ours}));
  CHECK(desired_sidecars(json::array(), on, settings) == json::array({ours}));
  CHECK(desired_sidecars(json::array({telegraf(), vault()}), on, settings) ==
        json::array({telegraf(), vault(), ours}));

  // An outdated copy of ours is replaced where it stands.
  auto outdated = ours;
  outdated["image"] = "ghcr.io/pgscope/pgscope-exporter:0.0.9";
  CHECK(desired_sidecars(json::array({telegraf(), outdated, vault()}), on, settings) ==
        json::array({telegraf(), ours, vault()}));
  // A duplicate of ours is dropped, the first kept in place.
  CHECK(desired_sidecars(json::array({outdated, telegraf(), outdated}), on, settings) ==
        json::array({ours, telegraf()}));
}

TEST_CASE("sidecar: injection is stable") {
  const auto settings = parse_settings({}, {});
  for (const bool inject : {true, false}) {
    const auto cluster = cluster_named("c1", inject);
    for (const auto& start :
         {json(nullptr), json::array(), json::array({telegraf()}),
          json::array({vault(), exporter_sidecar(cluster_named("c1", true), settings), telegraf()})}) {
      INFO("inject=" << inject << " start=" << start.dump());
      const auto once = desired_sidecars(start, cluster, settings);
      const auto twice = desired_sidecars(once, cluster, settings);
      CHECK(once == twice);
      CHECK(desired_sidecars(once, cluster, settings).dump() == once.dump());
    }
  }
  // Nothing to change: exactly the input back, null included.
  const auto off = cluster_named("c1", false);
  CHECK(desired_sidecars(nullptr, off, settings).is_null());
  CHECK(desired_sidecars(json::array(), off, settings) == json::array());
  CHECK(desired_sidecars(json::array({telegraf()}), off, settings) == json::array({telegraf()}));
}

TEST_CASE("sidecar: removal when injection is turned off") {
  const auto settings = parse_settings({}, {});
  const auto ours = exporter_sidecar(cluster_named("c1", true), settings);
  const auto off = cluster_named("c1", false);
  CHECK(desired_sidecars(json::array({telegraf(), ours, vault()}), off, settings) ==
        json::array({telegraf(), vault()}));
  CHECK(
      desired_sidecars(json::array({ours}), off, settings).is_null());  // merge patch null removes the field
  CHECK_THROWS_AS(desired_sidecars(json::object(), off, settings), InvalidCluster);
}

TEST_CASE("sidecar: injection from a Zalando manifest with the annotation") {
  const auto manifest = zalando_manifest("minimal-master-replica-svcmonitor.yaml");
  if (!manifest) return;
  auto object = *manifest;
  object["metadata"]["annotations"] = {{"pgscope.io/inject", "true"}};
  const auto settings = parse_settings({}, {});
  const auto cluster = read_cluster(object, settings);
  const auto sidecars = desired_sidecars(object["spec"]["sidecars"], cluster, settings);
  REQUIRE(sidecars.size() == 2);
  CHECK(sidecars[0] == object["spec"]["sidecars"][0]);  // the user's own exporter stays first, untouched
  CHECK(sidecars[1]["name"] == "pgscope-exporter");
  // The example's secret names the namespace; ours names the cluster.
  CHECK(sidecars[1]["env"][4]["valueFrom"]["secretKeyRef"]["name"] ==
        "postgres.acid-minimal-cluster.credentials.postgresql.acid.zalan.do");
}

TEST_CASE("sidecar: global configuration for Zalando's operator") {
  const auto settings = parse_settings({}, {});
  const auto global = global_sidecar_configuration(settings);
  const auto& sidecars = global["operatorConfiguration"]["configuration"]["sidecars"];
  REQUIRE(sidecars.size() == 1);
  const auto& container = sidecars[0];
  CHECK(container["name"] == "pgscope-exporter");
  CHECK(container["args"] ==
        json::array({"--web.listen-address=:9187", "--patroni.url=http://localhost:8008"}));
  CHECK(container["env"][1] == json{{"name", "DATA_SOURCE_USER"}, {"value", "$(POSTGRES_USER)"}});
  CHECK(container["env"][2] == json{{"name", "DATA_SOURCE_PASS"}, {"value", "$(POSTGRES_PASSWORD)"}});
  CHECK(container["ports"][0]["name"] == "metrics");
  CHECK(container["livenessProbe"]["httpGet"]["path"] == "/healthz");
  CHECK_FALSE(container.contains("readinessProbe"));
  CHECK(global["configMap"].is_null());  // the default image has a tag: not expressible there

  const auto untagged = parse_settings({"--exporter-image=pgscope-exporter"}, {});
  CHECK(global_sidecar_configuration(untagged)["configMap"]["data"]["sidecar_docker_images"] ==
        "pgscope-exporter:pgscope-exporter");
}

TEST_CASE("sidecar: the global configuration as a comment document") {
  const auto settings = parse_settings({"--monitoring-user=pg_monitor"}, {});
  const auto comment = global_sidecar_comment(settings);
  std::string uncommented;
  std::istringstream lines(comment);
  for (std::string line; std::getline(lines, line);) {
    REQUIRE(line.rfind("#", 0) == 0);
    uncommented += line.size() > 2 ? line.substr(2) + "\n" : "\n";
  }
  CHECK_THAT(comment, Catch::Contains("--monitoring-user=pg_monitor"));
  CHECK_THAT(comment, Catch::Contains("ConfigMap-based configuration"));
  // A comment-only document is no manifest.
  CHECK(read_manifests("---\n" + comment, "comment").empty());
  // The YAML inside it is the configuration.
  const auto start = uncommented.find("configuration:");
  const auto end = uncommented.find("\n\n", start);
  REQUIRE(start != std::string::npos);
  const auto documents = read_manifests(uncommented.substr(start, end - start), "uncommented");
  REQUIRE(documents.size() == 1);
  CHECK(documents[0] == global_sidecar_configuration(settings)["operatorConfiguration"]);
}

}  // namespace unity_file_cluster_test_sidecar
