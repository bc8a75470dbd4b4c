#include "operator/mixin/threshold_values.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <regex>
#include <stdexcept>

namespace pgscope::op {
namespace {

// Prometheus's own limit: a duration is an int64 of nanoseconds.
constexpr std::int64_t kMaxDurationMs = std::numeric_limits<std::int64_t>::max() / 1000000;

// More digits than a double holds exactly would change the threshold on its
// way through jsonnet, which formats it with 15 significant digits.
constexpr std::size_t kMaxSignificantDigits = 15;

std::size_t significant_digits(const std::string& text) {
  std::string digits;
  for (const char c : text) {
    if (c != '.') digits += c;
  }
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 1;
  const auto dot = text.find('.');
  // Trailing zeros of a fraction add no precision; those of an integer do.
  std::size_t last = digits.size();
  if (dot != std::string::npos) {
    const auto nonzero = digits.find_last_not_of('0');
    const std::size_t integer_digits = dot;
    last = std::max(nonzero + 1, integer_digits);
  }
  return last > first ? last - first : 1;
}

bool range_fits(ThresholdKind kind, double value, std::string* problem) {
  if (!std::isfinite(value) || value < 0) {
    *problem = "a negative or infinite number";
    return false;
  }
  if (kind == ThresholdKind::ratio && value > 1) {
    *problem = "more than 1";
    return false;
  }
  if (kind == ThresholdKind::window_seconds && (value < 1 || value != std::floor(value))) {
    *problem = value < 1 ? "less than 1" : "not a whole number";
    return false;
  }
  return true;
}

}  // namespace

ThresholdKind threshold_kind_from_name(const std::string& name) {
  if (name == "number") return ThresholdKind::number;
  if (name == "ratio") return ThresholdKind::ratio;
  if (name == "duration") return ThresholdKind::duration;
  if (name == "window") return ThresholdKind::window;
  if (name == "windowSeconds") return ThresholdKind::window_seconds;
  throw std::runtime_error("mixin: unknown threshold kind '" + name +
                           "' in _thresholdKinds (operator/mixin/threshold_values.cpp knows number, ratio, "
                           "duration, window, windowSeconds)");
}

const char* threshold_kind_name(ThresholdKind kind) {
  switch (kind) {
    case ThresholdKind::number:
      return "number";
    case ThresholdKind::ratio:
      return "ratio";
    case ThresholdKind::duration:
      return "duration";
    case ThresholdKind::window:
      return "window";
    case ThresholdKind::window_seconds:
      return "windowSeconds";
  }
  return "?";
}

std::string describe_threshold_kind(ThresholdKind kind) {
  switch (kind) {
    case ThresholdKind::number:
      return "a decimal number, 0 or more, such as 536870912 or 0.5";
    case ThresholdKind::ratio:
      return "a decimal number from 0 to 1, such as 0.85 (a share, not a percentage)";
    case ThresholdKind::duration:
      return "a Prometheus duration such as 90s, 5m or 1h30m";
    case ThresholdKind::window:
      return "a Prometheus duration longer than 0, such as 10m or 1h (a PromQL range)";
    case ThresholdKind::window_seconds:
      return "a whole number of seconds, 1 or more, such as 600 (a PromQL range)";
  }
  return "?";
}

bool is_numeric_kind(ThresholdKind kind) {
  return kind == ThresholdKind::number || kind == ThresholdKind::ratio ||
         kind == ThresholdKind::window_seconds;
}

std::optional<std::int64_t> parse_prometheus_duration(const std::string& text) {
  // Prometheus's model.ParseDuration: units largest first, each once; "0" alone.
  static const std::regex syntax(
      "^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
      "$");
  if (text == "0") return 0;
  std::smatch match;
  if (text.empty() || !std::regex_match(text, match, syntax)) return std::nullopt;
  static const std::int64_t unit_ms[] = {365LL * 24 * 3600 * 1000,
                                         7LL * 24 * 3600 * 1000,
                                         24LL * 3600 * 1000,
                                         3600LL * 1000,
                                         60LL * 1000,
                                         1000,
                                         1};
  std::int64_t total = 0;
  for (std::size_t i = 0; i < 7; ++i) {
    if (!match[i + 1].matched) continue;
    const std::string digits = match[i + 1].str();
    std::int64_t count = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (count > (kMaxDurationMs - total) / unit_ms[i]) return std::nullopt;
    total += count * unit_ms[i];
  }
  return total;
}

std::optional<nlohmann::json> parse_threshold_text(ThresholdKind kind, const std::string& text,
                                                   std::string* problem) {
  if (!is_numeric_kind(kind)) {
    const auto ms = parse_prometheus_duration(text);
    if (!ms) {
      *problem = "not a Prometheus duration";
      return std::nullopt;
    }
    if (kind == ThresholdKind::window && *ms == 0) {
      *problem = "0, which PromQL refuses as a range";
      return std::nullopt;
    }
    return nlohmann::json(text);
  }
  static const std::regex decimal("^[0-9]+(\\.[0-9]+)?$");
  if (!std::regex_match(text, decimal)) {
    *problem = "not a decimal number";
    return std::nullopt;
  }
  if (significant_digits(text) > kMaxSignificantDigits) {
    *problem = "more than 15 significant digits";
    return std::nullopt;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    *problem = "not a decimal number";
    return std::nullopt;
  }
  if (!range_fits(kind, value, problem)) return std::nullopt;
  // Whole numbers stay integers in the JSON (and in the jsonnet that formats them).
  if (value == std::floor(value) && value < 1e15) return nlohmann::json(static_cast<std::uint64_t>(value));
  return nlohmann::json(value);
}

bool threshold_json_fits(ThresholdKind kind, const nlohmann::json& value, std::string* problem) {
  if (is_numeric_kind(kind)) {
    if (!value.is_number()) {
      *problem = "not a number";
      return false;
    }
    return range_fits(kind, value.get<double>(), problem);
  }
  if (!value.is_string()) {
    *problem = "not a duration string";
    return false;
  }
  return parse_threshold_text(kind, value.get<std::string>(), problem).has_value();
}

std::string promql_string_literal(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

}  // namespace pgscope::op
