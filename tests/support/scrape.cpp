#include "support/scrape.hpp"

#include <catch2/catch.hpp>
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

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace pgscope::test
