#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "operator/app/reconciler.hpp"
#include "operator/cluster/settings.hpp"
#include "operator/kube/client.hpp"
#include "operator/mixin/cluster_mixin.hpp"
#include "operator/runtime/event_recorder.hpp"
#include "operator/runtime/operator_metrics.hpp"
#include "operator/runtime/reflector.hpp"
#include "operator/runtime/work_queue.hpp"

namespace pgscope::op {

// `pgscope-operator run`: reflectors fill the caches and turn every change of
// a postgresql object, or of an object the operator wrote, into a key on the
// work queue; workers reconcile keys (only while leading, with
// --leader-elect); prometheus-operator's kinds are watched from the moment
// the API server serves them.
class Controller {
 public:
  Controller(kube::Client& client, const OperatorSettings& settings, const ClusterMixin& mixin,
             std::string identity, std::string own_namespace);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Runs until *stop is set (exit code 0) or leadership is lost (1).
  int run(const std::atomic<bool>& stop);

 private:
  struct Kind {
    const kube::ResourceType* type;
    std::shared_ptr<Store> store = std::make_shared<Store>();
    std::vector<std::unique_ptr<Reflector>> reflectors;
  };

  void start_reflectors(Kind& kind, const std::string& label_selector, bool postgresql);
  void discover_monitoring_kinds();
  bool served(const std::string& kind) const;
  bool synced(const std::string& kind) const;
  std::string sync_problem(const std::string& kind) const;
  bool all_synced(std::string* waiting_for) const;
  void enqueue_all_clusters();
  void on_postgresql_event(const std::string& type, const nlohmann::json& object);
  void on_owned_event(const nlohmann::json& object);
  void start_workers();
  void stop_workers();
  void work();

  kube::Client& client_;
  const OperatorSettings& settings_;
  const ClusterMixin& mixin_;
  std::string identity_;
  std::string own_namespace_;
  std::vector<std::string> scopes_;  // namespaces watched ("" = all)

  OperatorMetrics metrics_;
  WorkQueue queue_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<Reconciler> reconciler_;

  mutable std::mutex kinds_mutex_;
  Kind postgresqls_;
  std::map<std::string, Kind> owned_;        // by kind name
  std::set<std::string> served_monitoring_;  // monitoring kinds the API server serves

  std::vector<std::thread> workers_;
  std::atomic<bool> workers_running_{false};
  std::atomic<bool> leading_{false};
};

}  // namespace pgscope::op
