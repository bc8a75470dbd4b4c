#include "exporter/exporter_setup.hpp"

#include <spdlog/spdlog.h>

#include "core/source_errors.hpp"
#include "exporter/config_sections.hpp"
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
    auto found = std::find_if(switches.begin(), switches.end(),
                              [&name = name](const auto& s) { return s.first == name; });
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

std::string dump_effective_catalog(const Options& options) {
  return dump_catalog(effective_catalog(options));
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

// Everything of a PostgreSQL collector but its connection string.
PostgresCollectorConfig postgres_config(const Options& options, const Catalog& catalog) {
  PostgresCollectorConfig config;
  config.catalog = catalog;
  for (const auto& [name, enabled] : collector_switches(config.catalog, options)) {
    if (enabled) config.enabled_collectors.insert(name);
  }
  config.include_databases = options.postgres.include_databases;
  config.exclude_databases = options.postgres.exclude_databases;
  config.placeholders = {{"table_limit", options.postgres.table_limit},
                         {"statement_limit", options.postgres.statement_limit}};
  config.max_series_per_collector = static_cast<std::size_t>(options.postgres.max_series);
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
  return config;
}

CollectorPtr make_postgres_collector(const Options& options, PostgresCollectorConfig config) {
  config.dsn = options.postgres.dsn;
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

ExporterState build_state(const Options& options) {
  const Catalog catalog = effective_catalog(options);
  auto template_config = postgres_config(options, catalog);  // validates --collector.* too
  ProbeConfig probe;
  probe.auth_modules = load_auth_modules(options.config_file);
  probe.idle_timeout = options.probe.idle_timeout;
  probe.max_targets = static_cast<std::size_t>(options.probe.max_targets);
  probe.scrape_timeout = options.scrape_timeout;
  probe.postgres = template_config;

  std::vector<CollectorPtr> collectors;
  if (!options.postgres.dsn.empty()) collectors.push_back(make_postgres_collector(options, template_config));
  if (!options.patroni_url.empty()) {
    PatroniCollectorConfig config;
    config.url = options.patroni_url;
    collectors.push_back(std::make_shared<PatroniCollector>(config));
    spdlog::info("scraping Patroni at {}", redact_url(options.patroni_url));
  }
  if (!options.pgbouncer_dsn.empty()) collectors.push_back(make_pgbouncer_collector(options));
  if (collectors.empty() && probe.auth_modules.empty()) {
    throw UsageError(
        "no PostgreSQL connection configured: set --postgres.dsn, DATA_SOURCE_NAME, or DATA_SOURCE_URI with "
        "DATA_SOURCE_USER and DATA_SOURCE_PASS (or --pgbouncer.dsn / --patroni.url for those sources alone, "
        "or auth_modules in the config file for /probe alone)");
  }
  ExporterState state;
  state.options = options;
  state.orchestrator = std::make_shared<ScrapeOrchestrator>(collectors, PGSCOPE_VERSION);
  state.probes = std::make_shared<ProbeTargets>(std::move(probe));
  return state;
}

std::unique_ptr<Exporter> build_exporter(const Options& options, std::function<Options()> reread) {
  return std::make_unique<Exporter>(options, std::move(reread));
}

Exporter::Exporter(const Options& options, std::function<Options()> reread)
    : started_with(options),
      reread_(std::move(reread)),
      state_(std::make_shared<ExporterState>(build_state(options))),
      last_reload_success_(unix_now()) {}

std::shared_ptr<const ExporterState> Exporter::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void Exporter::shutdown() {
  auto current = state();
  current->orchestrator->shutdown();
  current->probes->shutdown();
}

std::string Exporter::reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mutex_);
  std::string problem;
  try {
    if (!reread_) throw UsageError("this exporter cannot re-read its options");
    const Options options = reread_();
    auto fresh = std::make_shared<ExporterState>(build_state(options));
    for (const auto& [changed, name] :
         {std::pair{options.listen_address != started_with.listen_address, "web.listen-address"},
          std::pair{options.telemetry_path != started_with.telemetry_path, "web.telemetry-path"},
          std::pair{options.log_level != started_with.log_level, "log.level"},
          std::pair{options.log_format != started_with.log_format, "log.format"},
          // The web config is read at start (its certificate files are
          // re-read when they change, see tls_server.hpp).
          std::pair{options.web_config_file != started_with.web_config_file, "web.config.file"},
          std::pair{options.web_unauthenticated_paths != started_with.web_unauthenticated_paths,
                    "web.unauthenticated-path"}}) {
      if (changed) spdlog::warn("reload: {} changed; it takes effect at the next restart", name);
    }
    std::shared_ptr<const ExporterState> old;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      old = std::move(state_);
      state_ = std::move(fresh);
      last_reload_ok_ = true;
      last_reload_success_ = unix_now();
    }
    spdlog::info("reload: configuration and queries reloaded");
  } catch (const std::exception& error) {
    problem = error.what();
    std::lock_guard<std::mutex> lock(mutex_);
    last_reload_ok_ = false;
  }
  if (!problem.empty()) spdlog::error("reload failed, the previous configuration keeps running: {}", problem);
  return problem;
}

HttpResponse Exporter::metrics(const HttpRequest& request) {
  auto current = state();
  const auto budget =
      scrape_budget(current->options.scrape_timeout, request.header("X-Prometheus-Scrape-Timeout-Seconds"));
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  const auto result = current->orchestrator->scrape(budget);
  MetricSink own;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    own.gauge("pgscope_exporter_config_last_reload_successful",
              "Whether the last reload (SIGHUP, POST /-/reload) worked; 1 before any.", {},
              last_reload_ok_ ? 1 : 0);
    own.gauge("pgscope_exporter_config_last_reload_success_timestamp_seconds",
              "When the configuration now running was loaded, in Unix time.", {}, last_reload_success_);
  }
  current->probes->describe(own);
  response.body = render_text(*result.collected);
  response.body += render_text(result.own);
  response.body += render_text(own.take());
  response.body += render_exposition_counters();
  return response;
}

HttpResponse Exporter::reload_request(const HttpRequest&) {
  HttpResponse response;
  const std::string problem = reload();
  if (problem.empty()) {
    response.body = "reloaded\n";
  } else {
    response.status = 500;
    response.body = "failed to reload config: " + one_line(problem) + "\n";
  }
  return response;
}

void Exporter::add_routes(HttpServer& server) {
  const auto& path = started_with.telemetry_path;
  server.route(path, [this](const HttpRequest& request) { return metrics(request); });
  server.route("/probe", [this](const HttpRequest& request) { return state()->probes->probe(request); });
  server.route(
      "/-/reload", [this](const HttpRequest& request) { return reload_request(request); }, "POST");
  server.route("/healthz", [](const HttpRequest&) {
    HttpResponse response;
    response.body = "ok\n";
    return response;
  });
  if (path != "/") {
    server.route("/", [path](const HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/html; charset=utf-8";
      response.body = landing_page_html(PGSCOPE_VERSION, path);
      return response;
    });
  }
}

}  // namespace pgscope
