#include "bench/bench_testbed.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "bench/bench_support.hpp"
#include "support/exporter_process.hpp"

namespace pgscope::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string script() { return std::string(PGSCOPE_SOURCE_DIR) + "/scripts/testbed"; }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> g_down_strings;  // bash scripts/testbed down, ready for the signal handler
std::vector<char*> g_down_argv;

// Takes the testbed down (fork, execve and waitpid are async-signal-safe),
// then dies of the signal as it would have; the exporters we started die
// with us (PR_SET_PDEATHSIG).
extern "C" void down_and_die(int sig) {
  const pid_t pid = fork();
  if (pid == 0) {
    execve(g_down_argv[0], g_down_argv.data(), environ);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
  signal(sig, SIG_DFL);
  raise(sig);
}

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

}  // namespace

BenchTestbed::BenchTestbed() : dir_("/tmp/pgscope-bench-testbed-" + std::to_string(getpid())) {
  setenv("PGSCOPE_TESTBED_DIR", dir_.c_str(), 1);  // for the script, Testbed::load() and the handler
  g_down_strings = {"/bin/bash", script(), "down"};
  g_down_argv.clear();
  for (auto& s : g_down_strings) g_down_argv.push_back(s.data());
  g_down_argv.push_back(nullptr);
  struct sigaction action {};
  action.sa_handler = down_and_die;
  sigfillset(&action.sa_mask);
  for (int sig : kSignals) sigaction(sig, &action, nullptr);

  std::cout << "Starting a testbed (etcd, 3 Patroni members, pgBouncer) in " << dir_ << "..." << std::endl;
  const auto start = Clock::now();
  try {
    auto up = test::run_process({"bash", script(), "up"}, {}, "", std::chrono::seconds(240));
    if (up.exit_code != 0) {
      throw std::runtime_error("scripts/testbed up failed (exit " + std::to_string(up.exit_code) + "):\n" +
                               up.err.substr(up.err.size() > 3000 ? up.err.size() - 3000 : 0));
    }
    bed = test::Testbed::load();
  } catch (...) {
    down();
    throw;
  }
  std::printf("  up in %.1f s (%s)\n", seconds_since(start), load_average().c_str());
}

BenchTestbed::~BenchTestbed() { down(); }

void BenchTestbed::down() {
  const auto start = Clock::now();
  auto result = test::run_process({"bash", script(), "down"}, {}, "", std::chrono::seconds(120));
  for (int sig : kSignals) signal(sig, SIG_DFL);
  if (result.exit_code == 0) {
    std::printf("\nTestbed down in %.1f s.\n", seconds_since(start));
  } else {
    std::fflush(stdout);
    std::cerr << "\nscripts/testbed down failed (exit " << result.exit_code << "):\n" << result.err << "\n";
  }
}

pid_t BenchTestbed::pid_from(const std::string& relative) const {
  std::ifstream in(dir_ + "/" + relative);
  long pid = -1;
  if (!(in >> pid) || pid <= 0 || kill(static_cast<pid_t>(pid), 0) != 0) return -1;
  const bool ours = slurp("/proc/" + std::to_string(pid) + "/cmdline").find(dir_ + "/") != std::string::npos;
  return ours ? static_cast<pid_t>(pid) : -1;
}

int BenchTestbed::other_patroni_agents() const {
  int n = 0;
  std::istringstream pids(test::run_process({"pgrep", "-f", "bin/patroni "}).out);
  for (std::string pid; pids >> pid;) {
    n += slurp("/proc/" + pid + "/cmdline").find(dir_ + "/") == std::string::npos ? 1 : 0;
  }
  return n;
}

}  // namespace pgscope::bench
