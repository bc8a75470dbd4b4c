// ownerReference garbage collection: background, cross-namespace owners,
// re-created owners, Foreground with blockOwnerDeletion, Orphan, and
// dependents with more than one owner.
#include <catch2/catch.hpp>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_garbage_collection {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

const std::string kPostgresqls = "/apis/acid.zalan.do/v1/namespaces/db/postgresqls";

json dependent(const std::string& name, const std::string& ns, std::vector<json> owners) {
  json object = config_map(name, ns);
  object["metadata"]["ownerReferences"] = owners;
  return object;
}

bool exists(Fixture& f, const std::string& ns, const std::string& name) {
  return f.server.get("v1", "ConfigMap", ns, name).has_value();
}

}  // namespace

TEST_CASE("deleting an owner deletes its dependents; other objects stay") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json owner = f.server.create(postgresql("acid-a", "db"));
  json monitor = {
      {"apiVersion", "monitoring.coreos.com/v1"},
      {"kind", "ServiceMonitor"},
      {"metadata", {{"name", "acid-a"}, {"namespace", "db"}, {"ownerReferences", {owner_reference(owner)}}}},
      {"spec", {{"selector", json::object()}, {"endpoints", {{{"port", "exporter"}}}}}}};
  f.server.create(monitor);
  f.server.create(dependent("acid-a-dashboard", "db", {owner_reference(owner)}));
  f.server.create(config_map("unrelated", "db"));
  REQUIRE(exists(f, "db", "acid-a-dashboard"));  // a present owner keeps it

  REQUIRE(f.api->remove(kPostgresqls + "/acid-a").status == 200);
  CHECK(eventually([&] { return !exists(f, "db", "acid-a-dashboard"); }));
  CHECK_FALSE(f.server.get("monitoring.coreos.com/v1", "ServiceMonitor", "db", "acid-a"));
  CHECK(exists(f, "db", "unrelated"));
}

TEST_CASE("an owner in another namespace counts as absent: the dependent is deleted, with a Warning Event") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json owner = f.server.create(postgresql("acid-a", "db"));
  // A dashboard placed in Grafana's namespace with an ownerReference: kube's GC deletes it.
  f.server.create(dependent("acid-a-dashboard", "monitoring", {owner_reference(owner)}));
  CHECK(eventually([&] { return !exists(f, "monitoring", "acid-a-dashboard"); }));
  bool warned = false;
  for (const auto& event : f.server.list("v1", "Event", "monitoring")) {
    if (event["reason"] == "OwnerRefInvalidNamespace" &&
        event["involvedObject"]["name"] == "acid-a-dashboard") {
      warned = event["type"] == "Warning";
    }
  }
  CHECK(warned);
  CHECK(f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-a"));
}

TEST_CASE("an owner re-created under the same name is a different owner") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json first = f.server.create(postgresql("acid-a", "db"));
  f.server.create(dependent("child", "db", {owner_reference(first)}));
  // Deleted with Orphan the child keeps living without a reference; here the
  // reference is rewritten by hand to a uid that will be stale after re-creation.
  f.server.remove("acid.zalan.do/v1", "postgresql", "db", "acid-a", "Orphan");
  REQUIRE(eventually([&] { return !f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-a"); }));
  REQUIRE(exists(f, "db", "child"));
  CHECK_FALSE(f.server.get("v1", "ConfigMap", "db", "child")->at("metadata").contains("ownerReferences"));

  json second = f.server.create(postgresql("acid-a", "db"));
  json stale = owner_reference(first);  // same name, old uid
  f.server.create(dependent("stale-child", "db", {stale}));
  CHECK(eventually([&] { return !exists(f, "db", "stale-child"); }));
  f.server.create(dependent("fresh-child", "db", {owner_reference(second)}));
  CHECK(exists(f, "db", "fresh-child"));
}

TEST_CASE("Foreground deletion keeps the owner until its blocking dependents are gone") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json owner = f.server.create(postgresql("acid-f", "db"));
  json blocking = dependent("blocking", "db", {owner_reference(owner, true)});
  blocking["metadata"]["finalizers"] = {"example.com/hold"};
  f.server.create(blocking);
  f.server.create(dependent("free", "db", {owner_reference(owner, false)}));

  Answer deleted = f.api->remove(kPostgresqls + "/acid-f", {{"propagationPolicy", "Foreground"}});
  REQUIRE(deleted.status == 202);
  CHECK(eventually([&] { return !exists(f, "db", "free"); }));
  auto held_owner = f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-f");
  REQUIRE(held_owner);
  CHECK((*held_owner)["metadata"].contains("deletionTimestamp"));
  CHECK((*held_owner)["metadata"]["finalizers"] == json::array({"foregroundDeletion"}));
  auto held_dependent = f.server.get("v1", "ConfigMap", "db", "blocking");
  REQUIRE(held_dependent);
  CHECK((*held_dependent)["metadata"].contains("deletionTimestamp"));

  f.server.merge_patch("v1", "ConfigMap", "db", "blocking", {{"metadata", {{"finalizers", nullptr}}}});
  CHECK(eventually([&] { return !f.server.get("acid.zalan.do/v1", "postgresql", "db", "acid-f"); }));
  CHECK_FALSE(exists(f, "db", "blocking"));
}

TEST_CASE("a dependent with a second, live owner loses only the dangling reference") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json a = f.server.create(postgresql("acid-a", "db"));
  json b = f.server.create(postgresql("acid-b", "db"));
  json ref_b = owner_reference(b);
  ref_b["controller"] = false;
  f.server.create(dependent("shared", "db", {owner_reference(a), ref_b}));
  f.server.remove("acid.zalan.do/v1", "postgresql", "db", "acid-a");
  REQUIRE(eventually([&] {
    auto shared = f.server.get("v1", "ConfigMap", "db", "shared");
    return shared && (*shared)["metadata"]["ownerReferences"].size() == 1;
  }));
  auto shared = f.server.get("v1", "ConfigMap", "db", "shared");
  CHECK((*shared)["metadata"]["ownerReferences"][0]["uid"] == b["metadata"]["uid"]);
}

TEST_CASE("ownerReferences are validated: only one controller") {
  PGSCOPE_REQUIRE_REFERENCE();
  Fixture f;
  json a = f.server.create(postgresql("acid-a", "db"));
  json b = f.server.create(postgresql("acid-b", "db"));
  Answer rejected = f.api->post("/api/v1/namespaces/db/configmaps",
                                dependent("two", "db", {owner_reference(a), owner_reference(b)}));
  CHECK(rejected.status == 422);
}

}  // namespace unity_file_fake_test_garbage_collection
