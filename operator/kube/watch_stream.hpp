#pragma once

// The watch stream: newline-delimited JSON events over a chunked answer,
// read through libcurl's multi interface so that a stop request and a dead
// connection are noticed within a tenth of a second whether or not the
// server sends anything. Internal to pgscope_kube (and its tests).

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "operator/kube/client.hpp"
#include "operator/kube/http_transport.hpp"

namespace pgscope::kube {

// Cuts a byte stream into lines; a line may arrive in any number of pieces.
class LineSplitter {
 public:
  // Calls on_line for every complete line in what arrived so far (without
  // its "\n" or "\r\n"). Blank lines are skipped.
  void feed(const char* data, std::size_t size, const std::function<void(const std::string&)>& on_line);
  // What is left after the last newline.
  const std::string& rest() const { return pending_; }

 private:
  std::string pending_;
};

// One line of a watch stream as an event. Throws ApiError: from the Status of
// an ERROR event, or a transport error when the line is not an event.
WatchEvent parse_watch_line(const std::string& line);

// Runs the GET of `request` (a watch URL) until the stream ends (returns),
// on_event returns false or *stop becomes true (returns), nothing arrives
// for `idle_limit` (ApiError, transport), or the answer is an error
// (ApiError). A 401 re-reads the token file and retries once.
void run_watch(Transport& transport, const HttpRequest& request, std::chrono::milliseconds idle_limit,
               const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>* stop);

}  // namespace pgscope::kube
