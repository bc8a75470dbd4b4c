// Object writes: resourceVersions from one revision, generation, no-op writes,
// optimistic concurrency, validation, finalizers and delete preconditions.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_objects {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

const std::string kConfigMaps = "/api/v1/namespaces/db/configmaps";
const std::string kPostgresqls = "/apis/acid.zalan.do/v1/namespaces/db/postgresqls";
const std::string kLeases = "/apis/coordination.k8s.io/v1/namespaces/db/leases";

std::string rv_of(const json& object) { return object["metadata"]["resourceVersion"]; }

}  // namespace

TEST_CASE("every committed write bumps one global revision, the resourceVersion of what it wrote") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  std::uint64_t start = f.server.revision();
  Answer map = f.api->post(kConfigMaps, config_map("a", "db"));
  REQUIRE(map.status == 201);
  CHECK(rv_of(map.body) == std::to_string(start + 1));
  Answer cluster = f.api->post(kPostgresqls, postgresql("acid-a", "db"));
  REQUIRE(cluster.status == 201);
  CHECK(rv_of(cluster.body) == std::to_string(start + 2));
  CHECK(f.server.revision() == start + 2);
  CHECK(cluster.body["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK(!cluster.body["metadata"]["creationTimestamp"].get<std::string>().empty());
  CHECK(cluster.body["metadata"]["generation"] == 1);
  CHECK_FALSE(map.body["metadata"].contains("generation"));  // ConfigMaps have none
  Answer got = f.api->get(kConfigMaps + "/a");
  REQUIRE(got.status == 200);
  CHECK(rv_of(got.body) == rv_of(map.body));
  CHECK(got.body["data"]["key"] == "value");
}

TEST_CASE("generation counts spec changes; metadata and status changes only move the resourceVersion") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json object = postgresql("acid-g", "db");
  object["status"] = {{"PostgresClusterStatus", "Running"}};
  Answer created = f.api->post(kPostgresqls, object);
  REQUIRE(created.status == 201);
  CHECK_FALSE(created.body.contains("status"));  // the main resource ignores .status

  Answer labelled =
      f.api->merge_patch(kPostgresqls + "/acid-g", {{"metadata", {{"labels", {{"team", "x"}}}}}});
  REQUIRE(labelled.status == 200);
  CHECK(labelled.body["metadata"]["generation"] == 1);
  CHECK(rv_of(labelled.body) != rv_of(created.body));

  Answer scaled = f.api->merge_patch(kPostgresqls + "/acid-g", {{"spec", {{"numberOfInstances", 3}}}});
  REQUIRE(scaled.status == 200);
  CHECK(scaled.body["metadata"]["generation"] == 2);

  json with_status = scaled.body;
  with_status["status"] = {{"PostgresClusterStatus", "Running"}};
  Answer status = f.api->put(kPostgresqls + "/acid-g/status", with_status);
  REQUIRE(status.status == 200);
  CHECK(status.body["status"]["PostgresClusterStatus"] == "Running");
  CHECK(status.body["metadata"]["generation"] == 2);
  CHECK(rv_of(status.body) != rv_of(scaled.body));

  // The status subresource takes only .status; the main resource ignores it.
  json both = status.body;
  both["spec"]["numberOfInstances"] = 5;
  both["status"]["PostgresClusterStatus"] = "Failed";
  Answer status_again = f.api->put(kPostgresqls + "/acid-g/status", both);
  REQUIRE(status_again.status == 200);
  CHECK(status_again.body["spec"]["numberOfInstances"] == 3);
  both["metadata"]["resourceVersion"] = rv_of(status_again.body);
  Answer main = f.api->put(kPostgresqls + "/acid-g", both);
  REQUIRE(main.status == 200);
  CHECK(main.body["status"]["PostgresClusterStatus"] == "Failed");  // from the status write, not this one
  CHECK(main.body["spec"]["numberOfInstances"] == 5);
  CHECK(main.body["metadata"]["generation"] == 3);
}

TEST_CASE("a write that changes nothing commits nothing") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  std::atomic<int> events{0};
  f.server.on_change([&](const std::string&, const json&) { ++events; });
  Answer created = f.api->post(kPostgresqls, postgresql("acid-n", "db"));
  REQUIRE(created.status == 201);
  std::uint64_t revision = f.server.revision();
  int events_before = events;

  Answer same_patch = f.api->merge_patch(kPostgresqls + "/acid-n", {{"spec", {{"numberOfInstances", 2}}}});
  REQUIRE(same_patch.status == 200);
  CHECK(rv_of(same_patch.body) == rv_of(created.body));
  Answer same_put = f.api->put(kPostgresqls + "/acid-n", created.body);
  REQUIRE(same_put.status == 200);
  CHECK(rv_of(same_put.body) == rv_of(created.body));
  CHECK(same_put.body["metadata"]["managedFields"] == created.body["metadata"]["managedFields"]);
  CHECK(f.server.revision() == revision);
  CHECK(events == events_before);
}

TEST_CASE(
    "a stale resourceVersion is a 409 Conflict with kube's message; no resourceVersion is unconditional") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  Answer created = f.api->post(kPostgresqls, postgresql("acid-c", "db"));
  REQUIRE(created.status == 201);
  json first = created.body;
  first["spec"]["numberOfInstances"] = 3;
  REQUIRE(f.api->put(kPostgresqls + "/acid-c", first).status == 200);

  json stale = created.body;
  stale["spec"]["numberOfInstances"] = 4;
  Answer conflict = f.api->put(kPostgresqls + "/acid-c", stale);
  REQUIRE(conflict.status == 409);
  CHECK(conflict.body["kind"] == "Status");
  CHECK(conflict.body["status"] == "Failure");
  CHECK(conflict.body["reason"] == "Conflict");
  CHECK(conflict.body["code"] == 409);
  CHECK(
      conflict.body["message"] ==
      "Operation cannot be fulfilled on postgresqls.acid.zalan.do \"acid-c\": the object has been modified; "
      "please apply your changes to the latest version and try again");
  CHECK(conflict.body["details"]["name"] == "acid-c");
  CHECK(conflict.body["details"]["group"] == "acid.zalan.do");
  CHECK(conflict.body["details"]["kind"] == "postgresqls");

  // The same precondition in a merge patch.
  Answer stale_patch = f.api->merge_patch(
      kPostgresqls + "/acid-c",
      {{"metadata", {{"resourceVersion", rv_of(created.body)}}}, {"spec", {{"numberOfInstances", 6}}}});
  CHECK(stale_patch.status == 409);

  stale["metadata"].erase("resourceVersion");
  Answer unconditional = f.api->put(kPostgresqls + "/acid-c", stale);
  REQUIRE(unconditional.status == 200);
  CHECK(unconditional.body["spec"]["numberOfInstances"] == 4);
}

TEST_CASE("existing names, missing objects and invalid objects get AlreadyExists, NotFound and Invalid") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  REQUIRE(f.api->post(kConfigMaps, config_map("dup", "db")).status == 201);
  Answer duplicate = f.api->post(kConfigMaps, config_map("dup", "db"));
  CHECK(duplicate.status == 409);
  CHECK(duplicate.body["reason"] == "AlreadyExists");
  CHECK(duplicate.body["message"] == "configmaps \"dup\" already exists");

  Answer missing = f.api->get(kPostgresqls + "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.body["reason"] == "NotFound");
  CHECK(missing.body["message"] == "postgresqls.acid.zalan.do \"nope\" not found");
  CHECK(f.api->remove(kConfigMaps + "/nope").status == 404);

  json no_team = postgresql("acid-bad", "db");
  no_team["spec"].erase("teamId");
  no_team["spec"]["numberOfInstances"] = "two";
  Answer invalid = f.api->post(kPostgresqls, no_team);
  REQUIRE(invalid.status == 422);
  CHECK(invalid.body["reason"] == "Invalid");
  std::set<std::string> fields;
  for (const auto& cause : invalid.body["details"]["causes"])
    fields.insert(cause["field"].get<std::string>());
  CHECK(fields.count("spec.teamId") == 1);
  CHECK(fields.count("spec.numberOfInstances") == 1);
  CHECK_FALSE(f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-bad"));

  // Unknown fields of a structural schema are pruned, or rejected when asked to be strict.
  json extra = postgresql("acid-extra", "db");
  extra["spec"]["notAField"] = 1;
  Answer strict = f.api->post(kPostgresqls + "?fieldValidation=Strict", extra);
  CHECK(strict.status == 400);
  Answer pruned = f.api->post(kPostgresqls, extra);
  REQUIRE(pruned.status == 201);
  CHECK_FALSE(pruned.body["spec"].contains("notAField"));
}

TEST_CASE("re-creating an object gives it a new uid; generateName picks a free name") {
  Fixture f;
  Answer first = f.api->post(kConfigMaps, config_map("again", "db"));
  REQUIRE(first.status == 201);
  REQUIRE(f.api->remove(kConfigMaps + "/again").status == 200);
  Answer second = f.api->post(kConfigMaps, config_map("again", "db"));
  REQUIRE(second.status == 201);
  CHECK(second.body["metadata"]["uid"] != first.body["metadata"]["uid"]);

  json generated = config_map("", "db");
  generated["metadata"].erase("name");
  generated["metadata"]["generateName"] = "gen-";
  Answer named = f.api->post(kConfigMaps, generated);
  REQUIRE(named.status == 201);
  std::string name = named.body["metadata"]["name"];
  CHECK(name.rfind("gen-", 0) == 0);
  CHECK(name.size() == 9);
}

TEST_CASE("a finalizer keeps a deleted object, marked, until the last finalizer is removed") {
  Fixture f;
  std::vector<std::string> types;
  std::mutex types_mutex;
  f.server.on_change([&](const std::string& type, const json& object) {
    std::lock_guard<std::mutex> lock(types_mutex);
    if (object["metadata"]["name"] == "held") types.push_back(type);
  });
  json held = config_map("held", "db");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  REQUIRE(f.api->post(kConfigMaps, held).status == 201);

  Answer deleted = f.api->remove(kConfigMaps + "/held");
  REQUIRE(deleted.status == 202);
  CHECK(deleted.body["metadata"].contains("deletionTimestamp"));
  Answer still = f.api->get(kConfigMaps + "/held");
  REQUIRE(still.status == 200);
  CHECK(still.body["metadata"].contains("deletionTimestamp"));

  Answer more = f.api->merge_patch(kConfigMaps + "/held",
                                   {{"metadata", {{"finalizers", {"example.com/hold", "x.io/new"}}}}});
  CHECK(more.status == 422);

  REQUIRE(f.api->merge_patch(kConfigMaps + "/held", {{"metadata", {{"finalizers", nullptr}}}}).status == 200);
  CHECK(f.api->get(kConfigMaps + "/held").status == 404);
  std::lock_guard<std::mutex> lock(types_mutex);
  CHECK(types == std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"});
}

TEST_CASE("delete preconditions on uid and resourceVersion are 409 Conflicts when they do not hold") {
  Fixture f;
  Answer created = f.api->post(kConfigMaps, config_map("pre", "db"));
  REQUIRE(created.status == 201);
  Answer wrong_uid = f.api->remove(kConfigMaps + "/pre", {{"preconditions", {{"uid", "not-the-uid"}}}});
  CHECK(wrong_uid.status == 409);
  CHECK(wrong_uid.body["message"].get<std::string>().find("Precondition failed: UID in precondition") !=
        std::string::npos);
  Answer wrong_rv = f.api->remove(kConfigMaps + "/pre", {{"preconditions", {{"resourceVersion", "1"}}}});
  CHECK(wrong_rv.status == 409);
  Answer right =
      f.api->remove(kConfigMaps + "/pre",
                    {{"preconditions",
                      {{"uid", created.body["metadata"]["uid"]}, {"resourceVersion", rv_of(created.body)}}}});
  CHECK(right.status == 200);
  CHECK(right.body["status"] == "Success");
}

TEST_CASE("two candidates updating one Lease from the same read: exactly one wins, the other gets 409") {
  Fixture f;
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "pgscope-operator"}, {"namespace", "db"}}},
                {"spec", {{"holderIdentity", "nobody"}, {"leaseDurationSeconds", 15}}}};
  REQUIRE(f.api->post(kLeases, lease).status == 201);
  TestClient other(f.server, f.token);
  for (int round = 0; round < 20; ++round) {
    Answer read = f.api->get(kLeases + "/pgscope-operator");
    REQUIRE(read.status == 200);
    json mine = read.body, theirs = read.body;
    mine["spec"]["holderIdentity"] = "a-" + std::to_string(round);
    theirs["spec"]["holderIdentity"] = "b-" + std::to_string(round);
    Answer a, b;
    std::thread racer([&] { b = other.put(kLeases + "/pgscope-operator", theirs); });
    a = f.api->put(kLeases + "/pgscope-operator", mine);
    racer.join();
    INFO("round " << round << ": " << a.status << " " << b.status);
    CHECK(((a.status == 200 && b.status == 409) || (a.status == 409 && b.status == 200)));
    std::string holder = f.api->get(kLeases + "/pgscope-operator").body["spec"]["holderIdentity"];
    CHECK(holder == (a.status == 200 ? mine : theirs)["spec"]["holderIdentity"].get<std::string>());
  }
}

}  // namespace unity_file_fake_test_objects
