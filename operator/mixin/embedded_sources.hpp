#pragma once

// The mixin's jsonnet sources, compiled into the operator (operator/mixin/
// CMakeLists.txt generates the definition from the source tree at build time).

#include <map>
#include <string>
#include <string_view>

namespace pgscope::op {

// Relative path in the source tree ("mixins/mixin.libsonnet",
// "alerts/rules.libsonnet") -> the file's bytes.
const std::map<std::string, std::string_view>& embedded_mixin_sources();

}  // namespace pgscope::op
