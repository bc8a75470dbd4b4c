#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace pgscope::patroni {

// What went wrong with a request, in the words of
// pgscope_exporter_last_error_info's kind label.
enum class Failure { kNone, kConnection, kTimeout, kHttp };
const char* to_string(Failure failure);

struct HttpResponse {
  Failure failure = Failure::kNone;
  long status = 0;
  std::string body;
  std::string error;  // one line, without credentials; "" when failure is kNone
};

// A GET-only client for one Patroni REST API. One libcurl easy handle is
// kept for the collector's lifetime so that the three requests of a scrape,
// and the scrapes after it, reuse one keep-alive connection (and one TLS
// session) instead of dialling Patroni three times per scrape.
// Not thread-safe: the collector uses it from collect() only, which is never
// run concurrently.
class HttpClient {
 public:
  static constexpr std::size_t kMaxBody = 4 * 1024 * 1024;

  // `base_url` such as http://127.0.0.1:8008 or https://user:pw@host:8008/.
  explicit HttpClient(const std::string& base_url, std::size_t max_body = kMaxBody);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET base_url + path, giving up after `timeout` (connecting included).
  // A zero timeout fails at once as a timeout, without a request.
  // `timeout_name` says which limit it was ("the request timeout (2000 ms)")
  // in the error: a fixed text rather than the milliseconds left, so that
  // the same failure gives the same message (and label value) each scrape.
  HttpResponse get(const std::string& path, std::chrono::milliseconds timeout,
                   const std::string& timeout_name = "the timeout");

  // The base URL without user:password@, for messages.
  const std::string& display_url() const { return display_url_; }

 private:
  struct Handle;
  std::string base_url_;
  std::string display_url_;
  std::string secret_;  // the user:password part, scrubbed from messages
  std::size_t max_body_;
  std::unique_ptr<Handle> handle_;
};

// `url` with any user:password@ removed from its authority.
std::string redact_url(const std::string& url);

// `text` as one line of printable ASCII at most `limit` bytes long: it ends
// up in a label value and a log line, and a garbage response quoted in an
// error message must not put a line feed or invalid UTF-8 there.
std::string printable_line(const std::string& text, std::size_t limit = 300);

}  // namespace pgscope::patroni
