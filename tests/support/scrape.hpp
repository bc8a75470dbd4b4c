#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"

namespace pgscope::test {

// One scrape of /metrics that must answer 200 with an exposition that parses;
// on failure the test stops with the exporter's log.
Exposition scrape_metrics(const ExporterProcess& exporter,
                          const std::map<std::string, std::string>& headers = {});

// One scrape as it went, for tests that expect failures: status -1 when no
// answer came (error says why), -2 when the answer did not parse.
struct ScrapeOutcome {
  int status = -1;
  double seconds = 0;
  std::string error;
  Exposition metrics;

  double get(const std::string& name, const Labels& labels = {}) const;  // NaN when absent
  // pgscope_exporter_last_error_info{source, kind} is present.
  bool has_error_kind(const std::string& source, const std::string& kind) const;
  std::string summary() const;  // "HTTP 200 in 0.123 s" and the error, if any
};

// GET /metrics with `headers` (e.g. Prometheus's scrape timeout); the client
// waits up to `limit`, so that a late answer shows as late.
ScrapeOutcome try_scrape(const ExporterProcess& exporter, const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds limit);

// Polls `condition` every 100 ms until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit);

}  // namespace pgscope::test
