#include "operator/runtime/health_server.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace pgscope::op {
namespace {

struct ListenAddress {
  std::vector<std::string> hosts;  // tried in order
  int port = 0;
};

ListenAddress parse_listen_address(const std::string& address) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid listen address \"" + address + "\": " + why +
                                "; expected host:port, :port or [ipv6]:port, e.g. \":8080\"");
  };
  std::string host;
  std::string port_text;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      fail("expected [ipv6]:port");
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
    if (host.empty()) fail("empty IPv6 address");
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) fail("missing port");
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
    if (host.find(':') != std::string::npos) fail("an IPv6 address needs brackets");
  }
  if (port_text.empty() || port_text.size() > 5) fail("port must be a number from 0 to 65535");
  for (char c : port_text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) fail("port must be a number from 0 to 65535");
  }
  ListenAddress result;
  result.port = std::stoi(port_text);
  if (result.port > 65535) fail("port must be a number from 0 to 65535");
  // "::" with IPV6_V6ONLY off takes IPv4 too; without IPv6 fall back to IPv4.
  result.hosts = host.empty() ? std::vector<std::string>{"::", "0.0.0.0"} : std::vector<std::string>{host};
  return result;
}

// httplib's default sets SO_REUSEPORT, which would let a second operator on
// the same node share the port silently; SO_REUSEADDR is all a restart needs.
void socket_options(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  int no = 0;
  setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof(no));
}

void answer_check(const std::function<HealthCheck()>& check, httplib::Response& response) {
  HealthCheck result;
  try {
    if (check) result = check();
  } catch (const std::exception& e) {
    result = HealthCheck{false, std::string("check failed: ") + e.what()};
  }
  if (result.ok) {
    response.set_content("ok", "text/plain; charset=utf-8");
  } else {
    response.status = 503;
    response.set_content(result.reason.empty() ? "not ok" : result.reason, "text/plain; charset=utf-8");
  }
}

}  // namespace

HealthServer::HealthServer(OperatorMetrics& metrics, HealthServerOptions options)
    : metrics_(metrics), options_(std::move(options)) {}

HealthServer::~HealthServer() { stop(); }

void HealthServer::start() {
  if (server_) throw std::logic_error("HealthServer::start called twice");
  ListenAddress address = parse_listen_address(options_.listen_address);
  auto server = std::make_unique<httplib::Server>();
  server->set_socket_options(socket_options);
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    try {
      if (options_.before_scrape) options_.before_scrape();
      response.set_content(metrics_.serialize(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      response.status = 500;
      response.set_content(std::string("cannot collect metrics: ") + e.what(), "text/plain; charset=utf-8");
    }
  });
  server->Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
    answer_check(options_.liveness, response);
  });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    answer_check(options_.readiness, response);
  });

  int bound = -1;
  int error = 0;
  for (const auto& host : address.hosts) {
    errno = 0;
    if (address.port == 0) {
      bound = server->bind_to_any_port(host);
    } else if (server->bind_to_port(host, address.port)) {
      bound = address.port;
    }
    if (bound > 0) break;
    error = errno;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + options_.listen_address + ": " +
                             (error != 0 ? std::strerror(error) : "cannot resolve the host or bind to it"));
  }
  port_ = bound;
  server_ = std::move(server);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop runs: a stop() right
  // after start() would otherwise leave the thread serving forever.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("serving /metrics, /healthz and /readyz on {} (port {})", options_.listen_address, port_);
}

void HealthServer::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace pgscope::op
