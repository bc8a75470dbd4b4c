#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/client.hpp"
#include "operator/runtime/event_recorder.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_event_recorder {

using namespace pgscope;
using op::testing::json;
using op::testing::reply_status;
using op::testing::ScriptedServer;
using std::chrono::milliseconds;

namespace {

// core/v1 events in any namespace: POST creates, PATCH (merge patch) updates.
class EventsEndpoint {
 public:
  explicit EventsEndpoint(ScriptedServer& server) {
    server.routes().Post(R"(/api/v1/namespaces/([^/]+)/events)", [this](const httplib::Request& request,
                                                                        httplib::Response& response) {
      std::this_thread::sleep_for(delay_.load());
      std::lock_guard<std::mutex> lock(mutex_);
      if (fail_create_) return reply_status(response, 500, "InternalError", "scripted");
      json event = json::parse(request.body);
      std::string key = request.matches[1].str() + "/" + event["metadata"]["name"].get<std::string>();
      if (events_.count(key) != 0) return reply_status(response, 409, "AlreadyExists", key);
      events_[key] = event;
      response.status = 201;
      response.set_content(event.dump(), "application/json");
    });
    server.routes().Patch(R"(/api/v1/namespaces/([^/]+)/events/([^/]+))",
                          [this](const httplib::Request& request, httplib::Response& response) {
                            std::lock_guard<std::mutex> lock(mutex_);
                            std::string key = request.matches[1].str() + "/" + request.matches[2].str();
                            auto found = events_.find(key);
                            if (found == events_.end()) return reply_status(response, 404, "NotFound", key);
                            if (request.get_header_value("Content-Type") != "application/merge-patch+json") {
                              return reply_status(response, 415, "UnsupportedMediaType", "not a merge patch");
                            }
                            found->second.merge_patch(json::parse(request.body));
                            response.set_content(found->second.dump(), "application/json");
                          });
  }
  std::vector<json> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<json> result;
    for (const auto& entry : events_) result.push_back(entry.second);
    return result;
  }
  void forget_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.clear();
  }
  void set_fail_create(bool fail) {
    std::lock_guard<std::mutex> lock(mutex_);
    fail_create_ = fail;
  }
  std::atomic<milliseconds> delay_{milliseconds(0)};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, json> events_;
  bool fail_create_ = false;
};

json postgresql(const std::string& name, const std::string& uid = "uid-1") {
  return {{"apiVersion", "acid.zalan.do/v1"},
          {"kind", "postgresql"},
          {"metadata", {{"name", name}, {"namespace", "db"}, {"uid", uid}, {"resourceVersion", "42"}}},
          {"spec", {{"teamId", "acid"}}}};
}

op::EventRecorderOptions options() {
  op::EventRecorderOptions options;
  options.instance = "pgscope-operator-7d9f-abcde";
  return options;
}

std::size_t count_requests(const ScriptedServer& server, const std::string& method) {
  std::size_t n = 0;
  for (const auto& request : server.requests()) n += request.method == method;
  return n;
}

bool valid_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xE  ? 3
                         : (byte >> 3) == 0x1E ? 4
                                               : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

TEST_CASE("an Event names its object and comes from the operator", "[events]") {
  ScriptedServer server;
  EventsEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  op::EventRecorder recorder(client, options());
  recorder.warning(postgresql("acid-minimal"), "MonitorCRDMissing",
                   "servicemonitors.monitoring.coreos.com is not installed");
  recorder.flush();

  auto events = endpoint.events();
  REQUIRE(events.size() == 1);
  const json& event = events[0];
  CHECK(event["metadata"]["namespace"] == "db");
  CHECK(std::regex_match(event["metadata"]["name"].get<std::string>(),
                         std::regex(R"(acid-minimal\.[0-9a-f]{16})")));
  CHECK(event["involvedObject"] == json{{"apiVersion", "acid.zalan.do/v1"},
                                        {"kind", "postgresql"},
                                        {"name", "acid-minimal"},
                                        {"namespace", "db"},
                                        {"uid", "uid-1"},
                                        {"resourceVersion", "42"}});
  CHECK(event["type"] == "Warning");
  CHECK(event["reason"] == "MonitorCRDMissing");
  CHECK(event["message"] == "servicemonitors.monitoring.coreos.com is not installed");
  CHECK(event["source"]["component"] == "pgscope-operator");
  CHECK(event["reportingComponent"] == "pgscope-operator");
  CHECK(event["reportingInstance"] == "pgscope-operator-7d9f-abcde");
  CHECK(event["count"] == 1);
  CHECK(std::regex_match(event["firstTimestamp"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK(event["lastTimestamp"] == event["firstTimestamp"]);
  CHECK_FALSE(event.contains("eventTime"));  // would make action and reportingController mandatory
  CHECK(recorder.stats().created == 1);
}

TEST_CASE("identical Events bump the count of the first instead of piling up", "[events]") {
  ScriptedServer server;
  EventsEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  auto recorder_options = options();
  recorder_options.dedup_window = std::chrono::seconds(1);
  op::EventRecorder recorder(client, recorder_options);

  for (int i = 0; i < 3; ++i) recorder.normal(postgresql("acid-minimal"), "Reconciled", "3 objects applied");
  recorder.flush();
  auto events = endpoint.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 3);
  CHECK(count_requests(server, "POST") == 1);
  CHECK(count_requests(server, "PATCH") == 2);

  recorder.normal(postgresql("acid-minimal"), "Reconciled", "4 objects applied");   // other message
  recorder.warning(postgresql("acid-minimal"), "Reconciled", "3 objects applied");  // other type
  recorder.normal(postgresql("acid-minimal", "uid-2"), "Reconciled",
                  "3 objects applied");  // re-created object
  recorder.flush();
  CHECK(endpoint.events().size() == 4);

  SECTION("after the window a repeat is a new Event") {
    std::this_thread::sleep_for(milliseconds(1100));
    recorder.normal(postgresql("acid-minimal"), "Reconciled", "3 objects applied");
    recorder.flush();
    CHECK(endpoint.events().size() == 5);
  }
  SECTION("an Event that expired on the server is written anew") {
    endpoint.forget_all();
    recorder.normal(postgresql("acid-minimal"), "Reconciled", "3 objects applied");
    recorder.flush();
    REQUIRE(endpoint.events().size() == 1);
    CHECK(endpoint.events()[0]["count"] == 1);
  }
}

TEST_CASE("reason and message are cut to the API's limits without breaking UTF-8", "[events]") {
  ScriptedServer server;
  EventsEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  op::EventRecorder recorder(client, options());
  std::string message(1023, 'x');
  message += "\xC3\xA9 and then much more";  // a two-byte character straddles byte 1024
  recorder.warning(postgresql("acid-minimal"), std::string(200, 'R'), message);
  recorder.flush();
  REQUIRE(endpoint.events().size() == 1);
  std::string sent = endpoint.events()[0]["message"];
  CHECK(sent.size() <= 1024);
  CHECK(sent.size() >= 1023);
  CHECK(valid_utf8(sent));
  CHECK(endpoint.events()[0]["reason"].get<std::string>().size() == 128);
}

TEST_CASE("a flood of Events about one object is cut by a token bucket", "[events]") {
  ScriptedServer server;
  EventsEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());

  SECTION("burst of 25 by default") {
    op::EventRecorder recorder(client, options());
    for (int i = 0; i < 30; ++i) {
      recorder.warning(postgresql("acid-minimal"), "ApplyFailed", "attempt " + std::to_string(i));
    }
    recorder.normal(postgresql("acid-other", "uid-9"), "Reconciled",
                    "fine");  // another object has its own bucket
    recorder.flush();
    CHECK(endpoint.events().size() == 26);
    CHECK(recorder.stats().filtered == 5);
  }
  SECTION("tokens come back over time") {
    auto recorder_options = options();
    recorder_options.spam_burst = 2;
    recorder_options.spam_refill_interval = std::chrono::seconds(1);
    op::EventRecorder recorder(client, recorder_options);
    for (int i = 0; i < 3; ++i)
      recorder.warning(postgresql("acid-minimal"), "ApplyFailed", std::to_string(i));
    recorder.flush();
    CHECK(endpoint.events().size() == 2);
    std::this_thread::sleep_for(milliseconds(1100));
    recorder.warning(postgresql("acid-minimal"), "ApplyFailed", "later");
    recorder.warning(postgresql("acid-minimal"), "ApplyFailed", "too soon");
    recorder.flush();
    CHECK(endpoint.events().size() == 3);
  }
}

TEST_CASE("recording never blocks a reconcile and never throws", "[events]") {
  ScriptedServer server;
  EventsEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  op::EventRecorder recorder(client, options());

  endpoint.delay_ = milliseconds(400);
  auto start = std::chrono::steady_clock::now();
  recorder.normal(postgresql("acid-minimal"), "Reconciled", "slow server");
  CHECK(std::chrono::steady_clock::now() - start < milliseconds(100));
  CHECK(endpoint.events().empty());
  recorder.flush();
  CHECK(endpoint.events().size() == 1);
  endpoint.delay_ = milliseconds(0);

  endpoint.set_fail_create(true);
  CHECK_NOTHROW(recorder.warning(postgresql("acid-minimal"), "ApplyFailed", "server error"));
  recorder.flush();
  CHECK(recorder.stats().failed == 1);
  CHECK_NOTHROW(recorder.warning(json{{"kind", "postgresql"}}, "ApplyFailed", "no name"));
  recorder.flush();
  CHECK(count_requests(server, "POST") == 2);
}

}  // namespace unity_file_runtime_test_event_recorder
