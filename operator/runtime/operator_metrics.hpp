#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace pgscope::op {

enum class ReconcileResult { kSuccess, kError, kRequeue };

// The operator's own metrics, in a prometheus-cpp registry:
//   pgscope_operator_reconciles_total{result="success|error|requeue"}
//   pgscope_operator_reconcile_duration_seconds (histogram)
//   pgscope_operator_queue_depth, pgscope_operator_watched_clusters,
//   pgscope_operator_leader (0/1)
//   pgscope_operator_relists_total{resource}, pgscope_operator_watch_restarts_total{resource},
//   pgscope_operator_api_errors_total{resource}
// Thread-safe (prometheus-cpp metrics are atomic; the per-resource maps are locked).
class OperatorMetrics {
 public:
  OperatorMetrics();

  void reconcile_finished(ReconcileResult result, double seconds);
  void set_queue_depth(std::size_t depth);
  void set_watched_clusters(std::size_t clusters);
  void set_leader(bool leader);

  void relisted(const std::string& resource);
  void watch_restarted(const std::string& resource);
  void api_error(const std::string& resource);
  // For reflectors, which keep running totals: adds what each total grew by
  // since the previous call for this resource.
  void observe_reflector_totals(const std::string& resource, std::uint64_t relists,
                                std::uint64_t watch_restarts, std::uint64_t errors);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // The Prometheus text exposition format of everything registered.
  std::string serialize() const;

 private:
  struct Totals {
    std::uint64_t relists = 0;
    std::uint64_t watch_restarts = 0;
    std::uint64_t errors = 0;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Counter& reconciles_success_;
  prometheus::Counter& reconciles_error_;
  prometheus::Counter& reconciles_requeue_;
  prometheus::Histogram& reconcile_duration_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& watched_clusters_;
  prometheus::Gauge& leader_;
  prometheus::Family<prometheus::Counter>& relists_;
  prometheus::Family<prometheus::Counter>& watch_restarts_;
  prometheus::Family<prometheus::Counter>& api_errors_;

  std::mutex totals_mutex_;
  std::map<std::string, Totals> totals_;
};

}  // namespace pgscope::op
