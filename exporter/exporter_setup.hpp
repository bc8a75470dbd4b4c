#pragma once

#include <memory>
#include <string>

#include "exporter/http_server.hpp"
#include "exporter/options.hpp"
#include "exporter/scrape.hpp"
#include "postgres/catalog.hpp"

namespace pgscope {

// The assembled exporter: its collectors, the scrape orchestrator and the
// HTTP handlers, built from the parsed options.
class Exporter {
 public:
  explicit Exporter(const Options& options, std::unique_ptr<ScrapeOrchestrator> orchestrator);
  void add_routes(HttpServer& server);
  void shutdown() { orchestrator_->shutdown(); }

 private:
  HttpResponse metrics(const HttpRequest& request);
  Options options_;
  std::unique_ptr<ScrapeOrchestrator> orchestrator_;
};

// Validates collector names against the catalog and builds the exporter.
// Throws UsageError with one line for every mistake in the options.
std::unique_ptr<Exporter> build_exporter(const Options& options);

// The catalog this configuration runs, as YAML (--dump-catalog).
std::string dump_effective_catalog(const Options& options);

// Every collector name with whether it is on under these options.
std::vector<std::pair<std::string, bool>> collector_switches(const Catalog& catalog, const Options& options);

}  // namespace pgscope
