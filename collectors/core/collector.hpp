#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/deadline.hpp"
#include "core/metric_sink.hpp"

namespace pgscope {

// Outcome of one named unit of collection: a whole source (postgres), or one
// of its parts that the user toggles with --collector.NAME (stat_database).
struct CollectorStatus {
  std::string name;
  double duration_seconds = 0;
  bool success = false;
};

// One source of metrics (PostgreSQL, Patroni, pgBouncer, ...). A collector
// owns its connections, keeps them between scrapes, and must return by the
// deadline: the scrape orchestrator runs collectors concurrently and does not
// wait past it. collect() is never called concurrently on one collector.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual const std::string& name() const = 0;

  // Fills `sink` and returns the status of each part (may be empty). A failure
  // of the whole source is reported through the return value of `ok` rather
  // than an exception, so partial results are still emitted.
  virtual bool collect(const Deadline& deadline, MetricSink& sink, std::vector<CollectorStatus>& parts) = 0;

  // What the scrape shows when collect() could not answer in time (it is
  // still running, or ran past the deadline): at least the source's *_up 0.
  // May be called while collect() runs in another thread.
  virtual void describe_unavailable(MetricSink& sink) { (void)sink; }
};

using CollectorPtr = std::shared_ptr<Collector>;

}  // namespace pgscope
