#include "operator_process.hpp"

#include <httplib.h>
#include <signal.h>

#include <sstream>
#include <thread>

#include "support/exporter_process.hpp"

namespace pgscope::e2e {

OperatorProcess::OperatorProcess(std::string name, std::vector<std::string> argv, int port,
                                 std::string log_path, const std::map<std::string, std::string>& env)
    : name_(std::move(name)), port_(port), log_path_(std::move(log_path)) {
  argv.push_back("--listen-address=127.0.0.1:" + std::to_string(port_));
  test::EnvOverrides overrides(env.begin(), env.end());
  if (!overrides.count("POD_NAME")) overrides["POD_NAME"] = name_;
  process_ = std::make_unique<test::BackgroundProcess>(std::move(argv), log_path_, overrides);
}

OperatorProcess::~OperatorProcess() {
  if (process_) process_->stop(5000);
}

HttpAnswer OperatorProcess::get(const std::string& path) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  auto answer = client.Get(path.c_str());
  if (!answer) return {};
  return {answer->status, answer->body};
}

bool OperatorProcess::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) return false;
    if (get("/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

double OperatorProcess::metric(const std::string& name_with_labels) const {
  const auto answer = get("/metrics");
  if (answer.status != 200) return -1;
  std::istringstream lines(answer.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name_with_labels.size(), name_with_labels) != 0) continue;
    const char next = line.size() > name_with_labels.size() ? line[name_with_labels.size()] : '\0';
    if (next != ' ' && next != '{' && name_with_labels.back() != '}') continue;
    const auto space = line.rfind(' ');
    try {
      return std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      return -1;
    }
  }
  return -1;
}

void OperatorProcess::kill_hard() {
  const pid_t pid = process_->pid();
  if (pid > 0) ::kill(pid, SIGKILL);
  process_->stop(1000);  // reaps it
}

int OperatorProcess::stop(int grace_ms) { return process_->stop(grace_ms); }

std::string OperatorProcess::log() const { return test::read_file(log_path_); }

std::string OperatorProcess::log_tail(std::size_t lines) const { return process_->log_tail(lines); }

}  // namespace pgscope::e2e
