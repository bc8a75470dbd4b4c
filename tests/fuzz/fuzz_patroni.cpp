// libFuzzer target for the Patroni documents (scripts/fuzz patroni).
//
// The input is up to three response bodies, /patroni, /cluster and /history
// in that order, separated by a line "---" (JSON cannot hold one, so the
// bodies need no escaping; a missing body is empty). Each body goes through
// each of parse_status, parse_cluster and parse_history, which must return
// a value or an error, never both, never neither, and never throw. Then, as
// PatroniCollector does it, the metrics of what parsed are emitted into a
// MetricSink (emit_status, emit_cluster, emit_history, patroni_up and the
// last error, its message through printable_line), rendered with
// render_text and checked: a valid exposition (exposition_check.hpp) with
// exactly one patroni_up sample (PGSCOPE_FUZZ_PRINT=1 prints the text). Crashes, sanitizer reports, hangs and
// escaping exceptions are findings too.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/metric_sink.hpp"
#include "core/source_errors.hpp"
#include "exporter/exposition.hpp"
#include "exposition_check.hpp"
#include "fuzz_text.hpp"
#include "patroni/patroni_http.hpp"
#include "patroni/patroni_metrics.hpp"
#include "patroni/patroni_model.hpp"

namespace {

using pgscope::fuzz::Violation;

template <typename T>
void check_parsed(const pgscope::patroni::Parsed<T>& parsed, const char* parser, const std::string& body) {
  if (parsed.value.has_value() == parsed.error.empty()) return;
  pgscope::fuzz::report_and_abort("fuzz_patroni",
                                  std::string(parser) + (parsed.value ? " returned a value and an error"
                                                                      : " returned neither value nor error"),
                                  {{"parsed", 0, parsed.error}}, body);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // render_text logs names it leaves out
  pgscope::fuzz::tolerated_kinds();       // says what it tolerates once, up front
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace patroni = pgscope::patroni;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> bodies = pgscope::fuzz::split(input, "\n---\n");
  bodies.resize(3);

  // Every parser on every body: they share the reading of JSON, and a
  // /cluster answer where /patroni was expected is what a misrouted URL gives.
  std::vector<patroni::Parsed<patroni::Status>> statuses;
  std::vector<patroni::Parsed<patroni::Cluster>> clusters;
  std::vector<patroni::Parsed<patroni::History>> histories;
  for (const auto& body : bodies) {
    statuses.push_back(patroni::parse_status(body));
    check_parsed(statuses.back(), "parse_status", body);
    clusters.push_back(patroni::parse_cluster(body));
    check_parsed(clusters.back(), "parse_cluster", body);
    histories.push_back(patroni::parse_history(body));
    check_parsed(histories.back(), "parse_history", body);
  }

  // PatroniCollector::collect without the HTTP.
  const std::string url = "http://127.0.0.1:8008";
  pgscope::MetricSink sink;
  const auto& status = statuses[0];
  if (status.value) {
    patroni::emit_status(*status.value, sink);
    const std::string& scope = status.value->scope;
    if (clusters[1].value) patroni::emit_cluster(scope, *clusters[1].value, sink);
    if (histories[2].value) patroni::emit_history(scope, *histories[2].value, sink);
  } else {
    const std::string message = patroni::printable_line("GET " + url + "/patroni: " + status.error);
    pgscope::emit_last_error(sink, "patroni", "parse", message, 1700000000.5);
  }
  sink.gauge("patroni_up", "Whether Patroni's REST API answered /patroni.", {}, status.value ? 1 : 0);

  const auto families = sink.take();
  const std::string text = pgscope::render_text(families);
  static const bool print = std::getenv("PGSCOPE_FUZZ_PRINT") != nullptr;  // to look at a seed
  if (print) std::fwrite(text.data(), 1, text.size(), stderr);
  const pgscope::fuzz::CheckResult result = pgscope::fuzz::check_exposition(text);
  const auto found = pgscope::fuzz::findings(result.violations);
  if (!found.empty()) {
    pgscope::fuzz::report_and_abort("fuzz_patroni", "the Patroni metrics are not a valid exposition", found,
                                    text);
  }
  std::size_t up = 0;
  for (const auto& family : result.families) {
    if (family.name == "patroni_up") up += family.samples.size();
  }
  if (result.violations.empty() && up != 1) {
    pgscope::fuzz::report_and_abort("fuzz_patroni", std::to_string(up) + " patroni_up samples, not 1",
                                    {{"fidelity", 0, "patroni_up"}}, text);
  }
  return 0;
}
