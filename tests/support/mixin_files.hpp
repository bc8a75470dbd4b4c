#pragma once

// The generated monitoring mixin (scripts/mixin: alerts.yaml, rules.yaml,
// dashboards/*.json) read back as the queries it sends to Prometheus, each
// with where it comes from, so that a test can report a finding as "panel X
// of dashboard Y".
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pgscope::test {

struct MixinQuery {
  enum class Kind { panel, annotation, variable, alert, record };
  Kind kind = Kind::panel;
  std::string file;   // relative to the mixin directory: alerts.yaml, dashboards/pgscope-cluster.json
  std::string where;  // panel "Title" (refId A), alert PatroniFailover, record member:x:y, variable cluster
  std::string expr;   // PromQL; for a variable, Grafana's query (label_values(...))

  std::string describe() const { return file + ", " + where; }
};

struct DashboardVariable {
  std::string name;
  std::string type;   // query, custom, interval, constant, datasource, textbox, adhoc
  std::string query;  // for query variables: label_values(...)
  bool multi = false;
  bool include_all = false;
  std::string all_value;
  std::string current;  // the saved current value (the first one of a list), "" when none
};

struct MixinFiles {
  std::string dir;
  std::vector<MixinQuery> queries;
  std::vector<std::string> record_names;                            // what rules.yaml records, in file order
  std::map<std::string, std::vector<DashboardVariable>> variables;  // by dashboard file
  std::map<std::string, std::string> dashboard_titles;              // by dashboard file

  // Reads DIR/alerts.yaml, DIR/rules.yaml and DIR/dashboards/*.json; throws
  // std::runtime_error naming the file that is missing or does not parse.
  static MixinFiles load(const std::string& dir);

  std::vector<const MixinQuery*> of_kind(MixinQuery::Kind kind) const;
};

// Where the test finds the mixin: $PGSCOPE_MIXIN_DIR, else the committed
// mixins/generated of the source tree.
std::string mixin_dir();

// docs/metrics.md: each documented sample name with the conditions under
// which the exporter emits it.
struct DocumentedMetric {
  std::string name;
  std::string section;          // the heading: "Collector `stat_statements` (off by default: ...)"
  std::string versions;         // PostgreSQL versions ("all", "14+", "17+"), "" for non-catalog families
  bool off_by_default = false;  // a collector one turns on with --collector.X
};
std::map<std::string, DocumentedMetric> documented_metrics();
// Whether a documented `versions` entry includes this PostgreSQL major version.
bool versions_include(const std::string& versions, int major);

}  // namespace pgscope::test
