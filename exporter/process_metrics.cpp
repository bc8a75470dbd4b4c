#include "exporter/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pgscope {
namespace {

int count_open_fds() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    --count;  // the descriptor of the directory stream itself
  }
  return count;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

void add_process_metrics(MetricSink& sink) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat;
  std::getline(stat_file, stat);
  // The command name (field 2) may hold spaces and parentheses: fields are
  // counted from the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> values;
  for (std::string field; fields >> field;) values.push_back(field);
  // Counted from field 3 (state) at index 0: utime 14, stime 15, num_threads
  // 20, starttime 22, vsize 23, rss 24.
  if (values.size() < 22) return;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double cpu = (std::stod(values[11]) + std::stod(values[12])) / ticks;
  sink.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {}, cpu);
  sink.gauge("process_threads", "Number of OS threads in the process.", {}, std::stod(values[17]));
  sink.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {},
             boot_time_seconds() + std::stod(values[19]) / ticks);
  sink.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}, std::stod(values[20]));
  sink.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
             std::stod(values[21]) * page);
  sink.gauge("process_open_fds", "Number of open file descriptors.", {}, count_open_fds());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    sink.gauge("process_max_fds", "Maximum number of open file descriptors.", {},
               static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace pgscope
