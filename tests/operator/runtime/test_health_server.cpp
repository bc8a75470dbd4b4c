#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>

#include "operator/runtime/health_server.hpp"
#include "operator/runtime/operator_metrics.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_health_server {

using namespace pgscope;

TEST_CASE("health server answers /metrics, /healthz and /readyz", "[health]") {
  op::OperatorMetrics metrics;
  std::atomic<bool> alive{true};
  std::atomic<bool> ready{false};
  std::atomic<int> scrapes{0};
  op::HealthServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.liveness = [&] { return op::HealthCheck{alive.load(), "the reconcile loop has stopped"}; };
  options.readiness = [&] { return op::HealthCheck{ready.load(), "postgresqls not synced yet"}; };
  options.before_scrape = [&] {
    ++scrapes;
    metrics.set_queue_depth(7);
  };
  op::HealthServer server(metrics, options);
  server.start();
  REQUIRE(server.port() > 0);
  httplib::Client http("127.0.0.1", server.port());

  auto healthz = http.Get("/healthz");
  REQUIRE(healthz);
  CHECK(healthz->status == 200);
  CHECK(healthz->body == "ok");
  auto readyz = http.Get("/readyz");
  REQUIRE(readyz);
  CHECK(readyz->status == 503);
  CHECK(readyz->body == "postgresqls not synced yet");
  ready = true;
  alive = false;
  CHECK(http.Get("/readyz")->status == 200);
  auto dead = http.Get("/healthz");
  CHECK(dead->status == 503);
  CHECK(dead->body == "the reconcile loop has stopped");

  metrics.reconcile_finished(op::ReconcileResult::kSuccess, 0.02);
  metrics.reconcile_finished(op::ReconcileResult::kError, 1.5);
  metrics.set_leader(true);
  metrics.set_watched_clusters(3);
  metrics.observe_reflector_totals("postgresqls", 2, 5, 1);
  metrics.observe_reflector_totals("postgresqls", 3, 5, 4);  // adds 1, 0, 3
  auto scraped = http.Get("/metrics");
  REQUIRE(scraped);
  CHECK(scraped->status == 200);
  CHECK(scraped->get_header_value("Content-Type").find("text/plain") == 0);
  const std::string& body = scraped->body;
  CHECK(scrapes == 1);
  CHECK(body.find("pgscope_operator_reconciles_total{result=\"success\"} 1") != std::string::npos);
  CHECK(body.find("pgscope_operator_reconciles_total{result=\"error\"} 1") != std::string::npos);
  CHECK(body.find("pgscope_operator_reconciles_total{result=\"requeue\"} 0") != std::string::npos);
  CHECK(body.find("pgscope_operator_reconcile_duration_seconds_count 2") != std::string::npos);
  CHECK(body.find("pgscope_operator_reconcile_duration_seconds_bucket{le=\"0.025\"} 1") != std::string::npos);
  CHECK(body.find("pgscope_operator_queue_depth 7") != std::string::npos);
  CHECK(body.find("pgscope_operator_watched_clusters 3") != std::string::npos);
  CHECK(body.find("pgscope_operator_leader 1") != std::string::npos);
  CHECK(body.find("pgscope_operator_relists_total{resource=\"postgresqls\"} 3") != std::string::npos);
  CHECK(body.find("pgscope_operator_watch_restarts_total{resource=\"postgresqls\"} 5") != std::string::npos);
  CHECK(body.find("pgscope_operator_api_errors_total{resource=\"postgresqls\"} 4") != std::string::npos);
  CHECK(http.Get("/nothing")->status == 404);

  server.stop();
  CHECK_FALSE(http.Get("/healthz"));
}

TEST_CASE("health server says clearly when it cannot listen", "[health]") {
  op::OperatorMetrics metrics;
  op::HealthServerOptions options;
  options.listen_address = "127.0.0.1:0";
  op::HealthServer first(metrics, options);
  first.start();

  options.listen_address = "127.0.0.1:" + std::to_string(first.port());
  op::HealthServer second(metrics, options);
  try {
    second.start();
    FAIL("a second server bound a port in use");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
    CHECK_THAT(e.what(), Catch::Contains("in use"));
  }

  for (const char* bad : {"8080", "127.0.0.1:http", "::1:8080", "[::1]8080", "1.2.3.4:70000"}) {
    options.listen_address = bad;
    op::HealthServer server(metrics, options);
    CHECK_THROWS_AS(server.start(), std::invalid_argument);
  }
}

TEST_CASE("\":port\" listens on every address", "[health]") {
  op::OperatorMetrics metrics;
  op::HealthServerOptions options;
  options.listen_address = ":0";
  op::HealthServer server(metrics, options);
  server.start();
  httplib::Client http("127.0.0.1", server.port());
  auto answer = http.Get("/healthz");
  REQUIRE(answer);
  CHECK(answer->status == 200);
}

}  // namespace unity_file_runtime_test_health_server
