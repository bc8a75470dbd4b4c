// The monitoring mixin held to mixtool's and Grafana dashboard-linter's
// conventions (support/mixin_lint.hpp): the committed files under
// mixins/generated/ (which the ctest entry mixin.generated keeps in step with
// the jsonnet), the runbooks under docs/runbooks/ and the promtool tests under
// alerts/tests/. Every violation is reported on its own, naming the file, the
// alert or panel and the rule; the last cases show that each check can fail.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/mixin_lint.hpp"

using namespace pgscope::test;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

const fs::path kSource = PGSCOPE_SOURCE_DIR;
const fs::path kGenerated = kSource / "mixins" / "generated";

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void report(const Violations& violations) {
  for (const auto& violation : violations) FAIL_CHECK(violation);
  if (violations.empty()) SUCCEED();
}

std::vector<fs::path> files_in(const fs::path& dir, const std::set<std::string>& extensions) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && extensions.count(entry.path().extension().string())) {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Rule> committed_rules(const std::string& name, Violations& out) {
  const auto text = read_file(kGenerated / name);
  if (!text) {
    out.push_back("mixins/generated/" + name + ": missing (run scripts/mixin)");
    return {};
  }
  return parse_rule_file(*text, "mixins/generated/" + name, out);
}

}  // namespace

TEST_CASE("mixin alerts follow mixtool's conventions, each with a runbook and a test", "[mixin]") {
  Violations parse;
  const auto alerts = committed_rules("alerts.yaml", parse);
  report(parse);
  report(check_alerts(alerts));
  report(check_required_alerts(alerts));
  report(check_runbooks(alerts, [](const std::string& alert) {
    return read_file(kSource / "docs" / "runbooks" / (alert + ".md"));
  }));
  std::vector<std::pair<std::string, std::string>> tests;
  for (const auto& path : files_in(kSource / "alerts" / "tests", {".yaml", ".yml"})) {
    tests.emplace_back("alerts/tests/" + path.filename().string(), read_file(path).value_or(""));
  }
  report(check_alert_tests(alerts, tests));
}

TEST_CASE("mixin recording rules are named level:metric:operations", "[mixin]") {
  Violations parse;
  const auto rules = committed_rules("rules.yaml", parse);
  report(parse);
  report(check_recording_rules(rules));
}

TEST_CASE("mixin dashboards follow Grafana dashboard-linter's conventions", "[mixin]") {
  std::map<std::string, json> dashboards;
  Violations out;
  for (const auto& path : files_in(kGenerated / "dashboards", {".json"})) {
    const auto file = "mixins/generated/dashboards/" + path.filename().string();
    try {
      dashboards[file] = json::parse(read_file(path).value_or(""));
    } catch (const json::exception& e) {
      out.push_back(file + ": not valid JSON: " + e.what());
    }
  }
  if (dashboards.size() + out.size() < 5) {
    out.push_back("mixins/generated/dashboards: " + std::to_string(dashboards.size()) +
                  " dashboards, 5 expected (fleet, cluster, instance, pgBouncer, exporter)");
  }
  for (const auto& [file, dashboard] : dashboards) {
    try {
      const auto violations = check_dashboard(dashboard, file);
      out.insert(out.end(), violations.begin(), violations.end());
    } catch (const json::exception& e) {
      out.push_back(file + ": a field of an unexpected type: " + e.what());
    }
  }
  const auto links = check_dashboard_set(dashboards);
  out.insert(out.end(), links.begin(), links.end());
  report(out);
}

// ---- Each check can fail --------------------------------------------------------

namespace {

const char* kGoodAlerts = R"(groups:
- name: pg
  rules:
  - alert: PostgresDown
    expr: up == 0
    for: 2m
    labels: {severity: critical}
    annotations:
      summary: PostgreSQL is down.
      description: '{{ $labels.pod }} has been down for 2 minutes.'
      runbook_url: https://example.com/runbooks/PostgresDown.md
)";

const char* kGoodTests = R"(tests:
- alert_rule_test:
  - {eval_time: 1m, alertname: PostgresDown, exp_alerts: []}
  - {eval_time: 5m, alertname: PostgresDown, exp_alerts: [{exp_labels: {severity: critical}}]}
)";

const char* kGoodRunbook =
    "# PostgresDown\n## Meaning\nx\n## How to confirm\n```promql\nup == 0\n```\n## Fix\npatronictl list\n";

// One panel, a collapsed row with another, the datasource and a pod variable,
// and a link to a second dashboard with the same tag.
json good_dashboard(const std::string& uid) {
  const json ds = {{"type", "prometheus"}, {"uid", "${datasource}"}};
  json target = {{"refId", "A"}, {"datasource", ds}, {"expr", "sum(rate(x_total[$__rate_interval]))"}};
  json panel = {{"id", 1}, {"type", "timeseries"}, {"title", "TPS"}, {"datasource", ds}};
  panel["targets"] = json::array({target});
  panel["fieldConfig"]["defaults"]["unit"] = "ops";
  json nested = panel;
  nested["id"] = 3;
  json row = {{"id", 2}, {"type", "row"}, {"title", "More"}, {"collapsed", true}};
  row["panels"] = json::array({nested});
  json pods = {
      {"name", "instance"}, {"type", "query"},    {"datasource", ds}, {"refresh", 2},
      {"multi", true},      {"includeAll", true}, {"allValue", ".+"}, {"query", "label_values(up, pod)"}};
  json datasource = {{"name", "datasource"}, {"type", "datasource"}, {"query", "prometheus"}};
  json dashboard = {{"uid", uid}, {"title", uid}};
  dashboard["tags"] = json::array({"pgscope"});
  dashboard["links"] = json::array({{{"type", "dashboards"}, {"tags", json::array({"pgscope"})}}});
  dashboard["templating"]["list"] = json::array({datasource, pods});
  dashboard["panels"] = json::array({panel, row});
  return dashboard;
}

void expect(const Violations& violations, const std::string& part) {
  INFO("expected a violation containing: " << part);
  for (const auto& v : violations) UNSCOPED_INFO(v);
  CHECK(std::any_of(violations.begin(), violations.end(), [&](const auto& v) { return contains(v, part); }));
}

Violations lint_alerts(const std::string& text, const std::string& tests = kGoodTests,
                       const std::string& runbook = kGoodRunbook) {
  Violations out;
  const auto rules = parse_rule_file(text, "alerts.yaml", out);
  for (const auto& v : check_alerts(rules)) out.push_back(v);
  for (const auto& v : check_runbooks(rules, [&](const std::string&) { return runbook; })) out.push_back(v);
  for (const auto& v : check_alert_tests(rules, {{"t.yaml", tests}})) out.push_back(v);
  return out;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

Violations lint_dashboards(const json& first) {
  auto out = check_dashboard(first, "a.json");
  for (const auto& v : check_dashboard_set({{"a.json", first}, {"b.json", good_dashboard("b")}}))
    out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("mixin lint: every alert check can fail", "[mixin]") {
  REQUIRE(lint_alerts(kGoodAlerts).empty());
  expect(lint_alerts(replaced(kGoodAlerts, "alert: PostgresDown", "alert: postgres_down")), "not CamelCase");
  expect(lint_alerts(replaced(kGoodAlerts, "severity: critical", "severity: page")), "not one of critical");
  expect(lint_alerts(replaced(kGoodAlerts, "summary: PostgreSQL is down.", "x: y")), "summary is missing");
  expect(lint_alerts(replaced(kGoodAlerts, "is down.", "{{ $labels.pod }} is down.")), "must be static");
  expect(lint_alerts(replaced(kGoodAlerts, "is down.", "is down")), "not a sentence");
  expect(lint_alerts(replaced(kGoodAlerts, "'{{ $labels.pod }} has", "'It has")), "not templated");
  expect(lint_alerts(replaced(kGoodAlerts, "PostgresDown.md", "Down.md")), "runbook_url");
  expect(lint_alerts(kGoodAlerts, kGoodTests, "# Something else\n"), "does not name the alert");
  expect(lint_alerts(kGoodAlerts, kGoodTests, "# PostgresDown\n## Meaning\n## Fix\n"), "no PromQL");
  expect(lint_alerts(kGoodAlerts, kGoodTests, "# PostgresDown\n## Meaning\n## Fix\npsql\n"),
         "how to confirm");
  expect(lint_alerts(kGoodAlerts, replaced(kGoodTests, "severity: critical", "severity: warning")),
         "to fire");
  expect(lint_alerts(kGoodAlerts, replaced(kGoodTests, "exp_alerts: []", "exp_alerts: [{}]")), "stay silent");
  expect(lint_alerts(kGoodAlerts, "tests: []\n"), "to fire");
  const auto twice =
      std::string(kGoodAlerts) + std::string(kGoodAlerts).substr(std::string(kGoodAlerts).find("  - alert"));
  expect(lint_alerts(twice), "a second alert");
  // ... unless the two are a warning and a critical rule.
  auto critical_and_warning = twice;
  critical_and_warning.replace(critical_and_warning.rfind("severity: critical"), 18, "severity: warning");
  const auto both_tested =
      replaced(kGoodTests, "exp_alerts: [{", "exp_alerts: [{exp_labels: {severity: warning}}, {");
  CHECK(lint_alerts(critical_and_warning, both_tested).empty());
  CHECK(lint_alerts(replaced(kGoodAlerts, "PostgreSQL is down.", "pgBouncer is down.")).empty());
  expect(lint_alerts(replaced(kGoodAlerts, "PostgreSQL is down.", "pgBouncers are down.")), "not a sentence");
  expect(lint_alerts("groups: []\n"), "no rule groups");
  expect(lint_alerts("groups: [\n"), "not valid YAML");

  Violations parse;
  const auto required = check_required_alerts(parse_rule_file(kGoodAlerts, "alerts.yaml", parse));
  expect(required, "required alert PgBouncerDown is missing");
  expect(required, "at least 20 expected");
}

TEST_CASE("mixin lint: every recording rule check can fail", "[mixin]") {
  auto lint = [](const std::string& text) {
    Violations out;
    for (const auto& v : check_recording_rules(parse_rule_file(text, "rules.yaml", out))) out.push_back(v);
    return out;
  };
  const std::string good = "groups:\n- name: r\n  rules:\n  - record: cluster:up:sum\n    expr: sum(up)\n";
  REQUIRE(lint(good).empty());
  expect(lint(replaced(good, "cluster:up:sum", "cluster_up_sum")), "not level:metric:operations");
  expect(lint(replaced(good, "cluster:up:sum", "a:b:c:d")), "not level:metric:operations");
  expect(lint(replaced(good, "record: cluster:up:sum", "alert: Up")), "not a recording rule");
}

TEST_CASE("mixin lint: every dashboard check can fail", "[mixin]") {
  const auto good = good_dashboard("a");
  REQUIRE(lint_dashboards(good).empty());
  auto broken = [&](const std::string& pointer, const json& value) {
    auto copy = good;
    copy[json::json_pointer(pointer)] = value;
    return lint_dashboards(copy);
  };
  auto without = [&](const std::string& pointer, const std::string& key) {
    auto copy = good;
    copy[json::json_pointer(pointer)].erase(key);
    return lint_dashboards(copy);
  };
  expect(broken("/uid", ""), "uid \"\"");
  expect(broken("/uid", std::string(41, 'x')), "is not 1-40");
  expect(broken("/uid", "b"), "is also the uid of");
  expect(broken("/__inputs", json::array()), "has __inputs");
  expect(broken("/__requires", json::array()), "has __requires");
  expect(broken("/templating/list/0/type", "query"), "not of type datasource");
  expect(broken("/templating/list/0/name", "ds"), "no template variable `datasource`");
  expect(broken("/templating/list/1/allValue", ""), "not multi-select");
  expect(broken("/templating/list/1/multi", false), "not multi-select");
  expect(broken("/templating/list/1/refresh", 1), "refresh 2");
  expect(broken("/panels/0/datasource/uid", "prometheus"), "\"TPS\" (id 1, timeseries): datasource");
  expect(broken("/panels/0/targets/0/datasource", "Prometheus"), "target A: datasource");
  expect(without("/panels/0/fieldConfig/defaults", "unit"), "(id 1, timeseries): no unit");
  expect(without("/panels/1/panels/0/fieldConfig/defaults", "unit"), "(id 3, timeseries): no unit");
  expect(broken("/panels/1/panels/0/targets/0/expr", "rate(x[5m])"), "rate(x[5m]) does not use");
  expect(broken("/panels/0/targets/0/expr", "sum(irate(x[1m]))"), "irate(x[1m])");
  expect(broken("/panels/0/targets/0/expr", "increase(x[$__interval])"), "increase(x[$__interval])");
  expect(broken("/panels/0/targets", json::array()), "no targets");
  expect(broken("/panels/1/panels/0/id", 1), "panel id used twice");
  expect(broken("/links", json::array()), "links to none of the other dashboards");
  expect(broken("/links", {{{"type", "link"}, {"url", "/d/nope/x"}}}), "names no dashboard of the mixin");
  auto by_url = good;
  by_url["links"] = json::array({{{"type", "link"}, {"url", "/d/b/x?var-instance=1"}}});
  CHECK(lint_dashboards(by_url).empty());
}
