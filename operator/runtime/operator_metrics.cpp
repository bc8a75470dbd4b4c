#include "operator/runtime/operator_metrics.hpp"

#include <prometheus/text_serializer.h>

namespace pgscope::op {
namespace {

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& registry, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Gauge& gauge(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

// Reconciles range from a few milliseconds (nothing to change) to tens of
// seconds (a slow API server with retries).
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                               1,     2.5,  5,     10,   30,  60};
  return buckets;
}

}  // namespace

OperatorMetrics::OperatorMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      reconciles_(counter(*registry_, "pgscope_operator_reconciles_total",
                          "Reconciles of postgresql objects by result (requeue: retried later on purpose).")),
      reconciles_success_(reconciles_.Add({{"result", "success"}})),
      reconciles_error_(reconciles_.Add({{"result", "error"}})),
      reconciles_requeue_(reconciles_.Add({{"result", "requeue"}})),
      reconcile_duration_(prometheus::BuildHistogram()
                              .Name("pgscope_operator_reconcile_duration_seconds")
                              .Help("Time taken by one reconcile of a postgresql object.")
                              .Register(*registry_)
                              .Add({}, duration_buckets())),
      queue_depth_(gauge(*registry_, "pgscope_operator_queue_depth", "Keys waiting in the work queue.")),
      watched_clusters_(gauge(*registry_, "pgscope_operator_watched_clusters",
                              "postgresql objects in the operator's cache.")),
      leader_(
          gauge(*registry_, "pgscope_operator_leader",
                "1 while this replica holds the leader Lease (or runs without leader election), else 0.")),
      relists_(counter(*registry_, "pgscope_operator_relists_total",
                       "Full LISTs after the first, by resource (expired watches, recoveries).")),
      watch_restarts_(counter(*registry_, "pgscope_operator_watch_restarts_total",
                              "Watches resumed from the last resourceVersion, by resource.")),
      api_errors_(counter(*registry_, "pgscope_operator_api_errors_total",
                          "Failed list or watch calls to the Kubernetes API, by resource.")) {}

void OperatorMetrics::reconcile_finished(ReconcileResult result, double seconds) {
  switch (result) {
    case ReconcileResult::kSuccess:
      reconciles_success_.Increment();
      break;
    case ReconcileResult::kError:
      reconciles_error_.Increment();
      break;
    case ReconcileResult::kRequeue:
      reconciles_requeue_.Increment();
      break;
  }
  reconcile_duration_.Observe(seconds);
}

void OperatorMetrics::set_queue_depth(std::size_t depth) { queue_depth_.Set(static_cast<double>(depth)); }

void OperatorMetrics::set_watched_clusters(std::size_t clusters) {
  watched_clusters_.Set(static_cast<double>(clusters));
}

void OperatorMetrics::set_leader(bool leader) { leader_.Set(leader ? 1 : 0); }

void OperatorMetrics::relisted(const std::string& resource) {
  relists_.Add({{"resource", resource}}).Increment();
}

void OperatorMetrics::watch_restarted(const std::string& resource) {
  watch_restarts_.Add({{"resource", resource}}).Increment();
}

void OperatorMetrics::api_error(const std::string& resource) {
  api_errors_.Add({{"resource", resource}}).Increment();
}

void OperatorMetrics::observe_reflector_totals(const std::string& resource, std::uint64_t relists,
                                               std::uint64_t watch_restarts, std::uint64_t errors) {
  std::lock_guard<std::mutex> lock(totals_mutex_);
  Totals& seen = totals_[resource];
  // Totals only grow; a smaller one means a new reflector started from zero.
  auto grown = [](std::uint64_t now, std::uint64_t before) {
    return static_cast<double>(now >= before ? now - before : now);
  };
  relists_.Add({{"resource", resource}}).Increment(grown(relists, seen.relists));
  watch_restarts_.Add({{"resource", resource}}).Increment(grown(watch_restarts, seen.watch_restarts));
  api_errors_.Add({{"resource", resource}}).Increment(grown(errors, seen.errors));
  seen = Totals{relists, watch_restarts, errors};
}

std::string OperatorMetrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pgscope::op
