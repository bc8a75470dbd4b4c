#include "exporter/option_values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace pgscope {

using Millis = std::chrono::milliseconds;

std::string format_duration(Millis d) {
  const long long ms = d.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Values are quoted in errors; escaping keeps the message on one line.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    char escaped[8] = {c, 0};
    if (c == '"' || c == '\\') std::snprintf(escaped, sizeof escaped, "\\%c", c);
    if (c == '\n') std::snprintf(escaped, sizeof escaped, "\\n");
    if (c != '\n' && static_cast<unsigned char>(c) < 0x20)
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
    out += escaped;
  }
  return out + "\"";
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::optional<bool> parse_bool(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  return std::nullopt;
}

// Go-style durations: "10s", "500ms", "1m30s", "1.5h"; a bare "0" is allowed.
std::optional<Millis> parse_duration(const std::string& text) {
  if (text == "0") return Millis(0);
  double total = 0;
  size_t pos = 0;
  if (text.empty()) return std::nullopt;
  while (pos < text.size()) {
    const size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
      ++pos;
    const std::string number = text.substr(start, pos - start);
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1)
      return std::nullopt;
    const size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    static const std::map<std::string, double> kUnits = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}};
    const auto unit = kUnits.find(text.substr(unit_start, pos - unit_start));
    if (unit == kUnits.end()) return std::nullopt;
    total += std::stod(number) * unit->second;
  }
  if (total > 1e12) return std::nullopt;
  return Millis(std::llround(total));
}

std::optional<int> parse_count(const std::string& text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    if (std::string item = trim(text.substr(start, comma - start)); !item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string suggestion(const std::string& wrong, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 4;
  for (const auto& candidate : candidates) {
    if (size_t d = edit_distance(wrong, candidate); d < best_distance) best = candidate, best_distance = d;
  }
  return best.empty() ? " (" : " (did you mean " + best + "? ";
}

}  // namespace pgscope
