// pgBouncer collector: reads the admin console (the virtual `pgbouncer`
// database) with SHOW VERSION, LISTS, CONFIG, DATABASES, POOLS and STATS over
// one long-lived connection. Every family is named as prometheus-community's
// pgbouncer_exporter names it up to v0.11 (pgbouncer_metrics.cpp lists them).
//
// pgbouncer_exporter v0.12 reads SHOW STATS_TOTALS instead of SHOW STATS and
// so renamed every pgbouncer_stats_* family to pgbouncer_stats_totals_*, with
// the same suffix, labels ({database}), type and unit:
//   pgbouncer_stats_queries_pooled_total
//     -> pgbouncer_stats_totals_queries_pooled_total
//   pgbouncer_stats_queries_duration_seconds_total
//     -> pgbouncer_stats_totals_queries_duration_seconds_total
//   pgbouncer_stats_sql_transactions_pooled_total
//     -> pgbouncer_stats_totals_sql_transactions_pooled_total
//   pgbouncer_stats_server_in_transaction_seconds_total
//     -> pgbouncer_stats_totals_server_in_transaction_seconds_total
//   pgbouncer_stats_client_wait_seconds_total
//     -> pgbouncer_stats_totals_client_wait_seconds_total
//   pgbouncer_stats_received_bytes_total -> pgbouncer_stats_totals_received_bytes_total
//   pgbouncer_stats_sent_bytes_total -> pgbouncer_stats_totals_sent_bytes_total
//   pgbouncer_stats_queries_total -> pgbouncer_stats_totals_queries_total
//   pgbouncer_stats_server_assignments_total -> pgbouncer_stats_totals_server_assignments_total
//   pgbouncer_stats_client_parses_total -> pgbouncer_stats_totals_client_parses_total
//   pgbouncer_stats_server_parses_total -> pgbouncer_stats_totals_server_parses_total
//   pgbouncer_stats_binds_total -> pgbouncer_stats_totals_binds_total
// We emit the v0.11 names; a v0.12 query maps back with a relabelling rule
// (metric_relabel_configs: source_labels [__name__], regex
// "pgbouncer_stats_(.*)", target_label __name__, replacement
// "pgbouncer_stats_totals_$1") or by editing the query. Every other family
// (pools, databases, lists, config, version, up) is the same in both.

#include "pgbouncer/pgbouncer_collector.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "core/source_errors.hpp"
#include "pgbouncer/pgbouncer_metrics.hpp"
#include "postgres/connection.hpp"

namespace pgscope {
namespace {

const char* const kUpHelp =
    "Whether the last scrape could connect to pgBouncer's admin console and read it (1) or not (0).";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// pgBouncer refuses a user that is in neither admin_users nor stats_users
// with "FATAL: not allowed" at login: that is a matter of credentials, which
// libpq's generic classification calls a connection failure.
PgErrorKind kind_of(const PgError& error) {
  if (error.kind() == PgErrorKind::Connection &&
      std::string(error.what()).find("not allowed") != std::string::npos) {
    return PgErrorKind::Authentication;
  }
  return error.kind();
}

}  // namespace

struct PgBouncerCollector::State {
  std::string password;
  std::unique_ptr<PgConnection> connection;

  std::mutex mutex;  // describe_unavailable() reads the last error while collect() runs
  struct LastError {
    std::string kind;
    std::string message;
    double timestamp = 0;
  };
  std::unique_ptr<LastError> last_error;
  bool failing = false;                           // the source, as last logged
  std::map<std::string, std::string> part_state;  // part -> its error as last logged ("" when fine)

  void emit_last_error(const std::string& source, MetricSink& sink) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!last_error) return;
    ::pgscope::emit_last_error(sink, source, last_error->kind, last_error->message, last_error->timestamp);
  }

  std::string scrub(std::string message) const {
    if (password.empty()) return message;
    for (auto at = message.find(password); at != std::string::npos; at = message.find(password, at)) {
      message.replace(at, password.size(), "xxxxx");
    }
    return message;
  }
};

PgBouncerCollector::PgBouncerCollector(PgBouncerCollectorConfig config)
    : config_(std::move(config)), state_(std::make_unique<State>()) {
  auto params = parse_conninfo(config_.dsn);
  bool has_application_name = false;
  for (const auto& [keyword, value] : params) {
    if (keyword == "password") state_->password = value;
    if (keyword == "application_name") has_application_name = true;
  }
  // pgBouncer tracks application_name, so SHOW CLIENTS tells us apart.
  if (!has_application_name) params.emplace_back("application_name", "pgscope-exporter");
  SessionSettings session;
  session.configure_session = false;  // the admin console takes SET as a change of its own settings
  state_->connection = std::make_unique<PgConnection>(std::move(params), session);
}

PgBouncerCollector::~PgBouncerCollector() = default;

void PgBouncerCollector::describe_unavailable(MetricSink& sink) {
  sink.gauge("pgbouncer_up", kUpHelp, {}, 0);
  state_->emit_last_error(name_, sink);
}

bool PgBouncerCollector::collect(const Deadline& deadline, MetricSink& sink,
                                 std::vector<CollectorStatus>& parts) {
  State& state = *state_;
  PgConnection& connection = *state.connection;
  // A connection kept from an earlier scrape may have been cut (pgBouncer
  // restarted, RECONNECT, client_idle_timeout) without libpq noticing yet:
  // such a failure earns one fresh connection before pgBouncer counts as down.
  bool may_redial = connection.connected();
  auto show = [&](const char* command) {
    for (;;) {
      try {
        connection.ensure_connected(deadline);
        auto result = connection.query(command, deadline);
        may_redial = false;
        return result;
      } catch (const PgError& error) {
        if (!may_redial || error.kind() != PgErrorKind::Connection) throw;
        may_redial = false;
        connection.close();
      }
    }
  };
  auto note_part = [&](const std::string& part, const std::string& error) {
    std::lock_guard<std::mutex> lock(state.mutex);
    auto& last = state.part_state[part];
    if (last == error) return;
    if (error.empty()) {
      spdlog::info("pgbouncer: {} works again", part);
    } else {
      spdlog::warn("pgbouncer: {} failed: {}", part, error);
    }
    last = error;
  };

  // Samples go to a sink of our own and reach the scrape only when pgBouncer
  // answered: a half-read console must not look like a complete one.
  MetricSink own;
  std::vector<CollectorStatus> outcomes;
  std::unique_ptr<PgError> fatal;
  std::string last_query_error;
  auto run = [&](const char* part, const char* command, auto&& map) {
    if (fatal) return;
    const auto start = Clock::now();
    try {
      auto result = show(command);
      const int unreadable = map(result, own);
      if (unreadable > 0) {
        spdlog::debug("pgbouncer: {}: {} values are not numbers, skipped", part, unreadable);
      }
      note_part(part, "");
      outcomes.push_back({part, seconds_since(start), true});
    } catch (const PgError& error) {
      if (error.kind() != PgErrorKind::Query) {
        // The console is unreachable or too slow: the remaining commands
        // would fail the same way, so stop here.
        fatal = std::make_unique<PgError>(kind_of(error), error.what());
        return;
      }
      // One command refused (an older pgBouncer without it, a stats user
      // denied it): that part fails, the others still count.
      last_query_error = std::string(command) + ": " + one_line(state.scrub(error.what()));
      note_part(part, last_query_error);
      outcomes.push_back({part, seconds_since(start), false});
    }
  };

  run("pgbouncer_version", "SHOW VERSION", [](const PgResult& result, MetricSink& out) {
    map_version(result, out);
    return 0;
  });
  for (const auto& table : pgbouncer_keyed_tables()) {
    run(table.part, table.command,
        [&table](const PgResult& result, MetricSink& out) { return map_keyed_table(table, result, out); });
  }
  for (const auto& table : pgbouncer_show_tables()) {
    run(table.part, table.command,
        [&table](const PgResult& result, MetricSink& out) { return map_show_table(table, result, out); });
  }

  // Every command refused: nothing was read, which is a failed scrape too.
  const bool all_refused =
      !fatal && std::none_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.success; });
  if (all_refused) fatal = std::make_unique<PgError>(PgErrorKind::Query, last_query_error);

  {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (fatal) {
      const std::string message = one_line(state.scrub(fatal->what()));
      const std::string kind = to_string(fatal->kind());
      if (!state.failing || !state.last_error || state.last_error->message != message ||
          state.last_error->kind != kind) {
        spdlog::error("pgbouncer: cannot scrape ({}): {}", kind, message);
      }
      state.failing = true;
      state.last_error = std::make_unique<State::LastError>(State::LastError{kind, message, unix_now()});
    } else if (state.failing) {
      spdlog::info("pgbouncer: scraping works again");
      state.failing = false;
    }
  }

  if (fatal) {
    describe_unavailable(sink);
    return false;
  }
  sink.merge(std::move(own));
  sink.gauge("pgbouncer_up", kUpHelp, {}, 1);
  for (auto& outcome : outcomes) parts.push_back(std::move(outcome));
  state.emit_last_error(name_, sink);
  return true;
}

}  // namespace pgscope
