#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgscope {

// Reading and showing the values of settings: flags, environment variables
// and config-file keys share these, so each kind of value is spelled the
// same way everywhere.

// Go-style durations as Prometheus tools take them: "10s", "500ms", "1m30s";
// a bare "0" is allowed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
std::string format_duration(std::chrono::milliseconds duration);
std::optional<int> parse_count(const std::string& text);       // a positive integer
std::optional<bool> parse_bool(std::string text);              // true/false, 1/0, yes/no, on/off
std::vector<std::string> split_list(const std::string& text);  // comma-separated, blanks dropped

std::string trim(const std::string& text);
std::string join(const std::vector<std::string>& items, const std::string& separator);
// Quotes a value for an error message, escaped so the message stays one line.
std::string quote(const std::string& text);
// " (did you mean X? " for the closest candidate, or " (".
std::string suggestion(const std::string& wrong, const std::vector<std::string>& candidates);

}  // namespace pgscope
