#pragma once

// A real Prometheus and Alertmanager (Debian's packages) for the mixin's
// end-to-end test: each on a free loopback port with its own storage in a
// temporary directory, stopped by pid when the object goes.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/background_process.hpp"
#include "support/temp_dir/temp_dir.hpp"

namespace pgscope::test {

struct HttpAnswer {
  int status = -1;  // -1: no answer (error says why)
  std::string body;
  std::string error;
  nlohmann::json json;  // the body parsed; null when it is not JSON
};

// GET http://127.0.0.1:PORT/PATH with query parameters.
HttpAnswer http_get(int port, const std::string& path,
                    const std::multimap<std::string, std::string>& params = {});

class AlertmanagerServer {
 public:
  // Clustering off, one route to a receiver that sends nowhere, group_wait 1s.
  explicit AlertmanagerServer(const std::string& work_dir);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // GET /api/v2/alerts?active=true (an array; empty when the request failed).
  nlohmann::json active_alerts() const;
  std::string log_tail() const;
  void stop();

 private:
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

struct StaticTarget {
  std::string address;  // host:port
  std::map<std::string, std::string> labels;
};

struct QueryAnswer {
  bool ok = false;
  std::string error;
  std::size_t samples = 0;  // series of a vector or matrix, 1 for a scalar
  nlohmann::json result;
};

class PrometheusServer {
 public:
  struct Options {
    std::string work_dir;
    std::vector<std::string> rule_files;
    std::string job;
    std::vector<StaticTarget> targets;
    std::string interval = "1s";  // scrape and rule evaluation
    int alertmanager_port = 0;    // 0: no Alertmanager
  };
  explicit PrometheusServer(const Options& options);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  QueryAnswer query(const std::string& expr) const;  // /api/v1/query at now
  // The values of `label` over the series that match `selector` (/api/v1/series).
  std::vector<std::string> label_values(const std::string& selector, const std::string& label) const;
  nlohmann::json alerts() const;       // /api/v1/alerts: data.alerts
  nlohmann::json rule_groups() const;  // /api/v1/rules: data.groups
  nlohmann::json targets() const;      // /api/v1/targets: data.activeTargets
  std::string log_tail() const;
  void stop();

 private:
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace pgscope::test
