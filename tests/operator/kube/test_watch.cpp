// Watch streams: events split anywhere, bookmarks, ERROR events, clean and
// broken ends, stop requests and silent connections.

#include <catch2/catch.hpp>
#include <thread>

#include "operator/kube/client.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_watch {

using namespace pgscope::kube;
using namespace pgscope::kube::testing;
using Clock = std::chrono::steady_clock;

namespace {

Config watch_config_for(const ScriptedServer& server) {
  Config config;
  config.server = server.url();
  config.request_timeout = std::chrono::milliseconds(5000);
  // A safety net: a test whose watch should have ended some other way fails
  // after a few seconds instead of hanging on a silent stream.
  config.watch_idle_timeout = std::chrono::seconds(4);
  return config;
}

std::string event_line(const std::string& type, const std::string& name, const std::string& rv) {
  return json{{"type", type},
              {"object",
               {{"apiVersion", "acid.zalan.do/v1"},
                {"kind", "postgresql"},
                {"metadata", {{"name", name}, {"namespace", "db"}, {"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

std::string bookmark_line(const std::string& rv) {
  return json{{"type", "BOOKMARK"},
              {"object",
               {{"apiVersion", "acid.zalan.do/v1"},
                {"kind", "postgresql"},
                {"metadata", {{"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

struct Collected {
  std::mutex mutex;
  std::vector<WatchEvent> events;
  bool add(const WatchEvent& event) {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(event);
    return true;
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return events.size();
  }
};

}  // namespace

TEST_CASE("watch delivers events whose lines arrive split across chunks, and bookmarks") {
  const std::string first = event_line("ADDED", "acid-a", "10");
  const std::string second = event_line("MODIFIED", "acid-a", "11");
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response,
                  {{first.substr(0, 7), 0},
                   {first.substr(7, 30), 40},
                   {first.substr(37), 40},
                   {second + bookmark_line("12") + event_line("DELETED", "acid-a", "13").substr(0, 20), 40},
                   {event_line("DELETED", "acid-a", "13").substr(20), 40}},
                  StreamEnd::kClean, server.closing());
  });
  Client client(watch_config_for(server));
  WatchOptions options;
  options.label_selector = "team=acid";
  options.resource_version = "9";
  options.timeout_seconds = 300;
  Collected got;
  client.watch(postgresql_type(), "db", options, [&](const WatchEvent& event) { return got.add(event); });

  REQUIRE(got.events.size() == 4);
  CHECK(got.events[0].type == "ADDED");
  CHECK(got.events[0].object["metadata"]["name"] == "acid-a");
  CHECK(got.events[0].object["metadata"]["resourceVersion"] == "10");
  CHECK(got.events[1].type == "MODIFIED");
  CHECK(got.events[2].type == "BOOKMARK");
  CHECK(got.events[2].object["metadata"] == json{{"resourceVersion", "12"}});
  CHECK(got.events[3].type == "DELETED");
  CHECK(got.events[3].object["metadata"]["resourceVersion"] == "13");

  const auto request = server.requests().at(0);
  CHECK(request.method == "GET");
  CHECK(request.path == "/apis/acid.zalan.do/v1/namespaces/db/postgresqls");
  CHECK(request.param("watch") == "true");
  CHECK(request.param("allowWatchBookmarks") == "true");
  CHECK(request.param("resourceVersion") == "9");
  CHECK(request.param("timeoutSeconds") == "300");
  CHECK(request.param("labelSelector") == "team=acid");
}

TEST_CASE("watch without bookmarks does not ask for them; a last line without newline counts") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    std::string last = event_line("ADDED", "acid-b", "5");
    last.pop_back();
    stream_pieces(response, {{last, 0}}, StreamEnd::kClean, server.closing());
  });
  Client client(watch_config_for(server));
  WatchOptions options;
  options.allow_bookmarks = false;
  Collected got;
  client.watch(postgresql_type(), "db", options, [&](const WatchEvent& event) { return got.add(event); });
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].object["metadata"]["name"] == "acid-b");
  const auto request = server.requests().at(0);
  CHECK_FALSE(request.has_param("allowWatchBookmarks"));
  CHECK_FALSE(request.has_param("timeoutSeconds"));
  CHECK_FALSE(request.has_param("resourceVersion"));
}

TEST_CASE("an ERROR event with 410 inside a 200 stream is thrown as expired") {
  const std::string error_event =
      json{{"type", "ERROR"},
           {"object", json::parse(status_body(410, "Expired", "too old resource version: 657887 (680402)"))}}
          .dump() +
      "\n";
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "acid-a", "10"), 0}, {error_event, 30}}, StreamEnd::kHang,
                  server.closing());
  });
  Client client(watch_config_for(server));
  Collected got;
  try {
    client.watch(postgresql_type(), "db", {}, [&](const WatchEvent& event) { return got.add(event); });
    FAIL("watch returned after an ERROR event");
  } catch (const ApiError& error) {
    CHECK(error.expired());
    CHECK(error.http_status() == 410);
    CHECK(error.reason() == "Expired");
    CHECK(error.message() == "too old resource version: 657887 (680402)");
  }
  CHECK(got.events.size() == 1);
}

TEST_CASE("a watch refused with HTTP 410 or 403 throws the Status") {
  int code = 410;
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    if (code == 410) {
      answer_status(response, 410, "Gone", "The resourceVersion for the provided watch is too old.");
    } else {
      answer_status(response, 403, "Forbidden", "postgresqls.acid.zalan.do is forbidden");
    }
  });
  Client client(watch_config_for(server));
  const auto noop = [](const WatchEvent&) { return true; };
  try {
    client.watch(postgresql_type(), "", {}, noop);
    FAIL("watch returned on 410");
  } catch (const ApiError& error) {
    CHECK(error.expired());
    CHECK(error.message() == "The resourceVersion for the provided watch is too old.");
  }
  code = 403;
  try {
    client.watch(postgresql_type(), "", {}, noop);
    FAIL("watch returned on 403");
  } catch (const ApiError& error) {
    CHECK(error.forbidden());
    CHECK_FALSE(error.expired());
  }
}

TEST_CASE("the stop flag ends a watch within half a second while the server sends nothing") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "acid-a", "10"), 0}}, StreamEnd::kHang, server.closing());
  });
  Client client(watch_config_for(server));
  std::atomic<bool> stop{false};
  Collected got;
  Clock::time_point stopped_at;
  std::thread stopper([&] {
    for (int i = 0; i < 500 && got.size() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stopped_at = Clock::now();
    stop = true;
  });
  try {
    client.watch(
        postgresql_type(), "db", {}, [&](const WatchEvent& event) { return got.add(event); }, &stop);
  } catch (const ApiError& error) {
    stopper.join();
    FAIL("the watch did not stop: " << error.what());
  }
  const auto returned_at = Clock::now();
  stopper.join();
  CHECK(got.events.size() == 1);
  CHECK(returned_at - stopped_at < std::chrono::milliseconds(500));
}

TEST_CASE("on_event returning false ends the watch at once") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "a", "1") + event_line("ADDED", "b", "2"), 0}},
                  StreamEnd::kHang, server.closing());
  });
  Client client(watch_config_for(server));
  int calls = 0;
  const auto start = Clock::now();
  client.watch(postgresql_type(), "db", {}, [&](const WatchEvent&) {
    ++calls;
    return false;
  });
  CHECK(calls == 1);
  CHECK(Clock::now() - start < std::chrono::milliseconds(1000));
}

TEST_CASE("an exception from on_event propagates out of watch") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "a", "1"), 0}}, StreamEnd::kHang, server.closing());
  });
  Client client(watch_config_for(server));
  CHECK_THROWS_WITH(
      client.watch(postgresql_type(), "db", {},
                   [](const WatchEvent&) -> bool { throw std::runtime_error("handler failed"); }),
      "handler failed");
}

TEST_CASE("a watch that hears nothing for watch_idle_timeout fails as transport") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "a", "1"), 0}}, StreamEnd::kHang, server.closing());
  });
  Config config = watch_config_for(server);
  config.watch_idle_timeout = std::chrono::milliseconds(400);
  Client client(config);
  Collected got;
  // Should idle detection fail, the watch ends by this flag and the test fails.
  std::atomic<bool> safety_stop{false};
  std::thread safety([&] {
    for (int i = 0; i < 300 && !safety_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    safety_stop = true;
  });
  const auto start = Clock::now();
  try {
    client.watch(
        postgresql_type(), "db", {}, [&](const WatchEvent& event) { return got.add(event); }, &safety_stop);
    safety_stop = true;
    safety.join();
    FAIL("a silent watch returned");
  } catch (const ApiError& error) {
    CHECK(error.http_status() == 0);
    CHECK(error.transient());
    CHECK(error.message().find("nothing received for 400 ms") != std::string::npos);
  }
  const auto elapsed = Clock::now() - start;
  safety_stop = true;
  safety.join();
  CHECK(got.events.size() == 1);
  CHECK(elapsed >= std::chrono::milliseconds(400));
  CHECK(elapsed < std::chrono::milliseconds(1200));
}

TEST_CASE("a stream broken in the middle of an event is a transport error, not a clean end") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{event_line("ADDED", "a", "1") + "{\"type\":\"MODI", 0}}, StreamEnd::kBreak,
                  server.closing());
  });
  Client client(watch_config_for(server));
  Collected got;
  try {
    client.watch(postgresql_type(), "db", {}, [&](const WatchEvent& event) { return got.add(event); });
    FAIL("a broken watch returned normally");
  } catch (const ApiError& error) {
    CHECK(error.http_status() == 0);
    CHECK(error.reason() == "Transport");
  }
  CHECK(got.events.size() == 1);
}

TEST_CASE("a line that is not an event fails the watch") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response, {{"this is not json\n", 0}}, StreamEnd::kClean, server.closing());
  });
  Client client(watch_config_for(server));
  CHECK_THROWS_WITH(client.watch(postgresql_type(), "db", {}, [](const WatchEvent&) { return true; }),
                    Catch::Contains("not an event: this is not json"));
}

TEST_CASE("watch objects without kind get the watched type's") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    stream_pieces(response,
                  {{json{{"type", "ADDED"}, {"object", {{"metadata", {{"name", "p"}}}}}}.dump() + "\n", 0}},
                  StreamEnd::kClean, server.closing());
  });
  Client client(watch_config_for(server));
  Collected got;
  client.watch(pod_type(), "db", {}, [&](const WatchEvent& event) { return got.add(event); });
  REQUIRE(got.events.size() == 1);
  CHECK(&type_of(got.events[0].object) == &pod_type());
}

}  // namespace unity_file_kube_test_watch
