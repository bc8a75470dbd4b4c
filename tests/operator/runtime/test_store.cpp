#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "operator/runtime/store.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_store {

using pgscope::op::json;
using pgscope::op::Store;

namespace {

json object(const std::string& ns, const std::string& name, const std::string& rv) {
  json metadata = {{"name", name}, {"resourceVersion", rv}};
  if (!ns.empty()) metadata["namespace"] = ns;
  return {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", metadata}};
}

std::vector<std::string> names(const std::vector<pgscope::op::ObjectPtr>& objects) {
  std::vector<std::string> result;
  for (const auto& o : objects) result.push_back(Store::key_of(*o));
  return result;
}

}  // namespace

TEST_CASE("store keeps objects by namespace/name and lists them sorted", "[store]") {
  Store store;
  store.apply_event("ADDED", object("b", "x", "1"));
  store.apply_event("ADDED", object("a", "y", "2"));
  store.apply_event("ADDED", object("a", "x", "3"));
  CHECK(store.size() == 3);
  CHECK(names(store.list()) == std::vector<std::string>{"a/x", "a/y", "b/x"});
  CHECK(names(store.list("a")) == std::vector<std::string>{"a/x", "a/y"});
  CHECK(store.list("ab").empty());  // a prefix of a namespace is not that namespace
  REQUIRE(store.get("a", "y"));
  CHECK((*store.get("a", "y"))["metadata"]["resourceVersion"] == "2");
  CHECK_FALSE(store.get("b", "y"));

  store.apply_event("MODIFIED", object("a", "y", "7"));
  CHECK((*store.get("a", "y"))["metadata"]["resourceVersion"] == "7");
  store.apply_event("DELETED", object("a", "y", "8"));
  CHECK_FALSE(store.get("a", "y"));
  store.apply_event("BOOKMARK", json{{"metadata", {{"resourceVersion", "9"}}}});
  CHECK(store.size() == 2);
  CHECK_THROWS_AS(store.apply_event("ERROR", object("a", "z", "1")), std::invalid_argument);
  CHECK_THROWS_AS(store.apply_event("ADDED", json{{"metadata", json::object()}}), std::invalid_argument);
}

TEST_CASE("an object handed out stays as it was when the store changes", "[store]") {
  Store store;
  store.apply_event("ADDED", object("a", "x", "1"));
  auto before = store.get("a", "x");
  store.apply_event("MODIFIED", object("a", "x", "2"));
  store.apply_event("DELETED", object("a", "x", "2"));
  CHECK((*before)["metadata"]["resourceVersion"] == "1");
}

TEST_CASE("replace reports what vanished, what is new and what changed", "[store]") {
  Store store;
  store.replace({object("a", "keep", "1"), object("a", "change", "1"), object("a", "gone", "5")});
  auto diff = store.replace_with_diff(
      {object("a", "keep", "1"), object("a", "change", "2"), object("a", "new", "3")});
  REQUIRE(diff.removed.size() == 1);
  CHECK(Store::key_of(*diff.removed[0]) == "a/gone");
  CHECK((*diff.removed[0])["metadata"]["resourceVersion"] == "5");  // the last known state
  CHECK(names(diff.added) == std::vector<std::string>{"a/new"});
  CHECK(names(diff.modified) == std::vector<std::string>{"a/change"});
  CHECK(names(store.list()) == std::vector<std::string>{"a/change", "a/keep", "a/new"});
  CHECK(store.replace({}) == std::vector<std::string>{"a/change", "a/keep", "a/new"});
  CHECK(store.size() == 0);
}

TEST_CASE("replace limited to a namespace leaves other namespaces alone", "[store]") {
  Store store;
  store.replace({object("a", "x", "1"), object("b", "x", "1")});
  auto vanished = store.replace({object("a", "y", "2")}, "a");
  CHECK(vanished == std::vector<std::string>{"a/x"});
  CHECK(names(store.list()) == std::vector<std::string>{"a/y", "b/x"});
  CHECK_THROWS_AS(store.replace({object("b", "z", "1")}, "a"), std::invalid_argument);
}

TEST_CASE("cluster-scoped objects are keyed by name", "[store]") {
  Store store;
  store.apply_event("ADDED", object("", "node-1", "1"));
  CHECK(Store::key_of(*store.get("", "node-1")) == "node-1");
  CHECK(store.list("").size() == 1);
}

TEST_CASE("select filters objects with a predicate", "[store]") {
  Store store;
  auto labelled = object("a", "x", "1");
  labelled["metadata"]["labels"] = {{"pgscope.io/cluster", "acid-minimal"}};
  store.replace({labelled, object("a", "y", "1")});
  auto found = store.select([](const json& o) {
    return o["metadata"].contains("labels") &&
           o["metadata"]["labels"].value("pgscope.io/cluster", "") == "acid-minimal";
  });
  CHECK(names(found) == std::vector<std::string>{"a/x"});
}

TEST_CASE("a write's answer does not overwrite a newer state the watch brought", "[store]") {
  Store store;
  store.apply_event("ADDED", object("a", "x", "1"));
  const auto read = store.get("a", "x");
  // The controller writes rv 2; before its answer comes, the watch brings
  // rv 2 and someone's edit, rv 3.
  store.apply_event("MODIFIED", object("a", "x", "2"));
  store.apply_event("MODIFIED", object("a", "x", "3"));
  CHECK_FALSE(store.apply_event_if_current("MODIFIED", object("a", "x", "2"), read));
  CHECK((*store.get("a", "x"))["metadata"]["resourceVersion"] == "3");

  // Nothing came in between: the answer goes in.
  const auto latest = store.get("a", "x");
  CHECK(store.apply_event_if_current("MODIFIED", object("a", "x", "4"), latest));
  CHECK((*store.get("a", "x"))["metadata"]["resourceVersion"] == "4");

  // A creation (expected: absent) after the watch already added the object,
  // and a deletion of an object recreated meanwhile, change nothing.
  store.apply_event("ADDED", object("a", "y", "5"));
  CHECK_FALSE(store.apply_event_if_current("ADDED", object("a", "y", "4"), nullptr));
  CHECK((*store.get("a", "y"))["metadata"]["resourceVersion"] == "5");
  const auto before_deletion = store.get("a", "x");
  store.apply_event("DELETED", object("a", "x", "4"));
  store.apply_event("ADDED", object("a", "x", "6"));
  CHECK_FALSE(store.apply_event_if_current("DELETED", *before_deletion, before_deletion));
  REQUIRE(store.get("a", "x"));
  CHECK((*store.get("a", "x"))["metadata"]["resourceVersion"] == "6");

  // Still as read: the deletion goes through; unknown types are refused.
  CHECK(store.apply_event_if_current("DELETED", object("a", "x", "6"), store.get("a", "x")));
  CHECK_FALSE(store.get("a", "x"));
  CHECK(store.apply_event_if_current("ADDED", object("a", "z", "7"), nullptr));
  CHECK(store.get("a", "z"));
  CHECK_THROWS_AS(store.apply_event_if_current("BOOKMARK", object("a", "z", "8"), nullptr),
                  std::invalid_argument);
}

TEST_CASE("store takes concurrent readers and writers", "[store]") {
  Store store;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 500; ++i) {
        store.apply_event("ADDED",
                          object("ns" + std::to_string(t), "o" + std::to_string(i), std::to_string(i)));
        store.list();
        if (i % 2 == 0)
          store.apply_event("DELETED", object("ns" + std::to_string(t), "o" + std::to_string(i), "x"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(store.size() == 4 * 250);
}

}  // namespace unity_file_runtime_test_store
