#include "support/process_figures.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "support/exporter_process.hpp"

namespace pgscope::test {
namespace {

int count_entries(const std::string& path) {
  int count = 0;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
  }
  return count;
}

// A "Name:   123 kB" line of /proc/PID/status, in KiB; -1 when absent.
long status_kib(const std::string& status, const std::string& name) {
  const auto at = status.find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  return std::atol(status.c_str() + at + name.size() + 2);
}

}  // namespace

ProcessFigures figures_of(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  ProcessFigures figures;
  figures.threads = count_entries(proc + "/task");
  figures.fds = count_entries(proc + "/fd");
  const std::string status = "\n" + read_file(proc + "/status");
  figures.rss_kib = status_kib(status, "VmRSS");
  figures.hwm_kib = status_kib(status, "VmHWM");
  return figures;
}

std::string mib(long kib) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << kib / 1024.0 << " MiB";
  return out.str();
}

std::string describe(const ProcessFigures& figures) {
  return std::to_string(figures.threads) + " threads, " + std::to_string(figures.fds) + " fds, RSS " +
         mib(figures.rss_kib) + " (peak " + mib(figures.hwm_kib) + ")";
}

double cpu_seconds_of(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int index = 3; fields >> field && index <= 15; ++index) {
    if (index >= 14) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace pgscope::test
