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

// Polls `condition` every 100 ms until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit);

}  // namespace pgscope::test
