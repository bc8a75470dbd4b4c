#pragma once

#include <memory>
#include <string>

#include "core/collector.hpp"

namespace pgscope {

struct PgBouncerCollectorConfig {
  std::string dsn;  // the admin console: dbname=pgbouncer; may hold a password
};

// Reads pgBouncer's admin console (SHOW STATS, POOLS, DATABASES, LISTS,
// CONFIG, VERSION) over one long-lived connection and emits the families of
// prometheus-community's pgbouncer_exporter; pgbouncer_up says whether it
// answered.
class PgBouncerCollector : public Collector {
 public:
  explicit PgBouncerCollector(PgBouncerCollectorConfig config);
  ~PgBouncerCollector() override;
  const std::string& name() const override { return name_; }
  bool collect(const Deadline& deadline, MetricSink& sink, std::vector<CollectorStatus>& parts) override;
  void describe_unavailable(MetricSink& sink) override;

 private:
  struct State;
  const std::string name_ = "pgbouncer";
  PgBouncerCollectorConfig config_;
  std::unique_ptr<State> state_;
};

}  // namespace pgscope
