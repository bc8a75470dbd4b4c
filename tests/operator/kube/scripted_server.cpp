#include "scripted_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pgscope::kube::testing {

std::string RecordedRequest::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

std::string RecordedRequest::param(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

ScriptedServer::ScriptedServer(Handler handler) : server_(std::make_unique<httplib::Server>()) {
  handler_ = std::move(handler);
  start();
}

ScriptedServer::ScriptedServer(const TlsFiles& tls, Handler handler) : tls_(true) {
  auto server =
      tls.client_ca.empty()
          ? std::make_unique<httplib::SSLServer>(tls.cert.c_str(), tls.key.c_str())
          : std::make_unique<httplib::SSLServer>(tls.cert.c_str(), tls.key.c_str(), tls.client_ca.c_str());
  if (!server->is_valid()) throw std::runtime_error("the test TLS server cannot load " + tls.cert);
  server_ = std::move(server);
  handler_ = std::move(handler);
  start();
}

void ScriptedServer::start() {
  // Keep-alive connections each hold a worker: leave room for many.
  server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_->set_keep_alive_max_count(100000);
  // Headers and body go out in separate writes: without this, Nagle and
  // delayed ACKs add 40 ms to every answer.
  server_->set_tcp_nodelay(true);
  const auto serve = [this](const httplib::Request& request, httplib::Response& response) {
    this->serve(request, response);
  };
  server_->Get(".*", serve);
  server_->Post(".*", serve);
  server_->Put(".*", serve);
  server_->Patch(".*", serve);
  server_->Delete(".*", serve);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("the test server cannot bind a loopback port");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 500 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

ScriptedServer::~ScriptedServer() {
  closing_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string ScriptedServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<RecordedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

void ScriptedServer::set_handler(Handler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = std::move(handler);
}

void ScriptedServer::serve(const httplib::Request& request, httplib::Response& response) {
  RecordedRequest recorded;
  recorded.method = request.method;
  recorded.path = request.path;
  recorded.target = request.target;
  recorded.params = {request.params.begin(), request.params.end()};
  recorded.headers = request.headers;
  recorded.body = request.body;
  recorded.remote_port = request.remote_port;
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(recorded);
    handler = handler_;
  }
  handler(request, response);
}

std::string status_body(int code, const std::string& reason, const std::string& message,
                        const json& details) {
  json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", reason},
                 {"code", code}};
  if (!details.is_null()) status["details"] = details;
  return status.dump();
}

void answer_status(httplib::Response& response, int code, const std::string& reason,
                   const std::string& message, const json& details) {
  response.status = code;
  response.set_content(status_body(code, reason, message, details), "application/json");
}

void stream_pieces(httplib::Response& response, std::vector<Piece> pieces, StreamEnd end,
                   const std::atomic<bool>& closing) {
  auto next = std::make_shared<std::size_t>(0);
  response.set_chunked_content_provider("application/json", [pieces = std::move(pieces), next, end, &closing](
                                                                std::size_t, httplib::DataSink& sink) {
    if (*next < pieces.size()) {
      const Piece& piece = pieces[(*next)++];
      std::this_thread::sleep_for(std::chrono::milliseconds(piece.delay_ms));
      if (closing) return false;
      return sink.write(piece.data.data(), piece.data.size());
    }
    switch (end) {
      case StreamEnd::kClean:
        sink.done();
        return true;
      case StreamEnd::kBreak:
        return false;
      case StreamEnd::kHang:
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return !closing.load() && sink.is_writable();
    }
    return false;
  });
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace pgscope::kube::testing
