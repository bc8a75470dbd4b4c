#include "support/background_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace pgscope::test {

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, std::string log_path,
                                     const EnvOverrides& env)
    : BackgroundProcess(std::move(argv), std::move(log_path), Options{env, std::nullopt, std::nullopt}) {}

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, std::string log_path, Options options)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {
  if (argv_.empty()) throw std::invalid_argument("BackgroundProcess: empty argv");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> envp_strings =
      options.environment ? std::move(*options.environment) : detail::environment_with(options.env);
  auto argv_copy = argv_;
  auto args = detail::c_strings(argv_copy);
  auto envp = detail::c_strings(envp_strings);
  const std::string exec_failed =
      "exec of " + argv_.front().substr(argv_.front().rfind('/') + 1) + " failed\n";
  const bool switch_user = options.run_as.has_value();
  const RunAs run_as = options.run_as.value_or(RunAs{});

  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    const int error = errno;
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(error));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(log_fd);
    close(null_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    // Switch user here rather than with the program's own option (pgbouncer
    // -u): a change of credentials clears the parent-death signal set below.
    if (switch_user && (setgroups(0, nullptr) != 0 || setgid(run_as.gid) != 0 || setuid(run_as.uid) != 0))
      _exit(126);
    // Dies with the test binary even when that is SIGKILLed (a ctest
    // timeout), so no child outlives its test holding a port.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test binary died before prctl
    // The test binary ignores SIGPIPE (see exporter_process.cpp), and an
    // ignored signal survives exec.
    signal(SIGPIPE, SIG_DFL);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execvpe(args[0], args.data(), envp.data());
    ssize_t ignored = write(2, exec_failed.data(), exec_failed.size());
    (void)ignored;
    _exit(127);
  }
  close(log_fd);
  close(null_fd);
  pid_ = pid;
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::reap(int options) {
  if (pid_ < 0) return true;
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid_, &status, options)) < 0 && errno == EINTR) {
  }
  if (r == pid_) {
    exit_code_ = detail::decode_wait_status(status);
    pid_ = -1;
    return true;
  }
  return r < 0;  // not our child any more: nothing to wait for
}

bool BackgroundProcess::running() { return !reap(WNOHANG); }

std::string BackgroundProcess::log_tail(std::size_t lines) const {
  return tail_lines(read_file(log_path_), lines);
}

int BackgroundProcess::stop(int grace_ms) {
  if (pid_ < 0) return exit_code_;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(WNOHANG)) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  reap(0);
  return exit_code_;
}

}  // namespace pgscope::test
