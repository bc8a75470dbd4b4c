#include "exporter/scrape.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "exporter/process_metrics.hpp"

namespace pgscope {

std::chrono::milliseconds scrape_budget(std::chrono::milliseconds configured,
                                        const std::string& header_value) {
  if (header_value.empty()) return configured;
  char* end = nullptr;
  const double seconds = std::strtod(header_value.c_str(), &end);
  if (end == header_value.c_str() || !(seconds > 0)) return configured;
  // Anything beyond the configured timeout changes nothing; clamping first
  // also keeps 1e30 or inf out of the integer conversion below.
  if (seconds * 1000 >= static_cast<double>(configured.count())) return configured;
  // Leave room to serialize and send: half a second, or a tenth of a short timeout.
  const double margin = std::min(0.5, seconds / 10);
  const auto from_header = std::chrono::milliseconds(static_cast<long>((seconds - margin) * 1000));
  return std::min(configured, from_header);
}

// One collector and the thread that may still be running it. A collector
// that overran a deadline keeps its thread until it returns; until then the
// next collection reports it as failed rather than calling it concurrently.
struct ScrapeOrchestrator::Worker {
  CollectorPtr collector;
  std::mutex mutex;
  std::condition_variable idle;  // notified when busy turns false
  bool busy = false;
};

struct ScrapeOrchestrator::Collection {
  std::mutex mutex;
  std::condition_variable done_signal;
  std::size_t pending = 0;
  Deadline deadline;
  std::chrono::milliseconds budget;
  MetricSink sink;
  std::vector<CollectorStatus> statuses;
  std::vector<std::string> answered;  // collectors whose results are in `sink`
  bool finalized = false;
  std::shared_ptr<const std::vector<prometheus::MetricFamily>> families;
  Clock::time_point started = Clock::now();
  Collection(Deadline d, std::chrono::milliseconds b) : deadline(d), budget(b) {}
};

ScrapeOrchestrator::ScrapeOrchestrator(std::vector<CollectorPtr> collectors, std::string version,
                                       bool exporter_metrics)
    : version_(std::move(version)), exporter_metrics_(exporter_metrics) {
  for (auto& collector : collectors) {
    auto worker = std::make_shared<Worker>();
    worker->collector = std::move(collector);
    workers_.push_back(std::move(worker));
  }
}

ScrapeOrchestrator::~ScrapeOrchestrator() = default;

std::shared_ptr<ScrapeOrchestrator::Collection> ScrapeOrchestrator::collect(Deadline deadline) {
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at() - Clock::now());
  auto collection = std::make_shared<Collection>(deadline, budget);
  // Collectors get a slightly earlier deadline than the scrape, so that one
  // whose source times out (a frozen server) still delivers what it knows,
  // such as pg_up 0 and the reason, before the scrape stops waiting.
  const auto reserve = std::min<Clock::duration>(std::chrono::milliseconds(200), budget / 10);
  const Deadline collector_deadline(deadline.at() - reserve);
  collection->pending = workers_.size();
  for (const auto& worker : workers_) {
    // Detached on purpose: if the collector overruns, the scrape answers
    // without it and the thread finishes (and frees the worker) on its own.
    std::thread([worker, collection, collector_deadline] {
      {
        // A collector that overran an earlier deadline (a frozen source) is
        // normally just returning: wait for it, up to this collection's own
        // deadline, rather than fail it at once, which would report a source
        // that has just come back as down. Still busy then: finalize()
        // reports it as failed and lets it describe itself.
        std::unique_lock<std::mutex> lock(worker->mutex);
        if (!worker->idle.wait_until(lock, collector_deadline.at(), [&] { return !worker->busy; })) {
          lock.unlock();
          spdlog::warn("{}: still busy with an earlier scrape, skipped", worker->collector->name());
          {
            std::lock_guard<std::mutex> collection_lock(collection->mutex);
            --collection->pending;
          }
          collection->done_signal.notify_all();
          return;
        }
        worker->busy = true;
      }
      MetricSink sink;
      std::vector<CollectorStatus> parts;
      const auto start = Clock::now();
      bool ok = false;
      try {
        ok = worker->collector->collect(collector_deadline, sink, parts);
      } catch (const std::exception& error) {
        spdlog::error("{}: collector failed: {}", worker->collector->name(), error.what());
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      {
        // Free the worker before the scrape is told it may answer: a scrape
        // sent right after that answer must find the collector idle.
        std::lock_guard<std::mutex> lock(worker->mutex);
        worker->busy = false;
      }
      worker->idle.notify_all();
      {
        std::lock_guard<std::mutex> lock(collection->mutex);
        if (!collection->finalized) {
          collection->sink.merge(std::move(sink));
          collection->statuses.push_back({worker->collector->name(), seconds, ok});
          for (auto& part : parts) collection->statuses.push_back(std::move(part));
          collection->answered.push_back(worker->collector->name());
        } else {
          spdlog::warn("{}: finished after the scrape deadline ({:.3f}s), results dropped",
                       worker->collector->name(), seconds);
        }
        --collection->pending;
      }
      collection->done_signal.notify_all();
    }).detach();
  }
  return collection;
}

void ScrapeOrchestrator::describe_missing(const Collection& collection, MetricSink& sink,
                                          std::vector<CollectorStatus>& statuses) const {
  const double waited = std::chrono::duration<double>(Clock::now() - collection.started).count();
  for (const auto& worker : workers_) {
    const auto& name = worker->collector->name();
    if (std::find(collection.answered.begin(), collection.answered.end(), name) !=
        collection.answered.end()) {
      continue;
    }
    spdlog::warn("{}: no answer within the scrape deadline", name);
    worker->collector->describe_unavailable(sink);
    statuses.push_back({name, waited, false});
  }
}

void ScrapeOrchestrator::finalize(Collection& collection) {
  if (collection.finalized) return;
  describe_missing(collection, collection.sink, collection.statuses);
  collection.families = std::make_shared<const std::vector<prometheus::MetricFamily>>(collection.sink.take());
  collection.finalized = true;
}

void ScrapeOrchestrator::shutdown() {
  stopping_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_flight_) {
    // A scrape checks stopping_ with the collection's mutex held and then
    // waits; taking that mutex here orders this notification after any such
    // check, so none is lost (a lost one would hold shutdown until the
    // scrape's deadline, since serve() joins the thread that waits).
    { std::lock_guard<std::mutex> collection_lock(in_flight_->mutex); }
    in_flight_->done_signal.notify_all();
  }
}

ScrapeOrchestrator::Result ScrapeOrchestrator::scrape(std::chrono::milliseconds budget) {
  ++scrapes_total_;
  const Deadline own_deadline = Deadline::after(budget);
  std::shared_ptr<Collection> collection;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Join the collection in flight when there is one: its results are as
    // fresh as any this scrape could get, and the sources see one query set.
    if (in_flight_) {
      std::lock_guard<std::mutex> collection_lock(in_flight_->mutex);
      if (!in_flight_->finalized) collection = in_flight_;
    }
    if (!collection) {
      collection = collect(Deadline::after(budget));
      in_flight_ = collection;
    }
  }

  Result result;
  std::vector<CollectorStatus> statuses;
  {
    std::unique_lock<std::mutex> lock(collection->mutex);
    // A scrape that joined a collection started by a scrape with a longer
    // timeout answers by its own deadline, from what has arrived by then.
    const auto until = std::min(own_deadline.at(), collection->deadline.at());
    collection->done_signal.wait_until(lock, until, [&] { return collection->pending == 0 || stopping_; });
    if (collection->finalized || collection->pending == 0 || Clock::now() >= collection->deadline.at()) {
      finalize(*collection);
      result.collected = collection->families;
      statuses = collection->statuses;
    } else {
      MetricSink partial = collection->sink;
      statuses = collection->statuses;
      describe_missing(*collection, partial, statuses);
      result.collected = std::make_shared<const std::vector<prometheus::MetricFamily>>(partial.take());
    }
  }

  MetricSink own;
  const auto duration =
      own.family("pgscope_exporter_collector_duration_seconds",
                 "How long a collector took in the last scrape.", prometheus::MetricType::Gauge);
  const auto success =
      own.family("pgscope_exporter_collector_success", "Whether a collector succeeded in the last scrape.",
                 prometheus::MetricType::Gauge);
  for (const auto& status : statuses) {
    own.add(duration, {{"collector", status.name}}, status.duration_seconds);
    own.add(success, {{"collector", status.name}}, status.success ? 1 : 0);
  }
  if (exporter_metrics_) {
    own.counter("pgscope_exporter_scrapes_total", "Scrapes answered since the exporter started.", {},
                static_cast<double>(scrapes_total_.load()));
    own.gauge("pgscope_exporter_build_info", "pgscope-exporter's version; always 1.", {{"version", version_}},
              1);
    add_process_metrics(own);
  }
  result.own = own.take();
  return result;
}

}  // namespace pgscope
