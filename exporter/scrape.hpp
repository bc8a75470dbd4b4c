#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/collector.hpp"

namespace pgscope {

// Picks the scrape deadline: --scrape.timeout, or Prometheus's
// X-Prometheus-Scrape-Timeout-Seconds less a margin when that is smaller, so
// the exporter answers before Prometheus gives up on it.
std::chrono::milliseconds scrape_budget(std::chrono::milliseconds configured,
                                        const std::string& header_value);

// Runs every collector concurrently under one deadline and merges what they
// produce with the exporter's own metrics. A collector that fails or is still
// running at the deadline is reported (success 0) and left out; the others
// still emit. Scrapes that arrive while a collection is running share it
// instead of starting another, so no source sees more than one collection at
// a time.
class ScrapeOrchestrator {
 public:
  // `exporter_metrics`: add the process's own metrics (build info, scrape
  // count, process_*) to every answer; off for /probe targets, whose
  // scrapes are about another server.
  ScrapeOrchestrator(std::vector<CollectorPtr> collectors, std::string version, bool exporter_metrics = true);
  ~ScrapeOrchestrator();

  struct Result {
    // What the collectors produced; shared, unchanged, by every scrape that
    // joined the same collection.
    std::shared_ptr<const std::vector<prometheus::MetricFamily>> collected;
    // This scrape's own metrics: collector durations and success, scrape
    // count, build info. No family appears in both.
    std::vector<prometheus::MetricFamily> own;
  };
  Result scrape(std::chrono::milliseconds budget);

  // Wakes scrapes waiting for collectors so that shutdown does not wait for
  // a frozen source; they answer with what they have.
  void shutdown();

 private:
  struct Collection;
  struct Worker;
  std::shared_ptr<Collection> collect(Deadline deadline);
  void finalize(Collection& collection);  // with collection.mutex held
  // Reports collectors that have not answered: failed, with their own
  // description of being unavailable (pg_up 0). With collection.mutex held.
  void describe_missing(const Collection& collection, MetricSink& sink,
                        std::vector<CollectorStatus>& statuses) const;

  std::vector<std::shared_ptr<Worker>> workers_;
  std::string version_;
  bool exporter_metrics_;
  std::atomic<std::uint64_t> scrapes_total_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::shared_ptr<Collection> in_flight_;
};

}  // namespace pgscope
