#pragma once

// What the operator.mixin tests share: the source tree's files, promtool,
// clocks, and ClusterMixin instances (each costs jsonnet evaluations, so the
// tests of one binary share them).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/mixin/cluster_mixin.hpp"
#include "support/temp_dir/temp_dir.hpp"

namespace pgscope::test {

std::string source_path(const std::string& relative);  // <source dir>/relative
std::string read_text(const std::string& path);        // throws std::runtime_error when unreadable
// A YAML file as JSON, every scalar a string (enough for rule files).
nlohmann::json load_yaml(const std::string& path);

// One ClusterMixin per cluster label for the whole test binary.
const op::ClusterMixin& shared_mixin(const std::string& cluster_label = "cluster");

// Every rule of PrometheusRule spec.groups, in order.
std::vector<nlohmann::json> rules_of(const nlohmann::json& groups);
// "PostgresDown", "record member:x" or "PostgresReplicationLagHigh{unit=bytes}" for messages.
std::string rule_name(const nlohmann::json& rule);

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};
CommandResult run_command(const std::string& command);

// promtool's path, "" when it is not installed.
std::string promtool_path();

// Wall-clock and this thread's CPU time since construction, in milliseconds:
// the machine may be busy, so both are reported.
class Stopwatch {
 public:
  Stopwatch();
  double wall_ms() const;
  double cpu_ms() const;

 private:
  double wall_start_;
  double cpu_start_;
};

}  // namespace pgscope::test
