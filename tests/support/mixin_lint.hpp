#pragma once

// The conventions of mixtool and Grafana's dashboard linter, and what the
// issue asks of pgscope's mixin, as checks over the generated files
// (tests/unit/test_mixin_lint.cpp runs them on mixins/generated/).

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgscope::test {

// What broke, one message each: "<file>: <alert or panel>: <rule broken>".
using Violations = std::vector<std::string>;

// A rule of a Prometheus rule file.
struct Rule {
  std::string where;  // "alerts.yaml: group G, alert A", for messages
  std::string alert, record, expr;
  std::map<std::string, std::string> labels, annotations;
};

// The rules of a rule file's text; what makes it no rule file lands in `out`.
std::vector<Rule> parse_rule_file(const std::string& text, const std::string& file, Violations& out);

// CamelCase names, severity, summary (static sentence), description
// (templated), runbook_url (ending in /<Alert>.md); a name only twice as a
// warning and a critical rule.
Violations check_alerts(const std::vector<Rule>& rules);
// The alerts by name, and at least 20.
Violations check_required_alerts(const std::vector<Rule>& rules);

// The text of docs/runbooks/<alert>.md, nullopt when there is none.
using RunbookLookup = std::function<std::optional<std::string>(const std::string& alert)>;
// Each alert's runbook names it, has a PromQL/patronictl/psql hint and
// headings on what it means, how to confirm and how to fix it.
Violations check_runbooks(const std::vector<Rule>& rules, const RunbookLookup& runbook);

// promtool test files (file name, text): each alert rule (name, severity) is
// expected to fire in one, and each alert to stay silent in one.
Violations check_alert_tests(const std::vector<Rule>& rules,
                             const std::vector<std::pair<std::string, std::string>>& test_files);

// Recording rules named level:metric:operations.
Violations check_recording_rules(const std::vector<Rule>& rules);

// One dashboard: uid, no __inputs/__requires, the datasource variable,
// target-selecting variables multi-select with allValue ".+", and per panel
// (nested ones of rows too) the ${datasource}, a unit, targets and
// [$__rate_interval] in rate/irate/increase.
Violations check_dashboard(const nlohmann::json& dashboard, const std::string& file);
// All dashboards (file name -> dashboard): unique uids, each links to another,
// no link to a uid that is none of them.
Violations check_dashboard_set(const std::map<std::string, nlohmann::json>& dashboards);

}  // namespace pgscope::test
