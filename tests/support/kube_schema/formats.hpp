// String formats and patterns of structural schemas (internal to pgscope_kube_schema).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace pgscope::kubefake::detail {

// A schema `pattern` compiled once. Kubernetes evaluates patterns with Go's
// RE2, unanchored; a leading "(?i)" (RE2's inline flag, which ECMAScript
// lacks) becomes std::regex::icase. Throws std::regex_error when std::regex
// cannot compile it.
std::shared_ptr<const std::regex> compiled_pattern(const std::string& pattern);
bool matches_pattern(const std::string& pattern, const std::string& value);

// Checks `value` against a schema `format`. Returns an empty string when it
// conforms (or the format is one Kubernetes does not check), else the reason.
std::string format_error(const std::string& format, const nlohmann::json& value);

// Map key formats (the ObjectMeta schema marks labels and annotations with
// x-pgscope-key-format: qualified-name, as ValidateLabels/ValidateAnnotations do).
std::string key_format_error(const std::string& format, const std::string& key);

// Length in Unicode code points, as Go counts runes for minLength/maxLength.
std::size_t code_points(const std::string& utf8);

}  // namespace pgscope::kubefake::detail
