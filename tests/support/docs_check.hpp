#pragma once

#include <string>
#include <vector>

#include "support/prom_text.hpp"

namespace pgscope::test {

// Families of an exposition that docs/metrics.md does not name, so a test
// fails when code emits something the reference does not describe. Names in
// the reference are `backquoted`; `prefix_*` covers a family of families.
std::vector<std::string> undocumented_families(const Exposition& exposition);

}  // namespace pgscope::test
