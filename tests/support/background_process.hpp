#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "support/exporter_process.hpp"

namespace pgscope::test {

// A server a test runs beside the exporter (Prometheus, Alertmanager,
// pgbench, pgBouncer, the exporter itself through ExporterProcess): started
// with an argument vector (no shell), output to `log_path`, stopped by its pid
// at stop() or destruction, also when the test fails.
// It dies with the test binary (PR_SET_PDEATHSIG), so a ctest timeout leaves
// no server holding a port. The signal comes when the thread that started it
// ends, so start it from a thread that outlives it.
class BackgroundProcess {
 public:
  struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
  };
  struct Options {
    // On top of this process's environment; ignored when `environment` is set.
    EnvOverrides env;
    // The child's whole environment ("NAME=value" each), for a child that
    // must not inherit some of ours (see ExporterProcess).
    std::optional<std::vector<std::string>> environment;
    // The user and group (no supplementary groups) the child switches to
    // before exec, for programs that refuse to run as root.
    std::optional<RunAs> run_as;
  };

  // argv[0] is looked up in PATH when it has no slash. The log is appended
  // to. Throws std::runtime_error when the program cannot be started.
  BackgroundProcess(std::vector<std::string> argv, std::string log_path, const EnvOverrides& env = {});
  BackgroundProcess(std::vector<std::string> argv, std::string log_path, Options options);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }  // -1 once reaped
  const std::string& name() const { return argv_.front(); }
  bool running();
  int exit_code() const { return exit_code_; }  // -1 while running; 128 + signal when killed by one
  std::string log_tail(std::size_t lines = 30) const;

  // SIGTERM, up to `grace_ms` to exit, then SIGKILL. Returns the exit code;
  // later calls return the same value.
  int stop(int grace_ms = 10000);

 private:
  bool reap(int options);

  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace pgscope::test
