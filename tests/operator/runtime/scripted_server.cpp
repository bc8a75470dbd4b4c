#include "scripted_server.hpp"

#include <memory>
#include <stdexcept>

namespace pgscope::op::testing {

ScriptedServer::ScriptedServer() {
  server_.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response&) {
    RecordedRequest recorded;
    recorded.method = request.method;
    recorded.path = request.path;
    for (const auto& [name, value] : request.params) recorded.params[name] = value;
    recorded.body = request.body;
    recorded.content_type = request.get_header_value("Content-Type");
    recorded.at = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(std::move(recorded));
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

ScriptedServer::~ScriptedServer() {
  closing_ = true;
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void ScriptedServer::start() {
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("the scripted API server cannot bind a loopback port");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

kube::Config ScriptedServer::config() const {
  kube::Config config;
  config.server = "http://127.0.0.1:" + std::to_string(port_);
  config.request_timeout = std::chrono::milliseconds(5000);
  return config;
}

std::vector<RecordedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> ScriptedServer::requests(const std::string& method, const std::string& path,
                                                      bool watch) const {
  std::vector<RecordedRequest> matching;
  for (auto& request : requests()) {
    if (request.method == method && request.path == path && request.is_watch() == watch) {
      matching.push_back(request);
    }
  }
  return matching;
}

void ScriptedServer::stream(httplib::Response& response, std::vector<json> events, bool hold) {
  auto lines = std::make_shared<std::string>();
  for (const auto& event : events) *lines += event.dump() + "\n";
  response.set_chunked_content_provider("application/json",
                                        [this, lines, hold](size_t, httplib::DataSink& sink) {
                                          if (!lines->empty() && !sink.write(lines->data(), lines->size())) {
                                            return false;
                                          }
                                          lines->clear();
                                          if (!hold) {
                                            sink.done();
                                            return true;
                                          }
                                          // A blank line is skipped by clients but fails once the
                                          // client has gone, which ends this stream.
                                          while (!closing_ && sink.is_writable() && sink.write("\n", 1)) {
                                            std::this_thread::sleep_for(std::chrono::milliseconds(50));
                                          }
                                          return false;
                                        });
}

json status_object(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

void reply_status(httplib::Response& response, int code, const std::string& reason,
                  const std::string& message) {
  response.status = code;
  response.set_content(status_object(code, reason, message).dump(), "application/json");
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace pgscope::op::testing
