#include "operator/app/controller.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "operator/runtime/health_server.hpp"
#include "operator/runtime/leader_elector.hpp"

namespace pgscope::op {

namespace {

constexpr const char* kManagedSelector = "app.kubernetes.io/managed-by=pgscope-operator";

const std::vector<const kube::ResourceType*>& core_owned_types() {
  static const std::vector<const kube::ResourceType*> types{&kube::service_type(), &kube::config_map_type(),
                                                            &kube::deployment_type()};
  return types;
}

const std::vector<const kube::ResourceType*>& monitoring_types() {
  static const std::vector<const kube::ResourceType*> types{
      &kube::service_monitor_type(), &kube::pod_monitor_type(), &kube::prometheus_rule_type()};
  return types;
}

}  // namespace

Controller::Controller(kube::Client& client, const OperatorSettings& settings, const ClusterMixin& mixin,
                       std::string identity, std::string own_namespace)
    : client_(client),
      settings_(settings),
      mixin_(mixin),
      identity_(std::move(identity)),
      own_namespace_(std::move(own_namespace)) {
  scopes_ = settings_.namespaces.empty() ? std::vector<std::string>{""} : settings_.namespaces;
  postgresqls_.type = &kube::postgresql_type();
  for (const auto* type : core_owned_types()) owned_[type->kind].type = type;
  for (const auto* type : monitoring_types()) owned_[type->kind].type = type;

  EventRecorderOptions event_options;
  event_options.instance = identity_;
  events_ = std::make_unique<EventRecorder>(client_, event_options);

  Caches caches;
  caches.postgresqls = postgresqls_.store;
  for (auto& [name, kind] : owned_) caches.owned[name] = kind.store;
  caches.served = [this](const std::string& kind) { return served(kind); };
  caches.synced = [this](const std::string& kind) { return synced(kind); };
  caches.sync_problem = [this](const std::string& kind) { return sync_problem(kind); };
  reconciler_ = std::make_unique<Reconciler>(client_, *events_, settings_, mixin_, std::move(caches));
}

Controller::~Controller() {
  stop_workers();
  std::lock_guard<std::mutex> lock(kinds_mutex_);
  for (auto* kind : {&postgresqls_}) {
    for (auto& reflector : kind->reflectors) reflector->stop();
  }
  for (auto& [name, kind] : owned_) {
    for (auto& reflector : kind.reflectors) reflector->stop();
  }
}

void Controller::start_reflectors(Kind& kind, const std::string& label_selector, bool postgresql) {
  std::vector<std::string> scopes = scopes_;
  // Dashboards may live outside the watched namespaces (Grafana's).
  if (kind.type->kind == "ConfigMap" && !settings_.dashboards_namespace.empty() &&
      scopes != std::vector<std::string>{""} &&
      std::find(scopes.begin(), scopes.end(), settings_.dashboards_namespace) == scopes.end()) {
    scopes.push_back(settings_.dashboards_namespace);
  }
  for (const auto& scope : scopes) {
    ReflectorOptions options;
    options.label_selector = label_selector;
    const std::string resource = kind.type->plural;
    auto on_event =
        postgresql ? Reflector::EventHandler([this](const std::string& type, const nlohmann::json& object) {
          on_postgresql_event(type, object);
        })
                   : Reflector::EventHandler([this](const std::string&, const nlohmann::json& object) {
                       on_owned_event(object);
                     });
    auto on_error = [this, resource, scope](const kube::ApiError& error, std::chrono::milliseconds retry_in) {
      metrics_.api_error(resource);
      spdlog::warn(
          "watching {}{}: {} ({}); retrying in {} ms", resource,
          scope.empty() ? " in all namespaces" : " in namespace " + scope, error.message(),
          error.forbidden() ? "grant list and watch in pgscope-operator's ClusterRole" : error.reason(),
          retry_in.count());
    };
    auto reflector =
        std::make_unique<Reflector>(client_, *kind.type, scope, kind.store, on_event, on_error, options);
    reflector->start();
    kind.reflectors.push_back(std::move(reflector));
  }
}

void Controller::on_postgresql_event(const std::string&, const nlohmann::json& object) {
  const auto& metadata = object["metadata"];
  queue_.add(cluster_key(metadata.value("namespace", ""), metadata.value("name", "")));
  if (settings_.dashboards) queue_.add(dashboards_key(dashboards_namespace_of(object, settings_)));
}

void Controller::on_owned_event(const nlohmann::json& object) {
  const std::string key = owner_key(object);
  if (!key.empty()) queue_.add(key);
}

void Controller::discover_monitoring_kinds() {
  std::vector<std::string> plurals;
  try {
    plurals = client_.discover("monitoring.coreos.com", "v1");
  } catch (const kube::ApiError& error) {
    spdlog::warn("discovery of monitoring.coreos.com/v1 failed: {}; trying again later", error.message());
    return;
  }
  bool added = false;
  {
    std::lock_guard<std::mutex> lock(kinds_mutex_);
    for (const auto* type : monitoring_types()) {
      const bool now_served = std::find(plurals.begin(), plurals.end(), type->plural) != plurals.end();
      const bool was_served = served_monitoring_.count(type->kind) > 0;
      if (now_served && !was_served) {
        served_monitoring_.insert(type->kind);
        auto& kind = owned_[type->kind];
        if (kind.reflectors.empty()) start_reflectors(kind, kManagedSelector, false);
        spdlog::info("the API server serves {}: watching them", type->plural);
        added = true;
      } else if (!now_served && was_served) {
        served_monitoring_.erase(type->kind);
        spdlog::warn("the API server no longer serves {} (CRD removed?)", type->plural);
      }
    }
  }
  if (added) enqueue_all_clusters();
}

bool Controller::served(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(kinds_mutex_);
  for (const auto* type : monitoring_types()) {
    if (type->kind == kind) return served_monitoring_.count(kind) > 0;
  }
  return true;
}

bool Controller::synced(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(kinds_mutex_);
  const auto found = owned_.find(kind);
  const Kind& entry = found != owned_.end() ? found->second : postgresqls_;
  if (entry.reflectors.empty()) return false;
  for (const auto& reflector : entry.reflectors) {
    if (!reflector->synced()) return false;
  }
  return true;
}

std::string Controller::sync_problem(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(kinds_mutex_);
  const auto found = owned_.find(kind);
  const Kind& entry = found != owned_.end() ? found->second : postgresqls_;
  for (const auto& reflector : entry.reflectors) {
    if (reflector->synced()) continue;
    const std::string error = reflector->last_error();
    if (!error.empty()) return error;
  }
  return "";
}

bool Controller::all_synced(std::string* waiting_for) const {
  if (!synced("postgresql")) {
    if (waiting_for) *waiting_for = "postgresqls not listed yet";
    return false;
  }
  for (const auto* type : core_owned_types()) {
    if (!synced(type->kind)) {
      if (waiting_for) *waiting_for = type->plural + " not listed yet";
      return false;
    }
  }
  for (const auto* type : monitoring_types()) {
    if (served(type->kind) && !synced(type->kind)) {
      if (waiting_for) *waiting_for = type->plural + " not listed yet";
      return false;
    }
  }
  return true;
}

void Controller::enqueue_all_clusters() {
  for (const auto& object : postgresqls_.store->list()) on_postgresql_event("SYNC", *object);
}

void Controller::start_workers() {
  if (workers_running_.exchange(true)) return;
  for (int i = 0; i < std::max(1, settings_.workers); ++i) workers_.emplace_back([this] { work(); });
}

void Controller::stop_workers() {
  if (!workers_running_.exchange(false)) return;
  queue_.shutdown();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void Controller::work() {
  // Without the list of clusters there is nothing to reconcile; the caches
  // of the other kinds are checked per kind by the reconciler, so one kind
  // the operator may not read does not hold up the others.
  while (workers_running_ && !synced("postgresql"))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string key;
  while (queue_.get(key)) {
    const auto started = std::chrono::steady_clock::now();
    ReconcileOutcome outcome;
    try {
      outcome = reconciler_->reconcile(key);
    } catch (const std::exception& error) {
      // A bug or an unexpected answer must not end the operator: log it and
      // let the backoff bring the key back.
      spdlog::error("reconciling {}: {}", key, error.what());
      outcome.result = ReconcileResult::kError;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics_.reconcile_finished(outcome.result, seconds);
    switch (outcome.result) {
      case ReconcileResult::kSuccess:
        queue_.forget(key);
        if (outcome.again.count() > 0) queue_.add_after(key, outcome.again);
        break;
      case ReconcileResult::kRequeue:
        queue_.forget(key);
        queue_.add_after(key, outcome.again);
        break;
      case ReconcileResult::kError:
        queue_.add_rate_limited(key);
        break;
    }
    queue_.done(key);
  }
}

int Controller::run(const std::atomic<bool>& stop) {
  HealthServerOptions health;
  health.listen_address = settings_.listen_address;
  health.readiness = [this] {
    std::string waiting_for;
    if (!all_synced(&waiting_for)) return HealthCheck{false, waiting_for};
    return HealthCheck{};
  };
  health.before_scrape = [this] {
    metrics_.set_queue_depth(queue_.depth());
    metrics_.set_watched_clusters(postgresqls_.store->size());
    metrics_.set_leader(leading_.load());
    std::lock_guard<std::mutex> lock(kinds_mutex_);
    auto observe = [this](const Kind& kind) {
      std::uint64_t relists = 0, restarts = 0, errors = 0;
      for (const auto& reflector : kind.reflectors) {
        relists += reflector->relists();
        restarts += reflector->watch_restarts();
        errors += reflector->errors();
      }
      metrics_.observe_reflector_totals(kind.type->plural, relists, restarts, errors);
    };
    observe(postgresqls_);
    for (const auto& [name, kind] : owned_) observe(kind);
  };
  HealthServer server(metrics_, health);
  server.start();
  spdlog::info("pgscope-operator {} serving /metrics, /healthz, /readyz on port {}", identity_,
               server.port());

  {
    std::lock_guard<std::mutex> lock(kinds_mutex_);
    start_reflectors(postgresqls_, "", true);
    for (const auto* type : core_owned_types()) start_reflectors(owned_[type->kind], kManagedSelector, false);
  }
  discover_monitoring_kinds();
  // The first evaluation of the mixin takes a second or more: do it now, so a
  // standby that takes over (or the first reconcile) does not wait for it.
  std::thread warm_up([this] {
    try {
      if (settings_.dashboards) (void)mixin_.dashboards();
      if (settings_.rules) (void)mixin_.rule_groups("warm-up", "warm-up", {});
    } catch (const std::exception& error) {
      spdlog::error("evaluating the monitoring mixin: {}", error.what());
    }
  });
  std::atomic<bool> finished{false};
  std::thread discovery([this, &stop, &finished] {
    auto next = std::chrono::steady_clock::now() + settings_.crd_recheck_period;
    while (!stop && !finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (std::chrono::steady_clock::now() < next) continue;
      discover_monitoring_kinds();
      next = std::chrono::steady_clock::now() + settings_.crd_recheck_period;
    }
  });

  int exit_code = 0;
  if (settings_.leader_elect) {
    LeaderElectionOptions options;
    options.ns = settings_.leader_elect_namespace.empty() ? own_namespace_ : settings_.leader_elect_namespace;
    options.name = settings_.leader_elect_lease_name;
    options.identity = identity_;
    options.lease_duration = settings_.leader_elect_lease_duration;
    options.renew_deadline = settings_.leader_elect_renew_deadline;
    options.retry_period = settings_.leader_elect_retry_period;
    LeaderElector elector(client_, options);
    spdlog::info("leader election on Lease {}/{} as {}", options.ns, options.name, identity_);
    const auto outcome = elector.run(
        [this] {
          spdlog::info("leading: reconciling");
          leading_ = true;
          start_workers();
        },
        [this] {
          leading_ = false;
          spdlog::info("no longer leading: stopping the workers");
        },
        stop);
    if (outcome == LeaderElector::Outcome::kLostLeadership) {
      spdlog::error("lost the leader Lease: exiting so that a fresh start campaigns again");
      exit_code = 1;
    }
  } else {
    leading_ = true;
    start_workers();
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop_workers();
  leading_ = false;
  finished = true;
  discovery.join();
  warm_up.join();
  events_->flush();
  server.stop();
  return exit_code;
}

}  // namespace pgscope::op
