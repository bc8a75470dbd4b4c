#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "exporter/process_metrics.hpp"

using namespace pgscope;

namespace {

double value_of(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name && !family.metric.empty()) return sample_value(family.metric[0], family.type);
  }
  return -1;
}

}  // namespace

TEST_CASE("process metrics describe this process", "[process]") {
  // Burn a little CPU and start a thread so the figures have something to show.
  volatile double sink_value = 0;
  for (int i = 0; i < 5'000'000; ++i) sink_value = sink_value + i * 0.5;
  std::thread sleeper([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });

  MetricSink sink;
  add_process_metrics(sink);
  auto families = sink.take();
  sleeper.join();

  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(value_of(families, "process_cpu_seconds_total") > 0);
  CHECK(value_of(families, "process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value_of(families, "process_virtual_memory_bytes") >=
        value_of(families, "process_resident_memory_bytes"));
  CHECK(value_of(families, "process_threads") >= 2);
  CHECK(value_of(families, "process_open_fds") >= 3);
  CHECK(value_of(families, "process_max_fds") >= value_of(families, "process_open_fds"));
  const double started = value_of(families, "process_start_time_seconds");
  CHECK(started <= now + 1);
  CHECK(started > now - 3600);
}
