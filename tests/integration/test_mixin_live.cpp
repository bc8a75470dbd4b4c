// The monitoring mixin against real servers. The testbed of scripts/testbed
// (ctest fixture `testbed`: etcd, three Patroni members of PostgreSQL 15,
// pgBouncer) with one pgscope-exporter per member (PostgreSQL and Patroni)
// and one for pgBouncer, as they run beside a Zalando cluster; pgbench load
// through pgBouncer; a real Prometheus that loads the generated alerts.yaml
// and rules.yaml and scrapes the exporters every second with the labels the
// operator's monitors give them; a real Alertmanager it sends alerts to.
//  1. Every metric a dashboard panel, a variable or a rule names is one the
//     exporters emit or a rule records.
//  2. Every dashboard query returns data, every variable lists values, every
//     recording rule records something, and Prometheus evaluates every rule.
//  3. Killing the leader makes PatroniFailover fire and reach Alertmanager.
// The mixin is mixins/generated (PGSCOPE_MIXIN_DIR points elsewhere). The
// cluster is repaired at the end for the tests that follow.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/background_process.hpp"
#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/mixin_files.hpp"
#include "support/process_figures.hpp"
#include "support/prom_text.hpp"
#include "support/prometheus_stack.hpp"
#include "support/promql_names.hpp"
#include "support/scrape.hpp"
#include "support/testbed.hpp"

using namespace pgscope::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
using Kind = MixinQuery::Kind;

constexpr int kPostgresMajor = 15;  // the testbed's
const std::string kJob = "pgscope";
const std::string kNamespace = "testbed";
const std::string kTeam = "acid";

void report(const std::string& line) { std::cout << "[mixin live] " << line << std::endl; }

std::string fixed(double value, int digits = 1) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

// Series Prometheus makes itself: per target (up, scrape_*) and per alert.
const std::set<std::string> kPrometheusSeries = {"ALERTS",
                                                 "ALERTS_FOR_STATE",
                                                 "up",
                                                 "scrape_duration_seconds",
                                                 "scrape_samples_scraped",
                                                 "scrape_samples_post_metric_relabeling",
                                                 "scrape_series_added"};

// Off-by-default collectors the exporters of this test turn on, as a Zalando
// deployment of pgscope would: Spilo installs pg_stat_statements in every
// database, and the instance dashboard shows the top statements.
const std::set<std::string> kCollectorsOn = {"stat_statements"};

// Documented names (or name prefixes) the testbed cannot show, and why: they
// exist only in a state that a healthy three-member cluster without logical
// replication is not in. A name the mixin uses must be seen live, or be here,
// outside the testbed's PostgreSQL version, or of a collector that is off;
// docs/metrics.md must list it in each of these cases.
const std::map<std::string, std::string>& absent_on_testbed() {
  static const std::map<std::string, std::string> reasons = {
      {"pgbouncer_stats_queries_total", "pgBouncer before 1.8 only"},
      {"pg_stat_replication_slots_", "logical replication slots only"},
      {"pg_replication_origin_", "logical replication origins only"},
      {"pg_replication_slots_safe_wal_size_bytes", "only with max_slot_wal_keep_size set"},
  };
  return reasons;
}

std::string collector_of(const DocumentedMetric& metric) {
  const auto start = metric.section.find('`');
  const auto end = start == std::string::npos ? start : metric.section.find('`', start + 1);
  return end == std::string::npos ? "" : metric.section.substr(start + 1, end - start - 1);
}

// Why a name that no exporter emitted is fine (documented and absent for a
// reason), or "" when it is not.
std::string why_absent(const std::string& name, const std::map<std::string, DocumentedMetric>& docs) {
  const auto doc = docs.find(name);
  if (doc == docs.end()) return "";
  if (!versions_include(doc->second.versions, kPostgresMajor)) {
    return "PostgreSQL " + doc->second.versions + " only (the testbed runs " +
           std::to_string(kPostgresMajor) + ")";
  }
  if (doc->second.off_by_default && !kCollectorsOn.count(collector_of(doc->second))) {
    return "collector " + collector_of(doc->second) + " is off by default";
  }
  for (const auto& [prefix, reason] : absent_on_testbed()) {
    if (name.rfind(prefix, 0) == 0) return reason;
  }
  return "";
}

// Every name the exporter's text declares or has a sample of, as PromQL
// names them: a histogram's or summary's family is selected by its _bucket,
// _sum and _count series.
void add_exposition_names(const Exposition& exposition, std::set<std::string>& names) {
  for (const auto& sample : exposition.samples) names.insert(sample.name);
  for (const auto& [family, info] : exposition.families) {
    if (info.type == "histogram" || info.type == "summary") {
      for (const char* suffix : {"_sum", "_count"}) names.insert(family + suffix);
      if (info.type == "histogram") names.insert(family + "_bucket");
      if (info.type == "summary") names.insert(family);
    } else {
      names.insert(family);
    }
  }
}

void ignore_notice(void*, const char*) {}  // "extension ... already exists, skipping"

std::string run_sql(const std::string& dsn, const std::string& statement) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) return PQerrorMessage(connection.get());
  PQsetNoticeProcessor(connection.get(), ignore_notice, nullptr);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), statement.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(result.get());
}

struct Stack {
  Clock::time_point started = Clock::now();
  Testbed bed = Testbed::load();
  MixinFiles mixin = MixinFiles::load(mixin_dir());
  TempDir work{"pgscope-mixin-live"};
  std::map<std::string, std::unique_ptr<ExporterProcess>> exporters;  // by pod label
  std::unique_ptr<BackgroundProcess> pgbench;
  std::unique_ptr<AlertmanagerServer> alertmanager;
  std::unique_ptr<PrometheusServer> prometheus;
  std::string leader;
  bool read_write_load = false;

  Stack() {
    bed.wait_until_whole(60s);
    leader = bed.leader();
    const auto& primary = bed.member(leader);
    // As Spilo does in every database; the top statements panels read it.
    const std::string error = run_sql(bed.dsn(primary), "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    if (!error.empty()) throw std::runtime_error("CREATE EXTENSION pg_stat_statements: " + error);
    // pgbench's tables on the leader itself: pgBouncer points at the leader of
    // the time of `testbed up`, which an earlier test may have switched over.
    const EnvOverrides password = {{"PGPASSWORD", bed.superuser_password}};
    auto init = run_process({"pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p",
                             std::to_string(primary.pg_port), "-U", bed.superuser, "postgres"},
                            password, "", 60s);
    if (init.exit_code != 0) throw std::runtime_error("pgbench -i failed:\n" + init.out + init.err);

    for (const auto& m : bed.members) {
      exporters[m.name] = std::make_unique<ExporterProcess>(std::vector<std::string>{
          "--postgres.dsn=" + bed.dsn(m), "--patroni.url=" + m.api_url(), "--collector.stat_statements"});
    }
    exporters[pooler_pod()] = std::make_unique<ExporterProcess>(
        std::vector<std::string>{"--pgbouncer.dsn=" + bed.pgbouncer_admin_dsn()});

    // Read-only when pgBouncer's backend is no longer the leader.
    read_write_load = bed.pgbouncer_target_port == primary.pg_port;
    std::vector<std::string> load = {"pgbench", "-n", "-c", "4", "-j", "2", "-T", "600", "-R", "40"};
    if (!read_write_load) load.push_back("-S");
    for (const auto& arg :
         {std::string("-h"), std::string("127.0.0.1"), std::string("-p"), std::to_string(bed.pgbouncer_port),
          std::string("-U"), bed.superuser, std::string("postgres")}) {
      load.push_back(arg);
    }
    pgbench = std::make_unique<BackgroundProcess>(load, work.path() + "/pgbench.log", password);

    alertmanager = std::make_unique<AlertmanagerServer>(work.path());
    PrometheusServer::Options options;
    options.work_dir = work.path();
    options.rule_files = {mixin.dir + "/alerts.yaml", mixin.dir + "/rules.yaml"};
    options.job = kJob;
    options.alertmanager_port = alertmanager->port();
    for (const auto& [pod, exporter] : exporters) {
      options.targets.push_back(
          {"127.0.0.1:" + std::to_string(exporter->port()),
           {{"namespace", kNamespace}, {"cluster_name", bed.scope}, {"team", kTeam}, {"pod", pod}}});
    }
    prometheus = std::make_unique<PrometheusServer>(options);
    wait_for_scrapes_and_rules();
    report("set up in " + fixed(seconds_since(started)) + " s: " + std::to_string(exporters.size()) +
           " exporters, pgbench " + (read_write_load ? "read-write" : "select-only") +
           " through pgBouncer (pid " + std::to_string(pgbench->pid()) + "), Prometheus " +
           prometheus->url() + " (pid " + std::to_string(prometheus->pid()) + "), Alertmanager " +
           alertmanager->url() + " (pid " + std::to_string(alertmanager->pid()) + "); leader " + leader);
  }

  std::string pooler_pod() const { return bed.scope + "-pooler"; }

  // Every target scraped successfully, then every rule group evaluated three
  // more times (rates need two samples; recording rules feed each other).
  void wait_for_scrapes_and_rules() {
    std::string last;
    const bool scraped = wait_until(
        [&] {
          std::size_t up = 0;
          const json targets = prometheus->targets();
          for (const auto& target : targets) up += target.value("health", "") == "up" ? 1 : 0;
          last = targets.dump();
          return up == exporters.size();
        },
        30s, 200ms);
    if (!scraped) throw std::runtime_error("Prometheus does not scrape every exporter: " + last);
    std::map<std::string, std::set<std::string>> evaluations;  // group -> lastEvaluation values seen
    const bool evaluated = wait_until(
        [&] {
          const json groups = prometheus->rule_groups();
          bool all = !groups.empty();
          for (const auto& group : groups) {
            auto& seen = evaluations[group.value("name", "")];
            seen.insert(group.value("lastEvaluation", ""));
            all = all && seen.size() >= 4;  // the first value may be from before the scrapes
          }
          return all;
        },
        30s, 250ms);
    if (!evaluated)
      throw std::runtime_error("Prometheus does not evaluate the rules:\n" + prometheus->log_tail());
  }
};

// Built by the first test case that needs it; a setup that failed is not
// tried again by every later case. Stops at exit, also after failures.
Stack& stack() {
  static std::unique_ptr<Stack> instance;
  static std::string failure;
  if (!instance && failure.empty()) {
    try {
      instance = std::make_unique<Stack>();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!instance)
    throw std::runtime_error("setting up the exporters, Prometheus and Alertmanager failed: " + failure);
  return *instance;
}

// Every variable's value as a dashboard sends it with "All" chosen: multi-value
// and "All" variables as their regex, single ones as the first value their
// query lists (in order: later variables' queries use earlier ones).
std::map<std::string, std::string> variable_values(const std::vector<DashboardVariable>& variables,
                                                   std::vector<std::string>* problems) {
  std::map<std::string, std::string> values = {{"__rate_interval", "1m"},  {"__interval", "15s"},
                                               {"__interval_ms", "15000"}, {"__range", "5m"},
                                               {"__range_s", "300"},       {"__range_ms", "300000"}};
  for (const auto& variable : variables) {
    if (variable.type == "datasource") continue;  // names a data source, never part of a query
    if (variable.multi || variable.include_all) {
      values[variable.name] = variable.all_value.empty() ? ".+" : variable.all_value;
      continue;
    }
    std::string selector, label;
    if (variable.type == "query" && parse_label_values(variable.query, &selector, &label)) {
      const auto listed =
          stack().prometheus->label_values(substitute_grafana_variables(selector, values), label);
      if (listed.empty()) problems->push_back("variable " + variable.name + " lists no value");
      values[variable.name] = listed.empty() ? "" : listed.front();
    } else {
      values[variable.name] = variable.current;
    }
  }
  return values;
}

struct Checked {
  const MixinQuery* query;
  std::string sent;  // the expression with the variables replaced
  QueryAnswer answer;
};

// Every value of an instant vector is NaN (a panel that shows "NaN").
bool only_nan(const json& result) {
  if (!result.is_array() || result.empty()) return false;
  for (const auto& series : result) {
    const json value = series.value("value", json::array());
    if (value.size() != 2 || value[1] != "NaN") return false;
  }
  return true;
}

bool names_alert_state(const MixinQuery& query) {
  const auto names = promql_metric_names(query.expr);
  return names.count("ALERTS") || names.count("ALERTS_FOR_STATE");
}

// Queries of panels that show alerts: empty while nothing fires, so checked
// while PatroniFailover fires.
std::vector<Checked>& deferred_to_failover() {
  static std::vector<Checked> queries;
  return queries;
}

}  // namespace

TEST_CASE("every metric a dashboard or rule names is one the exporters emit or a rule records",
          "[integration][testbed][mixin]") {
  auto& s = stack();
  std::set<std::string> known = kPrometheusSeries;
  std::size_t emitted = 0;
  for (const auto& [pod, exporter] : s.exporters) {
    std::set<std::string> names;
    add_exposition_names(scrape_metrics(*exporter), names);
    emitted += names.size();
    known.insert(names.begin(), names.end());
  }
  known.insert(s.mixin.record_names.begin(), s.mixin.record_names.end());
  const auto docs = documented_metrics();

  std::set<std::string> used;
  std::map<std::string, std::set<std::string>> missing;                           // name -> where
  std::map<std::string, std::pair<std::string, std::set<std::string>>> doc_only;  // name -> why, where
  for (const auto& query : s.mixin.queries) {
    const auto names = query.kind == Kind::variable ? grafana_variable_query_names(query.expr)
                                                    : promql_metric_names(query.expr);
    for (const auto& name : names) {
      used.insert(name);
      if (known.count(name)) continue;
      const std::string why = why_absent(name, docs);
      if (why.empty()) {
        missing[name].insert(query.describe());
      } else {
        doc_only[name].first = why;
        doc_only[name].second.insert(query.describe());
      }
    }
  }
  std::ostringstream summary;
  summary << s.mixin.queries.size() << " queries (panels, annotations, variables, rules) name " << used.size()
          << " metrics; the " << s.exporters.size() << " exporters emit " << emitted << " names ("
          << known.size() - kPrometheusSeries.size() - s.mixin.record_names.size()
          << " distinct), rules record " << s.mixin.record_names.size()
          << "; documented but not on the testbed: " << doc_only.size() << "; unknown: " << missing.size();
  for (const auto& [name, entry] : doc_only)
    summary << "\n  documented only: " << name << " (" << entry.first << ")";
  for (const auto& [name, places] : missing) {
    summary << "\n  UNKNOWN " << name << (docs.count(name) ? " (in docs/metrics.md, but not emitted)" : "")
            << ", named by:";
    for (const auto& place : places) summary << "\n    " << place;
  }
  report(summary.str());
  INFO(summary.str());
  CHECK(s.mixin.queries.size() > 0);
  CHECK(missing.empty());
}

TEST_CASE("every dashboard query returns data from a real Prometheus, every rule evaluates",
          "[integration][testbed][mixin]") {
  auto& s = stack();
  const auto started = Clock::now();

  // Rules Prometheus could not evaluate would never fire or record.
  std::vector<std::string> broken_rules;
  std::size_t rules = 0;
  for (const auto& group : s.prometheus->rule_groups()) {
    for (const auto& rule : group.value("rules", json::array())) {
      ++rules;
      if (rule.value("health", "") != "ok") {
        broken_rules.push_back(rule.value("name", "?") + ": " + rule.value("health", "") + " " +
                               rule.value("lastError", ""));
      }
    }
  }

  std::vector<std::string> problems;  // errors, unknown variables, variables listing nothing
  std::vector<Checked> checked;
  std::map<std::string, std::map<std::string, std::string>> values;  // by dashboard file
  for (const auto& [file, variables] : s.mixin.variables) {
    std::vector<std::string> found;
    values[file] = variable_values(variables, &found);
    for (const auto& problem : found) problems.push_back(file + ", " + problem);
  }
  std::size_t variables = 0;
  for (const auto& query : s.mixin.queries) {
    if (query.kind == Kind::alert) continue;  // alerts are meant to be silent here
    std::set<std::string> unknown;
    const std::string sent = substitute_grafana_variables(query.expr, values[query.file], &unknown);
    for (const auto& name : unknown) problems.push_back(query.describe() + ": unknown variable $" + name);
    if (query.kind == Kind::variable) {
      ++variables;
      std::string selector, label;
      if (parse_label_values(sent, &selector, &label) &&
          s.prometheus->label_values(selector, label).empty()) {
        problems.push_back(query.describe() + " lists no value: " + sent);
      }
      continue;
    }
    checked.push_back({&query, sent, s.prometheus->query(sent)});
  }
  // An empty answer right after the start may need one more scrape; give
  // the empty ones a few more seconds.
  auto empty = [](const Checked& c) { return c.answer.ok && c.answer.samples == 0; };
  wait_until(
      [&] {
        bool any = false;
        for (auto& c : checked) {
          if (!empty(c)) continue;
          c.answer = s.prometheus->query(c.sent);
          any = any || empty(c);
        }
        return !any;
      },
      10s, 1s);

  std::vector<std::string> empties, nan_only;
  std::size_t answered = 0;
  for (const auto& c : checked) {
    if (c.answer.samples > 0 && only_nan(c.answer.result)) nan_only.push_back(c.query->describe());
    if (!c.answer.ok) {
      problems.push_back(c.query->describe() + ": " + c.answer.error + "\n      " + c.sent);
    } else if (c.answer.samples > 0) {
      ++answered;
    } else if (names_alert_state(*c.query)) {
      deferred_to_failover().push_back(c);
    } else {
      empties.push_back(c.query->describe() + "\n      " + c.sent);
    }
  }
  std::ostringstream summary;
  summary << checked.size() << " queries (panels, annotations, recording rules) and " << variables
          << " variables checked in " << fixed(seconds_since(started)) << " s: " << answered << " with data, "
          << empties.size() << " empty, " << problems.size() << " failing, " << deferred_to_failover().size()
          << " on alert state (checked during the failover); " << rules << " rules loaded, "
          << broken_rules.size() << " unhealthy";
  for (const auto& line : empties) summary << "\n  EMPTY " << line;
  for (const auto& line : problems) summary << "\n  FAILED " << line;
  for (const auto& line : broken_rules) summary << "\n  RULE " << line;
  // Shown, not failed: a ratio over an idle cluster may rightly be 0/0.
  for (const auto& line : nan_only) summary << "\n  only NaN: " << line;
  report(summary.str());
  INFO(summary.str());
  CHECK(rules == s.mixin.record_names.size() + s.mixin.of_kind(Kind::alert).size());
  CHECK(broken_rules.empty());
  CHECK(problems.empty());
  CHECK(empties.empty());
  CHECK(answered > 0);
}

TEST_CASE("killing the leader fires PatroniFailover in Prometheus and it reaches Alertmanager",
          "[integration][testbed][mixin]") {
  auto& s = stack();
  REQUIRE_FALSE(s.bed.leader().empty());
  const std::string old_leader = s.bed.leader();
  const std::string cluster_selector =
      "{job=\"" + kJob + "\", namespace=\"" + kNamespace + "\", cluster_name=\"" + s.bed.scope + "\"}";

  // PatroniFailover compares the timeline and the failover count with their
  // lowest over a [10m:] subquery (a point per evaluation interval): the
  // state before the kill must be in Prometheus's history.
  const auto history_wait = Clock::now();
  const bool history = wait_until(
      [&] {
        return s.prometheus
                   ->query("count_over_time(max(patroni_postgres_timeline" + cluster_selector +
                           ")[10m:]) >= 2")
                   .samples > 0;
      },
      75s, 500ms);
  REQUIRE(history);
  const double waited_for_history = seconds_since(history_wait);
  for (const auto& alert : s.alertmanager->active_alerts()) {
    REQUIRE(alert["labels"].value("alertname", "") != "PatroniFailover");  // nothing before the kill
  }

  bool restored = false;
  Finally restore_on_failure{[&] {
    if (!restored) s.bed.restore();
  }};
  const auto& dead = s.bed.member(old_leader);
  REQUIRE(s.bed.patroni_pid(dead) > 0);
  REQUIRE(s.bed.postmaster_pid(dead) > 0);
  s.bed.kill_member(dead);
  const auto killed = Clock::now();

  auto ours = [&](const json& labels) {
    return labels.value("alertname", "") == "PatroniFailover" &&
           labels.value("cluster_name", "") == s.bed.scope && labels.value("namespace", "") == kNamespace;
  };
  double new_leader_at = -1, firing_at = -1, delivered_at = -1;
  std::string new_leader;
  json delivered;
  wait_until(
      [&] {
        if (new_leader_at < 0) {
          new_leader = s.bed.leader();
          if (!new_leader.empty() && new_leader != old_leader) new_leader_at = seconds_since(killed);
        }
        if (firing_at < 0) {
          for (const auto& alert : s.prometheus->alerts()) {
            if (ours(alert.value("labels", json::object())) && alert.value("state", "") == "firing") {
              firing_at = seconds_since(killed);
            }
          }
        }
        for (const auto& alert : s.alertmanager->active_alerts()) {
          if (ours(alert.value("labels", json::object())) &&
              alert.value("status", json::object()).value("state", "") == "active") {
            delivered = alert;
            if (delivered_at < 0) delivered_at = seconds_since(killed);
          }
        }
        return delivered_at >= 0;
      },
      120s, 250ms);

  std::ostringstream summary;
  summary << "killed " << old_leader << " (Patroni and postmaster, SIGKILL) after waiting "
          << fixed(waited_for_history) << " s for history before the kill; new leader "
          << (new_leader_at < 0 ? "none" : new_leader) << " after " << fixed(new_leader_at)
          << " s; PatroniFailover firing in Prometheus after " << fixed(firing_at)
          << " s, active in Alertmanager after " << fixed(delivered_at) << " s";
  report(summary.str());
  INFO(summary.str() << "\nPrometheus alerts: " << s.prometheus->alerts().dump() << "\nAlertmanager log:\n"
                     << s.alertmanager->log_tail() << "\nPrometheus log:\n"
                     << s.prometheus->log_tail());
  CHECK(new_leader_at >= 0);
  CHECK(firing_at >= 0);
  REQUIRE(delivered_at >= 0);
  // What the on-call engineer reads: which cluster, what to do, where the runbook is.
  const json annotations = delivered.value("annotations", json::object());
  CHECK(delivered["labels"].value("severity", "") != "");
  CHECK_FALSE(annotations.value("summary", "").empty());
  CHECK(annotations.value("description", "").find(s.bed.scope) != std::string::npos);
  CHECK(annotations.value("runbook_url", "").find("PatroniFailover") != std::string::npos);

  // Panels that list firing alerts have something to show now.
  std::vector<std::string> still_empty;
  for (auto& c : deferred_to_failover()) {
    c.answer = s.prometheus->query(c.sent);
    if (!c.answer.ok || c.answer.samples == 0)
      still_empty.push_back(c.query->describe() + "\n      " + c.sent);
  }
  std::string empties;
  for (const auto& line : still_empty) empties += "\n  EMPTY while an alert fires: " + line;
  report(std::to_string(deferred_to_failover().size()) +
         " alert panels checked while PatroniFailover fires, " + std::to_string(still_empty.size()) +
         " empty" + empties);
  INFO(empties);
  CHECK(still_empty.empty());

  // Whole again for the tests that follow: the old leader rejoins as a replica.
  const auto repair = Clock::now();
  restored = true;
  REQUIRE_NOTHROW(s.bed.restore());
  REQUIRE_NOTHROW(s.bed.wait_until_whole(60s));
  report("testbed repaired in " + fixed(seconds_since(repair)) + " s; " + std::to_string(s.exporters.size()) +
         " exporters, pgbench, Prometheus and Alertmanager stop now; whole test " +
         fixed(seconds_since(s.started)) + " s");
}
