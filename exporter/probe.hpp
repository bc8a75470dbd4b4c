#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "exporter/config_sections.hpp"
#include "exporter/http_server.hpp"
#include "exporter/scrape.hpp"
#include "postgres/postgres_collector.hpp"

namespace pgscope {

struct ProbeConfig {
  // Everything a PostgreSQL target runs but its connection string.
  PostgresCollectorConfig postgres;
  AuthModules auth_modules;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::size_t max_targets = 100;
  std::chrono::milliseconds scrape_timeout{10000};
};

// Multi-target mode, as postgres_exporter's /probe: one exporter scrapes
// many servers, each named in the request (target=host:port/db, plus
// auth_module=NAME for credentials from the config file; source=pgbouncer
// for a pgBouncer admin console). Each target keeps its own collector and
// connections between probes, so probes that arrive together share one
// collection and a target is never dialled more than once per database; a
// target not probed for idle_timeout is closed, and at most max_targets are
// held (the least recently probed goes first).
class ProbeTargets {
 public:
  explicit ProbeTargets(ProbeConfig config);
  ~ProbeTargets();
  ProbeTargets(const ProbeTargets&) = delete;
  ProbeTargets& operator=(const ProbeTargets&) = delete;

  HttpResponse probe(const HttpRequest& request);
  // Lets probes waiting for a frozen target answer now (SIGTERM).
  void shutdown();
  // pgscope_exporter_probe_targets and the eviction counters, for /metrics.
  void describe(MetricSink& sink) const;

 private:
  struct Target {
    std::shared_ptr<ScrapeOrchestrator> orchestrator;
    Clock::time_point last_used;
    std::string shown;  // the target as logged: no password
  };
  std::shared_ptr<ScrapeOrchestrator> target_for(const std::string& key, const std::string& dsn,
                                                 bool pgbouncer, const std::string& shown);
  void close_idle();

  ProbeConfig config_;
  mutable std::mutex mutex_;
  std::map<std::string, Target> targets_;
  std::uint64_t closed_idle_ = 0;
  std::uint64_t closed_full_ = 0;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread janitor_;
};

}  // namespace pgscope
