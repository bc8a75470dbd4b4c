// The checks of the mixin lint (tests/unit/test_mixin_lint.cpp): each returns
// its violations as messages naming the file, the alert or panel and the rule.
#include "support/mixin_lint.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

namespace pgscope::test {

namespace {

using nlohmann::json;

// The alerts the issue asks for by name.
const std::vector<std::string> kRequiredAlerts = {
    "PostgresDown",
    "PatroniNoLeader",
    "PatroniMultipleLeaders",
    "PatroniFailover",
    "PatroniPaused",
    "PatroniPendingRestart",
    "PatroniDCSUnreachable",
    "PostgresReplicationLagHigh",
    "PostgresReplicaNotStreaming",
    "PostgresReplicationSlotInactive",
    "PostgresReplicationSlotWALRetentionHigh",
    "PostgresTxidWraparound",
    "PostgresTooManyConnections",
    "PostgresLongRunningTransaction",
    "PostgresIdleInTransaction",
    "PostgresDeadlocks",
    "PostgresArchiveFailing",
    "PostgresChecksumFailures",
    "PostgresCacheHitRatioLow",
    "PgBouncerDown",
    "PgBouncerClientsWaiting",
    "PgBouncerPoolSaturated",
    "PgScopeCollectorFailing",
};
constexpr std::size_t kMinimumAlerts = 20;

// Names that begin a sentence in lower case.
const std::vector<std::string> kLowerCaseNames = {"pgBouncer", "pgscope", "etcd"};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string scalar(const YAML::Node& node, const std::string& key) {
  if (!node || !node.IsMap()) return "";
  const auto value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : "";
}

std::map<std::string, std::string> scalar_map(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (node && node.IsMap()) {
    for (const auto& entry : node) {
      if (entry.second.IsScalar()) out[entry.first.as<std::string>()] = entry.second.as<std::string>();
    }
  }
  return out;
}

}  // namespace

// ---- Rule files ---------------------------------------------------------------

// The rules of a Prometheus rule file; a file that is no rule file is a violation.
std::vector<Rule> parse_rule_file(const std::string& text, const std::string& file, Violations& out) {
  std::vector<Rule> rules;
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    out.push_back(file + ": not valid YAML: " + e.what());
    return rules;
  }
  if (!doc["groups"] || !doc["groups"].IsSequence() || doc["groups"].size() == 0) {
    out.push_back(file + ": no rule groups (expected `groups:` with at least one group)");
    return rules;
  }
  for (const auto& group : doc["groups"]) {
    const auto group_name = scalar(group, "name");
    if (!group["rules"] || !group["rules"].IsSequence() || group["rules"].size() == 0) {
      out.push_back(file + ": group " + group_name + ": no rules");
      continue;
    }
    for (const auto& node : group["rules"]) {
      Rule rule{file + ": group " + group_name, scalar(node, "alert"),      scalar(node, "record"),
                scalar(node, "expr"),           scalar_map(node["labels"]), scalar_map(node["annotations"])};
      rule.where += rule.alert.empty() ? ", recording rule " + rule.record : ", alert " + rule.alert;
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

// mixtool's alert conventions, and what on-call needs in every alert.
Violations check_alerts(const std::vector<Rule>& rules) {
  static const std::regex camel_case("^[A-Z][a-zA-Z0-9]+$");
  static const std::regex templated(R"(\{\{[^}]*\$(labels|value))");
  static const std::set<std::string> severities = {"critical", "warning", "info"};
  Violations out;
  std::set<std::string> seen;
  for (const auto& rule : rules) {
    const auto& where = rule.where;
    if (rule.alert.empty()) {
      out.push_back(where + ": not an alerting rule (no `alert:`) in the alerts file");
      continue;
    }
    if (!std::regex_match(rule.alert, camel_case)) out.push_back(where + ": name is not CamelCase");
    const auto severity = rule.labels.count("severity") ? rule.labels.at("severity") : "";
    if (!severities.count(severity)) {
      out.push_back(where + ": labels.severity is \"" + severity + "\", not one of critical, warning, info");
    }
    // A name may come twice (a warning and a critical rule), but two rules
    // with the same name and labels make alerts nobody can tell apart.
    std::string identity = rule.alert;
    for (const auto& [label, value] : rule.labels) identity += "\n" + label + "=" + value;
    if (!seen.insert(identity).second) {
      out.push_back(where + ": a second alert with this name and the same labels (severity " + severity +
                    "): merge the rules (or) or tell them apart by a label");
    }
    for (const char* key : {"summary", "description", "runbook_url"}) {
      if (!rule.annotations.count(key) || rule.annotations.at(key).empty()) {
        out.push_back(where + ": annotations." + key + " is missing");
      }
    }
    const auto& a = rule.annotations;
    if (a.count("summary") && !a.at("summary").empty()) {
      const auto& summary = a.at("summary");
      if (contains(summary, "{{")) out.push_back(where + ": summary is templated; it must be static");
      const bool capital = std::isupper(static_cast<unsigned char>(summary.front())) ||
                           std::any_of(kLowerCaseNames.begin(), kLowerCaseNames.end(), [&](const auto& name) {
                             return summary.rfind(name, 0) == 0 && summary.size() > name.size() &&
                                    !std::isalnum(static_cast<unsigned char>(summary[name.size()]));
                           });
      if (!capital || summary.back() != '.') {
        out.push_back(where + ": summary \"" + summary +
                      "\" is not a sentence (upper-case first letter, ends in a period)");
      }
    }
    if (a.count("description") && !std::regex_search(a.at("description"), templated)) {
      out.push_back(where + ": description is not templated with {{ $labels.* }} or {{ $value }}");
    }
    if (a.count("runbook_url")) {
      const auto& url = a.at("runbook_url");
      const auto suffix = "/" + rule.alert + ".md";
      if (url.rfind("http", 0) != 0 || url.size() < suffix.size() ||
          url.compare(url.size() - suffix.size(), suffix.size(), suffix) != 0) {
        out.push_back(where + ": runbook_url \"" + url + "\" is not an http(s) URL ending in " + suffix);
      }
    }
  }
  return out;
}

Violations check_required_alerts(const std::vector<Rule>& rules) {
  std::set<std::string> names;
  for (const auto& rule : rules) {
    if (!rule.alert.empty()) names.insert(rule.alert);
  }
  Violations out;
  for (const auto& name : kRequiredAlerts) {
    if (!names.count(name))
      out.push_back("mixins/generated/alerts.yaml: required alert " + name + " is missing");
  }
  if (names.size() < kMinimumAlerts) {
    out.push_back("mixins/generated/alerts.yaml: " + std::to_string(names.size()) + " alerts, at least " +
                  std::to_string(kMinimumAlerts) + " expected");
  }
  return out;
}

// docs/runbooks/<Alert>.md: names the alert, says what it means, how to confirm
// it (with a PromQL, patronictl or psql command) and how to fix it.
Violations check_runbooks(const std::vector<Rule>& rules, const RunbookLookup& runbook) {
  static const std::vector<std::pair<std::string, std::regex>> sections = {
      {"what it means", std::regex(R"(^#+ .*(mean|what|why|impact))", std::regex::icase)},
      {"how to confirm", std::regex(R"(^#+ .*(confirm|check|diagnos|investigat|verify))", std::regex::icase)},
      {"how to fix", std::regex(R"(^#+ .*(fix|resol|mitigat|remed|action))", std::regex::icase)},
  };
  Violations out;
  std::set<std::string> done;
  for (const auto& rule : rules) {
    if (rule.alert.empty() || !done.insert(rule.alert).second) continue;
    const auto where = "docs/runbooks/" + rule.alert + ".md";
    const auto text = runbook(rule.alert);
    if (!text) {
      out.push_back(where + ": missing (runbook of alert " + rule.alert + ")");
      continue;
    }
    if (!contains(*text, rule.alert)) out.push_back(where + ": does not name the alert " + rule.alert);
    const auto hints = lower(*text);
    if (!contains(hints, "promql") && !contains(hints, "patronictl") && !contains(hints, "psql")) {
      out.push_back(where + ": no PromQL, patronictl or psql command to confirm the alert");
    }
    // std::regex has no multiline mode: match the headings line by line.
    std::set<std::string> found;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      for (const auto& [name, heading] : sections) {
        if (std::regex_search(line, heading)) found.insert(name);
      }
    }
    for (const auto& [name, heading] : sections) {
      if (!found.count(name)) out.push_back(where + ": no heading on " + name);
    }
  }
  return out;
}

// promtool unit tests (alerts/tests/*.yaml): each alert rule fires in one (its
// name and severity among exp_alerts) and each alert is expected silent in one.
Violations check_alert_tests(const std::vector<Rule>& rules,
                             const std::vector<std::pair<std::string, std::string>>& test_files) {
  Violations out;
  std::multimap<std::string, std::map<std::string, std::string>> fired;  // alertname -> exp_labels
  std::set<std::string> silent;
  for (const auto& [file, text] : test_files) {
    YAML::Node doc;
    try {
      doc = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      out.push_back(file + ": not valid YAML: " + e.what());
      continue;
    }
    if (!doc["tests"] || !doc["tests"].IsSequence()) continue;
    for (const auto& test : doc["tests"]) {
      if (!test["alert_rule_test"] || !test["alert_rule_test"].IsSequence()) continue;
      for (const auto& case_ : test["alert_rule_test"]) {
        const auto name = scalar(case_, "alertname");
        const auto expected = case_["exp_alerts"];
        if (!expected || !expected.IsSequence() || expected.size() == 0) silent.insert(name);
        if (!expected || !expected.IsSequence()) continue;
        for (const auto& alert : expected) fired.emplace(name, scalar_map(alert["exp_labels"]));
      }
    }
  }
  if (test_files.empty()) out.push_back("alerts/tests: no promtool rule tests (*.yaml)");
  std::set<std::string> done;
  for (const auto& rule : rules) {
    if (rule.alert.empty()) continue;
    // exp_labels are all of an alert's labels, the rule's own among them:
    // they tell which of two rules of one name fired.
    const auto [first, last] = fired.equal_range(rule.alert);
    const bool tested = std::any_of(first, last, [&](const auto& entry) {
      return std::all_of(rule.labels.begin(), rule.labels.end(), [&](const auto& label) {
        const auto found = entry.second.find(label.first);
        return found != entry.second.end() && found->second == label.second;
      });
    });
    if (!tested) {
      std::string labels;
      for (const auto& [label, value] : rule.labels)
        labels += (labels.empty() ? "" : ", ") + label + "=" + value;
      out.push_back("alerts/tests: no exp_alerts expects " + rule.alert + " {" + labels + "} to fire");
    }
    if (done.insert(rule.alert).second && !silent.count(rule.alert)) {
      out.push_back("alerts/tests: no alert_rule_test expects " + rule.alert +
                    " to stay silent (empty exp_alerts, e.g. on healthy series or before `for`)");
    }
  }
  return out;
}

Violations check_recording_rules(const std::vector<Rule>& rules) {
  static const std::regex convention("^[a-zA-Z0-9_]+:[a-zA-Z0-9_]+:[a-zA-Z0-9_]+$");
  Violations out;
  for (const auto& rule : rules) {
    if (rule.record.empty()) {
      out.push_back(rule.where + ": not a recording rule (no `record:`) in the rules file");
    } else if (!std::regex_match(rule.record, convention)) {
      out.push_back(rule.where + ": name is not level:metric:operations");
    }
    if (rule.expr.empty()) out.push_back(rule.where + ": no expr");
  }
  return out;
}

namespace {

// ---- Dashboards ---------------------------------------------------------------

std::string text_of(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : "";
}

// A datasource reference (object or legacy string) to the datasource variable.
bool uses_datasource_variable(const json& object) {
  if (!object.is_object() || !object.contains("datasource")) return false;
  const auto& ds = object["datasource"];
  const auto uid = ds.is_string() ? ds.get<std::string>() : text_of(ds, "uid");
  return uid == "${datasource}" || uid == "$datasource";
}

// The rate(), irate() and increase() calls of expr whose range is not
// $__rate_interval (Grafana's linter: target-rate-interval-rule).
std::vector<std::string> calls_without_rate_interval(const std::string& expr) {
  static const std::regex call(R"((^|[^A-Za-z0-9_:])(rate|irate|increase)\s*\()");
  static const std::regex range(R"(\[([^\]]*)\])");
  std::vector<std::string> bad;
  for (std::sregex_iterator it(expr.begin(), expr.end(), call), end; it != end; ++it) {
    const auto open = static_cast<std::size_t>(it->position(0) + it->length(0) - 1);
    std::size_t close = open;
    for (int depth = 0; close < expr.size(); ++close) {
      if (expr[close] == '(') ++depth;
      if (expr[close] == ')' && --depth == 0) break;
    }
    const auto args = expr.substr(open + 1, close - open - 1);
    bool any = false, ok = true;
    for (std::sregex_iterator r(args.begin(), args.end(), range); r != end; ++r) {
      any = true;
      ok = ok && ((*r)[1] == "$__rate_interval" || (*r)[1] == "${__rate_interval}");
    }
    if (!any || !ok) bad.push_back((*it)[2].str() + "(" + args.substr(0, 80) + ")");
  }
  return bad;
}

// Panels that query nothing: no datasource, targets or unit to check.
const std::set<std::string> kNoQueryPanels = {"text", "news", "dashlist", "alertlist"};

void check_panel(const json& panel, const std::string& file, std::set<long>& ids, Violations& out) {
  const auto type = text_of(panel, "type");
  const auto where = file + ": panel \"" + text_of(panel, "title") + "\" (id " +
                     (panel.contains("id") ? panel["id"].dump() : "none") + ", " + type + ")";
  if (panel.contains("id") && panel["id"].is_number_integer() &&
      !ids.insert(panel["id"].get<long>()).second) {
    out.push_back(where + ": panel id used twice");
  }
  if (type == "row") {
    if (panel.contains("panels") && panel["panels"].is_array()) {
      for (const auto& nested : panel["panels"]) check_panel(nested, file, ids, out);
    }
    return;
  }
  if (text_of(panel, "title").empty()) out.push_back(where + ": no title");
  if (kNoQueryPanels.count(type)) return;
  if (!uses_datasource_variable(panel)) out.push_back(where + ": datasource is not ${datasource}");
  const auto unit = panel.value("/fieldConfig/defaults/unit"_json_pointer, json());
  if (!unit.is_string() || unit.get<std::string>().empty()) {
    out.push_back(where + ": no unit (fieldConfig.defaults.unit)");
  }
  if (!panel.contains("targets") || !panel["targets"].is_array() || panel["targets"].empty()) {
    out.push_back(where + ": no targets");
    return;
  }
  for (const auto& target : panel["targets"]) {
    const auto target_where = where + ", target " + text_of(target, "refId");
    if (!uses_datasource_variable(target)) out.push_back(target_where + ": datasource is not ${datasource}");
    const auto expr = text_of(target, "expr");
    if (expr.empty()) out.push_back(target_where + ": no expr");
    for (const auto& call : calls_without_rate_interval(expr)) {
      out.push_back(target_where + ": " + call + " does not use [$__rate_interval]");
    }
  }
}

// Variables that select targets: "All" must mean any value, not a regex of every value seen.
const std::set<std::string> kSelectorLabels = {"job",  "instance", "pod",          "member",     "namespace",
                                               "team", "cluster",  "cluster_name", "k8s_cluster"};

void check_variables(const json& dashboard, const std::string& file, Violations& out) {
  static const std::regex label_values(R"(label_values\((?:.*,)?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  const auto list = dashboard.value("/templating/list"_json_pointer, json::array());
  bool datasource = false;
  for (const auto& variable : list) {
    const auto name = text_of(variable, "name");
    const auto where = file + ": variable " + name;
    if (name == "datasource") {
      datasource = text_of(variable, "type") == "datasource" && text_of(variable, "query") == "prometheus";
      if (!datasource) out.push_back(where + ": not of type datasource with query prometheus");
    }
    if (text_of(variable, "type") != "query") continue;
    if (!uses_datasource_variable(variable)) out.push_back(where + ": datasource is not ${datasource}");
    if (variable.value("refresh", 0) != 2)
      out.push_back(where + ": not refreshed on time range change (refresh 2)");
    const auto query = variable.contains("query") && variable["query"].is_object()
                           ? text_of(variable["query"], "query")
                           : text_of(variable, "query");
    std::smatch match;
    const bool selects_targets =
        kSelectorLabels.count(name) ||
        (std::regex_search(query, match, label_values) && kSelectorLabels.count(match[1].str()));
    if (selects_targets && (!variable.value("multi", false) || !variable.value("includeAll", false) ||
                            text_of(variable, "allValue") != ".+")) {
      out.push_back(where + ": selects targets but is not multi-select with includeAll and allValue \".+\"");
    }
  }
  if (!datasource)
    out.push_back(file + ": no template variable `datasource` (type datasource, query prometheus)");
}

}  // namespace

Violations check_dashboard(const json& dashboard, const std::string& file) {
  Violations out;
  if (!dashboard.is_object()) return {file + ": not a JSON object"};
  static const std::regex uid_chars("^[A-Za-z0-9_-]{1,40}$");
  if (!std::regex_match(text_of(dashboard, "uid"), uid_chars)) {
    out.push_back(file + ": uid \"" + text_of(dashboard, "uid") + "\" is not 1-40 letters, digits, - or _");
  }
  if (text_of(dashboard, "title").empty()) out.push_back(file + ": no title");
  for (const char* key : {"__inputs", "__requires"}) {
    if (dashboard.contains(key)) out.push_back(file + ": has " + key + " (not importable as it is)");
  }
  check_variables(dashboard, file, out);
  std::set<long> ids;
  for (const char* key : {"panels", "rows"}) {  // rows: the pre-Grafana-5 layout
    if (!dashboard.contains(key) || !dashboard[key].is_array()) continue;
    for (const auto& panel : dashboard[key]) check_panel(panel, file, ids, out);
  }
  if (!dashboard.contains("panels") && !dashboard.contains("rows")) out.push_back(file + ": no panels");
  return out;
}

// Links: each dashboard reaches another one of the mixin (by /d/<uid> URL or a
// dashboards link by tags), and no /d/<uid> URL points to a dashboard the
// mixin does not have.
Violations check_dashboard_set(const std::map<std::string, json>& dashboards) {
  static const std::regex url_uid(R"(/d/([A-Za-z0-9_-]+))");
  Violations out;
  std::map<std::string, std::string> file_of_uid;
  for (const auto& [file, dashboard] : dashboards) {
    const auto uid = text_of(dashboard, "uid");
    if (uid.empty()) continue;
    if (file_of_uid.count(uid))
      out.push_back(file + ": uid " + uid + " is also the uid of " + file_of_uid[uid]);
    file_of_uid.emplace(uid, file);
  }
  auto tags_of = [](const json& object) {
    std::set<std::string> tags;
    if (object.contains("tags") && object["tags"].is_array()) {
      for (const auto& tag : object["tags"]) {
        if (tag.is_string()) tags.insert(tag.get<std::string>());
      }
    }
    return tags;
  };
  for (const auto& [file, dashboard] : dashboards) {
    const auto own_uid = text_of(dashboard, "uid");
    std::set<std::string> reached;
    std::function<void(const json&)> walk = [&](const json& node) {
      if (node.is_array()) {
        for (const auto& item : node) walk(item);
        return;
      }
      if (!node.is_object()) return;
      const auto url = text_of(node, "url");
      for (std::sregex_iterator it(url.begin(), url.end(), url_uid), end; it != end; ++it) {
        const auto uid = (*it)[1].str();
        if (!file_of_uid.count(uid))
          out.push_back(file + ": link " + url + " names no dashboard of the mixin");
        if (uid != own_uid) reached.insert(uid);
      }
      if (text_of(node, "type") == "dashboards" && !tags_of(node).empty()) {
        const auto wanted = tags_of(node);
        for (const auto& [other_file, other] : dashboards) {
          const auto have = tags_of(other);
          if (other_file != file && std::includes(have.begin(), have.end(), wanted.begin(), wanted.end())) {
            reached.insert(text_of(other, "uid"));
          }
        }
      }
      for (const auto& item : node.items()) walk(item.value());
    };
    walk(dashboard);
    if (reached.empty()) out.push_back(file + ": links to none of the other dashboards (by uid or tag)");
  }
  return out;
}

}  // namespace pgscope::test
