// Discovery documents and CRD installation: kinds appear and disappear.
#include <catch2/catch.hpp>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_discovery {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

std::set<std::string> group_names(const json& group_list) {
  std::set<std::string> names;
  for (const auto& group : group_list["groups"]) names.insert(group["name"].get<std::string>());
  return names;
}

const json* resource(const json& list, const std::string& name) {
  for (const auto& entry : list["resources"]) {
    if (entry["name"] == name) return &entry;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("core kinds are always discoverable; CRD kinds only while installed") {
  PGSCOPE_REQUIRE_REFERENCE();
  FakeApiServer server;
  server.start();
  std::string token = server.add_user("admin", allow_all());
  TestClient api(server, token);

  Answer versions = api.get("/api");
  REQUIRE(versions.status == 200);
  CHECK(versions.body["kind"] == "APIVersions");
  CHECK(versions.body["versions"] == json::array({"v1"}));
  Answer core = api.get("/api/v1");
  REQUIRE(core.status == 200);
  for (const char* name : {"configmaps", "services", "secrets", "pods", "events"}) {
    INFO(name);
    const json* entry = resource(core.body, name);
    REQUIRE(entry != nullptr);
    CHECK((*entry)["namespaced"] == true);
  }
  CHECK((*resource(core.body, "configmaps"))["kind"] == "ConfigMap");
  auto groups = group_names(api.get("/apis").body);
  CHECK(groups.count("apps") == 1);
  CHECK(groups.count("coordination.k8s.io") == 1);
  CHECK(groups.count("monitoring.coreos.com") == 0);
  Answer missing = api.get("/apis/monitoring.coreos.com/v1");
  CHECK(missing.status == 404);
  CHECK(missing.body["reason"] == "NotFound");
  CHECK(api.get("/apis/monitoring.coreos.com/v1/namespaces/db/servicemonitors").status == 404);

  install_reference_crds(server);
  CHECK(group_names(api.get("/apis").body).count("monitoring.coreos.com") == 1);
  Answer monitoring = api.get("/apis/monitoring.coreos.com/v1");
  REQUIRE(monitoring.status == 200);
  CHECK(monitoring.body["kind"] == "APIResourceList");
  CHECK(monitoring.body["groupVersion"] == "monitoring.coreos.com/v1");
  for (const char* name : {"servicemonitors", "podmonitors", "prometheusrules"}) {
    INFO(name);
    const json* entry = resource(monitoring.body, name);
    REQUIRE(entry != nullptr);
    CHECK((*entry)["namespaced"] == true);
    std::set<std::string> verbs = (*entry)["verbs"].get<std::set<std::string>>();
    for (const char* verb : {"get", "list", "watch", "create", "update", "patch", "delete"})
      CHECK(verbs.count(verb));
  }
  CHECK((*resource(monitoring.body, "servicemonitors"))["kind"] == "ServiceMonitor");
  CHECK(resource(monitoring.body, "servicemonitors/status") != nullptr);
  Answer zalando = api.get("/apis/acid.zalan.do/v1");
  REQUIRE(zalando.status == 200);
  CHECK((*resource(zalando.body, "postgresqls"))["kind"] == "postgresql");
  Answer group = api.get("/apis/acid.zalan.do");
  REQUIRE(group.status == 200);
  CHECK(group.body["preferredVersion"]["groupVersion"] == "acid.zalan.do/v1");
  CHECK(api.get("/apis/monitoring.coreos.com/v1/namespaces/db/servicemonitors").status == 200);
}

TEST_CASE("uninstalling a CRD deletes its objects and ends its watches") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  const std::string monitors = "/apis/monitoring.coreos.com/v1/namespaces/db/servicemonitors";
  json monitor = {{"apiVersion", "monitoring.coreos.com/v1"},
                  {"kind", "ServiceMonitor"},
                  {"metadata", {{"name", "m"}, {"namespace", "db"}}},
                  {"spec", {{"selector", json::object()}, {"endpoints", {{{"port", "exporter"}}}}}}};
  REQUIRE(f.api->post(monitors, monitor).status == 201);
  WatchReader watch(f.server, f.token, monitors + "?watch=true&timeoutSeconds=30");
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() == 1; }));
  f.server.uninstall_crd("monitoring.coreos.com", "servicemonitors");
  REQUIRE(watch.wait_finished());
  CHECK(watch.events().back()["type"] == "DELETED");
  CHECK(f.api->get(monitors).status == 404);
  CHECK(resource(f.api->get("/apis/monitoring.coreos.com/v1").body, "servicemonitors") == nullptr);
  f.server.install_crd(reference_dir() + "/prometheus-operator/monitoring.coreos.com_servicemonitors.yaml");
  Answer empty = f.api->get(monitors);
  REQUIRE(empty.status == 200);
  CHECK(empty.body["items"].empty());
}

}  // namespace unity_file_fake_test_discovery
