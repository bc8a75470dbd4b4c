#pragma once

// The metric names that PromQL expressions (as rules and Grafana panels write
// them) select, so that a test can hold every name a dashboard or rule uses
// against the names the exporter emits.
#include <map>
#include <set>
#include <string>

namespace pgscope::test {

// Names in vector or range selector position (`up`, `rate(x[5m])`,
// `{__name__="x"}`), in any order, each once. Not names: functions and
// aggregations, keywords, label names (in {...} and in grouping clauses),
// strings, numbers and durations, and Grafana variables ($var, ${var},
// [[var]]), which may stand anywhere in a dashboard's expression.
// A `__name__=~"regex"` matcher names no single metric and is left out.
std::set<std::string> promql_metric_names(const std::string& expr);

// The names a Grafana template variable's query selects: the series selector
// of label_values(selector, label) (none for label_values(label)), the
// expression of query_result(expr), and a plain expression as such.
std::set<std::string> grafana_variable_query_names(const std::string& query);

// Splits label_values(selector, label) into its two arguments (trimmed);
// false for any other query, label_values(label) included.
bool parse_label_values(const std::string& query, std::string* selector, std::string* label);

// The expression with Grafana's variables replaced as a dashboard would
// send it: each of $name, ${name}, ${name:format} and [[name]] whose name is
// in `values` by that value. Names not in `values` go to `unknown` (when
// given) and stay as they are.
std::string substitute_grafana_variables(const std::string& expr,
                                         const std::map<std::string, std::string>& values,
                                         std::set<std::string>* unknown = nullptr);

}  // namespace pgscope::test
