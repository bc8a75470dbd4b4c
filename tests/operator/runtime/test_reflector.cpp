#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "operator/kube/client.hpp"
#include "operator/runtime/reflector.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_reflector {

using namespace pgscope;
using op::testing::eventually;
using op::testing::json;
using op::testing::reply_status;
using op::testing::ScriptedServer;
using op::testing::status_object;
using std::chrono::milliseconds;

namespace {

const char* const kPath = "/api/v1/namespaces/test/configmaps";
using Reply = std::function<void(httplib::Response&)>;

json config_map(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "test"}, {"resourceVersion", rv}}},
          {"data", {{"k", rv}}}};
}

json list_of(std::vector<json> items, const std::string& rv) {
  return {{"kind", "ConfigMapList"},
          {"apiVersion", "v1"},
          {"metadata", {{"resourceVersion", rv}}},
          {"items", items}};
}

json event(const std::string& type, const json& object) { return {{"type", type}, {"object", object}}; }

json bookmark(const std::string& rv) {
  return event("BOOKMARK",
               {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}});
}

// Answers the n-th LIST and the n-th WATCH of the collection from a script;
// past the end of the script, lists repeat the last answer and watches stay
// open without events.
class Collection {
 public:
  explicit Collection(ScriptedServer& server) : server_(server) {
    server.routes().Get(kPath, [this](const httplib::Request& request, httplib::Response& response) {
      bool watch = request.has_param("watch");
      Reply reply;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& script = watch ? watches_ : lists_;
        std::size_t& calls = watch ? watch_calls_ : list_calls_;
        if (calls < script.size()) {
          reply = script[calls];
        } else if (!watch && !script.empty()) {
          reply = script.back();
        }
        ++calls;
      }
      if (reply) {
        reply(response);
      } else {
        server_.stream(response, {}, true);
      }
    });
  }
  void list(Reply reply) { lists_.push_back(std::move(reply)); }
  void list(const json& body) {
    list([body](httplib::Response& response) { response.set_content(body.dump(), "application/json"); });
  }
  void watch(Reply reply) { watches_.push_back(std::move(reply)); }
  void watch(std::vector<json> events, bool hold) {
    watch([this, events, hold](httplib::Response& response) { server_.stream(response, events, hold); });
  }

 private:
  ScriptedServer& server_;
  std::mutex mutex_;
  std::vector<Reply> lists_;
  std::vector<Reply> watches_;
  std::size_t list_calls_ = 0;
  std::size_t watch_calls_ = 0;
};

Reply status_reply(int code, const std::string& reason, int retry_after = 0) {
  return [=](httplib::Response& response) {
    reply_status(response, code, reason, "scripted " + reason);
    if (retry_after > 0) response.set_header("Retry-After", std::to_string(retry_after));
  };
}

// What the handler saw, as "TYPE name rv".
class Seen {
 public:
  op::Reflector::EventHandler handler() {
    return [this](const std::string& type, const json& object) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(type + " " + object["metadata"].value("name", "?") + " " +
                        object["metadata"].value("resourceVersion", "?"));
    };
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  std::size_t count() const { return events().size(); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

op::ReflectorOptions fast_options() {
  op::ReflectorOptions options;
  options.watch_timeout_min = std::chrono::seconds(1);
  options.watch_timeout_max = std::chrono::seconds(2);
  options.backoff.initial = milliseconds(50);
  options.backoff.jitter = 0;
  options.short_watch = milliseconds(0);
  return options;
}

long long gap_ms(const op::testing::RecordedRequest& a, const op::testing::RecordedRequest& b) {
  return std::chrono::duration_cast<milliseconds>(b.at - a.at).count();
}

}  // namespace

TEST_CASE("reflector relists after HTTP 410 and reports objects deleted in the gap", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  collection.list(list_of({config_map("a", "1"), config_map("b", "2")}, "10"));
  collection.list(list_of({config_map("a", "1"), config_map("c", "11")}, "20"));
  collection.watch(status_reply(410, "Expired"));
  collection.watch({event("MODIFIED", config_map("a", "21"))}, true);
  server.start();

  kube::Client client(server.config());
  Seen seen;
  op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, seen.handler(), {},
                          fast_options());
  reflector.start();
  REQUIRE(eventually([&] { return seen.count() >= 5; }));
  reflector.stop();

  CHECK(seen.events() ==
        std::vector<std::string>{"ADDED a 1", "ADDED b 2", "DELETED b 2", "ADDED c 11", "MODIFIED a 21"});
  CHECK(reflector.synced());
  CHECK(reflector.relists() == 1);
  CHECK(reflector.store().size() == 2);
  CHECK_FALSE(reflector.store().get("test", "b"));
  CHECK((*reflector.store().get("test", "a"))["metadata"]["resourceVersion"] == "21");

  auto lists = server.requests("GET", kPath, false);
  auto watches = server.requests("GET", kPath, true);
  REQUIRE(lists.size() == 2);
  CHECK(lists[1].param("resourceVersion").empty());  // a relist reads the newest state
  REQUIRE(watches.size() == 2);
  CHECK(watches[0].param("resourceVersion") == "10");
  CHECK(watches[1].param("resourceVersion") == "20");
  for (const auto& watch : watches) {
    CHECK(watch.param("allowWatchBookmarks") == "true");
    int timeout = std::stoi(watch.param("timeoutSeconds"));
    CHECK(timeout >= 1);
    CHECK(timeout <= 2);
  }
}

TEST_CASE("reflector relists after an ERROR 410 event inside the watch stream", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  collection.list(list_of({config_map("a", "1")}, "10"));
  collection.list(list_of({config_map("a", "1"), config_map("d", "12")}, "30"));
  collection.watch(
      {event("ADDED", config_map("d", "11")), event("ERROR", status_object(410, "Expired", "too old"))},
      true);
  server.start();

  kube::Client client(server.config());
  Seen seen;
  op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, seen.handler(), {},
                          fast_options());
  reflector.start();
  REQUIRE(eventually([&] { return server.requests("GET", kPath, true).size() >= 2; }));
  reflector.stop();

  CHECK(seen.events() == std::vector<std::string>{"ADDED a 1", "ADDED d 11", "MODIFIED d 12"});
  CHECK(reflector.relists() == 1);
  CHECK(server.requests("GET", kPath, false).size() == 2);
  CHECK(server.requests("GET", kPath, true)[1].param("resourceVersion") == "30");
}

TEST_CASE(
    "reflector resumes an ended watch from the last resourceVersion, bookmarks included, without relisting",
    "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  collection.list(list_of({config_map("a", "1")}, "10"));
  collection.watch({event("ADDED", config_map("x", "11")), bookmark("15")}, false);
  collection.watch({event("DELETED", config_map("x", "16"))}, false);
  server.start();

  kube::Client client(server.config());
  Seen seen;
  op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, seen.handler(), {},
                          fast_options());
  reflector.start();
  REQUIRE(eventually([&] { return server.requests("GET", kPath, true).size() >= 3; }));
  reflector.stop();

  auto watches = server.requests("GET", kPath, true);
  CHECK(watches[0].param("resourceVersion") == "10");
  CHECK(watches[1].param("resourceVersion") == "15");  // the bookmark moved it
  CHECK(watches[2].param("resourceVersion") == "16");
  CHECK(server.requests("GET", kPath, false).size() == 1);
  CHECK(reflector.relists() == 0);
  CHECK(reflector.watch_restarts() == 2);
  CHECK(reflector.resource_version() == "16");
  CHECK(seen.events() == std::vector<std::string>{"ADDED a 1", "ADDED x 11", "DELETED x 16"});
  CHECK(reflector.store().size() == 1);  // no bookmark object cached
}

TEST_CASE("reflector backs off exponentially on server errors and honours Retry-After", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  auto options = fast_options();

  SECTION("500s on the list: 100, 200, 400 ms") {
    options.backoff.initial = milliseconds(100);
    collection.list(status_reply(500, "InternalError"));
    collection.list(status_reply(500, "InternalError"));
    collection.list(status_reply(500, "InternalError"));
    collection.list(list_of({config_map("a", "1")}, "10"));
    server.start();
    kube::Client client(server.config());
    Seen seen;
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, seen.handler(), {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return reflector.synced(); }));
    reflector.stop();
    auto lists = server.requests("GET", kPath, false);
    REQUIRE(lists.size() == 4);
    CHECK(gap_ms(lists[0], lists[1]) >= 100);
    CHECK(gap_ms(lists[1], lists[2]) >= 200);
    CHECK(gap_ms(lists[2], lists[3]) >= 400);
    CHECK(gap_ms(lists[2], lists[3]) < 900);
    CHECK(reflector.errors() == 3);
    CHECK(seen.events() == std::vector<std::string>{"ADDED a 1"});
  }

  SECTION("429 with Retry-After waits at least that long") {
    collection.list(status_reply(429, "TooManyRequests", 1));
    collection.list(list_of({}, "10"));
    server.start();
    kube::Client client(server.config());
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return reflector.synced(); }));
    reflector.stop();
    auto lists = server.requests("GET", kPath, false);
    REQUIRE(lists.size() == 2);
    CHECK(gap_ms(lists[0], lists[1]) >= 1000);
  }

  SECTION("a failed watch is retried from the last resourceVersion without relisting") {
    collection.list(list_of({config_map("a", "1")}, "10"));
    collection.watch({event("MODIFIED", config_map("a", "12"))}, false);
    collection.watch(status_reply(500, "InternalError"));
    server.start();
    kube::Client client(server.config());
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return server.requests("GET", kPath, true).size() >= 3; }));
    reflector.stop();
    auto watches = server.requests("GET", kPath, true);
    CHECK(watches[2].param("resourceVersion") == "12");
    CHECK(gap_ms(watches[1], watches[2]) >= 50);
    CHECK(server.requests("GET", kPath, false).size() == 1);
    CHECK(reflector.errors() == 1);
  }

  SECTION("a watch that ends at once without events is retried with backoff") {
    options.short_watch = milliseconds(1000);
    options.backoff.initial = milliseconds(200);
    collection.list(list_of({}, "10"));
    collection.watch({}, false);
    collection.watch({}, false);
    server.start();
    kube::Client client(server.config());
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return server.requests("GET", kPath, true).size() >= 3; }));
    reflector.stop();
    auto watches = server.requests("GET", kPath, true);
    CHECK(gap_ms(watches[0], watches[1]) >= 200);
    CHECK(gap_ms(watches[1], watches[2]) >= 400);
    CHECK(reflector.errors() == 2);
  }
}

TEST_CASE("reflector reports kinds that are not served or forbidden and keeps retrying", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  collection.list(status_reply(404, "NotFound"));
  collection.list(status_reply(403, "Forbidden"));
  collection.list(list_of({config_map("a", "1")}, "10"));
  server.start();

  auto options = fast_options();
  options.backoff.initial = milliseconds(1000);
  options.unserved_max_delay = milliseconds(100);  // caps the 1 s backoff for these
  std::mutex mutex;
  std::vector<std::pair<int, long long>> reported;
  auto on_error = [&](const kube::ApiError& error, milliseconds retry_in) {
    std::lock_guard<std::mutex> lock(mutex);
    reported.emplace_back(error.http_status(), retry_in.count());
  };
  kube::Client client(server.config());
  Seen seen;
  op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, seen.handler(), on_error,
                          options);
  auto start = std::chrono::steady_clock::now();
  reflector.start();
  REQUIRE(eventually([&] { return reflector.synced(); }));
  auto took = std::chrono::steady_clock::now() - start;
  reflector.stop();

  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(reported.size() == 2);
  CHECK(reported[0].first == 404);
  CHECK(reported[1].first == 403);
  CHECK(reported[0].second <= 100);
  CHECK(reported[1].second <= 100);
  CHECK(took < milliseconds(900));
  CHECK(seen.events() == std::vector<std::string>{"ADDED a 1"});
}

TEST_CASE("reflector stops within half a second", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  auto options = fast_options();

  SECTION("while watching") {
    collection.list(list_of({}, "10"));
    server.start();
    kube::Client client(server.config());
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return server.requests("GET", kPath, true).size() == 1; }));
    std::this_thread::sleep_for(milliseconds(100));
    auto start = std::chrono::steady_clock::now();
    reflector.stop();
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(500));
  }

  SECTION("while backing off") {
    options.backoff.initial = milliseconds(20000);
    collection.list(status_reply(500, "InternalError"));
    server.start();
    kube::Client client(server.config());
    op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
    reflector.start();
    REQUIRE(eventually([&] { return reflector.errors() == 1; }));
    auto start = std::chrono::steady_clock::now();
    reflector.stop();
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(500));
    CHECK(server.requests("GET", kPath, false).size() == 1);
  }
}

TEST_CASE("reflectors of two namespaces can share a store", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  collection.list(list_of({config_map("a", "1")}, "10"));
  server.routes().Get("/api/v1/namespaces/other/configmaps",
                      [&](const httplib::Request& request, httplib::Response& response) {
                        if (request.has_param("watch")) {
                          server.stream(response, {}, true);
                          return;
                        }
                        json item = config_map("z", "5");
                        item["metadata"]["namespace"] = "other";
                        response.set_content(list_of({item}, "10").dump(), "application/json");
                      });
  server.start();
  kube::Client client(server.config());
  auto store = std::make_shared<op::Store>();
  op::Reflector first(client, kube::config_map_type(), "test", store, {}, {}, fast_options());
  op::Reflector second(client, kube::config_map_type(), "other", store, {}, {}, fast_options());
  first.start();
  REQUIRE(eventually([&] { return first.synced(); }));
  second.start();
  REQUIRE(eventually([&] { return second.synced(); }));
  first.stop();
  second.stop();
  CHECK(store->size() == 2);
  CHECK(store->get("test", "a"));
  CHECK(store->get("other", "z"));
}

TEST_CASE("reflector reports its last failure until it recovers", "[reflector]") {
  ScriptedServer server;
  Collection collection(server);
  auto options = fast_options();
  options.backoff.initial = milliseconds(300);
  collection.list(status_reply(503, "ServiceUnavailable"));
  collection.list(list_of({}, "10"));
  server.start();
  kube::Client client(server.config());
  op::Reflector reflector(client, kube::config_map_type(), "test", nullptr, {}, {}, options);
  reflector.start();
  REQUIRE(eventually([&] { return reflector.errors() == 1; }));
  CHECK_FALSE(reflector.synced());
  CHECK_THAT(reflector.last_error(), Catch::Contains("ServiceUnavailable"));
  REQUIRE(eventually([&] { return reflector.synced(); }));
  CHECK(reflector.last_error().empty());
}

}  // namespace unity_file_runtime_test_reflector
