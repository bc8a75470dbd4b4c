#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "operator/cluster/settings.hpp"
#include "operator/kube/client.hpp"
#include "operator/mixin/cluster_mixin.hpp"
#include "operator/runtime/event_recorder.hpp"
#include "operator/runtime/operator_metrics.hpp"
#include "operator/runtime/store.hpp"

namespace pgscope::op {

// Work-queue keys: one per cluster, one per namespace holding shared dashboards.
std::string cluster_key(const std::string& ns, const std::string& name);
std::string dashboards_key(const std::string& ns);
// The key an event on an object the operator wrote belongs to ("" = none).
std::string owner_key(const nlohmann::json& owned_object);
// The namespace a cluster's dashboards go to.
std::string dashboards_namespace_of(const nlohmann::json& postgresql, const OperatorSettings& settings);

// What the reconciler reads: the caches the reflectors fill, and which
// monitoring kinds the API server serves (prometheus-operator's CRDs may be
// missing, or installed later).
struct Caches {
  std::shared_ptr<Store> postgresqls;
  std::map<std::string, std::shared_ptr<Store>> owned;  // by kind: Service, ConfigMap, ...
  std::function<bool(const std::string& kind)> served;  // kind can be written now
  std::function<bool(const std::string& kind)> synced;  // its cache holds a full list
  // Why a kind's cache is not filled, when its list or watch fails (a 403
  // says the ClusterRole lacks list or watch); "" while it is just starting.
  std::function<std::string(const std::string& kind)> sync_problem;
};

struct ReconcileOutcome {
  ReconcileResult result = ReconcileResult::kSuccess;
  // kSuccess: reconcile again after this (0 = not before something changes);
  // kRequeue: after this; kError: the queue's backoff decides.
  std::chrono::milliseconds again{0};
};

// Brings one key to its desired state (level-triggered: it reads everything
// from the caches, whatever event woke it). Safe to call from several worker
// threads for different keys.
class Reconciler {
 public:
  Reconciler(kube::Client& client, EventRecorder& events, const OperatorSettings& settings,
             const ClusterMixin& mixin, Caches caches);

  ReconcileOutcome reconcile(const std::string& key);

 private:
  ReconcileOutcome reconcile_cluster(const std::string& ns, const std::string& name);
  ReconcileOutcome reconcile_dashboards(const std::string& ns);
  // Deletes the operator's objects of one cluster (or of the shared
  // dashboards) that `keep` does not name; returns false when some kind's
  // cache is not ready, so nothing could be decided for it.
  bool prune(const nlohmann::json* event_object, const std::map<std::string, std::string>& selector,
             const std::set<std::string>& keep, const std::set<std::string>& skip_kinds,
             const std::string& only_namespace);
  // cached: the postgresql as read from the cache, whose answer replaces it
  // there unless the watch brought a newer state meanwhile.
  void inject_sidecar(const ObjectPtr& cached, const nlohmann::json& desired_sidecars);
  Store& store_for(const std::string& kind);

  kube::Client& client_;
  EventRecorder& events_;
  const OperatorSettings& settings_;
  const ClusterMixin& mixin_;
  Caches caches_;
};

}  // namespace pgscope::op
