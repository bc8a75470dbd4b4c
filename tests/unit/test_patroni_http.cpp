// The Patroni collector end to end, against a small local HTTP server that
// plays Patroni: recorded answers, silence, errors and garbage.

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "patroni/patroni_collector.hpp"
#include "patroni/patroni_http.hpp"
#include "test_patroni_support.hpp"

namespace {

using pgscope::CollectorStatus;
using pgscope::Deadline;
using pgscope::MetricSink;
using pgscope::PatroniCollector;
using pgscope::PatroniCollectorConfig;
using pgscope::test::patroni::Families;
using pgscope::test::patroni::LabelMap;
using pgscope::test::patroni::read_data;
using namespace std::chrono_literals;

struct Reply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
  bool chunked = false;
};

// Patroni's REST API on 127.0.0.1 and a free port. Replies can be changed
// while it runs; a delayed reply waits on a condition variable, so stopping
// the server does not wait for the delay to pass.
class FakePatroni {
 public:
  FakePatroni() {
    for (const char* path : {"/patroni", "/cluster", "/history"}) {
      server_.Get(path, [this, path](const httplib::Request& request, httplib::Response& response) {
        Reply reply;
        {
          std::unique_lock<std::mutex> lock(mutex_);
          reply = replies_[path];
          ++requests_;
          client_ports_.insert(request.remote_port);
          if (reply.delay.count() > 0)
            stopped_signal_.wait_for(lock, reply.delay, [this] { return stopping_; });
        }
        response.status = reply.status;
        if (reply.chunked) {
          auto body = std::make_shared<std::string>(reply.body);
          response.set_chunked_content_provider(
              "application/json", [body](size_t offset, httplib::DataSink& sink) {
                if (offset >= body->size()) {
                  sink.done();
                  return true;
                }
                const size_t size = std::min<size_t>(64 * 1024, body->size() - offset);
                return sink.write(body->data() + offset, size);
              });
        } else {
          response.set_content(reply.body, "application/json");
        }
      });
    }
    // httplib closes a connection after 5 requests by default; Patroni's
    // server does not, and the tests count connections.
    server_.set_keep_alive_max_count(1000);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would be lost, and join() hang.
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }

  ~FakePatroni() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    stopped_signal_.notify_all();
    server_.stop();
    thread_.join();
  }

  void serve(const std::string& path, Reply reply) {
    std::lock_guard<std::mutex> lock(mutex_);
    replies_[path] = std::move(reply);
  }

  // The recorded documents of one Patroni version.
  void serve_recorded(const std::string& version, const std::string& patroni_file) {
    serve("/patroni", {200, read_data(patroni_file)});
    serve("/cluster", {200, read_data(version + "_cluster.json")});
    serve("/history", {200, read_data(version + "_history.json")});
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  std::size_t client_ports() {
    std::lock_guard<std::mutex> lock(mutex_);
    return client_ports_.size();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable stopped_signal_;
  bool stopping_ = false;
  std::map<std::string, Reply> replies_;
  int requests_ = 0;
  std::set<int> client_ports_;
};

struct Scrape {
  bool ok = false;
  std::vector<CollectorStatus> parts;
  std::chrono::milliseconds took{0};
  MetricSink sink;

  bool part_ok(const std::string& name) const {
    for (const auto& part : parts) {
      if (part.name == name) return part.success;
    }
    FAIL("no part " << name);
    return false;
  }
};

Scrape scrape(PatroniCollector& collector, std::chrono::milliseconds budget = 2000ms) {
  Scrape result;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_NOTHROW(result.ok = collector.collect(Deadline::after(budget), result.sink, result.parts));
  result.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return result;
}

PatroniCollectorConfig config_for(const std::string& url, std::chrono::milliseconds timeout = 2000ms) {
  PatroniCollectorConfig config;
  config.url = url;
  config.request_timeout = timeout;
  return config;
}

// The last error's labels, checked to be one line of printable text.
LabelMap last_error(const Families& families) {
  auto labels = families.only_labels("pgscope_exporter_last_error_info");
  CHECK(labels["source"] == "patroni");
  for (char c : labels["message"]) CHECK((c >= 0x20 && c < 0x7f));
  CHECK(families.value("pgscope_exporter_last_error_timestamp_seconds", {{"source", "patroni"}}).has_value());
  return labels;
}

}  // namespace

TEST_CASE("Patroni collector reads recorded Patroni 4 answers over HTTP, on one connection", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  PatroniCollector collector(config_for(patroni.url() + "/"));
  for (int round = 0; round < 2; ++round) {
    auto result = scrape(collector);
    CHECK(result.ok);
    CHECK(result.part_ok("patroni_cluster"));
    CHECK(result.part_ok("patroni_history"));
    Families families(result.sink);
    CHECK(families.value("patroni_up") == 1);
    CHECK(families.value("patroni_primary", {{"scope", "demo"}, {"name", "patroni1"}}) == 1);
    CHECK(families.value("patroni_cluster_members", {{"scope", "demo"}, {"role", "quorum_standby"}}) == 1);
    CHECK(families.value("patroni_cluster_failovers_total", {{"scope", "demo"}}) == 3);
    CHECK(families.find("pgscope_exporter_last_error_info") == nullptr);
  }
  CHECK(patroni.requests() == 6);
  // Keep-alive: all six requests came from one client socket.
  CHECK(patroni.client_ports() == 1);
}

TEST_CASE("Patroni collector reads recorded Patroni 3.0 answers over HTTP", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v3", "v3_patroni_replica.json");
  PatroniCollector collector(config_for(patroni.url()));
  auto result = scrape(collector);
  CHECK(result.ok);
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 1);
  CHECK(families.value("patroni_replica", {{"scope", "pg-main"}, {"name", ""}}) == 1);
  CHECK(families.value("patroni_master", {{"scope", "pg-main"}, {"name", ""}}) == 0);
  CHECK(families.value("patroni_cluster_has_leader", {{"scope", "pg-main"}}) == 1);
  CHECK(
      families.value("patroni_cluster_last_failover_timestamp_seconds", {{"scope", "pg-main"}}).has_value());
}

TEST_CASE("Patroni that never answers: patroni_up 0 within the deadline", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  patroni.serve("/patroni", {200, read_data("v4_patroni_primary.json"), 10s});
  PatroniCollector collector(config_for(patroni.url(), 5000ms));
  auto result = scrape(collector, 500ms);
  CHECK(result.took < 600ms);
  CHECK_FALSE(result.ok);
  CHECK_FALSE(result.part_ok("patroni_cluster"));
  CHECK_FALSE(result.part_ok("patroni_history"));
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 0);
  CHECK(families.names_with_prefix("patroni_") == std::vector<std::string>{"patroni_up"});
  auto error = last_error(families);
  CHECK(error["kind"] == "timeout");
  CHECK_THAT(error["message"], Catch::Contains("/patroni"));

  // The same failure gives the same message (one last-error series), even
  // though the time left differed.
  auto again = scrape(collector, 300ms);
  CHECK(again.took < 400ms);
  Families families_again(again.sink);
  CHECK(last_error(families_again)["message"] == error["message"]);
}

TEST_CASE("Patroni whose /cluster hangs: the rest within the deadline", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_replica.json");
  patroni.serve("/cluster", {200, read_data("v4_cluster.json"), 10s});
  PatroniCollector collector(config_for(patroni.url(), 5000ms));
  auto result = scrape(collector, 500ms);
  CHECK(result.took < 600ms);
  CHECK(result.ok);
  CHECK_FALSE(result.part_ok("patroni_cluster"));
  CHECK_FALSE(result.part_ok("patroni_history"));  // no time left for it
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 1);
  CHECK(families.value("patroni_replica", {{"scope", "demo"}, {"name", "patroni2"}}) == 1);
  CHECK(families.find("patroni_cluster_members") == nullptr);
  CHECK(families.find("pgscope_exporter_last_error_info") == nullptr);
}

TEST_CASE("The per-request timeout applies before the scrape deadline", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  patroni.serve("/patroni", {200, "{}", 10s});
  PatroniCollector collector(config_for(patroni.url(), 200ms));
  auto result = scrape(collector, 5000ms);
  CHECK(result.took < 400ms);
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 0);
  CHECK(last_error(families)["kind"] == "timeout");
}

TEST_CASE("Patroni answering 503, garbage or too much: patroni_up 0 and why", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  std::string kind;
  std::string fragment;
  SECTION("503") {
    patroni.serve("/patroni", {503, R"({"state": "running"})"});
    kind = "http";
    fragment = "503";
  }
  SECTION("garbage") {
    patroni.serve("/patroni", {200, "<html>\n<body>\x01\xff Service Unavailable</body></html>"});
    kind = "parse";
    fragment = "not JSON";
  }
  SECTION("a number where an object is expected") {
    patroni.serve("/patroni", {200, "42"});
    kind = "parse";
    fragment = "expected an object";
  }
  SECTION("empty body") {
    patroni.serve("/patroni", {200, ""});
    kind = "parse";
    fragment = "empty body";
  }
  SECTION("5 MB body with a length") {
    patroni.serve("/patroni", {200, std::string(5 * 1024 * 1024, ' ')});
    kind = "http";
    fragment = "larger than";
  }
  SECTION("5 MB body, chunked") {
    Reply reply{200, std::string(5 * 1024 * 1024, ' ')};
    reply.chunked = true;
    patroni.serve("/patroni", reply);
    kind = "http";
    fragment = "larger than";
  }
  PatroniCollector collector(config_for(patroni.url()));
  auto result = scrape(collector);
  CHECK_FALSE(result.ok);
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 0);
  CHECK(families.names_with_prefix("patroni_") == std::vector<std::string>{"patroni_up"});
  auto error = last_error(families);
  CHECK(error["kind"] == kind);
  CHECK_THAT(error["message"], Catch::Contains(fragment));
  CHECK(error["message"].size() < 400);
}

TEST_CASE("Patroni whose /cluster and /history fail: /patroni's metrics still", "[patroni]") {
  FakePatroni patroni;
  patroni.serve("/patroni", {200, read_data("v4_patroni_replica.json")});
  patroni.serve("/cluster", {503, ""});
  patroni.serve("/history", {200, "[[1, 2, "});
  PatroniCollector collector(config_for(patroni.url()));
  auto result = scrape(collector);
  CHECK(result.ok);
  CHECK_FALSE(result.part_ok("patroni_cluster"));
  CHECK_FALSE(result.part_ok("patroni_history"));
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 1);
  CHECK(families.value("patroni_quorum_standby", {{"scope", "demo"}, {"name", "patroni2"}}) == 1);
  CHECK(families.names_with_prefix("patroni_cluster_") ==
        std::vector<std::string>{"patroni_cluster_unlocked"});  // from /patroni

  // /history recovers; /cluster does not.
  patroni.serve("/history", {200, read_data("v4_history.json")});
  auto again = scrape(collector);
  CHECK(again.part_ok("patroni_history"));
  CHECK_FALSE(again.part_ok("patroni_cluster"));
}

TEST_CASE("Patroni unreachable: connection error without the URL's credentials", "[patroni]") {
  // Port 1 on the loopback: nothing listens, the connection is refused at once.
  PatroniCollector collector(config_for("http://monitor:s3cr3t@127.0.0.1:1"));
  auto result = scrape(collector);
  CHECK_FALSE(result.ok);
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 0);
  auto error = last_error(families);
  CHECK(error["kind"] == "connection");
  CHECK_THAT(error["message"], Catch::Contains("127.0.0.1:1/patroni"));
  CHECK_THAT(error["message"], !Catch::Contains("s3cr3t"));
  CHECK_THAT(error["message"], !Catch::Contains("monitor"));
  CHECK_THAT(error["message"], !Catch::Contains(" ms"));  // libcurl's "after 0 ms" varies

  SECTION("describe_unavailable shows the same") {
    MetricSink sink;
    collector.describe_unavailable(sink);
    Families described(sink);
    CHECK(described.value("patroni_up") == 0);
    CHECK(last_error(described)["kind"] == "connection");
  }
}

TEST_CASE("The last error stays after Patroni recovers", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  patroni.serve("/patroni", {500, "oops"});
  PatroniCollector collector(config_for(patroni.url()));
  CHECK_FALSE(scrape(collector).ok);

  patroni.serve("/patroni", {200, read_data("v4_patroni_primary.json")});
  auto result = scrape(collector);
  CHECK(result.ok);
  Families families(result.sink);
  CHECK(families.value("patroni_up") == 1);
  auto error = last_error(families);
  CHECK(error["kind"] == "http");
  CHECK_THAT(error["message"], Catch::Contains("500"));
}

TEST_CASE("describe_unavailable before any scrape: patroni_up 0 alone", "[patroni]") {
  PatroniCollector collector(config_for("http://127.0.0.1:1"));
  MetricSink sink;
  collector.describe_unavailable(sink);
  Families families(sink);
  CHECK(families.value("patroni_up") == 0);
  CHECK(families.find("pgscope_exporter_last_error_info") == nullptr);
}

TEST_CASE("A scrape deadline already past makes no request", "[patroni]") {
  FakePatroni patroni;
  patroni.serve_recorded("v4", "v4_patroni_primary.json");
  PatroniCollector collector(config_for(patroni.url()));
  MetricSink sink;
  std::vector<CollectorStatus> parts;
  CHECK_FALSE(collector.collect(Deadline::after(0ms), sink, parts));
  CHECK(patroni.requests() == 0);
  Families families(sink);
  CHECK(last_error(families)["kind"] == "timeout");
}

TEST_CASE("URLs are shown without credentials", "[patroni]") {
  using pgscope::patroni::redact_url;
  CHECK(redact_url("http://user:pw@host:8008") == "http://host:8008");
  CHECK(redact_url("https://user:p@ss@host:8008/x@y") == "https://host:8008/x@y");
  CHECK(redact_url("http://host:8008/path@x") == "http://host:8008/path@x");
  CHECK(redact_url("user:pw@host:8008") == "host:8008");
  CHECK(redact_url("http://127.0.0.1:8008") == "http://127.0.0.1:8008");
}
