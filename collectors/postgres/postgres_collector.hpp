#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/collector.hpp"
#include "postgres/catalog.hpp"
#include "postgres/connection.hpp"

namespace pgscope {

struct PostgresCollectorConfig {
  std::string dsn;  // keyword/value or URI; may hold a password
  Catalog catalog;
  std::set<std::string> enabled_collectors;    // catalog collector names
  std::vector<std::string> include_databases;  // empty: all
  std::vector<std::string> exclude_databases;
  std::map<std::string, long> placeholders;  // {{table_limit}}, {{statement_limit}}
  SessionSettings session;
  int max_parallel_databases = 4;
  // At most this many series per catalog collector (stat_user_tables, ...)
  // and scrape; what a query would add beyond it is dropped and counted in
  // pgscope_exporter_query_series_dropped. 0: no cap.
  std::size_t max_series_per_collector = 0;
};

// Runs the query catalog against one PostgreSQL server: cluster-wide entries
// once, per-database entries in every database it discovers, each database
// over one long-lived connection. Emits pg_up and the last error; each
// catalog collector (stat_database, locks, ...) reports its own status.
class PostgresCollector : public Collector {
 public:
  explicit PostgresCollector(PostgresCollectorConfig config);
  ~PostgresCollector() override;
  const std::string& name() const override { return name_; }
  bool collect(const Deadline& deadline, MetricSink& sink, std::vector<CollectorStatus>& parts) override;
  void describe_unavailable(MetricSink& sink) override;

 private:
  struct Server {
    int version = 0;
    std::string version_text;
    bool in_recovery = false;
    std::string current_database;
  };
  // What one entry did in one database during one scrape.
  struct EntryOutcome {
    const CatalogEntry* entry = nullptr;
    double seconds = 0;
    bool ok = true;
    bool executed = false;  // the SQL ran (not a cache hit, not skipped by its predicate)
    bool cache_hit = false;
    std::size_t dropped = 0;  // series left out by the caps
  };
  struct Cached {
    Clock::time_point expires;
    MetricSink samples;
  };

  PgConnection& connection_for(const std::string& database);
  std::vector<std::string> discover_databases(PgConnection& main, const Deadline& deadline);
  bool wanted_database(const std::string& database) const;
  void run_database(const std::string& database, bool with_cluster_entries, const Server& server,
                    const Deadline& deadline, MetricSink& sink, std::vector<EntryOutcome>& outcomes);
  void run_entry(const CatalogEntry& entry, const QueryBranch& branch, PgConnection& connection,
                 const std::string& database, const Deadline& deadline, MetricSink& sink,
                 EntryOutcome& outcome);
  bool predicate_holds(const CatalogEntry& entry, PgConnection& connection, const Deadline& deadline);
  // Moves `rows` into `sink`, within what the entry's collector may still
  // add in this scrape; returns the number of series left out.
  std::size_t admit(const CatalogEntry& entry, MetricSink& rows, MetricSink& sink);
  void emit_query_metrics(const std::vector<std::vector<EntryOutcome>>& outcomes, MetricSink& sink);
  void check_named_databases(const std::vector<std::string>& existing);
  void note_state(const std::string& key, const std::string& error);
  void record_error(const PgError& error);
  void emit_last_error(MetricSink& sink);
  std::string scrub(std::string message) const;

  const std::string name_ = "postgres";
  PostgresCollectorConfig config_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string password_;
  std::vector<const CatalogEntry*> active_entries_;

  std::mutex connections_mutex_;
  std::map<std::string, std::unique_ptr<PgConnection>> connections_;
  std::unique_ptr<PgConnection> main_;
  std::vector<std::string> known_databases_;  // from the last successful discovery

  std::mutex state_mutex_;  // guards the members below, shared by database workers
  std::map<std::string, Cached> cache_;
  std::map<std::string, std::string> last_state_;
  std::map<std::string, std::size_t> collector_series_;  // this scrape's series per catalog collector
  std::map<std::string, double> executions_;             // per entry, since start
  std::map<std::string, double> cache_hits_;
  struct LastError {
    std::string kind;
    std::string message;
    double timestamp = 0;
  };
  std::unique_ptr<LastError> last_error_;
};

}  // namespace pgscope
