#pragma once

// A process seen from outside, through /proc: what the fault and load tests
// count before and after (threads, descriptors, memory, CPU), and the small
// helpers they share.
#include <sys/types.h>

#include <chrono>
#include <string>

namespace pgscope::test {

struct ProcessFigures {
  int threads = -1;
  int fds = -1;
  long rss_kib = -1;
  long hwm_kib = -1;  // peak RSS (VmHWM)
};

ProcessFigures figures_of(pid_t pid);
// "35 threads, 13 fds, RSS 16.5 MiB (peak 16.5 MiB)"
std::string describe(const ProcessFigures& figures);
std::string mib(long kib);  // "16.5 MiB"

// CPU seconds (user + system) the process has used.
double cpu_seconds_of(pid_t pid);

// An integer from the environment (tests' knobs), `fallback` when unset.
int env_int(const char* name, int fallback);

double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace pgscope::test
