#pragma once

// The values an alert threshold of the mixin takes, as mixins/config.libsonnet
// (_thresholdKinds) classifies them, and their syntax in annotations.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace pgscope::op {

enum class ThresholdKind {
  number,          // 0 or more
  ratio,           // 0 to 1
  duration,        // a Prometheus duration, 0 allowed (a `for`)
  window,          // a Prometheus duration above 0 (a PromQL range)
  window_seconds,  // a whole number of seconds, 1 or more (a PromQL range in seconds)
};

// The kind named as in _thresholdKinds ("number", "windowSeconds", ...);
// std::runtime_error for a name this code does not know.
ThresholdKind threshold_kind_from_name(const std::string& name);
const char* threshold_kind_name(ThresholdKind kind);
// What a value of the kind looks like, for error messages and the docs.
std::string describe_threshold_kind(ThresholdKind kind);
// Whether a value of the kind is a JSON number (else a duration string).
bool is_numeric_kind(ThresholdKind kind);

// A Prometheus duration ("1h30m", "90s", "0") in milliseconds; nullopt when
// it is not one or does not fit Prometheus's range (about 292 years).
std::optional<std::int64_t> parse_prometheus_duration(const std::string& text);

// An annotation's value read as a threshold of the kind: a JSON number
// (integers as integers) or the duration string. nullopt when it is not one;
// *problem then says why.
std::optional<nlohmann::json> parse_threshold_text(ThresholdKind kind, const std::string& text,
                                                   std::string* problem);

// Whether a threshold given as JSON fits the kind; *problem says why not.
bool threshold_json_fits(ThresholdKind kind, const nlohmann::json& value, std::string* problem);

// `text` as a PromQL double-quoted string: "a\"b".
std::string promql_string_literal(const std::string& text);

}  // namespace pgscope::op
