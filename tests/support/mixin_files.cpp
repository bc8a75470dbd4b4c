#include "support/mixin_files.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace pgscope::test {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + " (generate it with scripts/mixin)");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

void load_rules(MixinFiles& files, const std::string& name) {
  const std::string path = files.dir + "/" + name;
  YAML::Node root;
  try {
    root = YAML::Load(read_text(path));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      MixinQuery query;
      query.file = name;
      query.expr = rule["expr"].as<std::string>("");
      if (rule["record"]) {
        query.kind = MixinQuery::Kind::record;
        query.where = "record " + rule["record"].as<std::string>();
        files.record_names.push_back(rule["record"].as<std::string>());
      } else {
        query.kind = MixinQuery::Kind::alert;
        query.where = "alert " + rule["alert"].as<std::string>("?");
        // Alerts that share a name (warning and critical) differ by severity.
        if (rule["labels"] && rule["labels"]["severity"]) {
          query.where += " (" + rule["labels"]["severity"].as<std::string>() + ")";
        }
      }
      files.queries.push_back(query);
    }
  }
}

std::string first_value(const json& current) {
  if (!current.is_object() || !current.contains("value")) return "";
  const json& value = current["value"];
  if (value.is_array()) return value.empty() || !value[0].is_string() ? "" : value[0].get<std::string>();
  return value.is_string() ? value.get<std::string>() : "";
}

void load_panels(MixinFiles& files, const std::string& name, const json& panels) {
  if (!panels.is_array()) return;
  for (const auto& panel : panels) {
    const std::string title = panel.value("title", "(untitled)");
    for (const auto& target : panel.value("targets", json::array())) {
      const std::string expr = target.value("expr", "");
      if (expr.empty()) continue;
      MixinQuery query;
      query.kind = MixinQuery::Kind::panel;
      query.file = name;
      query.where = "panel " + quoted(title) + " (refId " + target.value("refId", "?") + ")";
      query.expr = expr;
      files.queries.push_back(query);
    }
    load_panels(files, name, panel.value("panels", json::array()));  // a collapsed row holds its panels
  }
}

void load_dashboard(MixinFiles& files, const std::filesystem::path& path) {
  const std::string name = "dashboards/" + path.filename().string();
  json dashboard = json::parse(read_text(path.string()), nullptr, false);
  if (dashboard.is_discarded() || !dashboard.is_object())
    throw std::runtime_error(path.string() + ": not JSON");
  files.dashboard_titles[name] = dashboard.value("title", name);
  load_panels(files, name, dashboard.value("panels", json::array()));
  for (const auto& row : dashboard.value("rows", json::array())) {  // the pre-5 layout
    load_panels(files, name, row.value("panels", json::array()));
  }
  for (const auto& annotation : dashboard.value("annotations", json::object()).value("list", json::array())) {
    const std::string expr = annotation.value("expr", "");
    if (expr.empty()) continue;
    files.queries.push_back(
        {MixinQuery::Kind::annotation, name, "annotation " + quoted(annotation.value("name", "?")), expr});
  }
  auto& variables = files.variables[name];
  for (const auto& entry : dashboard.value("templating", json::object()).value("list", json::array())) {
    DashboardVariable variable;
    variable.name = entry.value("name", "");
    variable.type = entry.value("type", "");
    const json query = entry.value("query", json());
    // Grafana 8 and later may save a query variable's query as an object.
    if (query.is_string()) {
      variable.query = query.get<std::string>();
    } else if (query.is_object()) {
      variable.query = query.value("query", "");
    }
    variable.multi = entry.value("multi", false);
    variable.include_all = entry.value("includeAll", false);
    variable.all_value =
        entry.value("allValue", json()).is_string() ? entry["allValue"].get<std::string>() : "";
    variable.current = first_value(entry.value("current", json()));
    if (variable.current.empty() && variable.type == "custom" && !variable.query.empty()) {
      variable.current = variable.query.substr(0, variable.query.find(','));
    }
    variables.push_back(variable);
    if (variable.type == "query" && !variable.query.empty()) {
      files.queries.push_back(
          {MixinQuery::Kind::variable, name, "variable " + variable.name, variable.query});
    }
  }
}

}  // namespace

MixinFiles MixinFiles::load(const std::string& dir) {
  MixinFiles files;
  files.dir = dir;
  load_rules(files, "alerts.yaml");
  load_rules(files, "rules.yaml");
  std::vector<std::filesystem::path> dashboards;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/dashboards", error)) {
    if (entry.path().extension() == ".json") dashboards.push_back(entry.path());
  }
  if (error || dashboards.empty()) throw std::runtime_error(dir + "/dashboards holds no dashboard");
  std::sort(dashboards.begin(), dashboards.end());
  for (const auto& path : dashboards) load_dashboard(files, path);
  return files;
}

std::vector<const MixinQuery*> MixinFiles::of_kind(MixinQuery::Kind kind) const {
  std::vector<const MixinQuery*> result;
  for (const auto& query : queries) {
    if (query.kind == kind) result.push_back(&query);
  }
  return result;
}

std::string mixin_dir() {
  const char* dir = std::getenv("PGSCOPE_MIXIN_DIR");
  return dir && *dir ? dir : std::string(PGSCOPE_SOURCE_DIR) + "/mixins/generated";
}

std::map<std::string, DocumentedMetric> documented_metrics() {
  std::istringstream lines(read_text(std::string(PGSCOPE_SOURCE_DIR) + "/docs/metrics.md"));
  std::map<std::string, DocumentedMetric> metrics;
  std::string section;
  int versions_column = -1;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("## ", 0) == 0) {
      section = line.substr(3);
      versions_column = -1;
      continue;
    }
    if (line.empty() || line[0] != '|') continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    if (!cells.empty() && cells[0] == "metric") {
      const auto it = std::find(cells.begin(), cells.end(), "versions");
      versions_column = it == cells.end() ? -1 : static_cast<int>(it - cells.begin());
      continue;
    }
    if (cells.empty() || cells[0].size() < 3 || cells[0].front() != '`' || cells[0].back() != '`') continue;
    DocumentedMetric metric;
    metric.name = cells[0].substr(1, cells[0].size() - 2);
    metric.section = section;
    if (versions_column >= 0 && versions_column < static_cast<int>(cells.size())) {
      metric.versions = cells[static_cast<std::size_t>(versions_column)];
    }
    metric.off_by_default = section.find("off by default") != std::string::npos;
    metrics[metric.name] = metric;
  }
  return metrics;
}

bool versions_include(const std::string& versions, int major) {
  if (versions.empty() || versions == "all") return true;
  try {
    if (versions.back() == '+') return major >= std::stoi(versions);
    const auto dash = versions.find('-');
    if (dash != std::string::npos) {
      return major >= std::stoi(versions.substr(0, dash)) && major <= std::stoi(versions.substr(dash + 1));
    }
    return major == std::stoi(versions);
  } catch (const std::exception&) {
    return true;  // a form we do not know: no reason to call the metric absent
  }
}

}  // namespace pgscope::test
