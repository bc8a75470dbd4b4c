#include "support/prometheus_stack.hpp"

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <stdexcept>
#include <thread>

namespace pgscope::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A YAML double-quoted string (JSON's escapes are YAML's).
std::string yaml_quote(const std::string& text) { return json(text).dump(); }

// Starts a server on a free port (`start` builds its process for a port) and
// waits until GET /-/ready answers 200. The port was free a moment ago;
// when another process took it first the server exits at once, and we try
// another.
std::unique_ptr<BackgroundProcess> start_server(
    const std::string& what, const std::function<std::unique_ptr<BackgroundProcess>(int)>& start, int* port) {
  std::string failure;
  for (int attempt = 0; attempt < 3; ++attempt) {
    *port = free_tcp_port();
    auto process = start(*port);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline && process->running()) {
      if (http_get(*port, "/-/ready").status == 200) return process;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const bool exited = !process->running();
    const std::string log = process->log_tail(20);
    process->stop(2000);
    failure = what +
              (exited ? " exited (" + std::to_string(process->exit_code()) + ")" : " was not ready in 30 s") +
              "; log tail:\n" + log;
    if (!exited || log.find("address already in use") == std::string::npos) break;
  }
  throw std::runtime_error(failure);
}

}  // namespace

HttpAnswer http_get(int port, const std::string& path,
                    const std::multimap<std::string, std::string>& params) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);
  httplib::Params query(params.begin(), params.end());
  HttpAnswer answer;
  auto result = client.Get(path, query, httplib::Headers{});
  if (!result) {
    answer.error = httplib::to_string(result.error());
    return answer;
  }
  answer.status = result->status;
  answer.body = result->body;
  answer.json = json::parse(answer.body, nullptr, false);
  if (answer.json.is_discarded()) answer.json = nullptr;
  return answer;
}

AlertmanagerServer::AlertmanagerServer(const std::string& work_dir) {
  const std::string config = work_dir + "/alertmanager.yml";
  // Sent nowhere: the test reads what arrived from the API.
  write_file(config,
             "route:\n"
             "  receiver: \"null\"\n"
             "  group_by: [alertname, cluster_name]\n"
             "  group_wait: 1s\n"
             "  group_interval: 1s\n"
             "  repeat_interval: 1h\n"
             "receivers:\n"
             "  - name: \"null\"\n");
  std::filesystem::create_directories(work_dir + "/alertmanager-data");
  process_ = start_server(
      "prometheus-alertmanager",
      [&](int port) {
        return std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"/usr/bin/prometheus-alertmanager", "--config.file=" + config,
                                     "--storage.path=" + work_dir + "/alertmanager-data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                     "--cluster.listen-address="},
            work_dir + "/alertmanager.log");
      },
      &port_);
}

json AlertmanagerServer::active_alerts() const {
  auto answer = http_get(port_, "/api/v2/alerts", {{"active", "true"}});
  return answer.status == 200 && answer.json.is_array() ? answer.json : json::array();
}

std::string AlertmanagerServer::log_tail() const { return process_ ? process_->log_tail() : ""; }

void AlertmanagerServer::stop() {
  if (process_) process_->stop();
}

PrometheusServer::PrometheusServer(const Options& options) {
  std::string config = "global:\n  scrape_interval: " + options.interval +
                       "\n  scrape_timeout: " + options.interval +
                       "\n  evaluation_interval: " + options.interval + "\nrule_files:\n";
  for (const auto& file : options.rule_files) config += "  - " + yaml_quote(file) + "\n";
  if (options.alertmanager_port > 0) {
    config += "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:" +
              std::to_string(options.alertmanager_port) + "\"]\n";
  }
  config += "scrape_configs:\n  - job_name: " + yaml_quote(options.job) + "\n    static_configs:\n";
  for (const auto& target : options.targets) {
    config += "      - targets: [" + yaml_quote(target.address) + "]\n        labels:\n";
    for (const auto& [name, value] : target.labels)
      config += "          " + name + ": " + yaml_quote(value) + "\n";
  }
  const std::string config_path = options.work_dir + "/prometheus.yml";
  write_file(config_path, config);
  std::filesystem::create_directories(options.work_dir + "/prometheus-data");
  process_ = start_server(
      "prometheus",
      [&](int port) {
        return std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"prometheus", "--config.file=" + config_path,
                                     "--storage.tsdb.path=" + options.work_dir + "/prometheus-data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port)},
            options.work_dir + "/prometheus.log");
      },
      &port_);
}

QueryAnswer PrometheusServer::query(const std::string& expr) const {
  QueryAnswer answer;
  auto http = http_get(port_, "/api/v1/query", {{"query", expr}});
  if (!http.json.is_object()) {
    answer.error = http.status < 0 ? http.error : "HTTP " + std::to_string(http.status) + ": " + http.body;
    return answer;
  }
  if (http.json.value("status", "") != "success") {
    answer.error = http.json.value("errorType", "") + ": " + http.json.value("error", "");
    return answer;
  }
  answer.ok = true;
  const json data = http.json.value("data", json::object());
  answer.result = data.value("result", json());
  const std::string type = data.value("resultType", "");
  if (type == "vector" || type == "matrix") {
    answer.samples = answer.result.is_array() ? answer.result.size() : 0;
  } else if (type == "scalar" || type == "string") {
    answer.samples = 1;
  }
  return answer;
}

std::vector<std::string> PrometheusServer::label_values(const std::string& selector,
                                                        const std::string& label) const {
  auto http = http_get(port_, "/api/v1/series", {{"match[]", selector}});
  std::set<std::string> values;
  if (http.json.is_object()) {
    for (const auto& series : http.json.value("data", json::array())) {
      if (series.contains(label) && series[label].is_string())
        values.insert(series[label].get<std::string>());
    }
  }
  return {values.begin(), values.end()};
}

json PrometheusServer::alerts() const {
  auto http = http_get(port_, "/api/v1/alerts");
  return http.json.is_object() ? http.json.value("data", json::object()).value("alerts", json::array())
                               : json::array();
}

json PrometheusServer::rule_groups() const {
  auto http = http_get(port_, "/api/v1/rules");
  return http.json.is_object() ? http.json.value("data", json::object()).value("groups", json::array())
                               : json::array();
}

json PrometheusServer::targets() const {
  auto http = http_get(port_, "/api/v1/targets");
  return http.json.is_object() ? http.json.value("data", json::object()).value("activeTargets", json::array())
                               : json::array();
}

std::string PrometheusServer::log_tail() const { return process_ ? process_->log_tail() : ""; }

void PrometheusServer::stop() {
  if (process_) process_->stop();
}

}  // namespace pgscope::test
