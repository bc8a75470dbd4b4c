#pragma once

#include <string>

#include "postgres/catalog.hpp"

namespace pgscope {

// docs/metrics.md, generated from the catalog and the exporter's own metrics
// (--dump-metrics-reference). A unit test fails when the committed file
// differs, so the reference cannot drift from the code.
std::string metrics_reference_markdown(const Catalog& catalog);

}  // namespace pgscope
