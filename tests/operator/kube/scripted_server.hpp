#pragma once

// An HTTP(S) server inside the test process that records every request and
// answers as each test scripts it: what the client sends and how it reads
// answers can then be checked from the outside.

#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir/temp_dir.hpp"

namespace pgscope::kube::testing {

using json = nlohmann::json;

struct RecordedRequest {
  std::string method;
  std::string path;                                // decoded path, without the query
  std::string target;                              // path and query exactly as sent
  std::multimap<std::string, std::string> params;  // decoded query parameters
  httplib::Headers headers;
  std::string body;
  int remote_port = 0;

  std::string header(const std::string& name) const;
  std::string param(const std::string& name) const;  // "" when absent
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
};

// Certificate files for an HTTPS server (PEM paths).
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;  // "" = no client certificate required
};

class ScriptedServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit ScriptedServer(Handler handler);
  ScriptedServer(const TlsFiles& tls, Handler handler);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:PORT (https:// for a TLS server).
  std::string url() const;
  std::vector<RecordedRequest> requests() const;
  void set_handler(Handler handler);
  // True once the server is shutting down: streaming answers end then.
  const std::atomic<bool>& closing() const { return closing_; }

 private:
  void start();
  void serve(const httplib::Request& request, httplib::Response& response);

  std::unique_ptr<httplib::Server> server_;
  bool tls_ = false;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> closing_{false};
  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
};

// A Kubernetes Status body.
std::string status_body(int code, const std::string& reason, const std::string& message,
                        const json& details = json());

// Answers `response` with `code` and a Status body.
void answer_status(httplib::Response& response, int code, const std::string& reason,
                   const std::string& message, const json& details = json());

// One piece of a streamed answer, written after `delay_ms`.
struct Piece {
  std::string data;
  int delay_ms = 0;
};

enum class StreamEnd {
  kClean,  // terminating chunk: the watch ended normally
  kHang,   // send nothing more until the server closes
  kBreak,  // drop the connection without the terminating chunk
};

// A chunked 200 answer of `pieces`, each flushed on its own.
void stream_pieces(httplib::Response& response, std::vector<Piece> pieces, StreamEnd end,
                   const std::atomic<bool>& closing);

// A free loopback port nobody listens on.
int closed_port();

using pgscope::test::TempDir;

std::string read_text(const std::string& path);

}  // namespace pgscope::kube::testing
