#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "exporter/metrics_reference.hpp"

TEST_CASE("docs/metrics.md matches the catalog", "[docs]") {
  std::ifstream in(std::string(PGSCOPE_SOURCE_DIR) + "/docs/metrics.md");
  REQUIRE(in.good());
  std::stringstream committed;
  committed << in.rdbuf();
  const auto generated = pgscope::metrics_reference_markdown(pgscope::builtin_catalog());
  INFO(
      "docs/metrics.md is out of date: run build/bin/pgscope-exporter --dump-metrics-reference > "
      "docs/metrics.md");
  CHECK(committed.str() == generated);
}
