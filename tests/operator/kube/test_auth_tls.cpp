// Authentication and TLS as a server sees them: rotating token files, basic
// auth, CA verification, client certificates and tls-server-name.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "operator/kube/client.hpp"
#include "operator/kube/token_source.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_auth_tls {

using namespace pgscope::kube;
using namespace pgscope::kube::testing;

namespace {

// Accepts only "Bearer <accepted>"; 401 with a Status otherwise.
struct TokenCheckingServer {
  std::mutex mutex;
  std::string accepted;
  ScriptedServer server{[this](const httplib::Request& request, httplib::Response& response) {
    std::string expected;
    {
      std::lock_guard<std::mutex> lock(mutex);
      expected = "Bearer " + accepted;
    }
    if (request.get_header_value("Authorization") != expected) {
      answer_status(response, 401, "Unauthorized", "Unauthorized");
      return;
    }
    if (request.has_param("watch")) {
      response.set_content("", "application/json");
      return;
    }
    response.set_content("{}", "application/json");
  }};
  void accept(const std::string& token) {
    std::lock_guard<std::mutex> lock(mutex);
    accepted = token;
  }
  std::vector<std::string> tokens_sent() {
    std::vector<std::string> tokens;
    for (const auto& request : server.requests()) tokens.push_back(request.header("Authorization"));
    return tokens;
  }
};

}  // namespace

TEST_CASE("a rotated token file is picked up after a 401 and the request retried once") {
  TempDir dir;
  const std::string token_file = dir.write("token", "token-one\n");
  TokenCheckingServer api;
  api.accept("token-one");
  Config config;
  config.server = api.server.url();
  config.token_file = token_file;
  Client client(config);
  client.get(config_map_type(), "ns", "a");

  dir.write("token", "token-two\n");
  api.accept("token-two");
  CHECK_NOTHROW(client.get(config_map_type(), "ns", "a"));
  CHECK(api.tokens_sent() ==
        std::vector<std::string>{"Bearer token-one", "Bearer token-one", "Bearer token-two"});

  // Watches re-read the token the same way.
  dir.write("token", "token-three\n");
  api.accept("token-three");
  CHECK_NOTHROW(client.watch(config_map_type(), "ns", {}, [](const WatchEvent&) { return true; }));
  CHECK(api.tokens_sent().back() == "Bearer token-three");
  CHECK(api.tokens_sent().size() == 5);

  // The file gone: the last good token is still sent, and a 401 stays a 401.
  std::remove(token_file.c_str());
  api.accept("token-four");
  try {
    client.get(config_map_type(), "ns", "a");
    FAIL("a rejected token did not fail the call");
  } catch (const ApiError& error) {
    CHECK(error.unauthorized());
  }
  const auto sent = api.tokens_sent();
  REQUIRE(sent.size() == 7);
  CHECK(sent[5] == "Bearer token-three");
  CHECK(sent[6] == "Bearer token-three");
}

TEST_CASE("a static token is not retried after a 401") {
  TokenCheckingServer api;
  api.accept("right");
  Config config;
  config.server = api.server.url();
  config.token = "wrong";
  Client client(config);
  CHECK_THROWS_AS(client.get(config_map_type(), "ns", "a"), ApiError);
  CHECK(api.server.requests().size() == 1);
}

TEST_CASE("the token file is re-read once its copy is older than the maximum age") {
  TempDir dir;
  const std::string file = dir.write("token", "first");
  TokenSource source("", file, std::chrono::milliseconds(150));
  CHECK(source.current() == "first");
  dir.write("token", "second");
  CHECK(source.current() == "first");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(source.current() == "second");
  std::remove(file.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(source.current() == "second");
  CHECK(TokenSource::kDefaultMaxAge == std::chrono::seconds(50));

  TokenSource never("", dir.path() + "/missing");
  try {
    never.current();
    FAIL("a token file never read gave a token");
  } catch (const ApiError& error) {
    CHECK(error.transient());
    CHECK(error.message().find(dir.path() + "/missing") != std::string::npos);
  }
  TokenSource fallback("static", dir.path() + "/missing");
  CHECK(fallback.current() == "static");
}

TEST_CASE("basic auth sends the username and password") {
  ScriptedServer server([](const httplib::Request&, httplib::Response& response) {
    response.set_content("{}", "application/json");
  });
  Config config;
  config.server = server.url();
  config.username = "admin";
  config.password = "s3cret";
  Client client(config);
  client.get(config_map_type(), "ns", "a");
  CHECK(server.requests().at(0).header("Authorization") == "Basic YWRtaW46czNjcmV0");
}

namespace {

// A CA, a server certificate for kubernetes.pgscope.test and localhost (not
// for 127.0.0.1), a client certificate, and an unrelated second CA: made
// with the openssl tool.
struct Certificates {
  TempDir dir;
  std::string path(const std::string& name) const { return dir.path() + "/" + name; }

  void run(const std::string& command) const {
    const std::string full = "cd '" + dir.path() + "' && " + command + " >/dev/null 2>&1";
    REQUIRE(std::system(full.c_str()) == 0);
  }

  void make_ca(const std::string& name) const {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" +
        name +
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout " +
        name + ".key -out " + name + ".crt");
  }

  void make_leaf(const std::string& name, const std::string& ca, const std::string& extensions) const {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name +
        " -keyout " + name + ".key -out " + name + ".csr");
    dir.write(name + ".ext", extensions);
    run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -days 2 -extfile " + name + ".ext -out " + name + ".crt");
  }

  Certificates() {
    make_ca("ca");
    make_ca("other-ca");
    make_leaf("server", "ca",
              "subjectAltName=DNS:kubernetes.pgscope.test,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    make_leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
  }
};

const Certificates& certificates() {
  static const Certificates made;
  return made;
}

Config tls_config(int port, const std::string& host, const std::string& ca) {
  Config config;
  config.server = "https://" + host + ":" + std::to_string(port);
  config.ca_pem = read_text(certificates().path(ca + ".crt"));
  config.request_timeout = std::chrono::milliseconds(5000);
  return config;
}

ApiError failure_of(Client& client) {
  try {
    client.get(config_map_type(), "ns", "a");
  } catch (const ApiError& error) {
    return error;
  }
  FAIL("the TLS call succeeded");
  throw std::logic_error("unreachable");
}

void answer_ok(const httplib::Request&, httplib::Response& response) {
  response.set_content("{\"ok\":true}", "application/json");
}

}  // namespace

TEST_CASE("TLS: the configured CA is trusted, another CA is not") {
  const auto& certs = certificates();
  ScriptedServer server(TlsFiles{certs.path("server.crt"), certs.path("server.key"), ""}, answer_ok);

  Client trusting(tls_config(server.port(), "localhost", "ca"));
  for (int i = 0; i < 3; ++i) CHECK(trusting.get(config_map_type(), "ns", "a")["ok"] == true);
  // One TLS connection, kept alive, for all three.
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].remote_port == requests[2].remote_port);

  Client wrong_ca(tls_config(server.port(), "localhost", "other-ca"));
  const ApiError error = failure_of(wrong_ca);
  CHECK(error.http_status() == 0);
  CHECK(error.reason() == "Transport");
  CHECK(error.transient());
  CHECK(error.message().find("certificate") != std::string::npos);

  Config insecure = tls_config(server.port(), "localhost", "other-ca");
  insecure.insecure_skip_tls_verify = true;
  Client skipping(insecure);
  CHECK(skipping.get(config_map_type(), "ns", "a")["ok"] == true);
}

TEST_CASE("TLS: the certificate must name the server, or tls_server_name") {
  const auto& certs = certificates();
  ScriptedServer server(TlsFiles{certs.path("server.crt"), certs.path("server.key"), ""}, answer_ok);

  Client by_address(tls_config(server.port(), "127.0.0.1", "ca"));
  CHECK(failure_of(by_address).http_status() == 0);

  Config named = tls_config(server.port(), "127.0.0.1", "ca");
  named.tls_server_name = "kubernetes.pgscope.test";
  Client by_name(named);
  CHECK(by_name.get(config_map_type(), "ns", "a")["ok"] == true);
  const auto requests = server.requests();
  REQUIRE_FALSE(requests.empty());
  CHECK(requests.back().path == "/api/v1/namespaces/ns/configmaps/a");

  named.tls_server_name = "elsewhere.pgscope.test";
  Client wrong_name(named);
  CHECK(failure_of(wrong_name).http_status() == 0);
}

TEST_CASE("TLS: a client certificate from memory authenticates the client") {
  const auto& certs = certificates();
  ScriptedServer server(TlsFiles{certs.path("server.crt"), certs.path("server.key"), certs.path("ca.crt")},
                        answer_ok);

  Client anonymous(tls_config(server.port(), "localhost", "ca"));
  CHECK(failure_of(anonymous).http_status() == 0);

  Config with_cert = tls_config(server.port(), "localhost", "ca");
  with_cert.client_cert_pem = read_text(certs.path("client.crt"));
  with_cert.client_key_pem = read_text(certs.path("client.key"));
  Client authenticated(with_cert);
  CHECK(authenticated.get(config_map_type(), "ns", "a")["ok"] == true);
}

}  // namespace unity_file_kube_test_auth_tls
