#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "exporter/scrape.hpp"

using namespace pgscope;
using namespace std::chrono_literals;

namespace {

// A collector whose behaviour the test sets: how long it takes, whether it
// fails, and how many times it ran.
class ScriptedCollector : public Collector {
 public:
  ScriptedCollector(std::string name, std::chrono::milliseconds delay, bool ok)
      : name_(std::move(name)), delay_(delay), ok_(ok) {}
  const std::string& name() const override { return name_; }
  bool collect(const Deadline&, MetricSink& sink, std::vector<CollectorStatus>& parts) override {
    ++runs;
    std::this_thread::sleep_for(delay_);
    sink.gauge(name_ + "_value", "test", {}, 1);
    parts.push_back({name_ + "_part", 0.001, ok_});
    return ok_;
  }
  std::atomic<int> runs{0};

 private:
  std::string name_;
  std::chrono::milliseconds delay_;
  bool ok_;
};

double value_of(const ScrapeOrchestrator::Result& result, const std::string& name,
                const std::string& collector = "") {
  std::vector<prometheus::MetricFamily> families = *result.collected;
  families.insert(families.end(), result.own.begin(), result.own.end());
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      if (collector.empty() || (!metric.label.empty() && metric.label[0].value == collector)) {
        return sample_value(metric, family.type);
      }
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("the scrape deadline honours Prometheus's timeout header", "[scrape]") {
  CHECK(scrape_budget(10s, "") == 10s);
  CHECK(scrape_budget(10s, "garbage") == 10s);
  CHECK(scrape_budget(10s, "-3") == 10s);
  CHECK(scrape_budget(10s, "5") == 4500ms);
  CHECK(scrape_budget(10s, "30") == 10s);
  CHECK(scrape_budget(10s, "1") == 900ms);
}

TEST_CASE("a slow or failing collector does not stop the others", "[scrape]") {
  auto fast = std::make_shared<ScriptedCollector>("fast", 0ms, true);
  auto slow = std::make_shared<ScriptedCollector>("slow", 1500ms, true);
  auto broken = std::make_shared<ScriptedCollector>("broken", 0ms, false);
  ScrapeOrchestrator orchestrator({fast, slow, broken}, "1.2.3");
  const auto start = Clock::now();
  auto families = orchestrator.scrape(300ms);
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed < 1000ms);
  CHECK(value_of(families, "fast_value") == 1);
  CHECK(value_of(families, "slow_value") == -1);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "fast") == 1);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "fast_part") == 1);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "slow") == 0);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "broken") == 0);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "broken_part") == 0);
  CHECK(value_of(families, "pgscope_exporter_scrapes_total") == 1);

  // The slow collector is still busy: the next scrape reports it failed
  // without running it twice at once.
  families = orchestrator.scrape(300ms);
  CHECK(slow->runs == 1);
  CHECK(value_of(families, "pgscope_exporter_collector_success", "slow") == 0);
  CHECK(value_of(families, "pgscope_exporter_scrapes_total") == 2);
  std::this_thread::sleep_for(1500ms);
  families = orchestrator.scrape(3000ms);
  CHECK(slow->runs == 2);
  CHECK(value_of(families, "slow_value") == 1);
}

TEST_CASE("scrapes that arrive together share one collection", "[scrape]") {
  auto collector = std::make_shared<ScriptedCollector>("db", 300ms, true);
  ScrapeOrchestrator orchestrator({collector}, "1.2.3");
  std::vector<std::future<ScrapeOrchestrator::Result>> scrapes;
  for (int i = 0; i < 8; ++i) {
    scrapes.push_back(std::async(std::launch::async, [&] { return orchestrator.scrape(5s); }));
    std::this_thread::sleep_for(10ms);
  }
  for (auto& scrape : scrapes) CHECK(value_of(scrape.get(), "db_value") == 1);
  CHECK(collector->runs == 1);
  orchestrator.scrape(5s);
  CHECK(collector->runs == 2);
}

TEST_CASE("a scrape joining a longer collection still answers by its own deadline", "[scrape]") {
  auto slow = std::make_shared<ScriptedCollector>("slow", 1000ms, true);
  auto fast = std::make_shared<ScriptedCollector>("fast", 0ms, true);
  ScrapeOrchestrator orchestrator({slow, fast}, "1.2.3");
  auto patient = std::async(std::launch::async, [&] { return orchestrator.scrape(5s); });
  std::this_thread::sleep_for(50ms);
  const auto start = Clock::now();
  auto hurried = orchestrator.scrape(300ms);
  CHECK(Clock::now() - start < 600ms);
  CHECK(value_of(hurried, "fast_value") == 1);
  CHECK(value_of(hurried, "pgscope_exporter_collector_success", "slow") == 0);
  // The first scrape still gets the whole collection, and nothing ran twice.
  auto complete = patient.get();
  CHECK(value_of(complete, "slow_value") == 1);
  CHECK(value_of(complete, "pgscope_exporter_collector_success", "slow") == 1);
  CHECK(slow->runs == 1);
}

TEST_CASE("shutdown wakes scrapes waiting for a frozen collector", "[scrape]") {
  auto frozen = std::make_shared<ScriptedCollector>("frozen", 2000ms, true);
  ScrapeOrchestrator orchestrator({frozen}, "1.2.3");
  auto waiting = std::async(std::launch::async, [&] { return orchestrator.scrape(10s); });
  std::this_thread::sleep_for(100ms);
  const auto start = Clock::now();
  orchestrator.shutdown();
  auto result = waiting.get();
  CHECK(Clock::now() - start < 500ms);
  CHECK(value_of(result, "pgscope_exporter_collector_success", "frozen") == 0);
}
