#include "exporter/probe.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "exporter/dsn.hpp"
#include "exporter/exposition.hpp"
#include "pgbouncer/pgbouncer_collector.hpp"

namespace pgscope {
namespace {

HttpResponse bad_request(const std::string& why) {
  HttpResponse response;
  response.status = 400;
  response.body = why + "\n";
  return response;
}

std::string param(const HttpRequest& request, const std::string& name) {
  auto found = request.params.find(name);
  return found == request.params.end() ? std::string() : found->second;
}

}  // namespace

ProbeTargets::ProbeTargets(ProbeConfig config) : config_(std::move(config)) {
  janitor_ = std::thread([this] {
    const auto period = std::min<Clock::duration>(config_.idle_timeout / 2, std::chrono::seconds(10));
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::max<Clock::duration>(period, std::chrono::milliseconds(50)));
      if (stopping_) break;
      lock.unlock();
      close_idle();
      lock.lock();
    }
  });
}

ProbeTargets::~ProbeTargets() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  janitor_.join();
  shutdown();
}

void ProbeTargets::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, target] : targets_) target.orchestrator->shutdown();
}

void ProbeTargets::close_idle() {
  std::vector<std::shared_ptr<ScrapeOrchestrator>> closing;  // released outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (now - it->second.last_used >= config_.idle_timeout) {
      spdlog::info("probe: closing {} (not probed for {}s)", it->second.shown,
                   std::chrono::duration_cast<std::chrono::seconds>(config_.idle_timeout).count());
      closing.push_back(std::move(it->second.orchestrator));
      it = targets_.erase(it);
      ++closed_idle_;
    } else {
      ++it;
    }
  }
}

std::shared_ptr<ScrapeOrchestrator> ProbeTargets::target_for(const std::string& key, const std::string& dsn,
                                                             bool pgbouncer, const std::string& shown) {
  std::shared_ptr<ScrapeOrchestrator> evicted;  // released outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = targets_.find(key);
  if (found == targets_.end()) {
    if (targets_.size() >= config_.max_targets) {
      auto oldest = std::min_element(targets_.begin(), targets_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      spdlog::warn("probe: {} targets held, the limit (--probe.max-targets); closing {}, probed longest ago",
                   targets_.size(), oldest->second.shown);
      evicted = std::move(oldest->second.orchestrator);
      targets_.erase(oldest);
      ++closed_full_;
    }
    CollectorPtr collector;
    if (pgbouncer) {
      collector = std::make_shared<PgBouncerCollector>(PgBouncerCollectorConfig{dsn});
    } else {
      PostgresCollectorConfig postgres = config_.postgres;
      postgres.dsn = dsn;
      collector = std::make_shared<PostgresCollector>(std::move(postgres));
    }
    spdlog::info("probe: new target {}", shown);
    Target target;
    target.orchestrator =
        std::make_shared<ScrapeOrchestrator>(std::vector<CollectorPtr>{collector}, PGSCOPE_VERSION, false);
    target.shown = shown;
    found = targets_.emplace(key, std::move(target)).first;
  }
  found->second.last_used = Clock::now();
  return found->second.orchestrator;
}

HttpResponse ProbeTargets::probe(const HttpRequest& request) {
  const std::string target = param(request, "target");
  const std::string module_name = param(request, "auth_module");
  const std::string source = param(request, "source").empty() ? "postgres" : param(request, "source");
  if (target.empty()) return bad_request("target is required (e.g. /probe?target=db.example:5432/postgres)");
  if (source != "postgres" && source != "pgbouncer")
    return bad_request("source must be postgres or pgbouncer, not \"" + source + "\"");
  const AuthModule* module = nullptr;
  if (!module_name.empty()) {
    auto found = config_.auth_modules.find(module_name);
    if (found == config_.auth_modules.end())
      return bad_request("auth_module \"" + module_name + "\" is not in the config file's auth_modules");
    module = &found->second;
  }
  const bool pgbouncer = source == "pgbouncer";
  std::string dsn;
  try {
    dsn = probe_dsn(target, module ? module->username : "", module ? module->password : "",
                    module ? module->options : std::vector<std::pair<std::string, std::string>>{},
                    pgbouncer ? "pgbouncer" : "postgres");
  } catch (const UsageError& error) {
    return bad_request(error.what());
  }
  const std::string key = source + '\x1f' + module_name + '\x1f' + target;
  const std::string shown = source + " target " + redact_dsn(dsn);
  auto orchestrator = target_for(key, dsn, pgbouncer, shown);
  const auto budget =
      scrape_budget(config_.scrape_timeout, request.header("X-Prometheus-Scrape-Timeout-Seconds"));
  const auto result = orchestrator->scrape(budget);
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = render_text(*result.collected) + render_text(result.own);
  return response;
}

void ProbeTargets::describe(MetricSink& sink) const {
  std::lock_guard<std::mutex> lock(mutex_);
  sink.gauge("pgscope_exporter_probe_targets", "Targets of /probe held open now (connections and state).", {},
             static_cast<double>(targets_.size()));
  sink.counter("pgscope_exporter_probe_targets_closed_total",
               "Targets of /probe closed: reason idle (not probed for --probe.idle-timeout) or limit "
               "(--probe.max-targets reached).",
               {{"reason", "idle"}}, static_cast<double>(closed_idle_));
  sink.counter("pgscope_exporter_probe_targets_closed_total", "", {{"reason", "limit"}},
               static_cast<double>(closed_full_));
}

}  // namespace pgscope
