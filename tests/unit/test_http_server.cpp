#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "exporter/http_server.hpp"
#include "exporter/landing_page.hpp"
#include "exporter/options.hpp"

namespace {

using pgscope::HttpRequest;
using pgscope::HttpResponse;
using pgscope::HttpServer;

std::string metrics_body() {
  std::string body;
  for (int i = 0; i < 500; ++i)
    body += "pg_test_value{n=\"" + std::to_string(i) + "\"} " + std::to_string(i) + "\n";
  return body;
}

// A server on 127.0.0.1 with a free port, serving from its own thread.
struct RunningServer {
  HttpServer server;
  std::thread thread;
  std::shared_ptr<HttpRequest> last_request = std::make_shared<HttpRequest>();

  RunningServer() {
    auto seen = last_request;
    server.route("/metrics", [seen](const HttpRequest& request) {
      *seen = request;
      HttpResponse response;
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics_body();
      return response;
    });
    server.route("/fail",
                 [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("secret detail"); });
    server.bind("127.0.0.1:0");
    thread = std::thread([this] { server.serve(); });
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server.port());
    c.set_decompress(false);  // see the raw Content-Encoding
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    return c;
  }
};

std::string gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out(1 << 20, '\0');
  stream.next_out = reinterpret_cast<Bytef*>(&out[0]);
  stream.avail_out = static_cast<uInt>(out.size());
  int status = inflate(&stream, Z_FINISH);
  inflateEnd(&stream);
  REQUIRE(status == Z_STREAM_END);
  out.resize(stream.total_out);
  return out;
}

}  // namespace

TEST_CASE("HttpServer serves a route over GET and HEAD", "[http]") {
  RunningServer running;
  REQUIRE(running.server.port() > 0);
  auto client = running.client();

  auto res =
      client.Get("/metrics?collect%5B%5D=x", {{"X-Test-Header", "v"}, {"Accept-Encoding", "identity"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == metrics_body());
  CHECK(res->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(res->get_header_value("Content-Encoding").empty());
  CHECK(res->get_header_value("Content-Length") == std::to_string(metrics_body().size()));

  const HttpRequest& seen = *running.last_request;
  CHECK(seen.method == "GET");
  CHECK(seen.path == "/metrics");
  CHECK(seen.header("x-test-header") == "v");
  CHECK(seen.header("X-TEST-HEADER") == "v");
  CHECK(seen.header("missing").empty());
  CHECK(seen.header("REMOTE_ADDR").empty());  // httplib's pseudo-header is not passed on
  CHECK(seen.params.count("collect[]") == 1);
  CHECK(seen.remote_addr == "127.0.0.1");

  auto head = client.Head("/metrics", {{"Accept-Encoding", "identity"}});
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == std::to_string(metrics_body().size()));
}

TEST_CASE("HttpServer answers 404 for unknown paths and 405 for other methods", "[http]") {
  RunningServer running;
  auto client = running.client();

  for (const char* path : {"/", "/metrics/", "/METRICS", "/metricsx"}) {
    auto res = client.Get(path);
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(res->body == "404 page not found\n");
  }
  auto post_unknown = client.Post("/nope", "body", "text/plain");
  REQUIRE(post_unknown);
  CHECK(post_unknown->status == 404);

  auto post = client.Post("/metrics", "ignored body", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->get_header_value("Allow") == "GET, HEAD");
  CHECK(post->body == "405 method not allowed\n");
  std::vector<std::function<httplib::Result()>> others{
      [&] { return client.Put("/metrics", "x", "text/plain"); },
      [&] { return client.Delete("/metrics"); },
      [&] { return client.Patch("/metrics", "x", "text/plain"); },
      [&] { return client.Options("/metrics"); },
  };
  for (auto& request : others) {
    auto res = request();
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK(res->get_header_value("Allow") == "GET, HEAD");
  }
  // The connection stays usable after a refused request with a body.
  auto again = client.Get("/metrics", {{"Accept-Encoding", "identity"}});
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("HttpServer answers 500 without leaking the exception", "[http]") {
  RunningServer running;
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // the failure is expected here
  auto res = running.client().Get("/fail");
  spdlog::set_level(level);
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body == "500 internal server error\n");
  for (const auto& header : res->headers) CHECK(header.second.find("secret") == std::string::npos);
}

TEST_CASE("HttpServer gzips when the client accepts it, and only then", "[http]") {
  RunningServer running;
  auto client = running.client();

  auto gz = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  REQUIRE(gz);
  CHECK(gz->status == 200);
  CHECK(gz->get_header_value("Content-Encoding") == "gzip");
  CHECK(gz->get_header_value("Vary") == "Accept-Encoding");
  CHECK(gz->body.size() < metrics_body().size());
  CHECK(gunzip(gz->body) == metrics_body());  // compressed once, not twice

  // Prefixed by brotli, which the exporter never uses although httplib would.
  for (const char* accept : {"br", "br, gzip;q=0", "gzip;q=0", "identity", "deflate"}) {
    auto res = client.Get("/metrics", {{"Accept-Encoding", accept}});
    REQUIRE(res);
    INFO("Accept-Encoding: " << accept);
    CHECK(res->get_header_value("Content-Encoding").empty());
    CHECK(res->body == metrics_body());
  }
  auto both = client.Get("/metrics", {{"Accept-Encoding", "br, gzip"}});
  REQUIRE(both);
  CHECK(both->get_header_value("Content-Encoding") == "gzip");

  httplib::Client bare("127.0.0.1", running.server.port());  // sends no Accept-Encoding
  bare.set_decompress(false);
  auto plain = bare.Get("/metrics");
  REQUIRE(plain);
  CHECK(plain->get_header_value("Content-Encoding").empty());
  CHECK(plain->body == metrics_body());
}

TEST_CASE("HttpServer::stop returns serve promptly", "[http]") {
  HttpServer server;
  server.route("/metrics", [](const HttpRequest&) { return HttpResponse{}; });
  server.bind("127.0.0.1:0");
  auto served = std::async(std::launch::async, [&] { server.serve(); });

  // An idle keep-alive connection must not hold serve() up.
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);

  auto start = std::chrono::steady_clock::now();
  server.stop();
  REQUIRE(served.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("HttpServer::stop does not wait for a half-sent request", "[http]") {
  HttpServer server;
  server.bind("127.0.0.1:0");
  auto served = std::async(std::launch::async, [&] { server.serve(); });

  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  REQUIRE(::send(sock, partial, sizeof(partial) - 1, 0) > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto start = std::chrono::steady_clock::now();
  server.stop();
  REQUIRE(served.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  ::close(sock);
}

TEST_CASE("HttpServer::stop during a request returns serve once the handler is done", "[http]") {
  HttpServer server;
  server.route("/slow", [](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    HttpResponse response;
    response.body = "done\n";
    return response;
  });
  server.bind("127.0.0.1:0");
  auto served = std::async(std::launch::async, [&] { server.serve(); });
  auto fetched = std::async(std::launch::async, [&] {
    httplib::Client client("127.0.0.1", server.port());
    return static_cast<bool>(client.Get("/slow"));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  server.stop();
  REQUIRE(served.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  // The response in progress is cut (see shutdown_connections); the client
  // sees an error rather than hanging.
  REQUIRE(fetched.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK_FALSE(fetched.get());
}

TEST_CASE("HttpServer::stop before serve makes serve return at once", "[http]") {
  HttpServer server;
  server.bind("127.0.0.1:0");
  server.stop();
  auto served = std::async(std::launch::async, [&] { server.serve(); });
  CHECK(served.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
}

TEST_CASE("HttpServer::bind refuses a port in use and names the address", "[http]") {
  HttpServer first;
  first.bind("127.0.0.1:0");
  const std::string address = "127.0.0.1:" + std::to_string(first.port());

  HttpServer second;  // httplib alone would share the port via SO_REUSEPORT
  CHECK_THROWS_WITH(second.bind(address), Catch::Contains(address) && Catch::Contains("in use"));

  HttpServer any;
  CHECK_THROWS_WITH(any.bind(":" + std::to_string(first.port())), Catch::Contains("in use"));
}

TEST_CASE("HttpServer binds every interface for :port", "[http]") {
  HttpServer server;
  server.route("/healthz", [](const HttpRequest&) {
    HttpResponse response;
    response.body = "ok\n";
    return response;
  });
  server.bind(":0");
  auto served = std::async(std::launch::async, [&] { server.serve(); });
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/healthz");
  server.stop();
  served.wait();
  REQUIRE(res);
  CHECK(res->body == "ok\n");
}

TEST_CASE("parse_listen_address accepts the documented forms", "[http]") {
  using pgscope::parse_listen_address;
  using Address = std::pair<std::string, int>;
  CHECK(parse_listen_address(":9187") == Address{"0.0.0.0", 9187});
  CHECK(parse_listen_address(":0") == Address{"0.0.0.0", 0});
  CHECK(parse_listen_address("127.0.0.1:9187") == Address{"127.0.0.1", 9187});
  CHECK(parse_listen_address("0.0.0.0:65535") == Address{"0.0.0.0", 65535});
  CHECK(parse_listen_address("[::1]:9187") == Address{"::1", 9187});
  CHECK(parse_listen_address("[::]:80") == Address{"::", 80});
  CHECK(parse_listen_address("[fe80::1%eth0]:9187") == Address{"fe80::1%eth0", 9187});
  CHECK(parse_listen_address("localhost:9187") == Address{"localhost", 9187});
  CHECK(parse_listen_address("db-exporter.example.com:1") == Address{"db-exporter.example.com", 1});
}

TEST_CASE("parse_listen_address rejects malformed forms with a usage error", "[http]") {
  using pgscope::parse_listen_address;
  using pgscope::UsageError;
  for (const char* bad : {"",         "9187",         ":",         "localhost",   "localhost:",
                          ":65536",   ":99999999",    ":-1",       ":+80",        ":80x",
                          "::1:9187", "[::1]",        "[::1]9187", "[::1:9187",   "[nothost]:80",
                          "[]:80",    "256.1.1.1:80", "1.2.3:80",  "bad host:80", "-bad:80",
                          "a..b:80",  "host/path:80", " :9187",    ":9187 "}) {
    INFO("address: \"" << bad << "\"");
    CHECK_THROWS_AS(parse_listen_address(bad), UsageError);
  }
  CHECK_THROWS_WITH(parse_listen_address("9187"),
                    Catch::Contains("\"9187\"") && Catch::Contains("expected [host]:port"));
  try {
    parse_listen_address("[::1]");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

TEST_CASE("landing page links the metrics path, escaped", "[http]") {
  std::string page = pgscope::landing_page_html("1.2.3", "/metrics");
  CHECK(page.find("pgscope-exporter") != std::string::npos);
  CHECK(page.find("1.2.3") != std::string::npos);
  CHECK(page.find("<a href=\"/metrics\">") != std::string::npos);
  CHECK(page.find("<a href=\"/healthz\">") != std::string::npos);

  std::string hostile = pgscope::landing_page_html("<b>", "/m\"><script>alert('x')</script>&");
  CHECK(hostile.find("<script>") == std::string::npos);
  CHECK(hostile.find("<b>") == std::string::npos);
  CHECK(hostile.find("href=\"/m&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;\"") !=
        std::string::npos);
}
