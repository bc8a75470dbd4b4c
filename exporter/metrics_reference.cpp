#include "exporter/metrics_reference.hpp"

#include <map>
#include <set>
#include <sstream>

#include "patroni/patroni_metrics.hpp"
#include "pgbouncer/pgbouncer_metrics.hpp"

namespace pgscope {
namespace {

struct FixedMetric {
  const char* name;
  const char* type;
  const char* labels;
  const char* help;
};

// Metrics that come from code rather than the catalog.
const FixedMetric kFixedMetrics[] = {
    {"pg_up", "gauge", "", "Whether the last scrape could connect to PostgreSQL and log in (1) or not (0)."},
    {"pgscope_exporter_last_error_info", "gauge", "source, kind, message",
     "The last error that stopped a source from being scraped; kind is connection, authentication, timeout "
     "or "
     "query. Kept after the source recovers; see the timestamp."},
    {"pgscope_exporter_last_error_timestamp_seconds", "gauge", "source",
     "When the last error of a source happened."},
    {"pgscope_exporter_collector_duration_seconds", "gauge", "collector",
     "How long a collector took in the last scrape (a source such as postgres, or a catalog collector)."},
    {"pgscope_exporter_collector_success", "gauge", "collector",
     "Whether a collector succeeded in the last scrape."},
    {"pgscope_exporter_query_success", "gauge", "query",
     "Whether a catalog query succeeded in every database it ran in, in the last scrape (a result from the "
     "cache counts as success)."},
    {"pgscope_exporter_query_duration_seconds", "gauge", "query",
     "Time a catalog query took in the last scrape, summed over databases."},
    {"pgscope_exporter_query_series_dropped", "gauge", "query",
     "Series of a catalog query left out of the last scrape by its max_series or its collector's "
     "--postgres.max-series cap."},
    {"pgscope_exporter_query_executions_total", "counter", "query",
     "Times a catalog query's SQL ran, over all databases, since the exporter started."},
    {"pgscope_exporter_query_cache_hits_total", "counter", "query",
     "Times a catalog query was answered from its cache (cache_seconds) instead of running, since the "
     "exporter started."},
    {"pgscope_exporter_scrapes_total", "counter", "", "Scrapes answered since the exporter started."},
    {"pgscope_exporter_config_last_reload_successful", "gauge", "",
     "Whether the last reload (SIGHUP, POST /-/reload) worked; 1 before any."},
    {"pgscope_exporter_config_last_reload_success_timestamp_seconds", "gauge", "",
     "When the configuration now running was loaded, in Unix time."},
    {"pgscope_exporter_probe_targets", "gauge", "",
     "Targets of /probe held open now (connections and state)."},
    {"pgscope_exporter_probe_targets_closed_total", "counter", "reason",
     "Targets of /probe closed: reason idle (not probed for --probe.idle-timeout) or limit "
     "(--probe.max-targets reached)."},
    {"pgscope_exporter_build_info", "gauge", "version", "pgscope-exporter's version; always 1."},
    {"pgscope_exporter_label_values_truncated_total", "counter", "",
     "Label values longer than 1024 bytes cut to 1024, ending in \"...[truncated]\", in the expositions "
     "served since the exporter started (a label value is also made valid UTF-8: each invalid sequence "
     "becomes U+FFFD)."},
    {"pgscope_exporter_invalid_names_dropped_total", "counter", "",
     "Families with a metric name, and samples with a label name, that are not valid Prometheus names, left "
     "out of the expositions served since the exporter started (names come from data only in dynamic_name "
     "entries such as pg_settings); each name is logged once."},
    {"process_cpu_seconds_total", "counter", "", "CPU time of the exporter process (user and system)."},
    {"process_resident_memory_bytes", "gauge", "", "Resident memory of the exporter process."},
    {"process_virtual_memory_bytes", "gauge", "", "Virtual memory of the exporter process."},
    {"process_threads", "gauge", "", "Threads of the exporter process."},
    {"process_open_fds", "gauge", "", "Open file descriptors of the exporter process."},
    {"process_max_fds", "gauge", "", "The exporter process's limit on open file descriptors."},
    {"process_start_time_seconds", "gauge", "", "When the exporter process started, in Unix time."},
};

std::string versions_of(const CatalogEntry& entry) {
  int low = 0;
  int high = 0;
  bool unbounded = false;
  for (const auto& branch : entry.branches) {
    low = low == 0 ? branch.min_version : std::min(low, branch.min_version);
    if (branch.max_version == 0) unbounded = true;
    high = std::max(high, branch.max_version);
  }
  auto major = [](int number) { return std::to_string(number / 10000); };
  if (low <= 120000 && unbounded) return "all";
  std::string text = low > 120000 ? major(low) + "+" : "";
  if (!unbounded)
    text = (low > 120000 ? major(low) : std::string("12")) + "–" + std::to_string(high / 10000 - 1);
  return text;
}

std::string escape_cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

const char* type_name(prometheus::MetricType type) {
  return type == prometheus::MetricType::Counter ? "counter" : "gauge";
}

// From the collector's own tables, so the reference cannot drift from it.
std::string pgbouncer_reference() {
  std::ostringstream out;
  out << "\n## pgBouncer (`--pgbouncer.dsn`, the admin console)\n\n"
      << "Names as prometheus-community pgbouncer_exporter v0.11 documents them. Its v0.12 renamed every "
      << "`pgbouncer_stats_X` to `pgbouncer_stats_totals_X` (same labels and units): a dashboard built for "
         "v0.12 "
      << "maps back with a relabel rule on `__name__`, regex `pgbouncer_stats_(.*)`, replacement "
      << "`pgbouncer_stats_totals_$1`.\n\n"
      << "| metric | type | labels | source | description |\n|---|---|---|---|---|\n"
      << "| `pgbouncer_up` | gauge |  |  | Whether the last scrape could reach the admin console (1) or not "
         "(0). |\n"
      << "| `" << kPgBouncerVersionMetric << "` | gauge | version | SHOW VERSION | " << kPgBouncerVersionHelp
      << " |\n";
  std::set<std::string> listed;  // a family read from either of two column names appears once
  for (const auto& table : pgbouncer_show_tables()) {
    std::string labels;
    for (const char* label : table.labels) labels += (labels.empty() ? "" : ", ") + std::string(label);
    for (const auto& column : table.columns) {
      if (!listed.insert(column.metric).second) continue;
      out << "| `" << column.metric << "` | " << type_name(column.type) << " | " << labels << " | "
          << table.command << " | " << escape_cell(column.help) << " |\n";
    }
  }
  for (const auto& table : pgbouncer_keyed_tables()) {
    for (const auto& metric : table.metrics) {
      out << "| `" << metric.metric << "` | gauge |  | " << table.command << " | " << escape_cell(metric.help)
          << " |\n";
    }
  }
  return out.str();
}

// Runs the Patroni emitters on a member that has every field set, so the
// reference lists exactly what the collector writes.
std::string patroni_reference() {
  patroni::Status status;
  status.scope = "s";
  status.name = "n";
  status.version_number = 40100;
  status.server_version = 150000;
  status.state = "running";
  status.role = "replica";
  patroni::Cluster cluster;
  cluster.members.push_back({"n", "replica", "streaming", 1.0, 0.0});
  patroni::History history;
  history.entries = 1;
  history.last_switch = 1.0;
  MetricSink sink;
  sink.gauge("patroni_up", "Whether the last scrape could read Patroni's REST API (1) or not (0).", {}, 1);
  patroni::emit_status(status, sink);
  patroni::emit_cluster(status.scope, cluster, sink);
  patroni::emit_history(status.scope, history, sink);
  std::ostringstream out;
  out << "\n## Patroni (`--patroni.url`, the member's REST API)\n\n"
      << "Families of Patroni's own /metrics keep its names, labels (`scope`, `name`; `name` is empty with "
      << "Patroni 3.0, whose /patroni does not say it) and types (the `xlog_*` locations and the timeline "
         "are "
      << "counters without `_total`, as Patroni types them). `patroni_master` is kept for dashboards made "
         "before "
      << "Patroni 4 removed it. `patroni_cluster_*` are pgscope's, from /cluster and /history.\n\n"
      << "| metric | type | labels | description |\n|---|---|---|---|\n";
  for (const auto& family : sink.take()) {
    std::string labels;
    if (!family.metric.empty()) {
      for (const auto& label : family.metric.front().label)
        labels += (labels.empty() ? "" : ", ") + label.name;
    }
    out << "| `" << family.name << "` | " << type_name(family.type) << " | " << labels << " | "
        << escape_cell(family.help) << " |\n";
  }
  return out.str();
}

}  // namespace

std::string metrics_reference_markdown(const Catalog& catalog) {
  std::ostringstream out;
  out << "# Metrics reference\n\n"
      << "Generated by `pgscope-exporter --dump-metrics-reference` from the built-in catalog "
      << "(`collectors/postgres/catalog/*.yaml`); a unit test fails when this file is out of date. "
      << "Regenerate it with `build/bin/pgscope-exporter --dump-metrics-reference > docs/metrics.md`.\n\n"
      << "Versions are PostgreSQL major versions whose catalog branch emits the metric; a metric whose "
         "column "
      << "a version lacks is simply absent there.\n\n";
  out << "## Exporter and connection\n\n| metric | type | labels | description |\n|---|---|---|---|\n";
  for (const auto& metric : kFixedMetrics) {
    out << "| `" << metric.name << "` | " << metric.type << " | " << metric.labels << " | " << metric.help
        << " |\n";
  }
  out << patroni_reference();
  out << pgbouncer_reference();
  for (const auto& [collector, enabled] : catalog.collectors()) {
    out << "\n## Collector `" << collector << "` (" << (enabled ? "on" : "off") << " by default: `--"
        << (enabled ? "no-" : "") << "collector." << collector << "` to turn it " << (enabled ? "off" : "on")
        << ")\n\n";
    out << "| metric | type | labels | versions | scope | description |\n|---|---|---|---|---|---|\n";
    for (const auto& entry : catalog.entries) {
      if (entry.collector != collector) continue;
      std::string scope = "server";
      if (entry.per_database()) {
        scope = entry.target_databases.front() == "*" ? "each database" : "databases ";
        for (const auto& name : entry.target_databases) {
          if (name != "*") scope += (scope.back() == ' ' ? "" : ", ") + name;
        }
      }
      if (entry.dynamic_name) {
        out << "| `" << entry.name << "_*` | "
            << (entry.dynamic_usage == Usage::Counter ? "counter" : "gauge") << " |  | " << versions_of(entry)
            << " | " << scope << " | One metric per server setting, named by the setting, in base units. |\n";
        continue;
      }
      std::string labels;
      for (const auto& spec : entry.metrics) {
        if (spec.usage == Usage::Label) labels += (labels.empty() ? "" : ", ") + spec.column;
      }
      for (const auto& spec : entry.metrics) {
        if (spec.usage == Usage::Label || spec.usage == Usage::Discard) continue;
        out << "| `" << entry.metric_name(spec) << "` | "
            << (spec.usage == Usage::Counter ? "counter" : "gauge") << " | " << labels << " | "
            << versions_of(entry) << " | " << scope << " | " << escape_cell(spec.description) << " |\n";
      }
    }
  }
  return out.str();
}

}  // namespace pgscope
