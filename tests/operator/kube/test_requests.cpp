// What the client puts on the wire: method, path, query, content type,
// headers and body of every call, and how it reads lists and pages.

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "operator/kube/client.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_requests {

using namespace pgscope::kube;
using namespace pgscope::kube::testing;

namespace {

Config config_for(const ScriptedServer& server) {
  Config config;
  config.server = server.url();
  config.token = "secret-token";
  config.request_timeout = std::chrono::milliseconds(5000);
  return config;
}

void answer_json(httplib::Response& response, const json& body, int status = 200) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

json config_map(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", "41"}}},
          {"data", {{"k", "v"}}}};
}

}  // namespace

TEST_CASE("get sends GET to the object's URL with JSON accept, token and user agent") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    answer_json(response, {{"kind", "ServiceMonitor"}, {"metadata", {{"name", "sm1"}}}});
  });
  Client client(config_for(server));
  const json object = client.get(service_monitor_type(), "ns1", "sm1");
  CHECK(object["metadata"]["name"] == "sm1");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].path == "/apis/monitoring.coreos.com/v1/namespaces/ns1/servicemonitors/sm1");
  CHECK(requests[0].header("Accept") == "application/json");
  CHECK(requests[0].header("Authorization") == "Bearer secret-token");
  CHECK(requests[0].header("User-Agent") == "pgscope-operator");
}

TEST_CASE("every kind has its group, version and plural in the URL") {
  ScriptedServer server(
      [](const httplib::Request&, httplib::Response& response) { answer_json(response, json::object()); });
  Client client(config_for(server));
  client.get(postgresql_type(), "db", "acid-minimal-cluster");
  client.get(pod_monitor_type(), "db", "a");
  client.get(prometheus_rule_type(), "db", "a");
  client.get(service_type(), "db", "a");
  client.get(config_map_type(), "db", "a");
  client.get(secret_type(), "db", "a");
  client.get(pod_type(), "db", "a");
  client.get(event_type(), "db", "a");
  client.get(deployment_type(), "db", "a");
  client.get(lease_type(), "kube-system", "pgscope-operator");
  std::vector<std::string> paths;
  for (const auto& request : server.requests()) paths.push_back(request.path);
  CHECK(paths == std::vector<std::string>{
                     "/apis/acid.zalan.do/v1/namespaces/db/postgresqls/acid-minimal-cluster",
                     "/apis/monitoring.coreos.com/v1/namespaces/db/podmonitors/a",
                     "/apis/monitoring.coreos.com/v1/namespaces/db/prometheusrules/a",
                     "/api/v1/namespaces/db/services/a",
                     "/api/v1/namespaces/db/configmaps/a",
                     "/api/v1/namespaces/db/secrets/a",
                     "/api/v1/namespaces/db/pods/a",
                     "/api/v1/namespaces/db/events/a",
                     "/apis/apps/v1/namespaces/db/deployments/a",
                     "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/pgscope-operator",
                 });
}

TEST_CASE("type_of maps apiVersion and kind, including Zalando's lower-case kind") {
  CHECK(&type_of({{"apiVersion", "acid.zalan.do/v1"}, {"kind", "postgresql"}}) == &postgresql_type());
  CHECK(&type_of({{"apiVersion", "monitoring.coreos.com/v1"}, {"kind", "ServiceMonitor"}}) ==
        &service_monitor_type());
  CHECK(&type_of({{"apiVersion", "v1"}, {"kind", "Secret"}}) == &secret_type());
  CHECK(&type_of({{"apiVersion", "apps/v1"}, {"kind", "Deployment"}}) == &deployment_type());
  CHECK(&type_of({{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}}) == &lease_type());
  CHECK_THROWS_AS(type_of({{"apiVersion", "acid.zalan.do/v1"}, {"kind", "Postgresql"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(type_of({{"apiVersion", "v2"}, {"kind", "Secret"}}), std::invalid_argument);
  CHECK(postgresql_type().api_version() == "acid.zalan.do/v1");
  CHECK(service_type().api_version() == "v1");
}

TEST_CASE("a namespaced call without namespace or name is refused before any request") {
  ScriptedServer server(
      [](const httplib::Request&, httplib::Response& response) { answer_json(response, json::object()); });
  Client client(config_for(server));
  CHECK_THROWS_AS(client.get(config_map_type(), "", "a"), std::invalid_argument);
  CHECK_THROWS_AS(client.get(config_map_type(), "ns", ""), std::invalid_argument);
  json no_namespace = config_map("", "a");
  CHECK_THROWS_AS(client.create(config_map_type(), no_namespace), std::invalid_argument);
  CHECK_THROWS_AS(client.apply(config_map_type(), config_map("ns", "a"), "", true), std::invalid_argument);
  CHECK(server.requests().empty());
}

TEST_CASE("list encodes every option in the query and reads items, resourceVersion and continue") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    answer_json(response, {{"kind", "PodList"},
                           {"apiVersion", "v1"},
                           {"metadata", {{"resourceVersion", "1234"}, {"continue", "token-2"}}},
                           {"items", {{{"metadata", {{"name", "p1"}}}}, {{"metadata", {{"name", "p2"}}}}}}});
  });
  Client client(config_for(server));
  ListOptions options;
  options.label_selector = "application=spilo,cluster-name in (a,b)";
  options.field_selector = "metadata.name!=x";
  options.resource_version = "77";
  options.resource_version_match = "NotOlderThan";
  options.limit = 50;
  options.continue_token = "abc+/=";
  const ListResult result = client.list(pod_type(), "db", options);
  CHECK(result.resource_version == "1234");
  CHECK(result.continue_token == "token-2");
  REQUIRE(result.items.size() == 2);
  CHECK(result.items[1]["metadata"]["name"] == "p2");
  // Core lists leave kind and apiVersion out of items; the client fills them in.
  CHECK(result.items[0]["kind"] == "Pod");
  CHECK(result.items[0]["apiVersion"] == "v1");

  const auto request = server.requests().at(0);
  CHECK(request.method == "GET");
  CHECK(request.path == "/api/v1/namespaces/db/pods");
  CHECK(request.param("labelSelector") == "application=spilo,cluster-name in (a,b)");
  CHECK(request.param("fieldSelector") == "metadata.name!=x");
  CHECK(request.param("resourceVersion") == "77");
  CHECK(request.param("resourceVersionMatch") == "NotOlderThan");
  CHECK(request.param("limit") == "50");
  CHECK(request.param("continue") == "abc+/=");
  // Encoded on the wire: a raw '+' would read back as a space.
  CHECK(request.target.find("labelSelector=application%3Dspilo%2Ccluster-name%20in%20%28a%2Cb%29") !=
        std::string::npos);
  CHECK(request.target.find("continue=abc%2B%2F%3D") != std::string::npos);
}

TEST_CASE("list and watch across all namespaces leave the namespace segment out") {
  ScriptedServer server([](const httplib::Request& request, httplib::Response& response) {
    if (request.has_param("watch")) {
      response.set_content("", "application/json");
      return;
    }
    answer_json(response, {{"metadata", {{"resourceVersion", "9"}}}, {"items", json::array()}});
  });
  Client client(config_for(server));
  const ListResult result = client.list(postgresql_type(), "");
  CHECK(result.items.empty());
  CHECK(result.resource_version == "9");
  client.watch(postgresql_type(), "", {}, [](const WatchEvent&) { return true; });
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].path == "/apis/acid.zalan.do/v1/postgresqls");
  CHECK(requests[0].target == "/apis/acid.zalan.do/v1/postgresqls");
  CHECK(requests[1].path == "/apis/acid.zalan.do/v1/postgresqls");
  CHECK(requests[1].param("watch") == "true");
}

TEST_CASE("create, replace, merge_patch and apply send the right method, content type and body") {
  ScriptedServer server([](const httplib::Request& request, httplib::Response& response) {
    json echoed = json::parse(request.body);
    echoed["metadata"]["resourceVersion"] = "42";
    answer_json(response, echoed, request.method == "POST" ? 201 : 200);
  });
  Client client(config_for(server));
  const json object = config_map("ns1", "cm1");

  CHECK(client.create(config_map_type(), object)["metadata"]["resourceVersion"] == "42");
  client.replace(config_map_type(), object);
  client.merge_patch(config_map_type(), "ns1", "cm1", {{"metadata", {{"labels", {{"a", "b"}}}}}});
  json applied = object;
  applied["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  client.apply(config_map_type(), applied, "pgscope-operator", true);
  client.apply(config_map_type(), object, "pgscope-operator", false);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == "/api/v1/namespaces/ns1/configmaps");
  CHECK(requests[0].header("Content-Type") == "application/json");
  CHECK(json::parse(requests[0].body) == object);

  CHECK(requests[1].method == "PUT");
  CHECK(requests[1].path == "/api/v1/namespaces/ns1/configmaps/cm1");
  CHECK(requests[1].header("Content-Type") == "application/json");
  CHECK(json::parse(requests[1].body)["metadata"]["resourceVersion"] == "41");

  CHECK(requests[2].method == "PATCH");
  CHECK(requests[2].path == "/api/v1/namespaces/ns1/configmaps/cm1");
  CHECK(requests[2].header("Content-Type") == "application/merge-patch+json");
  CHECK(json::parse(requests[2].body) == json{{"metadata", {{"labels", {{"a", "b"}}}}}});

  CHECK(requests[3].method == "PATCH");
  CHECK(requests[3].path == "/api/v1/namespaces/ns1/configmaps/cm1");
  CHECK(requests[3].header("Content-Type") == "application/apply-patch+yaml");
  CHECK(requests[3].param("fieldManager") == "pgscope-operator");
  CHECK(requests[3].param("force") == "true");
  const json applied_body = json::parse(requests[3].body);
  CHECK_FALSE(applied_body["metadata"].contains("managedFields"));
  CHECK(applied_body["data"] == json{{"k", "v"}});

  CHECK(requests[4].param("fieldManager") == "pgscope-operator");
  CHECK_FALSE(requests[4].has_param("force"));
}

TEST_CASE("remove sends DeleteOptions with propagation policy and preconditions") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    answer_json(response, {{"kind", "Status"}, {"status", "Success"}});
  });
  Client client(config_for(server));
  DeleteOptions options;
  options.propagation_policy = "Foreground";
  options.precondition_uid = "uid-1";
  options.precondition_resource_version = "17";
  client.remove(service_monitor_type(), "ns1", "sm1", options);
  client.remove(service_monitor_type(), "ns1", "sm2");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "DELETE");
  CHECK(requests[0].path == "/apis/monitoring.coreos.com/v1/namespaces/ns1/servicemonitors/sm1");
  CHECK(requests[0].header("Content-Type") == "application/json");
  const json body = json::parse(requests[0].body);
  CHECK(body["kind"] == "DeleteOptions");
  CHECK(body["apiVersion"] == "v1");
  CHECK(body["propagationPolicy"] == "Foreground");
  CHECK(body["preconditions"] == json{{"uid", "uid-1"}, {"resourceVersion", "17"}});
  CHECK(requests[1].method == "DELETE");
  CHECK(requests[1].path == "/apis/monitoring.coreos.com/v1/namespaces/ns1/servicemonitors/sm2");
  CHECK(requests[1].body.empty());
}

namespace {

// Serves six config maps two per page; `expire_continue` answers the first
// `expire_continue` continue requests with 410.
struct PagedServer {
  std::atomic<int> expire_continue{0};
  std::atomic<int> generation{1};
  ScriptedServer server{[this](const httplib::Request& request, httplib::Response& response) {
    const std::string token = request.has_param("continue") ? request.get_param_value("continue") : "";
    if (!token.empty() && expire_continue > 0) {
      --expire_continue;
      ++generation;
      answer_status(response, 410, "Expired", "The provided continue parameter is too old");
      return;
    }
    const int start = token.empty() ? 0 : std::stoi(token.substr(token.find(':') + 1));
    json items = json::array();
    for (int i = start; i < start + 2; ++i) {
      items.push_back(
          {{"metadata", {{"name", "cm" + std::to_string(i) + "-g" + std::to_string(generation)}}}});
    }
    json metadata = {{"resourceVersion", "rv-" + std::to_string(generation)}};
    if (start + 2 < 6)
      metadata["continue"] = "g" + std::to_string(generation) + ":" + std::to_string(start + 2);
    response.set_content(json{{"metadata", metadata}, {"items", items}}.dump(), "application/json");
  }};
};

}  // namespace

TEST_CASE("list_all follows continue tokens without resending resourceVersion") {
  PagedServer paged;
  Client client(config_for(paged.server));
  ListOptions options;
  options.label_selector = "app=x";
  options.resource_version = "0";
  const ListResult result = client.list_all(config_map_type(), "ns1", options, 2);
  REQUIRE(result.items.size() == 6);
  CHECK(result.items[0]["metadata"]["name"] == "cm0-g1");
  CHECK(result.items[5]["metadata"]["name"] == "cm5-g1");
  CHECK(result.resource_version == "rv-1");
  CHECK(result.continue_token.empty());

  const auto requests = paged.server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].param("limit") == "2");
  CHECK(requests[0].param("resourceVersion") == "0");
  CHECK_FALSE(requests[0].has_param("continue"));
  for (std::size_t i = 1; i < 3; ++i) {
    CHECK(requests[i].param("limit") == "2");
    CHECK(requests[i].param("labelSelector") == "app=x");
    CHECK_FALSE(requests[i].has_param("resourceVersion"));
  }
  CHECK(requests[1].param("continue") == "g1:2");
  CHECK(requests[2].param("continue") == "g1:4");
}

TEST_CASE("list_all restarts once from scratch when a continue token expired, then gives up") {
  PagedServer paged;
  paged.expire_continue = 1;
  Client client(config_for(paged.server));
  ListOptions options;
  options.resource_version = "55";
  options.resource_version_match = "NotOlderThan";
  const ListResult result = client.list_all(config_map_type(), "ns1", options, 2);
  REQUIRE(result.items.size() == 6);
  // Only the restarted snapshot: nothing from the expired one is mixed in.
  for (const auto& item : result.items)
    CHECK(item["metadata"]["name"].get<std::string>().find("-g2") != std::string::npos);
  CHECK(result.resource_version == "rv-2");
  auto requests = paged.server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].param("resourceVersion") == "55");
  CHECK(requests[2].path == "/api/v1/namespaces/ns1/configmaps");
  CHECK_FALSE(requests[2].has_param("continue"));
  CHECK_FALSE(requests[2].has_param("resourceVersion"));
  CHECK_FALSE(requests[2].has_param("resourceVersionMatch"));

  PagedServer always;
  always.expire_continue = 100;
  Client second(config_for(always.server));
  try {
    second.list_all(config_map_type(), "ns1", {}, 2);
    FAIL("list_all returned although every continue token expired");
  } catch (const ApiError& error) {
    CHECK(error.expired());
  }
  CHECK(always.server.requests().size() == 4);
}

TEST_CASE("discover lists the plural names of a group version, empty when it is not served") {
  ScriptedServer server([](const httplib::Request& request, httplib::Response& response) {
    if (request.path == "/apis/monitoring.coreos.com/v1") {
      answer_json(response, {{"kind", "APIResourceList"},
                             {"groupVersion", "monitoring.coreos.com/v1"},
                             {"resources",
                              {{{"name", "servicemonitors"}, {"kind", "ServiceMonitor"}},
                               {{"name", "servicemonitors/status"}, {"kind", "ServiceMonitor"}},
                               {{"name", "podmonitors"}, {"kind", "PodMonitor"}}}}});
    } else if (request.path == "/api/v1") {
      answer_json(response, {{"resources", {{{"name", "pods"}}, {{"name", "pods/log"}}}}});
    } else {
      answer_status(response, 404, "NotFound", "the server could not find the requested resource");
    }
  });
  Client client(config_for(server));
  CHECK(client.discover("monitoring.coreos.com", "v1") ==
        std::vector<std::string>{"servicemonitors", "podmonitors"});
  CHECK(client.discover("", "v1") == std::vector<std::string>{"pods"});
  CHECK(client.discover("acid.zalan.do", "v1").empty());
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[2].path == "/apis/acid.zalan.do/v1");
}

TEST_CASE("unary calls reuse one keep-alive connection") {
  ScriptedServer server(
      [](const httplib::Request&, httplib::Response& response) { answer_json(response, json::object()); });
  Client client(config_for(server));
  for (int i = 0; i < 10; ++i) client.get(secret_type(), "ns", "s" + std::to_string(i));
  std::set<int> ports;
  for (const auto& request : server.requests()) ports.insert(request.remote_port);
  CHECK(server.requests().size() == 10);
  CHECK(ports.size() == 1);
}

TEST_CASE("calls from many threads at once all succeed and share a few connections") {
  ScriptedServer server([](const httplib::Request& request, httplib::Response& response) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    answer_json(response, {{"metadata", {{"name", request.path.substr(request.path.rfind('/') + 1)}}}});
  });
  Client client(config_for(server));
  constexpr int kThreads = 8;
  constexpr int kCalls = 25;
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (client.get(config_map_type(), "ns", name)["metadata"]["name"] == name) ++right;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(right == kThreads * kCalls);
  std::set<int> ports;
  for (const auto& request : server.requests()) ports.insert(request.remote_port);
  CHECK(server.requests().size() == static_cast<std::size_t>(kThreads * kCalls));
  CHECK(ports.size() <= static_cast<std::size_t>(kThreads));
}

TEST_CASE("a server address with a path prefix keeps the prefix") {
  ScriptedServer server(
      [](const httplib::Request&, httplib::Response& response) { answer_json(response, json::object()); });
  Config config = config_for(server);
  config.server = server.url() + "/k8s/clusters/c-1/";
  Client client(config);
  client.get(config_map_type(), "ns", "a");
  CHECK(server.requests().at(0).path == "/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps/a");
}

}  // namespace unity_file_kube_test_requests
