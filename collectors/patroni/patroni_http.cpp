#include "patroni/patroni_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace pgscope::patroni {

const char* to_string(Failure failure) {
  switch (failure) {
    case Failure::kConnection:
      return "connection";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kHttp:
      return "http";
    case Failure::kNone:
      break;
  }
  return "";
}

std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  const std::size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t end = std::min(url.find_first_of("/?#", authority), url.size());
  const std::size_t at = url.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string::npos || at < authority || at >= end) return url;
  return url.substr(0, authority) + url.substr(at + 1);
}

std::string printable_line(const std::string& text, std::size_t limit) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
  }
  return out;
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
  std::string body;
  std::size_t max_body = 0;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};

  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  static size_t write(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<Handle*>(self_pointer);
    const size_t bytes = size * count;
    // Returning less than given makes libcurl stop with CURLE_WRITE_ERROR:
    // a response this large is not Patroni's, and must not eat our memory.
    if (self->body.size() + bytes > self->max_body) {
      self->too_large = true;
      return 0;
    }
    self->body.append(data, bytes);
    return bytes;
  }
};

HttpClient::HttpClient(const std::string& base_url, std::size_t max_body)
    : base_url_(base_url), max_body_(max_body), handle_(std::make_unique<Handle>()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  display_url_ = redact_url(base_url_);
  // What redact_url dropped, so it can also be scrubbed from libcurl's own
  // messages, should one ever quote it.
  if (display_url_.size() < base_url_.size()) {
    const auto start = base_url_.find("://") == std::string::npos ? 0 : base_url_.find("://") + 3;
    secret_ = base_url_.substr(start, base_url_.size() - display_url_.size());
    if (!secret_.empty() && secret_.back() == '@') secret_.pop_back();
  }

  handle_->max_body = max_body_;
  CURL* curl = curl_easy_init();
  handle_->curl = curl;
  if (curl == nullptr) return;
  // Signals cannot interrupt a thread safely, and the collector runs on one
  // of several threads: libcurl must not use SIGALRM for its timeouts. With
  // its threaded resolver (AsynchDNS) name lookups still honour the timeout.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // A redirect would take the request (and credentials) somewhere the user
  // did not name; Patroni's API never redirects.
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pgscope-exporter");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Handle::write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, handle_.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, handle_->error);
  // Refuses a response whose Content-Length is already too large before
  // reading it; the write callback catches the rest (chunked responses).
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_body_));
  // Certificate and host name verification stay on (libcurl's default):
  // Patroni serving TLS is verified against the system's CA store.
}

HttpClient::~HttpClient() = default;

namespace {

// libcurl says "Failed to connect to host port 8008 after 3 ms: ..."; the
// duration changes from one scrape to the next and would make a new
// last-error series (and log line) each time.
std::string without_durations(std::string message) {
  for (auto at = message.find(" after "); at != std::string::npos; at = message.find(" after ", at + 1)) {
    std::size_t end = at + 7;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end > at + 7 && message.compare(end, 3, " ms") == 0) message.erase(at, end + 3 - at);
  }
  return message;
}

}  // namespace

HttpResponse HttpClient::get(const std::string& path, std::chrono::milliseconds timeout,
                             const std::string& timeout_name) {
  HttpResponse response;
  const std::string url = base_url_ + path;
  const std::string shown = "GET " + display_url_ + path;
  auto fail = [&](Failure failure, const std::string& why) {
    std::string message = shown + ": " + why;
    if (!secret_.empty()) {
      for (auto at = message.find(secret_); at != std::string::npos; at = message.find(secret_, at)) {
        message.replace(at, secret_.size(), "xxxxx");
      }
    }
    response.failure = failure;
    response.error = printable_line(message);
    response.body.clear();
    return response;
  };
  CURL* curl = handle_->curl;
  if (curl == nullptr) return fail(Failure::kConnection, "libcurl could not be initialised");
  if (timeout.count() <= 0) return fail(Failure::kTimeout, "no time left before " + timeout_name);

  handle_->body.clear();
  handle_->too_large = false;
  handle_->error[0] = '\0';
  // Both bounds at the whole budget: a slow connect and a slow answer are
  // the same failure to the scrape. (0 would mean "no timeout" to libcurl;
  // timeout is at least 1 here.)
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));

  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    const std::string detail =
        without_durations(handle_->error[0] != '\0' ? handle_->error : curl_easy_strerror(code));
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return fail(Failure::kTimeout, "no answer within " + timeout_name);
      case CURLE_WRITE_ERROR:
      case CURLE_FILESIZE_EXCEEDED:
        if (handle_->too_large || code == CURLE_FILESIZE_EXCEEDED) {
          return fail(Failure::kHttp, "response larger than " + std::to_string(max_body_) + " bytes");
        }
        return fail(Failure::kHttp, detail);
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_PARTIAL_FILE:
      case CURLE_BAD_CONTENT_ENCODING:
      case CURLE_HTTP2:
        return fail(Failure::kHttp, detail);
      default:
        // Refused, unreachable, name not found, TLS failures, bad URL.
        return fail(Failure::kConnection, detail);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status != 200) {
    return fail(Failure::kHttp, "HTTP status " + std::to_string(response.status));
  }
  response.body = std::move(handle_->body);
  handle_->body = std::string();
  return response;
}

}  // namespace pgscope::patroni
