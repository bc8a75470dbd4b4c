// Server-side apply as the operator meets it: creates, no-op re-applies,
// conflicts between managers, removal of dropped fields, per-key merging of
// core lists and whole replacement of atomic CRD lists, and Update bookkeeping.
#include <catch2/catch.hpp>

#include "reference_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_schema_test_ssa {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

const char kOperator[] = "pgscope-operator";
const char kT1[] = "2026-08-01T10:00:00Z";
const char kT2[] = "2026-08-01T10:05:00Z";
const char kT3[] = "2026-08-01T10:10:00Z";

json service_monitor(const std::string& interval = "30s") {
  return json::parse(R"({
    "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
    "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg",
                 "labels": {"release": "kube-prometheus-stack", "app.kubernetes.io/managed-by": "pgscope-operator"}},
    "spec": {"selector": {"matchLabels": {"application": "spilo", "cluster-name": "acid-minimal-cluster"}},
             "endpoints": [{"port": "pgscope", "interval": ")" +
                     interval + R"("}]}})");
}

// What a live object looks like after the server stored it.
json stored(json object) {
  object["metadata"]["uid"] = "6b0c2f0e-1111-4c3a-9d55-000000000001";
  object["metadata"]["resourceVersion"] = "17";
  object["metadata"]["creationTimestamp"] = kT1;
  return object;
}

const json* managed_entry(const json& object, const std::string& manager, const std::string& operation) {
  for (const json& entry : object["metadata"]["managedFields"]) {
    if (entry["manager"] == manager && entry["operation"] == operation) return &entry;
  }
  return nullptr;
}

bool owns(const json& object, const std::string& manager, const std::string& operation,
          const FieldPath& path) {
  const json* entry = managed_entry(object, manager, operation);
  return entry != nullptr && decode_fields_v1((*entry)["fieldsV1"]).count(path) > 0;
}

json apply_ok(const json& schema, const json& live, const json& applied, const std::string& manager,
              const std::string& now, bool force = false) {
  ApplyResult result = server_side_apply(schema, live, applied, manager, force, now);
  INFO(manager << " conflicts: " << result.conflicts.size());
  REQUIRE(result.conflicts.empty());
  return result.object;
}

}  // namespace

TEST_CASE("apply creates an object and records the applier's fields", "[ssa]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const ApplyResult created = server_side_apply(schema, nullptr, service_monitor(), kOperator, false, kT1);
  REQUIRE(created.changed);
  REQUIRE(created.conflicts.empty());
  CHECK(created.object["spec"]["endpoints"][0]["port"] == "pgscope");
  const json& managed = created.object["metadata"]["managedFields"];
  REQUIRE(managed.size() == 1);
  CHECK(managed[0]["manager"] == kOperator);
  CHECK(managed[0]["operation"] == "Apply");
  CHECK(managed[0]["apiVersion"] == "monitoring.coreos.com/v1");
  CHECK(managed[0]["time"] == kT1);
  CHECK(managed[0]["fieldsType"] == "FieldsV1");
  const json& fields = managed[0]["fieldsV1"];
  // endpoints is atomic (no list-type in the CRD) and the selector a map-type atomic struct: leaves.
  CHECK(fields["f:spec"]["f:endpoints"] == json::object());
  CHECK(fields["f:spec"]["f:selector"] == json::object());
  CHECK(fields["f:metadata"]["f:labels"]["f:release"] == json::object());
  CHECK_FALSE(fields["f:metadata"].contains("f:name"));
  CHECK_FALSE(fields.contains("f:apiVersion"));
  CHECK(describe(validate(schema, created.object)) == "");
}

TEST_CASE("re-applying an unchanged configuration changes nothing, not even the time", "[ssa]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json live = stored(apply_ok(schema, nullptr, service_monitor(), kOperator, kT1));
  const ApplyResult again = server_side_apply(schema, live, service_monitor(), kOperator, false, kT2);
  CHECK_FALSE(again.changed);
  CHECK(again.object == live);
  CHECK(again.object["metadata"]["managedFields"][0]["time"] == kT1);

  const ApplyResult edited = server_side_apply(schema, live, service_monitor("15s"), kOperator, false, kT2);
  CHECK(edited.changed);
  CHECK(edited.object["spec"]["endpoints"][0]["interval"] == "15s");
  CHECK(edited.object["metadata"]["managedFields"][0]["time"] == kT2);
  CHECK(edited.object["metadata"]["uid"] == live["metadata"]["uid"]);
}

TEST_CASE("two managers on one ServiceMonitor: conflict, shared values, force", "[ssa]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json live = stored(apply_ok(schema, nullptr, service_monitor(), kOperator, kT1));

  json users = json::parse(R"({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
    "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg"},
    "spec": {"endpoints": [{"port": "pgscope", "interval": "5s"}]}})");
  const ApplyResult refused = server_side_apply(schema, live, users, "kubectl", false, kT2);
  REQUIRE(refused.conflicts.size() == 1);
  CHECK(refused.conflicts[0].manager == kOperator);
  CHECK(refused.conflicts[0].field == ".spec.endpoints");
  CHECK_FALSE(refused.changed);
  CHECK(refused.object == live);

  SECTION("equal values are shared without conflict") {
    json same = users;
    same["spec"]["endpoints"][0]["interval"] = "30s";
    same["metadata"]["labels"] = {{"release", "kube-prometheus-stack"}};
    const json shared = apply_ok(schema, live, same, "kubectl", kT2);
    CHECK(owns(shared, "kubectl", "Apply", {"f:spec", "f:endpoints"}));
    CHECK(owns(shared, kOperator, "Apply", {"f:spec", "f:endpoints"}));
    CHECK(owns(shared, "kubectl", "Apply", {"f:metadata", "f:labels", "f:release"}));
    CHECK(owns(shared, kOperator, "Apply", {"f:metadata", "f:labels", "f:release"}));
  }
  SECTION("force takes the field over; the former owner then conflicts") {
    const ApplyResult forced = server_side_apply(schema, live, users, "kubectl", true, kT2);
    REQUIRE(forced.changed);
    CHECK(forced.conflicts.empty());
    CHECK(forced.object["spec"]["endpoints"][0]["interval"] == "5s");
    CHECK(owns(forced.object, "kubectl", "Apply", {"f:spec", "f:endpoints"}));
    CHECK_FALSE(owns(forced.object, kOperator, "Apply", {"f:spec", "f:endpoints"}));
    CHECK(owns(forced.object, kOperator, "Apply", {"f:spec", "f:selector"}));

    const ApplyResult back =
        server_side_apply(schema, forced.object, service_monitor(), kOperator, false, kT3);
    REQUIRE(back.conflicts.size() == 1);
    CHECK(back.conflicts[0].manager == "kubectl");
    CHECK(back.conflicts[0].field == ".spec.endpoints");
    const ApplyResult repaired =
        server_side_apply(schema, forced.object, service_monitor(), kOperator, true, kT3);
    CHECK(repaired.object["spec"]["endpoints"][0]["interval"] == "30s");
    CHECK(owns(repaired.object, kOperator, "Apply", {"f:spec", "f:endpoints"}));
    // kubectl owned nothing else, so its entry is gone.
    CHECK(managed_entry(repaired.object, "kubectl", "Apply") == nullptr);
  }
}

TEST_CASE("a field the applier drops is removed unless another manager owns it", "[ssa]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  json with_team = service_monitor();
  with_team["metadata"]["labels"]["team"] = "acid";
  with_team["spec"]["jobLabel"] = "cluster-name";
  const json live = stored(apply_ok(schema, nullptr, with_team, kOperator, kT1));

  SECTION("removed") {
    const ApplyResult dropped = server_side_apply(schema, live, service_monitor(), kOperator, false, kT2);
    REQUIRE(dropped.changed);
    CHECK_FALSE(dropped.object["metadata"]["labels"].contains("team"));
    CHECK_FALSE(dropped.object["spec"].contains("jobLabel"));
    CHECK(dropped.object["metadata"]["labels"]["release"] == "kube-prometheus-stack");
    CHECK_FALSE(owns(dropped.object, kOperator, "Apply", {"f:metadata", "f:labels", "f:team"}));
  }
  SECTION("kept when another manager owns it too") {
    json users = json::parse(R"({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
      "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg", "labels": {"team": "acid"}}})");
    const json shared = apply_ok(schema, live, users, "kubectl", kT2);
    const ApplyResult dropped = server_side_apply(schema, shared, service_monitor(), kOperator, false, kT3);
    CHECK(dropped.object["metadata"]["labels"]["team"] == "acid");
    CHECK_FALSE(dropped.object["spec"].contains("jobLabel"));
    CHECK(owns(dropped.object, "kubectl", "Apply", {"f:metadata", "f:labels", "f:team"}));
    CHECK_FALSE(owns(dropped.object, kOperator, "Apply", {"f:metadata", "f:labels", "f:team"}));
  }
  SECTION("a whole map dropped leaves no empty map behind") {
    json no_labels = service_monitor();
    no_labels["metadata"].erase("labels");
    const ApplyResult dropped = server_side_apply(schema, live, no_labels, kOperator, false, kT2);
    CHECK_FALSE(dropped.object["metadata"].contains("labels"));
  }
}

TEST_CASE("Service ports merge per port+protocol key, with protocol defaulted", "[ssa][core]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("v1", "Service");
  const json mine = json::parse(R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg"},
    "spec": {"selector": {"application": "spilo", "cluster-name": "acid-minimal-cluster"},
             "ports": [{"name": "pgscope", "port": 9187, "targetPort": 9187}]}})");
  const json live = stored(apply_ok(schema, nullptr, mine, kOperator, kT1));
  CHECK(
      owns(live, kOperator, "Apply", {"f:spec", "f:ports", R"(k:{"port":9187,"protocol":"TCP"})", "f:name"}));

  const json theirs = json::parse(R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg"},
    "spec": {"ports": [{"name": "debug", "port": 6060, "protocol": "TCP"}]}})");
  const json both = apply_ok(schema, live, theirs, "kubectl", kT2);
  REQUIRE(both["spec"]["ports"].size() == 2);
  CHECK(both["spec"]["ports"][0]["name"] == "pgscope");
  CHECK(both["spec"]["ports"][1]["name"] == "debug");
  CHECK(both["spec"]["selector"]["application"] == "spilo");

  json renamed = theirs;
  renamed["spec"]["ports"] = {{{"name", "other"}, {"port", 9187}}};
  const ApplyResult conflict = server_side_apply(schema, both, renamed, "kubectl", false, kT3);
  REQUIRE(conflict.conflicts.size() == 1);
  CHECK(conflict.conflicts[0].manager == kOperator);
  CHECK(conflict.conflicts[0].field == R"(.spec.ports[port=9187,protocol="TCP"].name)");

  // The operator re-applies its own port only: the user's port stays.
  const ApplyResult again = server_side_apply(schema, both, mine, kOperator, false, kT3);
  CHECK_FALSE(again.changed);
  CHECK(again.object["spec"]["ports"].size() == 2);
}

TEST_CASE("Deployment env merges per name inside a container keyed by name", "[ssa][core]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("apps/v1", "Deployment");
  const auto deployment = [](const json& env) {
    json d = json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "pgscope-pooler-exporter", "namespace": "test-pg"},
      "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pgscope-pooler-exporter"}},
               "template": {"metadata": {"labels": {"app": "pgscope-pooler-exporter"}},
                            "spec": {"containers": [{"name": "exporter", "image": "pgscope/exporter:0.1.0"}]}}}})");
    d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
    return d;
  };
  const json a = {{"name", "A"}, {"value", "1"}};
  const json b = {{"name", "B"}, {"value", "2"}};
  const json live = stored(apply_ok(schema, nullptr, deployment(json::array({a, b})), kOperator, kT1));

  json users = json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "pgscope-pooler-exporter", "namespace": "test-pg"},
    "spec": {"template": {"spec": {"containers": [{"name": "exporter", "env": [{"name": "C", "value": "3"}]}]}}}})");
  const json merged = apply_ok(schema, live, users, "kubectl", kT2);
  const json& env = merged["spec"]["template"]["spec"]["containers"][0]["env"];
  REQUIRE(env.size() == 3);
  CHECK(env[0]["name"] == "A");
  CHECK(env[1]["name"] == "B");
  CHECK(env[2]["name"] == "C");
  CHECK(merged["spec"]["template"]["spec"]["containers"][0]["image"] == "pgscope/exporter:0.1.0");

  const json dropped_b = apply_ok(schema, merged, deployment(json::array({a})), kOperator, kT3);
  const json& env_after = dropped_b["spec"]["template"]["spec"]["containers"][0]["env"];
  REQUIRE(env_after.size() == 2);
  CHECK(env_after[0]["name"] == "A");
  CHECK(env_after[1]["name"] == "C");
  CHECK(describe(validate(schema, dropped_b)) == "");

  json no_name = users;
  no_name["spec"]["template"]["spec"]["containers"][0]["env"][0].erase("name");
  CHECK_THROWS_WITH(server_side_apply(schema, live, no_name, "kubectl", false, kT2),
                    Catch::Contains("omits key field \"name\""));
}

TEST_CASE("atomic CRD lists are replaced whole; PrometheusRule groups merge by name", "[ssa]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& sm_schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json live = stored(apply_ok(sm_schema, nullptr, service_monitor(), kOperator, kT1));
  json two = service_monitor();
  two["spec"]["endpoints"].push_back({{"port", "patroni"}, {"interval", "30s"}});
  const json replaced = apply_ok(sm_schema, live, two, kOperator, kT2);
  REQUIRE(replaced["spec"]["endpoints"].size() == 2);
  const json back = apply_ok(sm_schema, replaced, service_monitor(), kOperator, kT3);
  REQUIRE(back["spec"]["endpoints"].size() == 1);
  CHECK(back["spec"]["endpoints"][0]["port"] == "pgscope");

  const json& rule_schema = schema_of("monitoring.coreos.com/v1", "PrometheusRule");
  const auto rule = [](const std::string& group, const std::string& alert) {
    json object = json::parse(R"({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
      "metadata": {"name": "pgscope", "namespace": "test-pg"}, "spec": {"groups": [{"rules": [{"expr": "up == 0"}]}]}})");
    object["spec"]["groups"][0]["name"] = group;
    object["spec"]["groups"][0]["rules"][0]["alert"] = alert;
    return object;
  };
  const json rules =
      stored(apply_ok(rule_schema, nullptr, rule("pgscope.rules", "PgscopeDown"), kOperator, kT1));
  const json with_user_group = apply_ok(rule_schema, rules, rule("custom", "CustomDown"), "kubectl", kT2);
  REQUIRE(with_user_group["spec"]["groups"].size() == 2);
  CHECK(owns(with_user_group, kOperator, "Apply", {"f:spec", "f:groups", R"(k:{"name":"pgscope.rules"})"}));
  // rules inside a group is atomic: a different rule list for the same group conflicts as a whole.
  const ApplyResult conflict =
      server_side_apply(rule_schema, with_user_group, rule("pgscope.rules", "Other"), "kubectl", false, kT3);
  REQUIRE(conflict.conflicts.size() == 1);
  CHECK(conflict.conflicts[0].field == R"(.spec.groups[name="pgscope.rules"].rules)");
}

TEST_CASE("Update writes move ownership to the writer", "[ssa][update]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json live = stored(apply_ok(schema, nullptr, service_monitor(), kOperator, kT1));

  SECTION("an edited value") {
    const json edited = merge_patch(live, json::parse(R"({"metadata": {"labels": {"release": "other"}}})"));
    const json tracked = track_update(schema, live, edited, "kubectl-edit", kT2);
    CHECK(owns(tracked, "kubectl-edit", "Update", {"f:metadata", "f:labels", "f:release"}));
    CHECK_FALSE(owns(tracked, kOperator, "Apply", {"f:metadata", "f:labels", "f:release"}));
    CHECK((*managed_entry(tracked, "kubectl-edit", "Update"))["time"] == kT2);
    CHECK((*managed_entry(tracked, kOperator, "Apply"))["time"] == kT1);

    const ApplyResult refused = server_side_apply(schema, tracked, service_monitor(), kOperator, false, kT3);
    REQUIRE(refused.conflicts.size() == 1);
    CHECK(refused.conflicts[0].manager == "kubectl-edit");
    CHECK(refused.conflicts[0].field == ".metadata.labels.release");
    const ApplyResult forced = server_side_apply(schema, tracked, service_monitor(), kOperator, true, kT3);
    CHECK(forced.object["metadata"]["labels"]["release"] == "kube-prometheus-stack");
    CHECK(managed_entry(forced.object, "kubectl-edit", "Update") == nullptr);
  }
  SECTION("a removed field loses its owner, so the next apply restores it without conflict") {
    json edited = live;
    edited["metadata"]["labels"].erase("release");
    const json tracked = track_update(schema, live, edited, "kubectl-edit", kT2);
    CHECK_FALSE(owns(tracked, kOperator, "Apply", {"f:metadata", "f:labels", "f:release"}));
    const ApplyResult repaired = server_side_apply(schema, tracked, service_monitor(), kOperator, false, kT3);
    CHECK(repaired.conflicts.empty());
    CHECK(repaired.changed);
    CHECK(repaired.object["metadata"]["labels"]["release"] == "kube-prometheus-stack");
  }
  SECTION("a write that changes nothing leaves managedFields alone") {
    CHECK(track_update(schema, live, live, "kubectl-edit", kT2) == live);
  }
  SECTION("creating with Update and then applying as the same manager conflicts with itself") {
    const json created = track_update(schema, nullptr, stored(service_monitor()), kOperator, kT1);
    CHECK(managed_entry(created, kOperator, "Update") != nullptr);
    const ApplyResult self =
        server_side_apply(schema, created, service_monitor("10s"), kOperator, false, kT2);
    REQUIRE(self.conflicts.size() == 1);
    CHECK(self.conflicts[0].manager == kOperator);
  }
}

}  // namespace unity_file_schema_test_ssa
