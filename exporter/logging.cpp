#include "exporter/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "exporter/options.hpp"

namespace pgscope {
namespace {

// The Prometheus ecosystem (go-kit/slog) uses four levels.
const char* level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    default:
      return "error";
  }
}

// RFC 3339 in UTC with milliseconds, e.g. 2026-11-26T05:39:09.123Z.
std::string timestamp(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[40];
  const size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(millis));
  return buffer;
}

void append(spdlog::memory_buf_t& dest, const std::string& text) {
  dest.append(text.data(), text.data() + text.size());
}

// A whole record per line: quotes, backslashes and control characters in the
// message are escaped so that one message can never look like two records.
class LogfmtFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "ts=" + timestamp(msg.time) + " level=" + level_name(msg.level) + " msg=\"";
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          line += "\\\"";
          break;
        case '\\':
          line += "\\\\";
          break;
        case '\n':
          line += "\\n";
          break;
        case '\r':
          line += "\\r";
          break;
        case '\t':
          line += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
            line += escaped;
          } else {
            line += c;
          }
      }
    }
    line += "\"\n";
    append(dest, line);
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LogfmtFormatter>(); }
};

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json record;
    record["ts"] = timestamp(msg.time);
    record["level"] = level_name(msg.level);
    record["msg"] = std::string(msg.payload.data(), msg.payload.size());
    // Invalid UTF-8 (e.g. from a database name) must not throw inside logging.
    append(dest, record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void setup_logging(const std::string& level, const std::string& format) {
  spdlog::level::level_enum spd_level;
  if (level == "debug") {
    spd_level = spdlog::level::debug;
  } else if (level == "info") {
    spd_level = spdlog::level::info;
  } else if (level == "warn") {
    spd_level = spdlog::level::warn;
  } else if (level == "error") {
    spd_level = spdlog::level::err;
  } else {
    throw UsageError("--log.level: \"" + level + "\" is not a log level (use debug, info, warn or error)");
  }
  std::unique_ptr<spdlog::formatter> formatter;
  if (format == "logfmt") {
    formatter = std::make_unique<LogfmtFormatter>();
  } else if (format == "json") {
    formatter = std::make_unique<JsonFormatter>();
  } else {
    throw UsageError("--log.format: \"" + format + "\" is not a log format (use logfmt or json)");
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("pgscope", std::move(sink));
  logger->set_level(spd_level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace pgscope
