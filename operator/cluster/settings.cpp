#include "operator/cluster/settings.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <tuple>

#include "operator/cluster/kube_names.hpp"
#include "operator/cluster/settings_values.hpp"

namespace pgscope::op {

namespace {

using Apply = void (*)(OperatorSettings&, const std::string& value, const std::string& where);

struct Flag {
  const char* name;
  const char* metavar;  // nullptr: a boolean flag
  const char* default_text;
  const char* help;
  Apply apply;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string nonempty(const std::string& value, const std::string& where, const char* what) {
  if (value.empty()) throw UsageError(where + ": must not be empty (" + what + ")");
  return value;
}

const Flag kFlags[] = {
    {"monitor-kind", "ServiceMonitor|PodMonitor", "ServiceMonitor",
     "What scrapes the database pods: a ServiceMonitor with the metrics Service it needs, or a PodMonitor.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (lower(v) == "servicemonitor") {
         s.monitor_kind = MonitorKind::ServiceMonitor;
       } else if (lower(v) == "podmonitor") {
         s.monitor_kind = MonitorKind::PodMonitor;
       } else {
         throw UsageError(where + ": expected ServiceMonitor or PodMonitor, got " + quote_for_message(v));
       }
     }},
    {"inject-sidecars", nullptr, "false",
     "Add the exporter sidecar to spec.sidecars of every postgresql object (each change rolls its pods); the "
     "annotation pgscope.io/inject: \"true\"|\"false\" on an object overrides this.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.inject_sidecars = parse_bool_value(v, where);
     }},
    {"exporter-image", "IMAGE", "ghcr.io/pgscope/pgscope-exporter:0.1.0",
     "Image of the exporter sidecar and of the pooler exporter Deployment.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (v.empty() || v.find_first_of(" \t\n") != std::string::npos) {
         throw UsageError(where + ": expected an image reference such as registry/name:tag, got " +
                          quote_for_message(v));
       }
       s.exporter_image = v;
     }},
    {"exporter-port", "PORT", "9187", "Port the exporter listens on, in the sidecar and the pooler exporter.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.exporter_port = parse_int_value(v, where, 1, 65535);
     }},
    {"labels", "K=V,...", "(none)", "Labels added to every monitor, PrometheusRule and dashboard ConfigMap.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.labels = parse_label_list(v, where);
     }},
    {"release", "NAME", "(none)",
     "Adds release=NAME to the same objects: kube-prometheus-stack's Prometheus selects on its Helm release.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!v.empty() && !is_label_value(v)) {
         throw UsageError(where + ": " + quote_for_message(v) +
                          " is not a label value (at most 63 of [A-Za-z0-9-_.])");
       }
       s.release = v;
     }},
    {"dashboards-namespace", "NS", "(the cluster's namespace)",
     "Namespace of the dashboard ConfigMaps, e.g. Grafana's.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!v.empty() && !is_dns_label(v)) {
         throw UsageError(where + ": " + quote_for_message(v) +
                          " is not a namespace name (at most 63 of [a-z0-9-])");
       }
       s.dashboards_namespace = v;
     }},
    {"dashboard-label", "KEY=VALUE", "grafana_dashboard=1",
     "The label Grafana's dashboard sidecar looks for on ConfigMaps.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       std::tie(s.dashboard_label_key, s.dashboard_label_value) = parse_label_pair(v, where);
     }},
    {"dashboards", nullptr, "true", "Create the dashboard ConfigMaps (--no-dashboards: don't).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.dashboards = parse_bool_value(v, where);
     }},
    {"rules", nullptr, "true",
     "Create the PrometheusRule with the mixin's alerts and recording rules (--no-rules: don't).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.rules = parse_bool_value(v, where);
     }},
    {"cluster-label", "NAME", "cluster",
     "The Prometheus label that names the PostgreSQL cluster on every series.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!is_prometheus_label_name(v) || v.rfind("__", 0) == 0) {
         throw UsageError(where + ": " + quote_for_message(v) +
                          " is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no __)");
       }
       for (const char* taken : {"namespace", "team", "role", "pod", "pooler", "instance", "job"}) {
         if (v == taken)
           throw UsageError(where + ": " + quote_for_message(v) +
                            " is already a label of every series; pick another");
       }
       s.cluster_label = v;
     }},
    {"scrape-interval", "DURATION", "30s", "How often Prometheus scrapes each exporter.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.scrape_interval = parse_scrape_duration(v, where);
     }},
    {"scrape-timeout", "DURATION", "10s", "Scrape timeout; must not exceed --scrape-interval.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.scrape_timeout = parse_scrape_duration(v, where);
     }},
    {"monitoring-user", "USER", "postgres",
     "The database user the sidecar connects as (its Zalando credentials secret is read).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.monitoring_user = nonempty(v, where, "a database user with a Zalando credentials secret");
     }},
    {"zalando.cluster-labels", "K=V,...", "application=spilo",
     "Zalando's cluster_labels: labels of every database pod.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       auto labels = parse_label_list(v, where);
       // Zalando overwrites only `application` on pooler pods; without it a
       // database selector would match the pooler pods too.
       if (labels.count("application") == 0) {
         throw UsageError(where +
                          ": must contain application=... (pooler pods differ from database pods only "
                          "by that label)");
       }
       s.zalando.cluster_labels = labels;
     }},
    {"zalando.cluster-name-label", "KEY", "cluster-name", "Zalando's cluster_name_label.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!is_label_key(v)) throw UsageError(where + ": " + quote_for_message(v) + " is not a label key");
       s.zalando.cluster_name_label = v;
     }},
    {"zalando.pod-role-label", "KEY", "spilo-role", "Zalando's pod_role_label (written by Patroni).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!is_label_key(v)) throw UsageError(where + ": " + quote_for_message(v) + " is not a label key");
       s.zalando.pod_role_label = v;
     }},
    {"zalando.team-label", "KEY", "team", "The pod label holding spec.teamId.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!is_label_key(v)) throw UsageError(where + ": " + quote_for_message(v) + " is not a label key");
       s.zalando.team_label = v;
     }},
    {"zalando.secret-name-template", "TEMPLATE", "{username}.{cluster}.credentials.postgresql.acid.zalan.do",
     "Zalando's secret_name_template ({username}, {cluster}, {tprkind}, {tprgroup}).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.zalando.secret_name_template = parse_secret_name_template(v, where);
     }},
    {"zalando.pooler-user", "USER", "pooler",
     "Zalando's connection_pooler_user (spec.connectionPooler.user of a cluster wins).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.zalando.pooler_user = nonempty(v, where, "the pgBouncer admin user");
     }},
    {"kubeconfig", "FILE", "(in-cluster configuration)", "kubeconfig file to reach the API server with.",
     [](OperatorSettings& s, const std::string& v, const std::string&) { s.kubeconfig = v; }},
    {"context", "NAME", "(the current context)", "kubeconfig context.",
     [](OperatorSettings& s, const std::string& v, const std::string&) { s.context = v; }},
    {"namespaces", "NS,...", "(all)", "Namespaces whose postgresql objects are watched.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.namespaces = parse_namespace_list(v, where);
     }},
    {"leader-elect", nullptr, "false",
     "Run as one of several replicas: only the holder of a Lease reconciles.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.leader_elect = parse_bool_value(v, where);
     }},
    {"leader-elect.namespace", "NS", "(the operator's namespace)", "Namespace of the Lease.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!v.empty() && !is_dns_label(v))
         throw UsageError(where + ": " + quote_for_message(v) + " is not a namespace name");
       s.leader_elect_namespace = v;
     }},
    {"leader-elect.lease-name", "NAME", "pgscope-operator", "Name of the Lease.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (!is_dns_subdomain(v))
         throw UsageError(where + ": " + quote_for_message(v) + " is not an object name");
       s.leader_elect_lease_name = v;
     }},
    {"leader-elect.lease-duration", "DURATION", "15s", "How long a leader's Lease holds without renewal.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.leader_elect_lease_duration = parse_duration(v, where);
     }},
    {"leader-elect.renew-deadline", "DURATION", "10s", "A leader that cannot renew within this gives up.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.leader_elect_renew_deadline = parse_duration(v, where);
     }},
    {"leader-elect.retry-period", "DURATION", "2s", "Interval between attempts to acquire or renew.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.leader_elect_retry_period = parse_duration(v, where);
     }},
    {"listen-address", "ADDRESS", ":8080", "Address of /metrics, /healthz and /readyz.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.listen_address = parse_listen_address(v, where);
     }},
    {"resync-period", "DURATION", "10m", "Every cluster is reconciled at least this often.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.resync_period = parse_duration(v, where);
       if (s.resync_period.count() == 0) throw UsageError(where + ": must be longer than 0s");
     }},
    {"crd-recheck-period", "DURATION", "1m",
     "How often to ask the API server whether prometheus-operator's CRDs are served (when they were not).",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.crd_recheck_period = parse_duration(v, where);
       if (s.crd_recheck_period.count() == 0) throw UsageError(where + ": must be longer than 0s");
     }},
    {"workers", "N", "2", "Clusters reconciled at once.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.workers = parse_int_value(v, where, 1, 64);
     }},
    {"log.level", "LEVEL", "info", "Log level: debug, info, warn or error.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       if (v != "debug" && v != "info" && v != "warn" && v != "error") {
         throw UsageError(where + ": expected debug, info, warn or error, got " + quote_for_message(v));
       }
       s.log_level = v;
     }},
    {"filename", "FILE", "(none)",
     "render: the postgresql manifest to render (\"-\" = standard input); also -f.",
     [](OperatorSettings& s, const std::string& v, const std::string& where) {
       s.filename = nonempty(v, where, "a file name or -");
     }},
};

const Flag* find_flag(const std::string& name) {
  for (const auto& flag : kFlags) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

// Checks between settings, naming where each one came from.
void check_combinations(const OperatorSettings& s, const std::map<std::string, std::string>& source) {
  const auto from = [&](const std::string& flag) {
    auto found = source.find(flag);
    return found == source.end() ? "--" + flag + " (default)" : found->second;
  };
  if (parse_duration(s.scrape_timeout, "") > parse_duration(s.scrape_interval, "")) {
    throw UsageError(from("scrape-timeout") + ": " + s.scrape_timeout + " exceeds " +
                     from("scrape-interval") + " " + s.scrape_interval +
                     "; Prometheus refuses a scrape timeout longer than the interval");
  }
  if (s.leader_elect_renew_deadline >= s.leader_elect_lease_duration) {
    throw UsageError(from("leader-elect.renew-deadline") + ": must be shorter than " +
                     from("leader-elect.lease-duration"));
  }
  if (s.leader_elect_retry_period >= s.leader_elect_renew_deadline) {
    throw UsageError(from("leader-elect.retry-period") + ": must be shorter than " +
                     from("leader-elect.renew-deadline"));
  }
  for (const auto& [key, value] : s.labels) {
    if (key.rfind("pgscope.io/", 0) == 0 || key.rfind("app.kubernetes.io/", 0) == 0) {
      throw UsageError(from("labels") + ": " + key + " is a label the operator sets itself");
    }
    if (key == s.dashboard_label_key) {
      throw UsageError(from("labels") + ": " + key + " is already set by " + from("dashboard-label"));
    }
    if (key == "release" && !s.release.empty() && value != s.release) {
      throw UsageError(from("labels") + ": release=" + value + " contradicts " + from("release") + " " +
                       s.release);
    }
  }
}

}  // namespace

const char* monitor_kind_name(MonitorKind kind) {
  return kind == MonitorKind::PodMonitor ? "PodMonitor" : "ServiceMonitor";
}

std::string settings_env_name(const std::string& flag) {
  std::string name = "PGSCOPE_OPERATOR_";
  for (char c : flag)
    name += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

OperatorSettings parse_settings(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env) {
  OperatorSettings settings;
  std::map<std::string, std::string> source;  // flag name -> where its value came from
  for (const auto& flag : kFlags) {
    const auto variable = settings_env_name(flag.name);
    const auto found = env.find(variable);
    if (found == env.end()) continue;
    flag.apply(settings, found->second, variable);
    source[flag.name] = variable;
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      settings.help = true;
      continue;
    }
    std::string name, value;
    bool has_value = false;
    if (arg == "-f" || arg.rfind("-f=", 0) == 0) {
      name = "filename";
      has_value = arg != "-f";
      if (has_value) value = arg.substr(3);
    } else if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      const auto equals = arg.find('=');
      name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      has_value = equals != std::string::npos;
      if (has_value) value = arg.substr(equals + 1);
    } else {
      throw UsageError("unexpected argument " + quote_for_message(arg) +
                       ": settings are flags such as --release=NAME (see --help)");
    }
    const Flag* flag = find_flag(name);
    const std::string shown = name == "filename" && arg.rfind("--", 0) != 0 ? "-f" : "--" + name;
    if (flag == nullptr && name.rfind("no-", 0) == 0) {
      const Flag* positive = find_flag(name.substr(3));
      if (positive != nullptr && positive->metavar == nullptr) {
        if (has_value)
          throw UsageError("--" + name + ": takes no value (use --" + positive->name + "=true|false)");
        positive->apply(settings, "false", "--" + name);
        source[positive->name] = "--" + name;
        continue;
      }
    }
    if (flag == nullptr) throw UsageError("unknown flag --" + name + " (see --help for the list)");
    if (flag->metavar == nullptr) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        throw UsageError(shown + ": needs a value (" + flag->metavar + ")");
      }
      value = args[++i];
    }
    flag->apply(settings, value, shown);
    source[flag->name] = shown;
  }
  check_combinations(settings, source);
  return settings;
}

std::string settings_help() {
  std::ostringstream out;
  out << "Settings of pgscope-operator. Flags take --flag=value or --flag value; booleans also --flag and\n"
         "--no-flag. Every flag can also be given as the environment variable shown (PGSCOPE_OPERATOR_ + "
         "the\n"
         "flag name upper-cased, . and - turned into _). Precedence: flag > environment > default.\n\n";
  for (const auto& flag : kFlags) {
    out << "  --" << flag.name;
    if (flag.metavar != nullptr) {
      out << "=" << flag.metavar;
    } else {
      out << ", --no-" << flag.name;
    }
    if (std::string(flag.name) == "filename") out << ", -f " << flag.metavar;
    out << "\n      " << flag.help << "\n      default: " << flag.default_text
        << "; env: " << settings_env_name(flag.name) << "\n";
  }
  out << "  --help, -h\n      Print this help.\n";
  return out.str();
}

}  // namespace pgscope::op
