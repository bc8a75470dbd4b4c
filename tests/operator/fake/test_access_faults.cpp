// Authentication, authorization, injected faults, the request log and HTTPS.
#include <catch2/catch.hpp>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_access_faults {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;
using namespace std::chrono_literals;

namespace {

const std::string kConfigMaps = "/api/v1/namespaces/db/configmaps";
const std::string kMonitors = "/apis/monitoring.coreos.com/v1/servicemonitors";

}  // namespace

TEST_CASE("requests without a valid bearer token get 401; rotated tokens work until revoked") {
  Fixture f;
  TestClient anonymous(f.server, "");
  Answer none = anonymous.get(kConfigMaps);
  CHECK(none.status == 401);
  CHECK(none.body["kind"] == "Status");
  CHECK(none.body["reason"] == "Unauthorized");
  CHECK(TestClient(f.server, "made-up").get(kConfigMaps).status == 401);
  CHECK(anonymous.get("/healthz").status == 200);

  std::string old_token = f.server.add_user("op", allow_all());
  std::string new_token = f.server.rotate_token("op");
  CHECK(new_token != old_token);
  CHECK(TestClient(f.server, old_token).get(kConfigMaps).status == 200);
  CHECK(TestClient(f.server, new_token).get(kConfigMaps).status == 200);
  f.server.revoke_token(old_token);
  CHECK(TestClient(f.server, old_token).get(kConfigMaps).status == 401);
  CHECK(TestClient(f.server, new_token).get(kConfigMaps).status == 200);
}

TEST_CASE("requests no rule allows get 403 with kube's RBAC message") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  std::string token = f.server.add_user("op", {{{"get", "list", "watch"}, "", "configmaps", "db", {}}});
  TestClient op(f.server, token);
  CHECK(op.get(kConfigMaps).status == 200);

  Answer cluster_list = op.get(kMonitors);
  REQUIRE(cluster_list.status == 403);
  CHECK(cluster_list.body["reason"] == "Forbidden");
  CHECK(cluster_list.body["message"] ==
        "servicemonitors.monitoring.coreos.com is forbidden: User \"op\" cannot list resource "
        "\"servicemonitors\" in "
        "API group \"monitoring.coreos.com\" at the cluster scope");
  Answer other_ns = op.get("/api/v1/namespaces/other/configmaps/x");
  REQUIRE(other_ns.status == 403);
  CHECK(other_ns.body["message"] ==
        "configmaps \"x\" is forbidden: User \"op\" cannot get resource \"configmaps\" in API group \"\" in "
        "the "
        "namespace \"other\"");
  CHECK(op.post(kConfigMaps, config_map("x", "db")).status == 403);
  CHECK(op.get("/apis/monitoring.coreos.com/v1").status == 200);  // discovery needs only authentication

  f.server.set_rules("op", {{{"*"}, "monitoring.coreos.com", "*", "", {}}});
  CHECK(op.get(kMonitors).status == 200);
  CHECK(op.get(kConfigMaps).status == 403);
}

TEST_CASE("a rule with resourceNames allows only those objects, never a list or a create") {
  Fixture f;
  std::string token =
      f.server.add_user("op", {{{"get", "update", "list", "create"}, "", "configmaps", "db", {"allowed"}}});
  TestClient op(f.server, token);
  REQUIRE(f.api->post(kConfigMaps, config_map("allowed", "db")).status == 201);
  REQUIRE(f.api->post(kConfigMaps, config_map("other", "db")).status == 201);

  Answer allowed = op.get(kConfigMaps + "/allowed");
  REQUIRE(allowed.status == 200);
  CHECK(op.put(kConfigMaps + "/allowed", allowed.body).status == 200);
  Answer other = op.get(kConfigMaps + "/other");
  REQUIRE(other.status == 403);
  CHECK(other.body["message"] ==
        "configmaps \"other\" is forbidden: User \"op\" cannot get resource \"configmaps\" in API group \"\" "
        "in the namespace \"db\"");
  CHECK(op.get(kConfigMaps).status == 403);                                    // list
  CHECK(op.post(kConfigMaps, config_map("allowed-too", "db")).status == 403);  // create
}

TEST_CASE("fault rules answer with errors, delay, reset connections and count their hits") {
  Fixture f;
  FaultRule unavailable;
  unavailable.method = "GET";
  unavailable.path_contains = "/configmaps";
  unavailable.status = 503;
  unavailable.retry_after_seconds = 2;
  unavailable.times = 2;
  f.server.add_fault(unavailable);
  CHECK(f.api->post(kConfigMaps, config_map("a", "db")).status == 201);  // other method: untouched
  for (int i = 0; i < 2; ++i) {
    Answer answer = f.api->get(kConfigMaps);
    CHECK(answer.status == 503);
    CHECK(answer.retry_after == "2");
    CHECK(answer.body["reason"] == "ServiceUnavailable");
  }
  CHECK(f.api->get(kConfigMaps).status == 200);

  FaultRule slow;
  slow.path_contains = "labelSelector=slow";
  slow.delay = 300ms;
  f.server.add_fault(slow);
  auto start = std::chrono::steady_clock::now();
  CHECK(f.api->get(kConfigMaps + "?labelSelector=slow").status == 200);
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);

  FaultRule reset;
  reset.reset = true;
  f.server.add_fault(reset);
  CHECK(f.api->get(kConfigMaps).status == 0);
  CHECK(f.api->get(kConfigMaps).status == 200);

  FaultRule always;
  always.status = 500;
  always.times = -1;
  f.server.add_fault(always);
  for (int i = 0; i < 3; ++i) CHECK(f.api->get(kConfigMaps).status == 500);
  f.server.clear_faults();
  CHECK(f.api->get(kConfigMaps).status == 200);
}

TEST_CASE("a watch-drop fault cuts the stream after N events") {
  Fixture f;
  for (const char* name : {"a", "b", "c"})
    REQUIRE(f.api->post(kConfigMaps, config_map(name, "db")).status == 201);
  FaultRule drop;
  drop.path_contains = "watch=true";
  drop.watch_events_then_drop = 2;
  f.server.add_fault(drop);
  WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=30");
  REQUIRE(watch.wait_finished());
  CHECK(watch.events().size() == 2);
  CHECK_FALSE(watch.ended_cleanly());
}

TEST_CASE("the request log records who did what; writes_by counts only writes that changed something") {
  Fixture f;
  std::string token = f.server.add_user("op", allow_all());
  TestClient op(f.server, token);
  f.server.clear_requests();
  REQUIRE(op.post(kConfigMaps + "?fieldManager=pgscope-operator", config_map("a", "db")).status == 201);
  REQUIRE(op.merge_patch(kConfigMaps + "/a", {{"data", {{"key", "value"}}}}).status == 200);  // no change
  REQUIRE(op.merge_patch(kConfigMaps + "/a", {{"data", {{"key", "v2"}}}}).status == 200);
  REQUIRE(op.get(kConfigMaps + "/a").status == 200);
  CHECK(f.server.writes_by("op") == 2);
  CHECK(f.server.writes_by("admin") == 0);
  auto log = f.server.requests();
  REQUIRE(log.size() == 4);
  CHECK(log[0].method == "POST");
  CHECK(log[0].path == kConfigMaps);
  CHECK(log[0].query == "fieldManager=pgscope-operator");
  CHECK(log[0].field_manager == "pgscope-operator");
  CHECK(log[0].user == "op");
  CHECK(log[0].status == 201);
  CHECK(log[1].content_type == "application/merge-patch+json");
  CHECK_FALSE(log[1].changed);
  CHECK(log[2].changed);
}

TEST_CASE("over HTTPS the server presents a certificate signed by its CA") {
  FakeApiServer::Options options;
  options.tls = true;
  Fixture f(options);
  CHECK(f.server.url().rfind("https://127.0.0.1:", 0) == 0);
  CHECK(f.server.ca_pem().find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(f.api->get("/api/v1").status == 200);
  CHECK(f.api->post(kConfigMaps, config_map("tls", "db")).status == 201);
  WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=30");
  CHECK(watch.wait_for([](const auto& events) { return events.size() == 1; }));

  httplib::Client unverified(f.server.url());
  unverified.enable_server_certificate_verification(true);
  unverified.set_ca_cert_path("/nonexistent");
  CHECK_FALSE(unverified.Get("/api/v1"));
}

TEST_CASE("a stopped server refuses connections and keeps its objects and port when started again") {
  Fixture f;
  REQUIRE(f.api->post(kConfigMaps, config_map("kept", "db")).status == 201);
  int port = f.server.port();
  WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=30");
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() == 1; }));
  f.server.stop();
  CHECK(watch.wait_finished());
  CHECK(TestClient(f.server, f.token).get(kConfigMaps).status == 0);
  f.server.start();
  CHECK(f.server.port() == port);
  CHECK(TestClient(f.server, f.token).get(kConfigMaps + "/kept").status == 200);
}

}  // namespace unity_file_fake_test_access_faults
