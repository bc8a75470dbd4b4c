#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "exporter/http_server.hpp"
#include "exporter/options.hpp"
#include "exporter/probe.hpp"
#include "exporter/scrape.hpp"
#include "postgres/catalog.hpp"

namespace pgscope {

// What one configuration runs: built whole from the options, replaced whole
// by a reload, so a scrape sees either the old or the new one.
struct ExporterState {
  Options options;
  std::shared_ptr<ScrapeOrchestrator> orchestrator;
  std::shared_ptr<ProbeTargets> probes;
};

// The assembled exporter: its collectors, the scrape orchestrator, /probe
// targets and the HTTP handlers, built from the parsed options.
class Exporter {
 public:
  // `reread` parses flags, environment and config file again, for reloads.
  Exporter(const Options& options, std::function<Options()> reread);
  void add_routes(HttpServer& server);
  // SIGHUP and POST /-/reload: re-reads the config and query files and swaps
  // them in. On a mistake what runs stays and the reason is returned; ""
  // when the new configuration runs.
  std::string reload();
  void shutdown();

 private:
  std::shared_ptr<const ExporterState> state() const;
  HttpResponse metrics(const HttpRequest& request);
  HttpResponse reload_request(const HttpRequest& request);

  const Options started_with;  // what a reload cannot change (listen address, path)
  std::function<Options()> reread_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ExporterState> state_;
  std::mutex reload_mutex_;  // one reload at a time
  bool last_reload_ok_ = true;
  double last_reload_success_ = 0;
};

// Validates the options and query files and builds what they run. Throws
// UsageError with one line for every mistake in the options.
ExporterState build_state(const Options& options);
std::unique_ptr<Exporter> build_exporter(const Options& options, std::function<Options()> reread = {});

// The catalog this configuration runs, as YAML (--dump-catalog).
std::string dump_effective_catalog(const Options& options);

// Every collector name with whether it is on under these options.
std::vector<std::pair<std::string, bool>> collector_switches(const Catalog& catalog, const Options& options);

}  // namespace pgscope
