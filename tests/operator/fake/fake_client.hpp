// What the fake API server's tests talk to it with: cpp-httplib's client (not
// the operator's), plain requests and a watch stream read on a thread, plus
// the reference files (real CRDs and Zalando's example manifests).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake::testing {

struct Answer {
  int status = 0;  // 0: no HTTP answer (connection failed or reset)
  json body;       // parsed JSON, or null
  std::string text;
  std::string retry_after;
};

class TestClient {
 public:
  TestClient(const FakeApiServer& server, std::string token);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;
  Answer get(const std::string& path);
  Answer post(const std::string& path, const json& body);
  Answer put(const std::string& path, const json& body);
  Answer patch(const std::string& path, const std::string& body, const std::string& content_type);
  Answer merge_patch(const std::string& path, const json& patch);
  Answer apply(const std::string& path, const json& body, const std::string& manager, bool force = false);
  Answer remove(const std::string& path, const json& options = nullptr);

 private:
  Answer answer(const httplib::Result& result) const;
  httplib::Headers headers() const;
  std::unique_ptr<httplib::Client> client_;
  std::string token_;
  std::string ca_file_;
};

// A watch request read on its own thread; events are kept as they arrive.
class WatchReader {
 public:
  WatchReader(const FakeApiServer& server, const std::string& token, const std::string& path_and_query);
  ~WatchReader();
  std::vector<json> events() const;
  // Events that are not BOOKMARKs.
  std::vector<json> changes() const;
  // Waits until `done(events)` holds; false on timeout.
  bool wait_for(const std::function<bool(const std::vector<json>&)>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Waits for the stream to end; false on timeout.
  bool wait_finished(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  bool finished() const { return finished_; }
  int status() const { return status_; }
  // Whether the stream ended with its terminating chunk (not cut off).
  bool ended_cleanly() const { return clean_; }
  std::string body_text() const;

 private:
  std::unique_ptr<httplib::Client> client_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string buffer_;
  std::string all_text_;
  std::vector<json> events_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> clean_{false};
  std::atomic<int> status_{0};
  std::string ca_file_;
};

// PGSCOPE_REFERENCE_DIR, or the default computed at configure time; "" if absent.
std::string reference_dir();
// The first document of a reference YAML file (relative to reference_dir()).
json reference_object(const std::string& relative_path);

// Polls `condition` until it holds or the timeout passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A user allowed everything.
std::vector<AccessRule> allow_all();

// The real CRDs: Zalando's postgresql and prometheus-operator's three.
void install_reference_crds(FakeApiServer& server);
// Zalando's minimal example cluster, renamed.
json postgresql(const std::string& name, const std::string& ns);
json config_map(const std::string& name, const std::string& ns, const json& labels = json::object());
// An ownerReference to `owner` (as returned by the server).
json owner_reference(const json& owner, bool block_owner_deletion = false);

// A started server, CRDs installed, and a client of a user allowed everything.
struct Fixture {
  explicit Fixture(FakeApiServer::Options options = FakeApiServer::Options());
  FakeApiServer server;
  std::string token;
  std::unique_ptr<TestClient> api;
};

}  // namespace pgscope::kubefake::testing

// Skips a test (with a warning) when the reference directory is missing.
#define PGSCOPE_REQUIRE_REFERENCE()                                                    \
  do {                                                                                 \
    if (::pgscope::kubefake::testing::reference_dir().empty()) {                       \
      WARN("reference directory not found (set PGSCOPE_REFERENCE_DIR): test skipped"); \
      return;                                                                          \
    }                                                                                  \
  } while (false)

namespace pgscope::kubefake::testing {}  // namespace pgscope::kubefake::testing
