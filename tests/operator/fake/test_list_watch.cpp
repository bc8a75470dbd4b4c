// LIST and WATCH: paging on one snapshot, expired continue tokens, selectors,
// the resourceVersion table, watch start semantics, replay, 410 both ways,
// bookmarks, selector transitions and stream endings.
#include <catch2/catch.hpp>

#include "fake_client.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_fake_test_list_watch {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;
using namespace std::chrono_literals;

namespace {

const std::string kConfigMaps = "/api/v1/namespaces/db/configmaps";

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list["items"]) out.push_back(item["metadata"]["name"]);
  return out;
}

std::string rv_of(const json& object) { return object["metadata"]["resourceVersion"]; }

// The watch events as "TYPE name" lines.
std::vector<std::string> summary(const std::vector<json>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) {
    if (event["type"] == "BOOKMARK") continue;
    out.push_back(event["type"].get<std::string>() + " " + event["object"]["metadata"].value("name", ""));
  }
  return out;
}

void create_maps(Fixture& f, std::initializer_list<const char*> list, const json& labels = json::object()) {
  for (const char* name : list)
    REQUIRE(f.api->post(kConfigMaps, config_map(name, "db", labels)).status == 201);
}

}  // namespace

TEST_CASE("a paged list is cut from one snapshot: later pages ignore later writes") {
  Fixture f;
  create_maps(f, {"a", "b", "c", "d", "e"});
  Answer first = f.api->get(kConfigMaps + "?limit=2");
  REQUIRE(first.status == 200);
  CHECK(first.body["kind"] == "ConfigMapList");
  CHECK(names(first.body) == std::vector<std::string>{"a", "b"});
  CHECK(first.body["metadata"]["remainingItemCount"] == 3);
  std::string snapshot = rv_of(first.body);
  std::string token = first.body["metadata"]["continue"];

  REQUIRE(f.api->remove(kConfigMaps + "/d").status == 200);
  REQUIRE(f.api->post(kConfigMaps, config_map("bb", "db")).status == 201);

  Answer second = f.api->get(kConfigMaps + "?limit=2&continue=" + token);
  REQUIRE(second.status == 200);
  CHECK(names(second.body) == std::vector<std::string>{"c", "d"});  // d as of the snapshot; no bb
  CHECK(rv_of(second.body) == snapshot);
  Answer third =
      f.api->get(kConfigMaps + "?limit=2&continue=" + second.body["metadata"]["continue"].get<std::string>());
  REQUIRE(third.status == 200);
  CHECK(names(third.body) == std::vector<std::string>{"e"});
  CHECK_FALSE(third.body["metadata"].contains("continue"));
  CHECK_FALSE(third.body["metadata"].contains("remainingItemCount"));

  Answer fresh = f.api->get(kConfigMaps);
  CHECK(names(fresh.body) == std::vector<std::string>{"a", "b", "bb", "c", "e"});
  CHECK(rv_of(fresh.body) == std::to_string(f.server.revision()));
}

TEST_CASE("a continue token older than the history is 410 Expired") {
  Fixture f;
  create_maps(f, {"a", "b", "c"});
  Answer first = f.api->get(kConfigMaps + "?limit=1");
  REQUIRE(first.status == 200);
  f.server.compact();
  Answer expired =
      f.api->get(kConfigMaps + "?limit=1&continue=" + first.body["metadata"]["continue"].get<std::string>());
  CHECK(expired.status == 410);
  CHECK(expired.body["reason"] == "Expired");
  CHECK(f.api->get(kConfigMaps + "?limit=1&continue=garbage").status == 400);
}

TEST_CASE("label and field selectors filter lists; no remainingItemCount with a selector") {
  Fixture f;
  REQUIRE(f.api->post(kConfigMaps, config_map("prod-web", "db", {{"env", "prod"}, {"tier", "web"}})).status ==
          201);
  REQUIRE(f.api->post(kConfigMaps, config_map("prod-db", "db", {{"env", "prod"}, {"tier", "db"}})).status ==
          201);
  REQUIRE(f.api->post(kConfigMaps, config_map("dev-web", "db", {{"env", "dev"}, {"tier", "web"}})).status ==
          201);
  REQUIRE(f.api->post(kConfigMaps, config_map("bare", "db")).status == 201);
  auto select = [&](const std::string& query) {
    Answer answer = f.api->get(kConfigMaps + "?" + query);
    REQUIRE(answer.status == 200);
    return names(answer.body);
  };
  using Names = std::vector<std::string>;
  CHECK(select("labelSelector=env%3Dprod") == Names{"prod-db", "prod-web"});
  CHECK(select("labelSelector=env%3D%3Dprod,tier%3Dweb") == Names{"prod-web"});
  CHECK(select("labelSelector=env!%3Dprod") == Names{"bare", "dev-web"});
  CHECK(select("labelSelector=tier%20in%20(db,cache)") == Names{"prod-db"});
  CHECK(select("labelSelector=env%20notin%20(prod)") == Names{"bare", "dev-web"});
  CHECK(select("labelSelector=tier") == Names{"dev-web", "prod-db", "prod-web"});
  CHECK(select("labelSelector=!tier") == Names{"bare"});
  CHECK(select("fieldSelector=metadata.name%3Dbare") == Names{"bare"});
  CHECK(select("fieldSelector=metadata.name!%3Dbare&labelSelector=env%3Ddev") == Names{"dev-web"});

  Answer paged = f.api->get(kConfigMaps + "?limit=1&labelSelector=tier");
  REQUIRE(paged.status == 200);
  CHECK(paged.body["metadata"].contains("continue"));
  CHECK_FALSE(paged.body["metadata"].contains("remainingItemCount"));

  CHECK(f.api->get(kConfigMaps + "?fieldSelector=spec.foo%3Dx").status == 400);
  CHECK(f.api->get(kConfigMaps + "?labelSelector=a%20in%20(").status == 400);
}

TEST_CASE("list resourceVersion semantics follow kube's table") {
  Fixture f;
  create_maps(f, {"a"});
  std::string old_rv = std::to_string(f.server.revision());
  create_maps(f, {"b"});
  std::string now = std::to_string(f.server.revision());

  // rv=N with a limit is Exact: the state at N.
  Answer exact = f.api->get(kConfigMaps + "?limit=10&resourceVersion=" + old_rv);
  REQUIRE(exact.status == 200);
  CHECK(names(exact.body) == std::vector<std::string>{"a"});
  CHECK(rv_of(exact.body) == old_rv);
  Answer exact_match = f.api->get(kConfigMaps + "?resourceVersionMatch=Exact&resourceVersion=" + old_rv);
  CHECK(names(exact_match.body) == std::vector<std::string>{"a"});
  // rv=N without a limit is NotOlderThan: at least N, here the newest.
  Answer not_older = f.api->get(kConfigMaps + "?resourceVersion=" + old_rv);
  CHECK(names(not_older.body) == std::vector<std::string>{"a", "b"});
  CHECK(rv_of(not_older.body) == now);
  CHECK(names(f.api->get(kConfigMaps + "?resourceVersion=0").body) == std::vector<std::string>{"a", "b"});

  CHECK(f.api->get(kConfigMaps + "?resourceVersionMatch=Exact").status == 400);
  CHECK(f.api->get(kConfigMaps + "?resourceVersion=" + old_rv + "&continue=x").status == 400);
  Answer too_new = f.api->get(kConfigMaps + "?resourceVersion=" + std::to_string(f.server.revision() + 100));
  CHECK(too_new.status == 504);
  CHECK(too_new.body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge");
  f.server.compact();
  CHECK(f.api->get(kConfigMaps + "?limit=10&resourceVersion=" + old_rv).status == 410);
}

TEST_CASE("a watch from rv unset or 0 starts with the current state, then follows changes") {
  Fixture f;
  create_maps(f, {"a", "b"});
  for (const char* rv : {"", "&resourceVersion=0"}) {
    WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=30" + std::string(rv));
    REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 2; }));
    CHECK(summary(watch.events()) == std::vector<std::string>{"ADDED a", "ADDED b"});
  }
  WatchReader watch(f.server, f.token, kConfigMaps + "?watch=1&timeoutSeconds=30");
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 2; }));
  create_maps(f, {"c"});
  REQUIRE(f.api->merge_patch(kConfigMaps + "/a", {{"data", {{"key", "changed"}}}}).status == 200);
  REQUIRE(f.api->remove(kConfigMaps + "/b").status == 200);
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 5; }));
  auto events = watch.events();
  CHECK(summary(events) ==
        std::vector<std::string>{"ADDED a", "ADDED b", "ADDED c", "MODIFIED a", "DELETED b"});
  CHECK(events[3]["object"]["data"]["key"] == "changed");
  CHECK(events[4]["object"]["data"]["key"] == "value");  // DELETED carries the last state
  CHECK(rv_of(events[4]["object"]) == std::to_string(f.server.revision()));
}

TEST_CASE("a watch from a list's resourceVersion replays only what changed after the list") {
  Fixture f;
  create_maps(f, {"a", "b"});
  Answer list = f.api->get(kConfigMaps);
  REQUIRE(list.status == 200);
  create_maps(f, {"c"});
  REQUIRE(f.api->merge_patch(kConfigMaps + "/a", {{"data", {{"key", "v2"}}}}).status == 200);
  REQUIRE(f.api->remove(kConfigMaps + "/b").status == 200);
  WatchReader watch(f.server, f.token,
                    kConfigMaps + "?watch=true&timeoutSeconds=30&resourceVersion=" + rv_of(list.body));
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 3; }));
  create_maps(f, {"d"});
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 4; }));
  CHECK(summary(watch.events()) == std::vector<std::string>{"ADDED c", "MODIFIED a", "DELETED b", "ADDED d"});
}

TEST_CASE("a watch from a resourceVersion older than the history gets 410 Expired") {
  SECTION("as an ERROR event in a 200 stream") {
    Fixture f;
    create_maps(f, {"a"});
    std::string old_rv = std::to_string(f.server.revision());
    create_maps(f, {"b"});
    f.server.compact();
    WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&resourceVersion=" + old_rv);
    REQUIRE(watch.wait_finished());
    CHECK(watch.status() == 200);
    auto events = watch.events();
    REQUIRE(events.size() == 1);
    CHECK(events[0]["type"] == "ERROR");
    CHECK(events[0]["object"]["kind"] == "Status");
    CHECK(events[0]["object"]["code"] == 410);
    CHECK(events[0]["object"]["reason"] == "Expired");
    CHECK(events[0]["object"]["message"].get<std::string>().rfind("too old resource version: " + old_rv, 0) ==
          0);
  }
  SECTION("as an HTTP 410 Status") {
    FakeApiServer::Options options;
    options.expired_as_event = false;
    Fixture f(options);
    create_maps(f, {"a"});
    std::string old_rv = std::to_string(f.server.revision());
    f.server.compact();
    WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&resourceVersion=" + old_rv);
    REQUIRE(watch.wait_finished());
    CHECK(watch.status() == 410);
    CHECK(json::parse(watch.body_text())["reason"] == "Expired");
  }
  SECTION("when the history limit dropped the events") {
    FakeApiServer::Options options;
    options.history_limit = 3;
    Fixture f(options);
    create_maps(f, {"a"});
    std::string old_rv = std::to_string(f.server.revision());
    create_maps(f, {"b", "c", "d", "e"});
    WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&resourceVersion=" + old_rv);
    REQUIRE(watch.wait_finished());
    REQUIRE(watch.events().size() == 1);
    CHECK(watch.events()[0]["object"]["code"] == 410);
    // A recent one still replays.
    std::string recent = std::to_string(f.server.revision() - 1);
    WatchReader ok(f.server, f.token,
                   kConfigMaps + "?watch=true&timeoutSeconds=30&resourceVersion=" + recent);
    REQUIRE(ok.wait_for([](const auto& events) { return !events.empty(); }));
    CHECK(summary(ok.events()) == std::vector<std::string>{"ADDED e"});
  }
}

TEST_CASE("bookmarks carry only kind, apiVersion and the resourceVersion everything up to was sent") {
  FakeApiServer::Options options;
  options.bookmark_interval = 100ms;
  Fixture f(options);
  create_maps(f, {"a"});
  WatchReader watch(f.server, f.token,
                    kConfigMaps + "?watch=true&timeoutSeconds=30&allowWatchBookmarks=true");
  create_maps(f, {"b"});
  std::string after_b = std::to_string(f.server.revision());
  REQUIRE(watch.wait_for([&](const auto& events) {
    return !events.empty() && events.back()["type"] == "BOOKMARK" &&
           events.back()["object"]["metadata"]["resourceVersion"] == after_b;
  }));
  json bookmark = watch.events().back()["object"];
  CHECK(bookmark ==
        json{{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", after_b}}}});
  CHECK(summary(watch.events()) == std::vector<std::string>{"ADDED a", "ADDED b"});

  WatchReader plain(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=1");
  REQUIRE(plain.wait_finished(5s));
  for (const auto& event : plain.events()) CHECK(event["type"] != "BOOKMARK");
}

TEST_CASE("a selector watch sees an object that stops matching as DELETED and one that starts as ADDED") {
  Fixture f;
  REQUIRE(f.api->post(kConfigMaps, config_map("m", "db", {{"app", "pg"}})).status == 201);
  WatchReader watch(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=30&labelSelector=app%3Dpg");
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 1; }));
  REQUIRE(f.api->merge_patch(kConfigMaps + "/m", {{"metadata", {{"labels", {{"app", "other"}}}}}}).status ==
          200);
  REQUIRE(f.api->post(kConfigMaps, config_map("n", "db", {{"app", "other"}})).status == 201);
  REQUIRE(f.api->merge_patch(kConfigMaps + "/m", {{"metadata", {{"labels", {{"app", "pg"}}}}}}).status ==
          200);
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 3; }));
  CHECK(summary(watch.events()) == std::vector<std::string>{"ADDED m", "DELETED m", "ADDED m"});
  CHECK(watch.events()[1]["object"]["metadata"]["labels"]["app"] == "other");
}

TEST_CASE("watches are scoped to their namespace and end on timeoutSeconds or drop_watches") {
  Fixture f;
  WatchReader all(f.server, f.token, "/api/v1/configmaps?watch=true&timeoutSeconds=30");
  WatchReader other(f.server, f.token, "/api/v1/namespaces/other/configmaps?watch=true&timeoutSeconds=30");
  WatchReader short_one(f.server, f.token, kConfigMaps + "?watch=true&timeoutSeconds=1");
  REQUIRE(eventually([&] { return f.server.open_watches() == 3; }));
  create_maps(f, {"x"});
  REQUIRE(f.api->post("/api/v1/namespaces/other/configmaps", config_map("y", "other")).status == 201);
  REQUIRE(all.wait_for([](const auto& events) { return events.size() >= 2; }));
  REQUIRE(other.wait_for([](const auto& events) { return events.size() >= 1; }));
  CHECK(summary(all.events()) == std::vector<std::string>{"ADDED x", "ADDED y"});
  CHECK(summary(other.events()) == std::vector<std::string>{"ADDED y"});

  REQUIRE(short_one.wait_finished(5s));
  CHECK(short_one.ended_cleanly());
  f.server.drop_watches();
  REQUIRE(all.wait_finished());
  REQUIRE(other.wait_finished());
  CHECK_FALSE(all.ended_cleanly());
  CHECK(eventually([&] { return f.server.open_watches() == 0; }));
}

TEST_CASE("a streaming list sends the state, then a bookmark marking the end of the initial events") {
  Fixture f;
  create_maps(f, {"a", "b"});
  WatchReader watch(f.server, f.token,
                    kConfigMaps +
                        "?watch=true&timeoutSeconds=30&sendInitialEvents=true&allowWatchBookmarks=true"
                        "&resourceVersionMatch=NotOlderThan&resourceVersion=");
  REQUIRE(watch.wait_for([](const auto& events) { return events.size() >= 3; }));
  auto events = watch.events();
  CHECK(summary(events) == std::vector<std::string>{"ADDED a", "ADDED b"});
  CHECK(events[2]["type"] == "BOOKMARK");
  CHECK(events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true");
}

}  // namespace unity_file_fake_test_list_watch
