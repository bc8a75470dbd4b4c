// Server-side apply and the other patch types over HTTP: create by apply,
// no-op re-apply, conflicts with another manager and force, removal of fields
// a manager stops applying, and the media types that are refused.
#include <catch2/catch.hpp>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_apply {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

const std::string kMonitors = "/apis/monitoring.coreos.com/v1/namespaces/db/servicemonitors";
const std::string kPostgresqls = "/apis/acid.zalan.do/v1/namespaces/db/postgresqls";

json service_monitor(const std::string& port, const json& labels = {{"release", "prom"}}) {
  return {{"apiVersion", "monitoring.coreos.com/v1"},
          {"kind", "ServiceMonitor"},
          {"metadata", {{"name", "acid-a"}, {"namespace", "db"}, {"labels", labels}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"application", "spilo"}, {"cluster-name", "acid-a"}}}}},
            {"endpoints", {{{"port", port}, {"interval", "30s"}}}}}}};
}

const json* managed_entry(const json& object, const std::string& manager) {
  for (const auto& entry : object["metadata"]["managedFields"]) {
    if (entry["manager"] == manager) return &entry;
  }
  return nullptr;
}

std::string rv_of(const json& object) { return object["metadata"]["resourceVersion"]; }

}  // namespace

TEST_CASE("apply creates the object, an unchanged re-apply writes nothing, a change updates it") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  Answer created = f.api->apply(kMonitors + "/acid-a", service_monitor("exporter"), "pgscope-operator", true);
  REQUIRE(created.status == 201);
  const json* entry = managed_entry(created.body, "pgscope-operator");
  REQUIRE(entry != nullptr);
  CHECK((*entry)["operation"] == "Apply");
  CHECK((*entry)["fieldsType"] == "FieldsV1");
  CHECK((*entry)["fieldsV1"]["f:spec"].contains("f:endpoints"));
  CHECK(created.body["metadata"]["generation"] == 1);

  std::uint64_t revision = f.server.revision();
  Answer again = f.api->apply(kMonitors + "/acid-a", service_monitor("exporter"), "pgscope-operator", true);
  REQUIRE(again.status == 200);
  CHECK(rv_of(again.body) == rv_of(created.body));
  CHECK(again.body["metadata"]["managedFields"] == created.body["metadata"]["managedFields"]);
  CHECK(f.server.revision() == revision);

  Answer changed = f.api->apply(kMonitors + "/acid-a", service_monitor("metrics"), "pgscope-operator", true);
  REQUIRE(changed.status == 200);
  CHECK(changed.body["spec"]["endpoints"][0]["port"] == "metrics");
  CHECK(changed.body["metadata"]["generation"] == 2);
  CHECK(f.server.revision() == revision + 1);
}

TEST_CASE("apply needs a fieldManager, and the applied object must be valid") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  Answer no_manager =
      f.api->patch(kMonitors + "/acid-a", service_monitor("x").dump(), "application/apply-patch+yaml");
  CHECK(no_manager.status == 400);
  json invalid = service_monitor("x");
  invalid["spec"]["endpoints"][0]["scheme"] = "gopher";
  Answer rejected = f.api->apply(kMonitors + "/acid-a", invalid, "pgscope-operator");
  CHECK(rejected.status == 422);
  CHECK(rejected.body["details"]["causes"][0]["field"] == "spec.endpoints[0].scheme");
  CHECK_FALSE(f.server.get("monitoring.coreos.com/v1", "ServiceMonitor", "db", "acid-a"));
  json mismatched = service_monitor("x");
  mismatched["metadata"]["name"] = "other";
  CHECK(f.api->apply(kMonitors + "/acid-a", mismatched, "pgscope-operator").status == 400);
}

TEST_CASE("applying a field another manager owns with another value is a conflict; force takes it over") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  REQUIRE(f.api->apply(kMonitors + "/acid-a", service_monitor("exporter"), "kubectl").status == 201);
  Answer conflict = f.api->apply(kMonitors + "/acid-a", service_monitor("metrics"), "pgscope-operator");
  REQUIRE(conflict.status == 409);
  CHECK(conflict.body["reason"] == "Conflict");
  CHECK(conflict.body["message"].get<std::string>().rfind(
            "Apply failed with 1 conflict: conflict with \"kubectl\"", 0) == 0);
  REQUIRE(conflict.body["details"]["causes"].size() == 1);
  json cause = conflict.body["details"]["causes"][0];
  CHECK(cause["reason"] == "FieldManagerConflict");
  CHECK(cause["field"] == ".spec.endpoints");
  CHECK(cause["message"] == "conflict with \"kubectl\" using monitoring.coreos.com/v1");
  CHECK(f.server.get("monitoring.coreos.com/v1", "ServiceMonitor", "db", "acid-a")
            ->at("spec")["endpoints"][0]["port"] == "exporter");

  // The same value is shared ownership, never a conflict.
  CHECK(f.api->apply(kMonitors + "/acid-a", service_monitor("exporter"), "pgscope-operator").status == 200);

  Answer forced = f.api->apply(kMonitors + "/acid-a", service_monitor("metrics"), "pgscope-operator", true);
  REQUIRE(forced.status == 200);
  CHECK(forced.body["spec"]["endpoints"][0]["port"] == "metrics");
  const json* kubectl = managed_entry(forced.body, "kubectl");
  if (kubectl != nullptr)
    CHECK_FALSE((*kubectl)["fieldsV1"].value("f:spec", json::object()).contains("f:endpoints"));
}

TEST_CASE("a field a manager stops applying is removed; fields others wrote stay") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  REQUIRE(f.api
              ->apply(kMonitors + "/acid-a",
                      service_monitor("exporter", {{"release", "prom"}, {"team", "acid"}}),
                      "pgscope-operator", true)
              .status == 201);
  // Someone else's label, by a merge patch (operation Update).
  REQUIRE(f.api
              ->merge_patch(kMonitors + "/acid-a?fieldManager=kubectl-edit",
                            {{"metadata", {{"labels", {{"owner", "me"}}}}}})
              .status == 200);
  Answer applied = f.api->apply(kMonitors + "/acid-a", service_monitor("exporter", {{"release", "prom"}}),
                                "pgscope-operator", true);
  REQUIRE(applied.status == 200);
  json labels = applied.body["metadata"]["labels"];
  CHECK(labels == json{{"release", "prom"}, {"owner", "me"}});
  const json* edit = managed_entry(applied.body, "kubectl-edit");
  REQUIRE(edit != nullptr);
  CHECK((*edit)["operation"] == "Update");
}

TEST_CASE("merge patch and JSON patch work on custom resources; strategic merge patch does not") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  REQUIRE(f.api->post(kPostgresqls, postgresql("acid-p", "db")).status == 201);
  Answer strategic = f.api->patch(kPostgresqls + "/acid-p", R"({"spec":{"numberOfInstances":3}})",
                                  "application/strategic-merge-patch+json");
  CHECK(strategic.status == 415);
  CHECK(strategic.body["reason"] == "UnsupportedMediaType");

  Answer json_patch = f.api->patch(
      kPostgresqls + "/acid-p",
      R"([{"op":"test","path":"/spec/numberOfInstances","value":2},{"op":"replace","path":"/spec/numberOfInstances","value":4}])",
      "application/json-patch+json");
  REQUIRE(json_patch.status == 200);
  CHECK(json_patch.body["spec"]["numberOfInstances"] == 4);
  Answer failed_test =
      f.api->patch(kPostgresqls + "/acid-p", R"([{"op":"test","path":"/spec/numberOfInstances","value":2}])",
                   "application/json-patch+json");
  CHECK(failed_test.status == 422);

  // A merge patch replaces lists of a CR whole (spec.sidecars is atomic).
  json sidecars = {
      {"spec", {{"sidecars", {{{"name", "a"}, {"image", "a:1"}}, {{"name", "b"}, {"image", "b:1"}}}}}}};
  REQUIRE(f.api->merge_patch(kPostgresqls + "/acid-p", sidecars).status == 200);
  Answer replaced = f.api->merge_patch(kPostgresqls + "/acid-p",
                                       {{"spec", {{"sidecars", {{{"name", "b"}, {"image", "b:2"}}}}}}});
  REQUIRE(replaced.status == 200);
  CHECK(replaced.body["spec"]["sidecars"] == json::array({{{"name", "b"}, {"image", "b:2"}}}));
  CHECK(f.api->patch(kPostgresqls + "/acid-p", "{}", "text/plain").status == 415);
}

TEST_CASE("the admin API writes through the same path as HTTP") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json created = f.server.create(postgresql("acid-admin", "db"));
  CHECK(created["metadata"]["generation"] == 1);
  REQUIRE(managed_entry(created, "test") != nullptr);
  json patched = f.server.merge_patch("acid.zalan.do/v1", "postgresql", "db", "acid-admin",
                                      {{"spec", {{"numberOfInstances", 3}}}});
  CHECK(patched["metadata"]["generation"] == 2);
  json applied = f.server.apply(service_monitor("exporter"), "pgscope-operator");
  CHECK(applied["spec"]["endpoints"][0]["port"] == "exporter");
  CHECK_THROWS_AS(f.server.create(postgresql("acid-admin", "db")), ApiError);
  try {
    json stale = created;
    stale["spec"]["numberOfInstances"] = 5;
    f.server.update(stale);
    FAIL("a stale update succeeded");
  } catch (const ApiError& error) {
    CHECK(error.code() == 409);
    CHECK(error.reason() == "Conflict");
  }
  CHECK(f.server.list("acid.zalan.do/v1", "postgresql", "db").size() == 1);
  f.server.remove("acid.zalan.do/v1", "postgresql", "db", "acid-admin");
  CHECK_FALSE(f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-admin"));
}

}  // namespace unity_file_fake_test_apply
