// The web config parser (exporter-toolkit's format), basic auth with its
// cache, and the HTTP server enforcing both (TLS itself: integration test
// test_web_security.cpp, which needs the openssl tool).
#include <crypt.h>
#include <httplib.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "exporter/basic_auth.hpp"
#include "exporter/http_server.hpp"
#include "exporter/options.hpp"
#include "exporter/web_config.hpp"

namespace {

using pgscope::BasicAuth;
using pgscope::ClientAuth;
using pgscope::parse_web_config;
using pgscope::UsageError;
using pgscope::WebConfig;

const std::string kPath = "/etc/pgscope/web.yml";

std::string error_of(const std::string& text) {
  try {
    parse_web_config(text, kPath);
  } catch (const UsageError& error) {
    return error.what();
  }
  return "(no error)";
}

// A bcrypt hash made here with libxcrypt, so the tests need no htpasswd.
std::string bcrypt(const std::string& password, int cost = 10) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2y$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) !=
          nullptr);
  crypt_data data{};
  const char* hash = crypt_r(password.c_str(), salt, &data);
  REQUIRE(hash != nullptr);
  return hash;
}

std::string basic(const std::string& credentials) {
  std::string out(4 * ((credentials.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(credentials.data()),
                                     static_cast<int>(credentials.size()));
  out.resize(static_cast<std::size_t>(length));
  return "Basic " + out;
}

const std::string kTls = "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /keys/server.key\n";

}  // namespace

TEST_CASE("web config: an empty file serves plain HTTP without auth", "[web]") {
  for (const char* text : {"", "# nothing\n", "tls_server_config:\nbasic_auth_users:\n"}) {
    const WebConfig config = parse_web_config(text, kPath);
    CHECK_FALSE(config.tls);
    CHECK(config.basic_auth_users.empty());
    CHECK(config.headers.empty());
    CHECK(config.http2);
  }
}

TEST_CASE("web config: every key of exporter-toolkit's format", "[web]") {
  const std::string hash = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";
  const WebConfig config = parse_web_config(
      "tls_server_config:\n"
      "  cert_file: tls/server.crt\n"
      "  key_file: /keys/server.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  client_ca_file: ca.pem\n"
      "  client_allowed_sans: [prometheus.example.com, 10.0.0.1]\n"
      "  min_version: TLS13\n"
      "  max_version: TLS13\n"
      "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,\n"
      "                  TLS_AES_128_GCM_SHA256]\n"
      "  prefer_server_cipher_suites: false\n"
      "  curve_preferences: [X25519, CurveP256]\n"
      "http_server_config:\n"
      "  http2: false\n"
      "  headers:\n"
      "    X-Frame-Options: deny\n"
      "    X-Content-Type-Options: nosniff\n"
      "    Strict-Transport-Security: max-age=31536000\n"
      "    Content-Security-Policy: \"\"\n"
      "basic_auth_users:\n"
      "  alice: " +
          hash + "\n",
      kPath);
  REQUIRE(config.tls);
  const auto& tls = *config.tls;
  CHECK(tls.cert_file == "/etc/pgscope/tls/server.crt");  // relative to the web config
  CHECK(tls.key_file == "/keys/server.key");
  CHECK(tls.client_ca_file == "/etc/pgscope/ca.pem");
  CHECK(tls.cert_where == kPath + ":2:3: ");
  CHECK(tls.client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(tls.client_allowed_sans == std::vector<std::string>{"prometheus.example.com", "10.0.0.1"});
  CHECK(tls.min_version == 0x0304);
  CHECK(tls.max_version == 0x0304);
  CHECK(tls.cipher_list == "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384");
  CHECK_FALSE(tls.prefer_server_cipher_suites);
  CHECK(tls.groups_list == "X25519:P-256");
  CHECK_FALSE(config.http2);
  using Headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(config.headers == Headers{{"X-Frame-Options", "deny"},
                                  {"X-Content-Type-Options", "nosniff"},
                                  {"Strict-Transport-Security", "max-age=31536000"}});  // blank: unset
  CHECK(config.basic_auth_users == std::map<std::string, std::string>{{"alice", hash}});
}

TEST_CASE("web config: defaults as exporter-toolkit's", "[web]") {
  const WebConfig config = parse_web_config(kTls, "web.yml");
  REQUIRE(config.tls);
  CHECK(config.tls->cert_file == "tls/server.crt");  // no directory in the path: as given
  CHECK(config.tls->client_auth == ClientAuth::kNoClientCert);
  CHECK(config.tls->min_version == 0x0303);
  CHECK(config.tls->max_version == 0x0304);
  CHECK(config.tls->cipher_list.empty());
  CHECK(config.tls->prefer_server_cipher_suites);
  CHECK(parse_web_config(kTls + "  client_auth_type: RequireClientCert\n", kPath).tls->client_auth ==
        ClientAuth::kRequireAnyClientCert);
  CHECK(parse_web_config("tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key: k\n", kPath)
            .tls->cert_pem == "-----BEGIN CERTIFICATE-----\n");
}

TEST_CASE("web config: mistakes name file:line:column and what to do", "[web]") {
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  CHECK_THAT(error_of("tls_config:\n  cert_file: a\n"),
             StartsWith(kPath + ":1:1: unknown key \"tls_config\"") && Contains("tls_server_config"));
  CHECK_THAT(
      error_of(kTls + "  cert_fil: x\n"),
      StartsWith(kPath + ":4:3: unknown key \"cert_fil\" in tls_server_config") && Contains("cert_file"));
  CHECK_THAT(error_of("tls_server_config:\n  cert_file: [a, b]\n  key_file: k\n"),
             StartsWith(kPath + ":2:3:") && Contains("must be a single value, not a list"));
  CHECK_THAT(error_of("tls_server_config: yes\n"), StartsWith(kPath + ":1:20:") && Contains("must be a map"));
  CHECK_THAT(error_of("tls_server_config:\n  key_file: k\n"),
             StartsWith(kPath + ":2:3:") && Contains("no certificate") && Contains("add cert_file"));
  CHECK_THAT(error_of("tls_server_config:\n  cert_file: c\n"), Contains("no private key"));
  CHECK_THAT(error_of("tls_server_config:\n  cert_file: c\n  cert: c\n  key_file: k\n"),
             StartsWith(kPath + ":3:3:") && Contains("both cert_file and cert"));
  CHECK_THAT(error_of(kTls + "  client_auth_type: Always\n"),
             StartsWith(kPath + ":4:3:") && Contains("\"Always\" is not a client_auth_type") &&
                 Contains("RequireAndVerifyClientCert"));
  CHECK_THAT(error_of(kTls + "  client_ca_file: ca.pem\n"),
             StartsWith(kPath + ":4:3:") && Contains("without client_auth_type"));
  CHECK_THAT(error_of(kTls + "  client_auth_type: RequireAndVerifyClientCert\n"),
             Contains("no CA is given") && Contains("client_ca_file"));
  CHECK_THAT(error_of(kTls + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca\n" +
                      "  client_allowed_sans: [a]\n"),
             StartsWith(kPath + ":6:3:") && Contains("client_allowed_sans needs"));
  CHECK_THAT(error_of(kTls + "  min_version: TLS14\n"),
             StartsWith(kPath + ":4:3:") && Contains("\"TLS14\" is not a TLS version"));
  CHECK_THAT(error_of(kTls + "  min_version: TLS13\n  max_version: TLS12\n"),
             StartsWith(kPath + ":5:3:") && Contains("min_version is above max_version"));
  CHECK_THAT(error_of(kTls + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
             StartsWith(kPath + ":4:3:") && Contains("not a cipher suite"));
  CHECK_THAT(error_of(kTls + "  cipher_suites: TLS_AES_128_GCM_SHA256\n"), Contains("must be a list"));
  CHECK_THAT(error_of(kTls + "  curve_preferences: [CurveP999]\n"), Contains("\"CurveP999\" is not a curve"));
  CHECK_THAT(error_of(kTls + "  prefer_server_cipher_suites: maybe\n"), Contains("must be true or false"));
  CHECK_THAT(error_of("http_server_config:\n  http2: sometimes\n"),
             StartsWith(kPath + ":2:3:") && Contains("true or false"));
  CHECK_THAT(error_of("http_server_config:\n  headers:\n    Server: pgscope\n"),
             StartsWith(kPath + ":3:5: header \"Server\" cannot be set") && Contains("X-Frame-Options"));
  CHECK_THAT(error_of("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
             Contains("\"allow\" is not a value of X-Frame-Options (use deny or sameorigin)"));
  CHECK_THAT(error_of("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n"),
             Contains("use nosniff"));
  CHECK_THAT(
      error_of("http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\r\\nSet-Cookie: x\"\n"),
      Contains("control character"));
  CHECK_THAT(
      error_of("http_server_config:\n  headers:\n    Content-Security-Policy: \"default-src \\x7f\"\n"),
      Contains("control character"));
  CHECK_THAT(
      error_of("basic_auth_users:\n  alice: secret\n"),
      StartsWith(kPath + ":2:3: basic_auth_users.alice: is not a bcrypt hash") && Contains("htpasswd"));
  CHECK_THAT(error_of("basic_auth_users:\n  alice: $1$abc$abcdefghijklmnopqrstuv\n"),
             Contains("not a bcrypt hash"));
  CHECK_THAT(
      error_of(
          "basic_auth_users:\n  \"a:b\": $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n"),
      Contains("without \":\""));
  CHECK_THAT(error_of("basic_auth_users: [alice]\n"), Contains("must be a map"));
  CHECK_THAT(error_of(kTls + "  key_file: other\n"), StartsWith(kPath + ":4:3: \"key_file\" appears twice"));
  CHECK_THAT(error_of("tls_server_config:\n  cert_file: [a\n"),
             StartsWith(kPath + ":") && Contains("invalid YAML"));
  CHECK_THAT(error_of("- a\n- b\n"), StartsWith(kPath + ":1:1:") && Contains("must be a map"));
  CHECK_THAT(error_of("rate_limit:\n  interval: 1s\n"),
             StartsWith(kPath + ":1:1:") && Contains("not supported"));
}

TEST_CASE("web config: files and flags", "[web]") {
  using Catch::Matchers::Contains;
  try {
    pgscope::load_web_config("/nonexistent/web.yml");
    FAIL("no error");
  } catch (const UsageError& error) {
    CHECK_THAT(error.what(), Contains("cannot read /nonexistent/web.yml") && Contains("No such file"));
  }
  CHECK_THROWS_WITH(pgscope::load_web_security("", {"healthz"}), Contains("does not start with /"));
  const auto security = pgscope::load_web_security("", {"/healthz", "/"});
  CHECK(security.unauthenticated_paths == std::set<std::string>{"/", "/healthz"});
  CHECK_FALSE(security.config.tls);
  CHECK(pgscope::describe(security) == "plain HTTP");
}

TEST_CASE("bcrypt hashes are recognised as htpasswd makes them", "[web]") {
  CHECK(pgscope::is_bcrypt_hash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  CHECK(pgscope::is_bcrypt_hash("$2b$04$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  CHECK(pgscope::is_bcrypt_hash(bcrypt("x", 4)));
  CHECK_FALSE(
      pgscope::is_bcrypt_hash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z"));  // short
  CHECK_FALSE(pgscope::is_bcrypt_hash("$2x$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  CHECK_FALSE(
      pgscope::is_bcrypt_hash("$2y$03$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // cost
  CHECK_FALSE(pgscope::is_bcrypt_hash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z!"));
  CHECK_FALSE(pgscope::is_bcrypt_hash("$6$salt$hash"));
}

TEST_CASE("basic auth: bcrypt, then the cache; never a wrong password", "[web]") {
  const std::string alice_hash = bcrypt("secret");
  BasicAuth auth({{"alice", alice_hash}, {"bob", bcrypt("builder", 4)}});
  REQUIRE(auth.enabled());

  const auto start = std::chrono::steady_clock::now();
  CHECK(auth.verify("alice", "secret"));
  const double bcrypt_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  CHECK(auth.cached() == 1);
  constexpr int kRounds = 2000;
  const auto cached_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) REQUIRE(auth.verify("alice", "secret"));
  const double cached_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - cached_start).count() /
      kRounds;
  std::printf("basic auth (bcrypt cost 10): first check %.2f ms, cached %.4f ms\n", bcrypt_ms, cached_ms);
  CHECK(cached_ms < bcrypt_ms);

  // A cached success lets exactly those credentials in: nothing else.
  CHECK_FALSE(auth.verify("alice", "secre"));
  CHECK_FALSE(auth.verify("alice", "secret "));
  CHECK_FALSE(auth.verify("alice", std::string("secret\0x", 8)));
  CHECK_FALSE(auth.verify("Alice", "secret"));
  CHECK_FALSE(auth.verify("bob", "secret"));
  CHECK_FALSE(auth.verify("mallory", "secret"));  // an unknown user
  CHECK_FALSE(auth.verify("", ""));
  CHECK(auth.cached() == 1);  // failures are not cached
  CHECK(auth.verify("bob", "builder"));
  CHECK(auth.cached() == 2);

  CHECK(auth.check_header(basic("alice:secret")));
  CHECK(auth.check_header("basic " + basic("alice:secret").substr(6)));
  CHECK(auth.check_header(basic("bob:builder")));
  CHECK_FALSE(auth.check_header(basic("alice:wrong")));
  CHECK_FALSE(auth.check_header(basic("alicesecret")));
  CHECK_FALSE(auth.check_header(""));
  CHECK_FALSE(auth.check_header("Basic"));
  CHECK_FALSE(auth.check_header("Basic !!!!"));
  CHECK_FALSE(auth.check_header("Bearer " + basic("alice:secret").substr(6)));
  // Only the scheme "Basic": not one that merely starts so as a C string.
  CHECK_FALSE(auth.check_header(std::string("Basic\0\0 ", 8) + basic("alice:secret").substr(6)));
  CHECK_FALSE(auth.check_header("Basically " + basic("alice:secret").substr(6)));
  // Padding only as one or two '=' at the end: "cA==" spelled "c===" is not base64.
  BasicAuth carol({{"carol", bcrypt("p", 4)}});
  const std::string token = basic("carol:p").substr(6);
  REQUIRE(token.substr(token.size() - 2) == "==");
  CHECK(carol.check_header("Basic " + token));
  CHECK_FALSE(carol.check_header("Basic " + token.substr(0, token.size() - 3) + "==="));
  CHECK_FALSE(carol.check_header("Basic " + token.substr(0, token.size() - 3) + "=A="));
  CHECK(BasicAuth({{"carol", bcrypt("p:w", 4)}}).check_header(basic("carol:p:w")));  // ':' in a password
}

TEST_CASE("basic auth: the cache keeps at most its bound", "[web]") {
  // Only credentials that passed bcrypt get in, so this takes many users.
  std::map<std::string, std::string> users;
  const std::string hash = bcrypt("pw", 4);
  for (std::size_t i = 0; i < BasicAuth::kCacheEntries + 10; ++i) users["user" + std::to_string(i)] = hash;
  BasicAuth auth(users);
  for (const auto& entry : users) REQUIRE(auth.verify(entry.first, "pw"));
  CHECK(auth.cached() == BasicAuth::kCacheEntries);
  for (const auto& entry : users) CHECK(auth.verify(entry.first, "pw"));  // evicted ones pay bcrypt again
}

TEST_CASE("HttpServer enforces basic auth and adds the configured headers", "[web][http]") {
  pgscope::WebSecurity security;
  security.config.basic_auth_users = {{"alice", bcrypt("secret", 4)}};
  security.config.headers = {{"X-Frame-Options", "deny"}};
  security.unauthenticated_paths = {"/healthz"};
  pgscope::HttpServer server(security);
  for (const char* path : {"/metrics", "/healthz"}) {
    server.route(path, [](const pgscope::HttpRequest&) {
      pgscope::HttpResponse response;
      response.body = "ok\n";
      return response;
    });
  }
  server.bind("127.0.0.1:0");
  std::thread thread([&] { server.serve(); });
  httplib::Client client("127.0.0.1", server.port());
  client.set_connection_timeout(2);

  auto denied = client.Get("/metrics");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(denied->get_header_value("WWW-Authenticate") == "Basic realm=\"pgscope\"");
  CHECK(denied->get_header_value("X-Frame-Options") == "deny");
  CHECK(denied->body.find("ok") == std::string::npos);
  auto unknown = client.Get("/nothing-here");
  REQUIRE(unknown);
  CHECK(unknown->status == 401);  // authentication comes before routing

  auto allowed = client.Get("/metrics", {{"Authorization", basic("alice:secret")}});
  REQUIRE(allowed);
  CHECK(allowed->status == 200);
  CHECK(allowed->body == "ok\n");
  CHECK(allowed->get_header_value("X-Frame-Options") == "deny");
  auto wrong = client.Get("/metrics", {{"Authorization", basic("alice:Secret")}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);

  auto health = client.Get("/healthz");  // exempt by --web.unauthenticated-path
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->get_header_value("X-Frame-Options") == "deny");
  server.stop();
  thread.join();
}
