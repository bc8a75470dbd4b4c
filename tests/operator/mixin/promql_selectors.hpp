#pragma once

// The vector selectors of a PromQL expression with their label matchers, so
// that a test can check what every selector of a rule restricts itself to.
// Rule expressions only: Grafana variables are not understood.

#include <string>
#include <vector>

namespace pgscope::test {

struct LabelMatcher {
  std::string label;
  std::string op;     // =, !=, =~, !~
  std::string value;  // unquoted, escapes resolved
};

struct VectorSelector {
  std::string metric;  // "" for {__name__=~"..."} without a name
  std::vector<LabelMatcher> matchers;

  // The matcher `label op value` is among the matchers.
  bool has(const std::string& label, const std::string& op, const std::string& value) const;
  std::string text() const;  // metric{label="value", ...}, for messages
};

// Every vector selector of `expr`, range selectors (x[5m]) included, in order
// of appearance. Function and aggregation names, keywords, grouping label
// lists, strings and numbers are not selectors.
std::vector<VectorSelector> vector_selectors(const std::string& expr);

}  // namespace pgscope::test
