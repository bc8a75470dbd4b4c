// How failures reach the caller: Status bodies, plain HTTP errors, transport
// failures, timeouts and unusable configurations.

#include <catch2/catch.hpp>
#include <thread>

#include "operator/kube/client.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_errors {

using namespace pgscope::kube;
using namespace pgscope::kube::testing;

namespace {

Config config_for(const std::string& url) {
  Config config;
  config.server = url;
  config.request_timeout = std::chrono::milliseconds(5000);
  return config;
}

ApiError error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const ApiError& error) {
    return error;
  }
  FAIL("the call did not throw ApiError");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a 409 apply conflict keeps reason, message and causes") {
  const json details = {{"causes",
                         {{{"reason", "FieldManagerConflict"},
                           {"message", "conflict with \"kubectl\" using v1"},
                           {"field", ".spec.endpoints"}}}}};
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    answer_status(response, 409, "Conflict", "Apply failed with 1 conflict: conflict with \"kubectl\"",
                  details);
  });
  Client client(config_for(server.url()));
  const ApiError error = error_of([&] {
    client.apply(service_monitor_type(),
                 {{"apiVersion", "monitoring.coreos.com/v1"},
                  {"kind", "ServiceMonitor"},
                  {"metadata", {{"name", "a"}, {"namespace", "b"}}}},
                 "pgscope-operator", false);
  });
  CHECK(error.http_status() == 409);
  CHECK(error.conflict());
  CHECK_FALSE(error.transient());
  CHECK(error.reason() == "Conflict");
  CHECK(error.message() == "Apply failed with 1 conflict: conflict with \"kubectl\"");
  REQUIRE(error.causes().size() == 1);
  CHECK(error.causes()[0]["field"] == ".spec.endpoints");
  CHECK(std::string(error.what()).find("Apply failed with 1 conflict") != std::string::npos);
}

TEST_CASE("403, 404 and 410 answers are told apart") {
  int next = 0;
  const std::vector<std::tuple<int, std::string, std::string>> script = {
      {403, "Forbidden",
       "servicemonitors.monitoring.coreos.com is forbidden: User \"system:serviceaccount:x:y\" cannot list"},
      {404, "NotFound", "configmaps \"a\" not found"},
      {410, "Expired", "too old resource version: 5 (100)"},
  };
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    const auto& [code, reason, message] = script.at(next++);
    answer_status(response, code, reason, message);
  });
  Client client(config_for(server.url()));
  const ApiError forbidden = error_of([&] { client.list(service_monitor_type(), "x"); });
  CHECK(forbidden.forbidden());
  CHECK_FALSE(forbidden.not_found());
  CHECK_FALSE(forbidden.transient());
  CHECK(forbidden.message().find("cannot list") != std::string::npos);

  const ApiError missing = error_of([&] { client.get(config_map_type(), "x", "a"); });
  CHECK(missing.not_found());
  CHECK(missing.reason() == "NotFound");
  CHECK_FALSE(missing.expired());

  const ApiError expired = error_of([&] { client.list(config_map_type(), "x"); });
  CHECK(expired.expired());
  CHECK(expired.http_status() == 410);
  CHECK_FALSE(expired.transient());
}

TEST_CASE("429 carries Retry-After, from the header or the Status details") {
  bool header = true;
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    if (header) {
      response.set_header("Retry-After", "7");
      answer_status(response, 429, "TooManyRequests", "too many requests, please try again later");
    } else {
      answer_status(response, 429, "TooManyRequests", "slow down", {{"retryAfterSeconds", 3}});
    }
  });
  Client client(config_for(server.url()));
  const ApiError first = error_of([&] { client.get(pod_type(), "x", "p"); });
  CHECK(first.http_status() == 429);
  CHECK(first.transient());
  CHECK(first.retry_after() == std::chrono::seconds(7));
  header = false;
  const ApiError second = error_of([&] { client.get(pod_type(), "x", "p"); });
  CHECK(second.retry_after() == std::chrono::seconds(3));
}

TEST_CASE("a 502 page that is not a Status still gives its status and an excerpt") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    response.status = 502;
    response.set_content("<html><body><h1>502 Bad Gateway</h1>\n</body></html>", "text/html");
  });
  Client client(config_for(server.url()));
  const ApiError error = error_of([&] { client.get(pod_type(), "x", "p"); });
  CHECK(error.http_status() == 502);
  CHECK(error.transient());
  CHECK(error.reason() == "Unknown");
  CHECK(error.message().find("HTTP 502") != std::string::npos);
  CHECK(error.message().find("<h1>502 Bad Gateway</h1>") != std::string::npos);
  CHECK(error.message().find('\n') == std::string::npos);
}

TEST_CASE("a 500 Status is transient, a 422 is not") {
  int code = 500;
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    answer_status(response, code, code == 500 ? "InternalError" : "Invalid", "boom");
  });
  Client client(config_for(server.url()));
  CHECK(error_of([&] { client.get(pod_type(), "x", "p"); }).transient());
  code = 422;
  const ApiError invalid = error_of([&] { client.get(pod_type(), "x", "p"); });
  CHECK_FALSE(invalid.transient());
  CHECK(invalid.reason() == "Invalid");
}

TEST_CASE("an unreachable server is a transport error naming the request") {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  Client client(config_for(url));
  const ApiError error = error_of([&] { client.get(config_map_type(), "ns", "a"); });
  CHECK(error.http_status() == 0);
  CHECK(error.reason() == "Transport");
  CHECK(error.transient());
  CHECK(error.message().find("GET " + url + "/api/v1/namespaces/ns/configmaps/a") != std::string::npos);
  // libcurl's own words say what happened.
  CHECK(error.message().find("onnect") != std::string::npos);
}

TEST_CASE("a unary call that gets no answer within request_timeout fails as transport") {
  ScriptedServer server([&](const httplib::Request&, httplib::Response& response) {
    for (int i = 0; i < 150 && !server.closing(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    response.set_content("{}", "application/json");
  });
  Config config = config_for(server.url());
  config.request_timeout = std::chrono::milliseconds(300);
  Client client(config);
  const auto start = std::chrono::steady_clock::now();
  const ApiError error = error_of([&] { client.get(pod_type(), "x", "p"); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(error.http_status() == 0);
  CHECK(error.message().find("request timeout (300 ms)") != std::string::npos);
  CHECK(elapsed < std::chrono::milliseconds(1200));
}

TEST_CASE("a 200 answer that is not JSON is a transport error, not an empty object") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    response.set_content("<html>captive portal</html>", "text/html");
  });
  Client client(config_for(server.url()));
  const ApiError error = error_of([&] { client.get(pod_type(), "x", "p"); });
  CHECK(error.http_status() == 0);
  CHECK(error.message().find("not JSON") != std::string::npos);
  CHECK(error.message().find("captive portal") != std::string::npos);
}

TEST_CASE("unusable client configurations are refused with ConfigError") {
  Config config;
  config.server = "10.0.0.1:6443";
  CHECK_THROWS_WITH(Client(config), Catch::Contains("must start with https://"));
  config.server = "https://10.0.0.1:99999";
  CHECK_THROWS_WITH(Client(config), Catch::Contains("bad port"));
  config.server = "https://[fd00::1:6443";
  CHECK_THROWS_AS(Client(config), ConfigError);
  config.server = "https://[fd00::1]:6443";
  CHECK_NOTHROW(Client(config));
  config.client_cert_pem = "cert";
  CHECK_THROWS_WITH(Client(config), Catch::Contains("without its client key"));
  config.client_key_pem = "key";
  CHECK_NOTHROW(Client(config));
  config.server = "http://10.0.0.1:8080";
  config.tls_server_name = "kubernetes";
  CHECK_THROWS_WITH(Client(config), Catch::Contains("needs an https:// server"));
  config.tls_server_name.clear();
  config.token = "t";
  config.username = "admin";
  CHECK_THROWS_AS(Client(config), ConfigError);
}

}  // namespace unity_file_kube_test_errors
