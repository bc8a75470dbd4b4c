#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "operator/runtime/operator_metrics.hpp"

namespace httplib {
class Server;
}

namespace pgscope::op {

struct HealthCheck {
  bool ok = true;
  std::string reason;  // why not, shown as the 503 body
};

struct HealthServerOptions {
  // "host:port", ":port" (every address, IPv6 and IPv4) or "[v6]:port"; port 0 picks a free one.
  std::string listen_address = ":8080";
  // /healthz: are the operator's loops alive? (unset: always)
  std::function<HealthCheck()> liveness;
  // /readyz: caches synced, and so on (unset: always)
  std::function<HealthCheck()> readiness;
  // Called before each /metrics answer, e.g. to copy reflector totals and
  // the queue depth into the metrics.
  std::function<void()> before_scrape;
};

// The operator's HTTP endpoints on cpp-httplib: GET /metrics (Prometheus text
// format), /healthz (200 "ok" or 503 with the reason), /readyz (likewise).
// Callbacks run on the server's threads and must be thread-safe.
class HealthServer {
 public:
  HealthServer(OperatorMetrics& metrics, HealthServerOptions options);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds and serves on a thread of its own. Throws std::invalid_argument for
  // a malformed address and std::runtime_error naming the address when it
  // cannot bind (in use, no such interface).
  void start();
  void stop();
  // The bound port (after start()).
  int port() const { return port_; }

 private:
  OperatorMetrics& metrics_;
  HealthServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
};

}  // namespace pgscope::op
