#include "operator/kube/watch_stream.hpp"

#include <cctype>
#include <cstring>
#include <exception>

#include "operator/kube/api_status.hpp"

namespace pgscope::kube {

namespace {

// The body of an error answer to a watch is one Status; more is not one.
constexpr std::size_t kMaxErrorBody = 1024 * 1024;
// How long libcurl may wait for the socket before the loop looks at the
// stop flag and the idle clock again.
constexpr int kPollMilliseconds = 100;

using Clock = std::chrono::steady_clock;

struct WatchState {
  CURL* curl = nullptr;
  const std::function<bool(const WatchEvent&)>* on_event = nullptr;
  long status = 0;
  std::string error_body;
  std::chrono::seconds retry_after{0};
  LineSplitter lines;
  std::exception_ptr failure;
  bool consumer_done = false;
  Clock::time_point last_activity = Clock::now();

  bool success() const { return status >= 200 && status < 300; }

  void deliver(const std::string& line) {
    if (consumer_done) return;
    if (!(*on_event)(parse_watch_line(line))) consumer_done = true;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<WatchState*>(self_pointer);
    const size_t bytes = size * count;
    self->last_activity = Clock::now();
    if (self->status == 0) curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &self->status);
    if (!self->success()) {
      if (self->error_body.size() + bytes > kMaxErrorBody) return 0;
      self->error_body.append(data, bytes);
      return bytes;
    }
    try {
      self->lines.feed(data, bytes, [self](const std::string& line) { self->deliver(line); });
    } catch (...) {
      // Exceptions must not cross libcurl's C frames: keep it, stop the
      // transfer (returning less than given), rethrow after.
      self->failure = std::current_exception();
      return 0;
    }
    return self->consumer_done ? 0 : bytes;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<WatchState*>(self_pointer);
    const size_t bytes = size * count;
    self->last_activity = Clock::now();
    static const char kRetryAfter[] = "retry-after:";
    const size_t length = sizeof kRetryAfter - 1;
    if (bytes > length) {
      bool match = true;
      for (size_t i = 0; i < length && match; ++i) {
        match = std::tolower(static_cast<unsigned char>(data[i])) == kRetryAfter[i];
      }
      if (match) self->retry_after = parse_retry_after(std::string(data + length, bytes - length));
    }
    return bytes;
  }
};

struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

// Keeps an easy handle in a multi handle for one scope.
class MultiMembership {
 public:
  MultiMembership(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {
    curl_multi_add_handle(multi, easy);
  }
  ~MultiMembership() { curl_multi_remove_handle(multi_, easy_); }
  MultiMembership(const MultiMembership&) = delete;
  MultiMembership& operator=(const MultiMembership&) = delete;

 private:
  CURLM* multi_;
  CURL* easy_;
};

enum class LoopEnd { kFinished, kStopped, kIdle };

}  // namespace

void LineSplitter::feed(const char* data, std::size_t size,
                        const std::function<void(const std::string&)>& on_line) {
  pending_.append(data, size);
  std::size_t start = 0;
  for (std::size_t newline = pending_.find('\n'); newline != std::string::npos;
       newline = pending_.find('\n', start)) {
    std::size_t end = newline;
    if (end > start && pending_[end - 1] == '\r') --end;
    bool blank = true;
    for (std::size_t i = start; i < end && blank; ++i) {
      blank = std::isspace(static_cast<unsigned char>(pending_[i])) != 0;
    }
    const std::string line = pending_.substr(start, end - start);
    start = newline + 1;
    if (!blank) {
      // Erase first: on_line may throw, and what it was given is consumed.
      pending_.erase(0, start);
      start = 0;
      on_line(line);
    }
  }
  pending_.erase(0, start);
}

WatchEvent parse_watch_line(const std::string& line) {
  const json parsed = json::parse(line, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string()) {
    throw transport_error("the watch stream sent something that is not an event: " + printable_excerpt(line));
  }
  WatchEvent event;
  event.type = parsed["type"].get<std::string>();
  const auto object = parsed.find("object");
  if (event.type == "ERROR") throw error_from_status(object != parsed.end() ? *object : json());
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED" &&
      event.type != "BOOKMARK") {
    throw transport_error("the watch stream sent an event of unknown type \"" + event.type + "\"");
  }
  if (object == parsed.end() || !object->is_object()) {
    throw transport_error("the watch stream sent a " + event.type + " event without an object");
  }
  event.object = *object;
  return event;
}

void run_watch(Transport& transport, const HttpRequest& request, std::chrono::milliseconds idle_limit,
               const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>* stop) {
  const auto stopped = [stop] { return stop != nullptr && stop->load(); };
  for (int attempt = 0;; ++attempt) {
    if (stopped()) return;
    CurlEasy easy(curl_easy_init());
    CurlMulti multi(curl_multi_init());
    if (!easy || !multi) throw transport_error("libcurl could not create a handle (out of memory?)");
    CurlLists lists;
    WatchState state;
    state.curl = easy.get();
    state.on_event = &on_event;
    char error[CURL_ERROR_SIZE] = {};
    transport.prepare(easy.get(), request, lists);
    // No CURLOPT_TIMEOUT: a watch lasts as long as the server keeps it; the
    // idle clock below catches connections that died without a word.
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &WatchState::on_body);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(easy.get(), CURLOPT_HEADERFUNCTION, &WatchState::on_header);
    curl_easy_setopt(easy.get(), CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(easy.get(), CURLOPT_ERRORBUFFER, error);

    LoopEnd end = LoopEnd::kFinished;
    CURLcode result = CURLE_OK;
    {
      MultiMembership membership(multi.get(), easy.get());
      state.last_activity = Clock::now();
      for (;;) {
        int running = 0;
        const CURLMcode code = curl_multi_perform(multi.get(), &running);
        if (code != CURLM_OK) {
          throw transport_error(transport.describe(request) + ": " + curl_multi_strerror(code));
        }
        if (running == 0) break;
        if (state.consumer_done || state.failure) break;
        if (stopped()) {
          end = LoopEnd::kStopped;
          break;
        }
        if (Clock::now() - state.last_activity > idle_limit) {
          end = LoopEnd::kIdle;
          break;
        }
        curl_multi_poll(multi.get(), nullptr, 0, kPollMilliseconds, nullptr);
      }
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
        if (message->msg == CURLMSG_DONE) result = message->data.result;
      }
    }
    if (state.failure) std::rethrow_exception(state.failure);
    if (state.consumer_done || end == LoopEnd::kStopped) return;
    if (end == LoopEnd::kIdle) {
      throw transport_error(transport.describe(request) + ": nothing received for " +
                            std::to_string(idle_limit.count()) + " ms; the connection is presumed dead");
    }
    if (state.status == 0) curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &state.status);
    if (result != CURLE_OK) {
      throw transport_error(transport.describe(request) + ": " +
                            (error[0] != '\0' ? error : curl_easy_strerror(result)));
    }
    if (state.status == 401 && attempt == 0 && transport.tokens().refresh_after_unauthorized()) continue;
    if (!state.success()) throw error_from_response(state.status, state.error_body, state.retry_after);
    // A last event without its newline still counts.
    if (!state.lines.rest().empty())
      state.lines.feed("\n", 1, [&](const std::string& line) { state.deliver(line); });
    return;
  }
}

}  // namespace pgscope::kube
