// --web.config.file against the real exporter: TLS (with client
// certificates, versions and certificate rotation), basic auth, headers,
// --web.unauthenticated-path, and mistakes in the file. Certificates come from
// the openssl tool, password hashes from htpasswd (apache2-utils), into a
// temporary directory. The exporter scrapes a Patroni that is down
// (127.0.0.1:1): /metrics still answers 200 with patroni_up 0, so no database
// is needed.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/temp_dir/temp_dir.hpp"

using Catch::Matchers::Contains;
using pgscope::test::ExporterProcess;
using pgscope::test::run_exporter_once;
using pgscope::test::run_process;
using pgscope::test::ScrapeResult;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kSource = {"--patroni.url=http://127.0.0.1:1"};

void run(const std::vector<std::string>& argv) {
  const auto result = run_process(argv);
  INFO(argv[0] << " " << argv[1] << ": " << result.err);
  REQUIRE(result.exit_code == 0);
}

void write(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

// Replaces `path` at once (write aside, rename), as a Secret update does.
void replace(const std::string& path, const std::string& content) {
  write(path + ".new", content);
  fs::rename(path + ".new", path);
}

// A directory of certificates: two CAs, server certificates "server-one" and
// "server-two" (SAN 127.0.0.1 and localhost) and client certificates from each CA.
struct Pki {
  pgscope::test::TempDir dir{"pgscope-web"};

  Pki() {
    ca("ca");
    ca("other-ca");
    signed_by("ca", "server-one", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
              11);
    signed_by("ca", "server-two", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
              12);
    signed_by("ca", "client", "subjectAltName=DNS:prometheus\nextendedKeyUsage=clientAuth\n", 13);
    signed_by("other-ca", "intruder", "subjectAltName=DNS:prometheus\nextendedKeyUsage=clientAuth\n", 14);
  }
  std::string path(const std::string& name) const { return dir.file(name); }

  void ca(const std::string& name) {
    run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", path(name + ".key"), "-out", path(name + ".crt"), "-days", "2", "-subj",
         "/CN=pgscope test " + name});
  }
  void signed_by(const std::string& ca, const std::string& name, const std::string& extensions, int serial) {
    write(path(name + ".ext"), extensions);
    run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=" + name});
    run({"openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".crt"), "-CAkey",
         path(ca + ".key"), "-set_serial", std::to_string(serial), "-days", "2", "-out", path(name + ".crt"),
         "-extfile", path(name + ".ext")});
  }
};

const Pki& pki() {
  static Pki instance;
  return instance;
}

std::string htpasswd_hash(const std::string& user, const std::string& password) {
  const auto result = run_process({"htpasswd", "-nbB", "-C", "10", user, password});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto colon = result.out.find(':');
  const auto end = result.out.find('\n');
  REQUIRE(colon != std::string::npos);
  return result.out.substr(colon + 1, end - colon - 1);
}

std::string write_web_config(const std::string& name, const std::string& content) {
  const std::string path = pki().path(name);
  write(path, content);
  return path;
}

std::string tls_config(const std::string& cert = "server-one", const std::string& extra = "") {
  return "tls_server_config:\n  cert_file: " + cert + ".crt\n  key_file: " + cert + ".key\n" + extra;
}

struct ClientOptions {
  std::string cert;  // client certificate name in the Pki, or ""
  int max_version = 0;
  std::string user, password;
};
ClientOptions with_cert(const std::string& name) {
  ClientOptions options;
  options.cert = name;
  return options;
}
ClientOptions up_to(int max_version) {
  ClientOptions options;
  options.max_version = max_version;
  return options;
}
ClientOptions as_user(const std::string& user, const std::string& password) {
  ClientOptions options;
  options.user = user;
  options.password = password;
  return options;
}

// GET over TLS, verifying the server against the test CA.
ScrapeResult https_get(int port, const std::string& path, const ClientOptions& options = {}) {
  std::unique_ptr<httplib::SSLClient> client;
  if (options.cert.empty()) {
    client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  } else {
    client = std::make_unique<httplib::SSLClient>("127.0.0.1", port, pki().path(options.cert + ".crt"),
                                                  pki().path(options.cert + ".key"));
  }
  client->set_ca_cert_path(pki().path("ca.crt").c_str());
  client->enable_server_certificate_verification(true);
  client->set_connection_timeout(5);
  client->set_read_timeout(10);
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(client->ssl_context(), options.max_version);
  if (!options.user.empty()) client->set_basic_auth(options.user.c_str(), options.password.c_str());
  ScrapeResult result;
  auto response = client->Get(path.c_str());
  if (!response) {
    result.error = httplib::to_string(response.error());
    return result;
  }
  result.status = response->status;
  result.body = response->body;
  for (const auto& [name, value] : response->headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers.emplace(lower, value);
  }
  return result;
}

// The CN of the certificate the server presents to a new connection ("" when
// the handshake fails). Not verified: the test looks at which one it is.
std::string served_cn(int port) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string cn;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    SSL* ssl = SSL_new(ctx.get());
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        char text[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, text, sizeof text);
        cn = text;
        X509_free(cert);
      }
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }
  ::close(fd);
  return cn;
}

std::string basic(const std::string& user, const std::string& password) {
  const std::string credentials = user + ":" + password;
  std::string encoded(4 * ((credentials.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(credentials.data()),
                                     static_cast<int>(credentials.size()));
  encoded.resize(static_cast<std::size_t>(length));
  return "Basic " + encoded;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("TLS: https answers, plain HTTP gets no metrics, headers are added", "[web]") {
  const auto config = write_web_config(
      "tls.yml", tls_config("server-one",
                            "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
                            "    Strict-Transport-Security: max-age=300\n"));
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]});
  INFO(exporter.log_tail());
  const auto https = https_get(exporter.port(), "/metrics");
  INFO(https.error);
  CHECK(https.status == 200);
  CHECK_THAT(https.body, Contains("patroni_up 0"));
  CHECK(https.header("X-Content-Type-Options") == "nosniff");
  CHECK(https.header("Strict-Transport-Security") == "max-age=300");
  CHECK(https_get(exporter.port(), "/healthz").status == 200);
  CHECK(https_get(exporter.port(), "/").status == 200);

  const auto plain = exporter.scrape("/metrics");
  CHECK(plain.status != 200);
  CHECK(plain.body.find("patroni_up") == std::string::npos);
  CHECK(plain.status == 400);  // as Go's servers: "Client sent an HTTP request to an HTTPS server."
}

TEST_CASE("TLS: RequireAndVerifyClientCert takes only certificates of the client CA", "[web]") {
  const auto config = write_web_config(
      "mtls.yml",
      tls_config("server-one", "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"));
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]});
  INFO(exporter.log_tail());
  const auto none = https_get(exporter.port(), "/metrics");
  CHECK(none.status == -1);
  CHECK(none.body.empty());
  const auto intruder = https_get(exporter.port(), "/metrics", with_cert("intruder"));
  CHECK(intruder.status == -1);
  CHECK(intruder.body.empty());
  const auto client = https_get(exporter.port(), "/metrics", with_cert("client"));
  INFO(client.error);
  CHECK(client.status == 200);
  CHECK_THAT(client.body, Contains("patroni_up 0"));
}

TEST_CASE("TLS: min_version TLS13 refuses a TLS 1.2 client", "[web]") {
  const auto config = write_web_config("tls13.yml", tls_config("server-one", "  min_version: TLS13\n"));
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]});
  INFO(exporter.log_tail());
  const auto old_client = https_get(exporter.port(), "/metrics", up_to(TLS1_2_VERSION));
  CHECK(old_client.status == -1);
  CHECK(https_get(exporter.port(), "/metrics", up_to(TLS1_3_VERSION)).status == 200);
}

TEST_CASE("basic auth: 401 without the right credentials on every path", "[web]") {
  const auto config =
      write_web_config("auth.yml", "basic_auth_users:\n  alice: " + htpasswd_hash("alice", "secret") +
                                       "\n  bob: " + htpasswd_hash("bob", "builder") + "\n");
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]});
  INFO(exporter.log_tail());
  const std::map<std::string, std::string> alice = {{"Authorization", basic("alice", "secret")}};

  const auto anonymous = exporter.scrape("/metrics");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.header("WWW-Authenticate") == "Basic realm=\"pgscope\"");
  CHECK(anonymous.body.find("patroni_up") == std::string::npos);
  CHECK(exporter.scrape("/metrics", {{"Authorization", basic("alice", "wrong")}}).status == 401);
  CHECK(exporter.scrape("/metrics", {{"Authorization", basic("mallory", "secret")}}).status == 401);
  CHECK(exporter.scrape("/metrics", {{"Authorization", basic("bob", "secret")}}).status == 401);
  for (const char* path : {"/healthz", "/", "/probe?target=127.0.0.1:1/postgres"}) {
    INFO(path);
    CHECK(exporter.scrape(path).status == 401);
  }
  CHECK(exporter.post("/-/reload").status == 401);

  // The first right request pays bcrypt (cost 10); the next ones hit the cache.
  auto start = Clock::now();
  auto first = exporter.scrape("/healthz", alice);
  const double first_ms = ms_since(start);
  CHECK(first.status == 200);
  constexpr int kRounds = 20;
  start = Clock::now();
  for (int i = 0; i < kRounds; ++i) REQUIRE(exporter.scrape("/healthz", alice).status == 200);
  const double cached_ms = ms_since(start) / kRounds;
  std::printf("basic auth over HTTP, GET /healthz: first (bcrypt cost 10) %.1f ms, cached %.2f ms\n",
              first_ms, cached_ms);
  start = Clock::now();
  CHECK(exporter.scrape("/healthz", {{"Authorization", basic("alice", "wrong")}}).status == 401);
  std::printf("basic auth over HTTP, GET /healthz with a wrong password (never cached): %.1f ms\n",
              ms_since(start));

  const auto metrics = exporter.scrape("/metrics", alice);
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.body, Contains("patroni_up 0"));
  CHECK(exporter.scrape("/metrics", {{"Authorization", basic("bob", "builder")}}).status == 200);
  CHECK(exporter.scrape("/probe", alice).status != 401);  // past auth: /probe itself answers
}

TEST_CASE("basic auth: --web.unauthenticated-path exempts /healthz only", "[web]") {
  const auto config = write_web_config("auth-tls.yml", tls_config() + "basic_auth_users:\n  alice: " +
                                                           htpasswd_hash("alice", "secret") + "\n");
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]},
                           {{"PG_EXPORTER_WEB_UNAUTHENTICATED_PATH", "/healthz"}});
  INFO(exporter.log_tail());
  CHECK(https_get(exporter.port(), "/healthz").status == 200);
  CHECK(https_get(exporter.port(), "/metrics").status == 401);
  CHECK(https_get(exporter.port(), "/").status == 401);
  CHECK(https_get(exporter.port(), "/metrics", as_user("alice", "secret")).status == 200);
  CHECK(exporter.scrape("/healthz").status == 400);  // TLS still applies
}

TEST_CASE("TLS: a rotated certificate is served without a restart; a broken one is not", "[web]") {
  const std::string dir = pki().path("rotating");
  fs::create_directories(dir);
  fs::copy_file(pki().path("server-one.crt"), dir + "/tls.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(pki().path("server-one.key"), dir + "/tls.key", fs::copy_options::overwrite_existing);
  const auto config = write_web_config("rotating/web.yml", tls_config("tls"));
  ExporterProcess exporter({"--web.config.file=" + config, kSource[0]});
  INFO(exporter.log_tail());
  REQUIRE(served_cn(exporter.port()) == "server-one");

  replace(dir + "/tls.key", pgscope::test::read_file(pki().path("server-two.key")));
  replace(dir + "/tls.crt", pgscope::test::read_file(pki().path("server-two.crt")));
  const auto start = Clock::now();
  std::string cn;
  while ((cn = served_cn(exporter.port())) != "server-two" &&
         Clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("certificate rotation: new certificate served after %.0f ms\n", ms_since(start));
  CHECK(cn == "server-two");
  CHECK(https_get(exporter.port(), "/metrics").status == 200);  // verifies against the CA too

  replace(dir + "/tls.crt", "not a certificate\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  CHECK(served_cn(exporter.port()) == "server-two");
  CHECK(served_cn(exporter.port()) == "server-two");
  const std::string log = exporter.log();
  CHECK_THAT(log,
             Contains("cannot be used, still serving the previous one") && Contains("no PEM certificate"));
  const auto first = log.find("no PEM certificate");
  CHECK(log.find("no PEM certificate", first + 1) == std::string::npos);  // logged once

  // A key that does not match is refused too, then the right pair goes in.
  replace(dir + "/tls.crt", pgscope::test::read_file(pki().path("server-one.crt")));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(served_cn(exporter.port()) == "server-two");
  CHECK_THAT(exporter.log(), Contains("is not the key of the certificate"));
  replace(dir + "/tls.key", pgscope::test::read_file(pki().path("server-one.key")));
  const auto back = Clock::now();
  while ((cn = served_cn(exporter.port())) != "server-one" && Clock::now() - back < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(cn == "server-one");
}

TEST_CASE("mistakes in the web config stop the exporter with exit 2 and file:line", "[web]") {
  struct Case {
    std::string name, content, expected;
  };
  const std::vector<Case> cases = {
      {"unknown-key.yml", "tls_server_config:\n  cert_file: server-one.crt\n  keyfile: server-one.key\n",
       "unknown-key.yml:3:3: unknown key \"keyfile\""},
      {"no-cert.yml", "tls_server_config:\n  key_file: server-one.key\n", "no-cert.yml:2:3:"},
      {"missing-cert.yml", tls_config("absent"), "missing-cert.yml:2:3: cert_file"},
      {"wrong-key.yml", "tls_server_config:\n  cert_file: server-one.crt\n  key_file: server-two.key\n",
       "is not the key of the certificate"},
      {"not-pem.yml", "tls_server_config:\n  cert_file: server-one.ext\n  key_file: server-one.key\n",
       "not-pem.yml:2:3: cert_file"},
      {"bad-ca.yml",
       tls_config("server-one",
                  "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nothing.pem\n"),
       "bad-ca.yml:5:3: client_ca_file"},
      {"plain-password.yml", "basic_auth_users:\n  alice: secret\n", "plain-password.yml:2:3:"},
      {"header.yml", "http_server_config:\n  headers:\n    Set-Cookie: a=b\n", "header.yml:3:5:"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto result =
        run_exporter_once({"--web.config.file=" + write_web_config(c.name, c.content), kSource[0]});
    INFO(result.err);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Contains(c.expected));
  }
  const auto missing = run_exporter_once({"--web.config.file=" + pki().path("none.yml"), kSource[0]});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Contains("none.yml") && Contains("No such file"));
  const auto relative = run_exporter_once({"--web.unauthenticated-path=healthz", kSource[0]});
  CHECK(relative.exit_code == 2);
  CHECK_THAT(relative.err, Contains("--web.unauthenticated-path"));
}
