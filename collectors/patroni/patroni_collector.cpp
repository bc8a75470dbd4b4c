#include "patroni/patroni_collector.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "core/source_errors.hpp"
#include "patroni/patroni_http.hpp"
#include "patroni/patroni_metrics.hpp"
#include "patroni/patroni_model.hpp"

namespace pgscope {
namespace {

const char* const kUpHelp =
    "Whether the last scrape could read Patroni's REST API (/patroni) (1) or not (0).";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

struct PatroniCollector::State {
  explicit State(const std::string& url) : http(url) {}

  patroni::HttpClient http;  // used by collect() only

  // Shared with describe_unavailable(), which may run while collect() does.
  std::mutex mutex;
  struct LastError {
    std::string kind;
    std::string message;
    double timestamp = 0;
  };
  std::optional<LastError> last_error;
  bool down = false;                              // /patroni failed last time: log its return
  std::map<std::string, std::string> part_state;  // part -> its last error ("" when fine)
  // Per path, the fields that had a warning in the last scrape: a warning is
  // logged when it appears, not on every scrape while it lasts (and values
  // quoted in it may change, so the field, not the text, is remembered).
  std::map<std::string, std::set<std::string>> warned;

  // Kept after Patroni recovers (the timestamp says when), as the postgres
  // collector does; the help is the same as its, as the family is shared.
  void emit_last_error(const std::string& source, MetricSink& sink) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!last_error) return;
    ::pgscope::emit_last_error(sink, source, last_error->kind, last_error->message, last_error->timestamp);
  }

  bool collect(const std::string& source, const PatroniCollectorConfig& config, const Deadline& deadline,
               MetricSink& sink, std::vector<CollectorStatus>& parts);
};

PatroniCollector::PatroniCollector(PatroniCollectorConfig config) : config_(std::move(config)) {
  // curl_global_init sets up OpenSSL and the resolver and is not safe to run
  // while other threads use them; curl_easy_init would call it implicitly
  // from whichever scrape thread came first. Collectors are built at start-up
  // on the main thread, before any scrape, so doing it once here is safe.
  // Never cleaned up: other libraries may share OpenSSL until exit.
  static const CURLcode curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (curl_ready != CURLE_OK) spdlog::error("patroni: libcurl: {}", curl_easy_strerror(curl_ready));
  state_ = std::make_unique<State>(config_.url);
}

PatroniCollector::~PatroniCollector() = default;

void PatroniCollector::describe_unavailable(MetricSink& sink) {
  sink.gauge("patroni_up", kUpHelp, {}, 0);
  state_->emit_last_error(name_, sink);
}

bool PatroniCollector::collect(const Deadline& deadline, MetricSink& sink,
                               std::vector<CollectorStatus>& parts) {
  try {
    return state_->collect(name_, config_, deadline, sink, parts);
  } catch (const std::exception& error) {
    // Not expected (parsing catches its own errors); a scrape must still
    // show Patroni as down rather than lose the collector's answer.
    spdlog::error("patroni: scrape failed: {}", error.what());
    sink.gauge("patroni_up", kUpHelp, {}, 0);
    return false;
  }
}

bool PatroniCollector::State::collect(const std::string& source, const PatroniCollectorConfig& config,
                                      const Deadline& deadline, MetricSink& sink,
                                      std::vector<CollectorStatus>& parts) {
  State& state = *this;
  // Each request gets the configured timeout, cut short by the scrape's
  // deadline: the three requests run one after another and together must
  // finish by it.
  const std::string request_timeout =
      "the request timeout (" + std::to_string(config.request_timeout.count()) + " ms)";
  auto get = [&](const char* path) {
    const auto timeout = std::min(config.request_timeout, deadline.remaining());
    return state.http.get(path, timeout,
                          timeout < config.request_timeout ? "the scrape deadline" : request_timeout);
  };
  auto log_warnings = [&](const std::vector<std::string>& warnings, const char* path) {
    std::lock_guard<std::mutex> lock(state.mutex);
    std::set<std::string> fields;
    for (const auto& warning : warnings) {
      const std::string field = warning.substr(0, warning.find(':'));
      if (state.warned[path].count(field) == 0 && fields.count(field) == 0) {
        spdlog::warn("patroni: {}: {}", path, patroni::printable_line(warning));
      }
      fields.insert(field);
    }
    state.warned[path] = std::move(fields);
  };

  std::optional<patroni::Status> status;
  {
    const auto response = get("/patroni");
    std::string kind;
    std::string message;
    if (response.failure != patroni::Failure::kNone) {
      kind = patroni::to_string(response.failure);
      message = response.error;
    } else {
      auto parsed = patroni::parse_status(response.body);
      log_warnings(parsed.warnings, "/patroni");
      if (parsed.value) {
        status = std::move(parsed.value);
      } else {
        kind = "parse";
        message = patroni::printable_line("GET " + state.http.display_url() + "/patroni: " + parsed.error);
      }
    }
    std::lock_guard<std::mutex> lock(state.mutex);
    if (!status) {
      // Logged when the reason changes, not on every scrape of a dead Patroni.
      if (!state.last_error || state.last_error->message != message || !state.down) {
        spdlog::error("patroni: cannot scrape ({}): {}", kind, message);
      }
      state.last_error = State::LastError{kind, message, unix_now()};
      state.down = true;
    } else if (state.down) {
      spdlog::info("patroni: {} answers again", state.http.display_url());
      state.down = false;
    }
  }

  // A part of the scrape beyond /patroni: its failure costs only its own
  // metrics and shows as pgscope_exporter_collector_success{collector=part}.
  auto run_part = [&](const char* part, const char* path, auto parse, auto emit) {
    const auto start = Clock::now();
    std::string error;
    if (status) {
      const auto response = get(path);
      if (response.failure != patroni::Failure::kNone) {
        error = std::string(patroni::to_string(response.failure)) + ": " + response.error;
      } else {
        auto parsed = parse(response.body);
        log_warnings(parsed.warnings, path);
        if (parsed.value) {
          emit(status->scope, *parsed.value, sink);
        } else {
          error =
              patroni::printable_line("parse: GET " + state.http.display_url() + path + ": " + parsed.error);
        }
      }
      std::lock_guard<std::mutex> lock(state.mutex);
      auto& last = state.part_state[part];
      if (last != error) {
        if (error.empty()) {
          spdlog::info("patroni: {} works again", path);
        } else {
          spdlog::warn("patroni: {} failed, its metrics are left out: {}", path, error);
        }
        last = error;
      }
    }
    // Reported also when /patroni failed (and the part was not tried), so the
    // part's series stay put.
    parts.push_back({part, seconds_since(start), status.has_value() && error.empty()});
  };

  if (status) patroni::emit_status(*status, sink);
  run_part("patroni_cluster", "/cluster", patroni::parse_cluster, patroni::emit_cluster);
  run_part("patroni_history", "/history", patroni::parse_history, patroni::emit_history);

  sink.gauge("patroni_up", kUpHelp, {}, status ? 1 : 0);
  emit_last_error(source, sink);
  return status.has_value();
}

}  // namespace pgscope
