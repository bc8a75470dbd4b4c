#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgscope::test {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;  // values unescaped
  double value = 0;
  std::optional<long long> timestamp_ms;

  // The label's value, or "" when the sample has no such label.
  std::string label(const std::string& name) const;
};

struct FamilyInfo {
  std::string help;  // unescaped
  std::string type;  // counter, gauge, histogram, summary, untyped; "" when no # TYPE line
};

// A parsed exposition in the Prometheus text format 0.0.4, strict where the
// format is: an unknown escape, a bad name, a duplicate label or an
// unparsable value throws std::runtime_error naming the line.
class Exposition {
 public:
  std::vector<Sample> samples;
  std::map<std::string, FamilyInfo> families;  // from # HELP and # TYPE lines

  // The samples called `name` whose labels include all of `subset`.
  std::vector<const Sample*> find(const std::string& name, const Labels& subset = {}) const;
  // The value of the first such sample.
  std::optional<double> value(const std::string& name, const Labels& subset = {}) const;
  std::size_t count(const std::string& name, const Labels& subset = {}) const;
  // Declared by # HELP or # TYPE, or has a sample by that exact name.
  bool has_family(const std::string& name) const;
  // Every distinct sample name starting with `prefix`, sorted.
  std::vector<std::string> names_with_prefix(const std::string& prefix) const;
};

Exposition parse_prom_text(const std::string& text);

// `promtool check metrics` on `text` (fed on stdin). promtool exits 1 for
// mere lint findings (a counter without _total, say), so the tests judge by
// parse_error(), not by the exit code.
struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  bool parse_error() const;
  std::string parse_errors() const;  // the lines that report one
};

PromtoolResult promtool_check(const std::string& text);

}  // namespace pgscope::test
