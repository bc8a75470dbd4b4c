#include "core/source_errors.hpp"

#include <chrono>

namespace pgscope {

void emit_last_error(MetricSink& sink, const std::string& source, const std::string& kind,
                     const std::string& message, double timestamp) {
  sink.gauge("pgscope_exporter_last_error_info",
             "The last error that stopped a source from being scraped; kind is connection, authentication, "
             "timeout or query.",
             {{"source", source}, {"kind", kind}, {"message", message}}, 1);
  sink.gauge("pgscope_exporter_last_error_timestamp_seconds", "When the last error of a source happened.",
             {{"source", source}}, timestamp);
}

std::string one_line(const std::string& message) {
  std::string out;
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace pgscope
