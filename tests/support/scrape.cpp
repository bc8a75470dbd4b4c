#include "support/scrape.hpp"

#include <catch2/catch.hpp>
#include <iomanip>
#include <limits>
#include <sstream>
#include <thread>

namespace pgscope::test {

Exposition scrape_metrics(const ExporterProcess& exporter,
                          const std::map<std::string, std::string>& headers) {
  auto result = exporter.scrape("/metrics", headers);
  INFO("error: " << result.error << "\nexporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);
  try {
    return parse_prom_text(result.body);
  } catch (const std::exception& e) {
    FAIL("the exposition does not parse: " << e.what());
  }
  return {};
}

double ScrapeOutcome::get(const std::string& name, const Labels& labels) const {
  auto value = metrics.value(name, labels);
  return value ? *value : std::numeric_limits<double>::quiet_NaN();
}

bool ScrapeOutcome::has_error_kind(const std::string& source, const std::string& kind) const {
  return metrics.count("pgscope_exporter_last_error_info", {{"source", source}, {"kind", kind}}) > 0;
}

std::string ScrapeOutcome::summary() const {
  std::ostringstream out;
  out << "HTTP " << status << " in " << std::fixed << std::setprecision(3) << seconds << " s"
      << (error.empty() ? "" : " (" + error + ")");
  return out.str();
}

ScrapeOutcome try_scrape(const ExporterProcess& exporter, const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds limit) {
  ScrapeOutcome outcome;
  const auto result = exporter.scrape("/metrics", headers, true, limit);
  outcome.status = result.status;
  outcome.seconds = result.elapsed_ms / 1000;
  outcome.error = result.error;
  if (result.status == 200) {
    try {
      outcome.metrics = parse_prom_text(result.body);
    } catch (const std::exception& e) {
      outcome.status = -2;
      outcome.error = std::string("unparsable exposition: ") + e.what();
    }
  }
  return outcome;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace pgscope::test
