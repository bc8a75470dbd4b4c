#include "exporter/exporter_setup.hpp"

#include <spdlog/spdlog.h>

#include "exporter/dsn.hpp"
#include "exporter/exposition.hpp"
#include "exporter/landing_page.hpp"
#include "patroni/patroni_collector.hpp"
#include "pgbouncer/pgbouncer_collector.hpp"
#include "postgres/postgres_collector.hpp"

namespace pgscope {

std::vector<std::pair<std::string, bool>> collector_switches(const Catalog& catalog, const Options& options) {
  auto switches = catalog.collectors();
  for (const auto& [name, enabled] : options.collectors) {
    auto found =
        std::find_if(switches.begin(), switches.end(), [&](const auto& s) { return s.first == name; });
    if (found == switches.end()) {
      std::string known;
      for (const auto& s : switches) known += (known.empty() ? "" : ", ") + s.first;
      throw UsageError("unknown collector \"" + name + "\" in --collector." + name + " (known: " + known +
                       ")");
    }
    found->second = enabled;
  }
  return switches;
}

namespace {

Catalog load_catalog() {
  try {
    return builtin_catalog();
  } catch (const CatalogError& error) {
    // The built-in catalog is compiled in; a mistake there is a bug of ours.
    throw std::logic_error(std::string("built-in catalog: ") + error.what());
  }
}

}  // namespace

std::string dump_effective_catalog(const Options& options) {
  (void)options;
  return dump_catalog(load_catalog());
}

namespace {

// http://user:password@host:8008 -> http://xxxxx@host:8008, for the log.
std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos || (slash != std::string::npos && slash < at)) {
    return url;
  }
  return url.substr(0, scheme + 3) + "xxxxx" + url.substr(at);
}

CollectorPtr make_postgres_collector(const Options& options) {
  PostgresCollectorConfig config;
  config.dsn = options.postgres.dsn;
  config.catalog = load_catalog();
  for (const auto& [name, enabled] : collector_switches(config.catalog, options)) {
    if (enabled) config.enabled_collectors.insert(name);
  }
  config.include_databases = options.postgres.include_databases;
  config.exclude_databases = options.postgres.exclude_databases;
  config.placeholders = {{"table_limit", options.postgres.table_limit},
                         {"statement_limit", options.postgres.statement_limit}};
  // PostgreSQL takes at most INT_MAX ms, and idle_in_transaction_session_timeout
  // is set to twice the statement timeout.
  constexpr long kMaxTimeoutMs = 24L * 3600 * 1000;
  if (options.postgres.statement_timeout.count() > kMaxTimeoutMs) {
    throw UsageError("--postgres.statement-timeout: at most 24h (a scrape never needs more)");
  }
  if (options.postgres.lock_timeout.count() > kMaxTimeoutMs) {
    throw UsageError("--postgres.lock-timeout: at most 24h (a scrape never needs more)");
  }
  config.session.statement_timeout_ms = static_cast<int>(options.postgres.statement_timeout.count());
  config.session.lock_timeout_ms = static_cast<int>(options.postgres.lock_timeout.count());
  try {
    auto collector = std::make_shared<PostgresCollector>(std::move(config));
    spdlog::info("scraping PostgreSQL at {}", redact_dsn(options.postgres.dsn));
    return collector;
  } catch (const PgError& error) {
    throw UsageError("--postgres.dsn: " + scrub_secret(error.what(), options.postgres.dsn));
  }
}

CollectorPtr make_pgbouncer_collector(const Options& options) {
  try {
    parse_conninfo(options.pgbouncer_dsn);
  } catch (const PgError& error) {
    throw UsageError("--pgbouncer.dsn: " + scrub_secret(error.what(), options.pgbouncer_dsn));
  }
  spdlog::info("scraping pgBouncer at {}", redact_dsn(options.pgbouncer_dsn));
  return std::make_shared<PgBouncerCollector>(PgBouncerCollectorConfig{options.pgbouncer_dsn});
}

}  // namespace

std::unique_ptr<Exporter> build_exporter(const Options& options) {
  if (!options.web_config_file.empty()) {
    // Serving plain HTTP to someone who asked for TLS or authentication would
    // expose metrics silently: refuse until web security is implemented.
    throw UsageError(
        "--web.config.file " + options.web_config_file +
        ": TLS and basic authentication are not supported by this version yet; remove the flag to "
        "serve plain HTTP");
  }
  const bool other_sources = !options.patroni_url.empty() || !options.pgbouncer_dsn.empty();
  if (options.postgres.dsn.empty() && !other_sources) {
    throw UsageError(
        "no PostgreSQL connection configured: set --postgres.dsn, DATA_SOURCE_NAME, or DATA_SOURCE_URI with "
        "DATA_SOURCE_USER and DATA_SOURCE_PASS (or --pgbouncer.dsn / --patroni.url for those sources alone)");
  }
  std::vector<CollectorPtr> collectors;
  if (!options.postgres.dsn.empty()) {
    collectors.push_back(make_postgres_collector(options));
  } else {
    // Catalog switches are still validated, so a typo is not silently ignored.
    collector_switches(load_catalog(), options);
  }
  if (!options.patroni_url.empty()) {
    PatroniCollectorConfig config;
    config.url = options.patroni_url;
    collectors.push_back(std::make_shared<PatroniCollector>(config));
    spdlog::info("scraping Patroni at {}", redact_url(options.patroni_url));
  }
  if (!options.pgbouncer_dsn.empty()) collectors.push_back(make_pgbouncer_collector(options));
  return std::make_unique<Exporter>(options,
                                    std::make_unique<ScrapeOrchestrator>(collectors, PGSCOPE_VERSION));
}

Exporter::Exporter(const Options& options, std::unique_ptr<ScrapeOrchestrator> orchestrator)
    : options_(options), orchestrator_(std::move(orchestrator)) {}

HttpResponse Exporter::metrics(const HttpRequest& request) {
  const auto budget =
      scrape_budget(options_.scrape_timeout, request.header("X-Prometheus-Scrape-Timeout-Seconds"));
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  const auto result = orchestrator_->scrape(budget);
  response.body = render_text(*result.collected);
  response.body += render_text(result.own);
  return response;
}

void Exporter::add_routes(HttpServer& server) {
  server.route(options_.telemetry_path, [this](const HttpRequest& request) { return metrics(request); });
  server.route("/healthz", [](const HttpRequest&) {
    HttpResponse response;
    response.body = "ok\n";
    return response;
  });
  if (options_.telemetry_path != "/") {
    server.route("/", [this](const HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/html; charset=utf-8";
      response.body = landing_page_html(PGSCOPE_VERSION, options_.telemetry_path);
      return response;
    });
  }
}

}  // namespace pgscope
