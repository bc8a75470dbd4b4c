#pragma once

// A loopback cpp-httplib server whose routes each test scripts, recording
// every request, so the runtime's behaviour against a Kubernetes API (relists,
// resourceVersions, backoff, Lease preconditions) can be checked request by
// request without the full fake API server.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/config.hpp"

namespace pgscope::op::testing {

using json = nlohmann::json;

struct RecordedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;
  std::string body;
  std::string content_type;
  std::chrono::steady_clock::time_point at;

  bool is_watch() const { return params.count("watch") != 0; }
  std::string param(const std::string& name) const {
    auto found = params.find(name);
    return found == params.end() ? "" : found->second;
  }
};

class ScriptedServer {
 public:
  ScriptedServer();
  ~ScriptedServer();

  // Register routes here, then start().
  httplib::Server& routes() { return server_; }
  void start();
  // http://127.0.0.1:<port>, short request timeout.
  kube::Config config() const;

  std::vector<RecordedRequest> requests() const;
  // Requests with this method whose path is path; watch selects watches or plain calls.
  std::vector<RecordedRequest> requests(const std::string& method, const std::string& path, bool watch) const;

  // Answers a watch with these events, one JSON line each; with hold, the
  // stream stays open (until the client leaves or the server shuts down),
  // else it ends after them as a server timeout would.
  void stream(httplib::Response& response, std::vector<json> events, bool hold);

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> closing_{false};
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

// A Kubernetes Status body and the matching HTTP status on response.
void reply_status(httplib::Response& response, int code, const std::string& reason,
                  const std::string& message);
json status_object(int code, const std::string& reason, const std::string& message);

// Polls condition every 10 ms until it holds or timeout passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace pgscope::op::testing
