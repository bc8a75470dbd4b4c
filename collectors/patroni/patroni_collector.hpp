#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/collector.hpp"

namespace pgscope {

struct PatroniCollectorConfig {
  std::string url;                                  // e.g. http://localhost:8008
  std::chrono::milliseconds request_timeout{2000};  // per request, and never past the scrape deadline
};

// Reads Patroni's REST API (/patroni, /cluster, /history) and emits the
// families of Patroni's own /metrics under the same names and labels, plus
// the cluster view and failover history; patroni_up says whether it answered.
class PatroniCollector : public Collector {
 public:
  explicit PatroniCollector(PatroniCollectorConfig config);
  ~PatroniCollector() override;
  const std::string& name() const override { return name_; }
  bool collect(const Deadline& deadline, MetricSink& sink, std::vector<CollectorStatus>& parts) override;
  void describe_unavailable(MetricSink& sink) override;

 private:
  struct State;
  const std::string name_ = "patroni";
  PatroniCollectorConfig config_;
  std::unique_ptr<State> state_;
};

}  // namespace pgscope
