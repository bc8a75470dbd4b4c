// One pgscope-operator process of a test: started with a free port for
// /metrics, /healthz and /readyz, its log in a file, stopped (or killed with
// SIGKILL) by its pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/background_process.hpp"

namespace pgscope::e2e {

struct HttpAnswer {
  int status = -1;  // -1: no answer
  std::string body;
};

class OperatorProcess {
 public:
  // argv without --listen-address, which is added with `port`.
  OperatorProcess(std::string name, std::vector<std::string> argv, int port, std::string log_path,
                  const std::map<std::string, std::string>& env);
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  const std::string& name() const { return name_; }  // also its POD_NAME, the start of its Lease identity
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }

  // GET http://127.0.0.1:<port><path>.
  HttpAnswer get(const std::string& path) const;
  // Polls /readyz until 200; false when the process ended or time ran out.
  bool wait_ready(std::chrono::milliseconds timeout);
  // Value of an unlabelled (or first matching) sample of /metrics; -1 when absent.
  double metric(const std::string& name_with_labels) const;

  // kill -9 by pid, then reap: a crash, no chance to release the Lease.
  void kill_hard();
  // SIGTERM, then SIGKILL after the grace time; the exit code.
  int stop(int grace_ms = 10000);
  int exit_code() const { return process_->exit_code(); }
  std::string log() const;
  std::string log_tail(std::size_t lines = 40) const;

 private:
  std::string name_;
  int port_;
  std::string log_path_;
  std::unique_ptr<test::BackgroundProcess> process_;
};

}  // namespace pgscope::e2e
