#pragma once
// Helpers of pgscope-bench: CPU and memory of processes from /proc, the peer
// exporter as a child process, and one HTTP scrape.
#include <sys/types.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace pgscope::bench {

extern const double kMsPerTick;  // /proc CPU times are in clock ticks

long long process_ticks(pid_t pid);  // utime + stime of the process (all threads)
// The postmaster, its live children and the children it has already reaped.
long long server_ticks(pid_t postmaster);
double status_mib(pid_t pid, const std::string& key);  // VmRSS, VmHWM... of /proc/<pid>/status
// CPU time of the process, all its threads including those that have exited,
// in ns (its CPU clock: clock_getcpuclockid); exact, unlike utime+stime's ticks.
long long process_ns(pid_t pid);
// process_ns of the postmaster and its live children (not those reaped already).
long long server_ns(pid_t postmaster);
std::string slurp(const std::string& path);
std::string load_average();  // "load average 1.32 1.64 1.54"

// Runs argv with this environment minus PG* and DATA_SOURCE_* plus `env`,
// output to a log file; SIGTERM (then SIGKILL) on stop() or destruction.
class PeerExporter {
 public:
  PeerExporter(std::vector<std::string> argv, const std::map<std::string, std::string>& env);
  ~PeerExporter();
  PeerExporter(const PeerExporter&) = delete;
  PeerExporter& operator=(const PeerExporter&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void stop();
  std::string log() const { return slurp(log_path_); }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
};

struct Fetch {
  int status = -1;
  std::string body;  // as sent: still compressed when encoding is gzip
  std::string encoding;
  double wall_ms = 0;
  std::string error;
};

Fetch fetch(int port, bool gzip, const char* path = "/metrics");

// The nearest-rank percentile (p in 0..1) of v; 0 when v is empty.
double percentile(std::vector<double> v, double p);

// Sample lines per metric name of an exposition.
std::map<std::string, std::size_t> series_by_name(const std::string& body);

// One sample line of an exposition. Labels with an empty value are left out,
// as Prometheus does. Tolerates `name {labels}`, which Patroni 3.0 writes.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
std::vector<Sample> parse_samples(const std::string& body);
std::string describe(const Sample& sample);  // name{label="value",...}

std::string shell_quote(const std::string& arg);
std::string command_line(const std::vector<std::string>& argv);

}  // namespace pgscope::bench
