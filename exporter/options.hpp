#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgscope {

// A mistake in flags, environment or config file. The message is one line:
// what is wrong, where (flag, variable, or file:line), and what to do. main()
// prints it and exits with status 2. Text pasted in from the input (a YAML
// parser's message quoting the offending character, a flag name) may hold
// line breaks or other control characters: they are written as \xHH, so the
// message stays one line and a log or terminal shows it as it was.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message);
};

struct PostgresOptions {
  std::string dsn;                             // resolved, see dsn.hpp; may hold a password
  std::vector<std::string> include_databases;  // empty: all
  std::vector<std::string> exclude_databases;
  int table_limit = 200;      // top-N tables per database by size
  int statement_limit = 100;  // top-N pg_stat_statements entries
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds lock_timeout{1000};
  // Custom query files (postgres_exporter's --extend.query-path), applied
  // over the built-in catalog in order; then the config file's queries:.
  std::vector<std::string> query_files;
  int max_series = 200000;  // per catalog collector and scrape
};

// Multi-target mode (/probe?target=...).
struct ProbeOptions {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};  // close a target's connections after
  int max_targets = 100;                                            // targets held at once
};

struct Options {
  std::string listen_address = ":9187";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;  // exporter-toolkit web config: TLS, basic auth, headers (web_config.hpp)
  std::vector<std::string> web_unauthenticated_paths;  // exempt from basic auth (--web.unauthenticated-path)
  std::chrono::milliseconds scrape_timeout{10000};
  std::string config_file;
  std::string log_level = "info";     // debug, info, warn, error
  std::string log_format = "logfmt";  // logfmt, json
  // --collector.NAME / --no-collector.NAME, from flags, env or config file.
  std::map<std::string, bool> collectors;
  PostgresOptions postgres;
  ProbeOptions probe;
  std::string patroni_url;    // Patroni REST API; empty: no Patroni collector
  std::string pgbouncer_dsn;  // pgBouncer admin console; empty: no pgBouncer collector (may hold a password)
  bool show_version = false;
  bool show_help = false;
  bool dump_catalog = false;
  bool dump_metrics_reference = false;  // --dump-metrics-reference: docs/metrics.md
  // Things worth a log line once logging is set up, e.g. an unknown
  // PG_EXPORTER_* variable (the environment is shared, so not an error).
  std::vector<std::string> warnings;
};

// Where a setting came from; the precedence is flag > environment > config
// file > default.
using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Parses argv, the environment (PG_EXPORTER_<FLAG> for every flag, plus the
// DATA_SOURCE_* variables) and --config.file. Throws UsageError.
Options parse_options(int argc, const char* const* argv, const Environment& env);

std::string help_text();

}  // namespace pgscope
