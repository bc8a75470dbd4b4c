// pgscope-operator's settings: flags and PGSCOPE_OPERATOR_* environment
// variables, validated once at start so a bad value stops the operator with a
// one-line message instead of failing every reconcile later.
#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgscope::op {

// A flag or environment variable with a bad value; the message is one line
// naming the flag (or variable) and what is expected.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class MonitorKind { ServiceMonitor, PodMonitor };
const char* monitor_kind_name(MonitorKind kind);

// How Zalando's postgres-operator is configured: the label keys it puts on
// pods and how it names credentials secrets (its cluster_labels,
// cluster_name_label, pod_role_label, secret_name_template,
// connection_pooler_user).
struct ZalandoSettings {
  std::map<std::string, std::string> cluster_labels{{"application", "spilo"}};
  std::string cluster_name_label = "cluster-name";
  std::string pod_role_label = "spilo-role";
  std::string team_label = "team";
  // Placeholders {username}, {cluster}, {tprkind}, {tprgroup}, as Zalando's.
  std::string secret_name_template = "{username}.{cluster}.credentials.postgresql.acid.zalan.do";
  std::string pooler_user = "pooler";
};

struct OperatorSettings {
  // What is created per cluster.
  MonitorKind monitor_kind = MonitorKind::ServiceMonitor;
  bool inject_sidecars = false;  // pgscope.io/inject on a postgresql object overrides it
  std::string exporter_image = "ghcr.io/pgscope/pgscope-exporter:0.1.0";
  int exporter_port = 9187;
  std::map<std::string, std::string> labels;  // on monitors, PrometheusRule, dashboards
  std::string release;                        // adds release=<release> to the same
  std::string dashboards_namespace;           // "" = the cluster's namespace
  std::string dashboard_label_key = "grafana_dashboard";
  std::string dashboard_label_value = "1";
  bool dashboards = true;
  bool rules = true;
  std::string cluster_label = "cluster";  // the Prometheus label naming the PostgreSQL cluster
  std::string scrape_interval = "30s";    // as written in the monitors (Prometheus duration)
  std::string scrape_timeout = "10s";
  std::string monitoring_user = "postgres";  // whose credentials secret the sidecar reads
  ZalandoSettings zalando;

  // Run time: parsed and checked here, used by `pgscope-operator run`.
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> namespaces;  // empty = all namespaces
  bool leader_elect = false;
  std::string leader_elect_namespace;  // "" = the namespace the operator runs in
  std::string leader_elect_lease_name = "pgscope-operator";
  std::chrono::milliseconds leader_elect_lease_duration{15000};
  std::chrono::milliseconds leader_elect_renew_deadline{10000};
  std::chrono::milliseconds leader_elect_retry_period{2000};
  std::string listen_address = ":8080";
  std::chrono::milliseconds resync_period{600000};
  // Missing monitoring CRDs are looked for again this often (they may be installed later).
  std::chrono::milliseconds crd_recheck_period{60000};
  int workers = 2;
  std::string log_level = "info";

  // `pgscope-operator render`: the postgresql manifest ("-" = stdin).
  std::string filename;

  bool help = false;  // --help / -h was given
};

// Flags take --flag=value or --flag value, booleans --flag, --flag=true|false
// and --no-flag; -f FILE is --filename. Every flag is also read from
// PGSCOPE_OPERATOR_<FLAG> (upper case, "." and "-" as "_"). Precedence: flag >
// environment > default. `args` holds the flags only (no program name, no
// subcommand); anything else is refused. Throws UsageError.
OperatorSettings parse_settings(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env);

// The flags with their variables and defaults, for --help.
std::string settings_help();

// The environment variable of a flag name ("zalando.pooler-user" ->
// "PGSCOPE_OPERATOR_ZALANDO_POOLER_USER").
std::string settings_env_name(const std::string& flag);

// Parses a duration such as 15s, 1m30s, 500ms or 2h (units ms, s, m, h, d, w,
// y; integers only). Throws UsageError naming `what`.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what);

}  // namespace pgscope::op
