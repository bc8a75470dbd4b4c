#include "postgres/postgres_collector.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/source_errors.hpp"
#include "postgres/row_mapper.hpp"

namespace pgscope {
namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* const kUpHelp = "Whether the last scrape could connect to PostgreSQL and log in (1) or not (0).";

std::vector<std::pair<std::string, std::string>> with_database(
    std::vector<std::pair<std::string, std::string>> params, const std::string& database) {
  params.erase(
      std::remove_if(params.begin(), params.end(), [](const auto& p) { return p.first == "dbname"; }),
      params.end());
  params.emplace_back("dbname", database);
  return params;
}

}  // namespace

PostgresCollector::PostgresCollector(PostgresCollectorConfig config) : config_(std::move(config)) {
  params_ = parse_conninfo(config_.dsn);
  bool has_application_name = false;
  for (const auto& [keyword, value] : params_) {
    if (keyword == "password") password_ = value;
    if (keyword == "application_name") has_application_name = true;
  }
  if (!has_application_name) params_.emplace_back("application_name", "pgscope-exporter");
  main_ = std::make_unique<PgConnection>(params_, config_.session);
  for (const auto& entry : config_.catalog.entries) {
    if (config_.enabled_collectors.count(entry.collector) != 0) active_entries_.push_back(&entry);
  }
}

PostgresCollector::~PostgresCollector() = default;

std::string PostgresCollector::scrub(std::string message) const {
  if (password_.empty()) return message;
  for (auto at = message.find(password_); at != std::string::npos; at = message.find(password_, at)) {
    message.replace(at, password_.size(), "xxxxx");
  }
  return message;
}

void PostgresCollector::note_state(const std::string& key, const std::string& error) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  auto& last = last_state_[key];
  if (last == error) return;
  if (error.empty()) {
    spdlog::info("postgres: {} works again", key);
  } else {
    spdlog::warn("postgres: {} failed: {}", key, error);
  }
  last = error;
}

void PostgresCollector::record_error(const PgError& error) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  auto message = one_line(scrub(error.what()));
  if (!last_error_ || last_error_->message != message) {
    spdlog::error("postgres: cannot scrape ({}): {}", to_string(error.kind()), message);
  }
  last_error_ = std::make_unique<LastError>(LastError{to_string(error.kind()), message, unix_now()});
}

void PostgresCollector::emit_last_error(MetricSink& sink) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (!last_error_) return;
  ::pgscope::emit_last_error(sink, name_, last_error_->kind, last_error_->message, last_error_->timestamp);
}

void PostgresCollector::describe_unavailable(MetricSink& sink) {
  sink.gauge("pg_up", kUpHelp, {}, 0);
  emit_last_error(sink);
}

bool PostgresCollector::wanted_database(const std::string& database) const {
  const auto& include = config_.include_databases;
  const auto& exclude = config_.exclude_databases;
  if (!include.empty() && std::find(include.begin(), include.end(), database) == include.end()) return false;
  return std::find(exclude.begin(), exclude.end(), database) == exclude.end();
}

PgConnection& PostgresCollector::connection_for(const std::string& database) {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  auto& slot = connections_[database];
  if (!slot) slot = std::make_unique<PgConnection>(with_database(params_, database), config_.session);
  return *slot;
}

std::vector<std::string> PostgresCollector::discover_databases(PgConnection& main, const Deadline& deadline) {
  auto result = main.query(
      "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname", deadline);
  std::vector<std::string> databases;
  for (int row = 0; row < result.rows(); ++row) databases.emplace_back(result.value(row, 0));
  return databases;
}

bool PostgresCollector::predicate_holds(const CatalogEntry& entry, PgConnection& connection,
                                        const Deadline& deadline) {
  auto result = connection.query(entry.predicate, deadline);
  if (result.rows() == 0 || result.columns() == 0 || result.is_null(0, 0)) return false;
  double value = 0;
  return parse_sample(result.value(0, 0), value) && value != 0;
}

std::size_t PostgresCollector::admit(const CatalogEntry& entry, MetricSink& rows, MetricSink& sink) {
  std::size_t dropped = 0;
  if (config_.max_series_per_collector > 0) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    auto& used = collector_series_[entry.collector];
    const std::size_t room =
        used >= config_.max_series_per_collector ? 0 : config_.max_series_per_collector - used;
    dropped = rows.truncate(room);
    used += rows.series();
  }
  sink.merge(std::move(rows));
  return dropped;
}

void PostgresCollector::run_entry(const CatalogEntry& entry, const QueryBranch& branch,
                                  PgConnection& connection, const std::string& database,
                                  const Deadline& deadline, MetricSink& sink, EntryOutcome& outcome) {
  const std::string key = "query " + entry.name + " in database \"" + database + "\"";
  const std::string cache_key = entry.name + '\x1f' + database;
  outcome.ok = false;
  if (entry.cache_seconds > 0) {
    MetricSink copy;
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      auto found = cache_.find(cache_key);
      if (found != cache_.end() && found->second.expires > Clock::now()) {
        copy = found->second.samples;
        outcome.cache_hit = true;
      }
    }
    if (outcome.cache_hit) {
      outcome.dropped = admit(entry, copy, sink);
      outcome.ok = true;
      return;
    }
  }
  try {
    connection.ensure_connected(deadline);
    const auto sql = expand_placeholders(entry, branch.sql, config_.placeholders);
    Deadline query_deadline = deadline;
    if (entry.timeout_seconds > 0) {
      auto own = Clock::now() + std::chrono::milliseconds(static_cast<long>(entry.timeout_seconds * 1000));
      query_deadline = Deadline(std::min(own, deadline.at()));
      connection.query(
          "SET statement_timeout = " + std::to_string(static_cast<long>(entry.timeout_seconds * 1000)),
          deadline);
    }
    const bool wanted = entry.predicate.empty() || predicate_holds(entry, connection, query_deadline);
    std::unique_ptr<PgResult> result;
    if (wanted) result = std::make_unique<PgResult>(connection.query(sql, query_deadline));
    if (entry.timeout_seconds > 0) {
      connection.query("SET statement_timeout = " + std::to_string(config_.session.statement_timeout_ms),
                       deadline);
    }
    note_state(key, "");
    outcome.ok = true;
    if (!wanted) {
      spdlog::debug("postgres: {}: predicate is false, skipped", key);
      return;
    }
    outcome.executed = true;
    MetricSink rows;
    const int unreadable = map_rows(entry, *result, rows);
    if (unreadable > 0) spdlog::debug("postgres: {}: {} values are not numbers, skipped", key, unreadable);
    if (entry.max_series > 0) outcome.dropped = rows.truncate(entry.max_series);
    if (entry.cache_seconds > 0) {
      std::lock_guard<std::mutex> lock(state_mutex_);
      auto expires = Clock::now() + std::chrono::milliseconds(static_cast<long>(entry.cache_seconds * 1000));
      cache_[cache_key] = Cached{expires, rows};
    }
    outcome.dropped += admit(entry, rows, sink);
  } catch (const PgError& error) {
    note_state(key, std::string(to_string(error.kind())) + ": " + one_line(scrub(error.what())));
  } catch (const CatalogError& error) {
    note_state(key, error.what());
  }
}

void PostgresCollector::emit_query_metrics(const std::vector<std::vector<EntryOutcome>>& outcomes,
                                           MetricSink& sink) {
  std::map<std::string, EntryOutcome> by_entry;  // summed over databases
  for (const auto& list : outcomes) {
    for (const auto& outcome : list) {
      auto [it, first] = by_entry.emplace(outcome.entry->name, outcome);
      if (first) continue;
      it->second.seconds += outcome.seconds;
      it->second.ok = it->second.ok && outcome.ok;
      it->second.dropped += outcome.dropped;
    }
  }
  const auto success = sink.family("pgscope_exporter_query_success",
                                   "Whether a catalog query succeeded in every database it ran in, in the "
                                   "last scrape (a result from the cache counts as success).",
                                   prometheus::MetricType::Gauge);
  const auto duration = sink.family("pgscope_exporter_query_duration_seconds",
                                    "Time a catalog query took in the last scrape, summed over databases.",
                                    prometheus::MetricType::Gauge);
  const auto dropped = sink.family("pgscope_exporter_query_series_dropped",
                                   "Series of a catalog query left out of the last scrape by its max_series "
                                   "or its collector's --postgres.max-series cap.",
                                   prometheus::MetricType::Gauge);
  const auto executions =
      sink.family("pgscope_exporter_query_executions_total",
                  "Times a catalog query's SQL ran, over all databases, since the exporter started.",
                  prometheus::MetricType::Counter);
  const auto hits = sink.family("pgscope_exporter_query_cache_hits_total",
                                "Times a catalog query was answered from its cache (cache_seconds) instead "
                                "of running, since the exporter started.",
                                prometheus::MetricType::Counter);
  std::lock_guard<std::mutex> lock(state_mutex_);
  for (const auto& list : outcomes) {
    for (const auto& outcome : list) {
      if (outcome.executed) executions_[outcome.entry->name] += 1;
      if (outcome.cache_hit) cache_hits_[outcome.entry->name] += 1;
    }
  }
  for (const auto& [name, total] : by_entry) {
    const LabelPairs labels = {{"query", name}};
    sink.add(success, labels, total.ok ? 1 : 0);
    sink.add(duration, labels, total.seconds);
    sink.add(dropped, labels, static_cast<double>(total.dropped));
    sink.add(executions, labels, executions_[name]);
    sink.add(hits, labels, cache_hits_[name]);
  }
}

void PostgresCollector::check_named_databases(const std::vector<std::string>& existing) {
  for (const CatalogEntry* entry : active_entries_) {
    for (const auto& target : entry->target_databases) {
      if (target == "*") continue;
      const bool found = std::find(existing.begin(), existing.end(), target) != existing.end();
      note_state("database \"" + target + "\" of query " + entry->name,
                 found ? "" : "no such database accepting connections");
    }
  }
}

void PostgresCollector::run_database(const std::string& database, bool with_cluster_entries,
                                     const Server& server, const Deadline& deadline, MetricSink& sink,
                                     std::vector<EntryOutcome>& outcomes) {
  const bool wanted = wanted_database(database);
  PgConnection& connection = database == server.current_database ? *main_ : connection_for(database);
  // One connection attempt per database and scrape: a database that refuses
  // us (CONNECT revoked, too many connections) fails its entries at once
  // rather than being dialled again for each of them, and is logged once.
  std::string unreachable;
  try {
    connection.ensure_connected(deadline);
    note_state("connection to database \"" + database + "\"", "");
  } catch (const PgError& error) {
    unreachable = one_line(scrub(error.what()));
    note_state("connection to database \"" + database + "\"", unreachable);
  }
  for (const CatalogEntry* entry : active_entries_) {
    if (entry->per_database() ? !entry->runs_in(database, wanted) : !with_cluster_entries) continue;
    if ((entry->primary_only && server.in_recovery) || (entry->replica_only && !server.in_recovery)) continue;
    const QueryBranch* branch = entry->branch_for(server.version);
    if (branch == nullptr) continue;
    const auto start = Clock::now();
    EntryOutcome outcome;
    outcome.entry = entry;
    if (!unreachable.empty()) {
      outcome.ok = false;
    } else if (deadline.expired()) {
      outcome.ok = false;
      note_state("query " + entry->name + " in database \"" + database + "\"",
                 "scrape deadline reached first");
    } else {
      run_entry(*entry, *branch, connection, database, deadline, sink, outcome);
    }
    outcome.seconds = seconds_since(start);
    outcomes.push_back(outcome);
  }
}

bool PostgresCollector::collect(const Deadline& deadline, MetricSink& sink,
                                std::vector<CollectorStatus>& parts) {
  Server server;
  std::vector<std::string> databases;
  try {
    main_->ensure_connected(deadline);
    auto info = main_->query(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
        "pg_is_in_recovery(), current_database()",
        deadline);
    server.version = std::atoi(info.value(0, 0));
    server.version_text = info.value(0, 1);
    server.in_recovery = info.value(0, 2)[0] == 't';
    server.current_database = info.value(0, 3);
    const bool per_database = std::any_of(active_entries_.begin(), active_entries_.end(),
                                          [](const CatalogEntry* e) { return e->per_database(); });
    if (per_database) {
      // Discovery failing (pg_database locked by DDL, say) is not the server
      // being down: keep the databases found last time and say why.
      try {
        known_databases_ = discover_databases(*main_, deadline);
        note_state("database discovery", "");
        check_named_databases(known_databases_);
      } catch (const PgError& error) {
        note_state("database discovery", one_line(scrub(error.what())));
      }
      for (const auto& database : known_databases_) {
        const bool wanted = wanted_database(database);
        if (std::any_of(active_entries_.begin(), active_entries_.end(),
                        [&](const CatalogEntry* e) { return e->runs_in(database, wanted); })) {
          databases.push_back(database);
        }
      }
    }
  } catch (const PgError& error) {
    server.version = 0;
    record_error(error);
    sink.gauge("pg_up", kUpHelp, {}, 0);
  }

  bool up = server.version != 0;
  if (up) {
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      collector_series_.clear();
    }
    if (std::find(databases.begin(), databases.end(), server.current_database) == databases.end()) {
      databases.insert(databases.begin(), server.current_database);
    }
    std::vector<MetricSink> sinks(databases.size());
    std::vector<std::vector<EntryOutcome>> outcomes(databases.size());
    const std::size_t width = std::max(1, config_.max_parallel_databases);
    for (std::size_t first = 0; first < databases.size(); first += width) {
      std::vector<std::thread> workers;
      for (std::size_t i = first; i < std::min(databases.size(), first + width); ++i) {
        workers.emplace_back([&, i] {
          run_database(databases[i], databases[i] == server.current_database, server, deadline, sinks[i],
                       outcomes[i]);
        });
      }
      for (auto& worker : workers) worker.join();
    }
    for (auto& part : sinks) sink.merge(std::move(part));

    std::map<std::string, CollectorStatus> by_collector;
    for (const auto& list : outcomes) {
      for (const auto& outcome : list) {
        auto& status = by_collector[outcome.entry->collector];
        if (status.name.empty()) status = {outcome.entry->collector, 0, true};
        status.duration_seconds += outcome.seconds;
        status.success = status.success && outcome.ok;
      }
    }
    for (auto& [name, status] : by_collector) parts.push_back(status);
    emit_query_metrics(outcomes, sink);

    // Forget connections to databases that were dropped or filtered out.
    std::lock_guard<std::mutex> lock(connections_mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (std::find(databases.begin(), databases.end(), it->first) == databases.end()) {
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    sink.gauge("pg_up", kUpHelp, {}, 1);
  }

  emit_last_error(sink);
  return up;
}

}  // namespace pgscope
