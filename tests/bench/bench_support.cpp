#include "bench/bench_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pgscope::bench {

using Clock = std::chrono::steady_clock;

namespace {

// ---- /proc ------------------------------------------------------------------

struct ProcStat {
  pid_t ppid = 0;
  long long cpu = 0;        // utime + stime, clock ticks
  long long child_cpu = 0;  // cutime + cstime: children it has reaped
};

bool read_stat(pid_t pid, ProcStat& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field && f.size() < 15;) f.push_back(field);
  if (f.size() < 15) return false;  // f[0] is field 3 (state) of proc(5)
  out.ppid = std::stoi(f[1]);
  out.cpu = std::stoll(f[11]) + std::stoll(f[12]);
  out.child_cpu = std::stoll(f[13]) + std::stoll(f[14]);
  return true;
}

}  // namespace

long long process_ticks(pid_t pid) {
  ProcStat s;
  if (!read_stat(pid, s)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  return s.cpu;
}

// The postmaster, its live children, and (through cutime/cstime) the children
// it has already reaped: a backend that exits during a scrape still counts.
long long server_ticks(pid_t postmaster) {
  ProcStat root;
  if (!read_stat(postmaster, root)) throw std::runtime_error("postmaster is gone");
  long long total = root.cpu + root.child_cpu;
  DIR* proc = opendir("/proc");
  if (!proc) throw std::runtime_error("cannot list /proc");
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    ProcStat s;
    if (*end == '\0' && pid > 0 && read_stat(static_cast<pid_t>(pid), s) && s.ppid == postmaster) {
      total += s.cpu;
    }
  }
  closedir(proc);
  return total;
}

double status_mib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;  // kB
  }
  return 0;
}

namespace {

// -1 when the process is gone.
long long cpu_ns_or_gone(pid_t pid) {
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

long long process_ns(pid_t pid) {
  const long long ns = cpu_ns_or_gone(pid);
  if (ns < 0) throw std::runtime_error("cannot read the CPU clock of process " + std::to_string(pid));
  return ns;
}

long long server_ns(pid_t postmaster) {
  long long total = process_ns(postmaster);
  DIR* proc = opendir("/proc");
  if (!proc) throw std::runtime_error("cannot list /proc");
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    ProcStat s;
    if (*end == '\0' && pid > 0 && read_stat(static_cast<pid_t>(pid), s) && s.ppid == postmaster) {
      total += std::max(0LL, cpu_ns_or_gone(static_cast<pid_t>(pid)));
    }
  }
  closedir(proc);
  return total;
}

const double kMsPerTick = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string load_average() { return "load average " + slurp("/proc/loadavg").substr(0, 14); }

// ---- The peer exporter ------------------------------------------------------

// ExporterProcess only runs our binary, so the peer gets the same treatment
// here: its own log file, no inherited PG*/DATA_SOURCE_* settings, and death
// with the benchmark (PR_SET_PDEATHSIG) so it never outlives us on a port.
PeerExporter::PeerExporter(std::vector<std::string> argv, const std::map<std::string, std::string>& env) {
  log_path_ = "/tmp/pgscope-bench-peer-" + std::to_string(getpid()) + ".log";
  std::vector<std::string> envp;
  for (char** e = environ; *e; ++e) {
    std::string var = *e;
    if (var.rfind("PG", 0) != 0 && var.rfind("DATA_SOURCE_", 0) != 0) envp.push_back(var);
  }
  for (const auto& [name, value] : env) envp.push_back(name + "=" + value);
  std::vector<char*> cargv, cenvp;
  for (auto& a : argv) cargv.push_back(a.data());
  for (auto& e : envp) cenvp.push_back(e.data());
  cargv.push_back(nullptr);
  cenvp.push_back(nullptr);
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path_);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(cargv[0], cargv.data(), cenvp.data());
    _exit(127);
  }
  close(log_fd);
}

PeerExporter::~PeerExporter() {
  stop();
  std::remove(log_path_.c_str());
}

bool PeerExporter::running() {
  if (pid_ < 0) return false;
  if (waitpid(pid_, nullptr, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

void PeerExporter::stop() {
  if (pid_ < 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 250 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

// ---- Scraping and measuring -------------------------------------------------

// The same client code for both exporters: a fresh connection per scrape, as
// Prometheus does after an idle interval, and the body as sent.
Fetch fetch(int port, bool gzip, const char* path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(120, 0);
  client.set_decompress(false);
  httplib::Headers headers{{"Accept-Encoding", gzip ? "gzip" : "identity"}};
  Fetch f;
  const auto start = Clock::now();
  auto response = client.Get(path, headers);
  f.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!response) {
    f.error = httplib::to_string(response.error());
    return f;
  }
  f.status = response->status;
  f.body = std::move(response->body);
  f.encoding = response->get_header_value("Content-Encoding");
  return f;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(p * static_cast<double>(v.size()) + 0.999999);  // nearest rank
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::map<std::string, std::size_t> series_by_name(const std::string& body) {
  std::map<std::string, std::size_t> names;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    ++names[line.substr(0, line.find_first_of("{ "))];
  }
  return names;
}

std::vector<Sample> parse_samples(const std::string& body) {
  std::vector<Sample> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size() && line[i] == '{') {
      while (++i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size()) break;
        std::string key = line.substr(i, eq - i), value;
        for (i = eq + 2; i < line.size() && line[i] != '"'; ++i)
          value += line[i] == '\\' ? line[++i] : line[i];
        if (!value.empty()) s.labels[key] = value;
        if (i + 1 < line.size() && line[i + 1] == ',') ++i;
      }
      ++i;
    }
    s.value = std::strtod(line.c_str() + std::min(i, line.size()), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::string describe(const Sample& sample) {
  std::string text = sample.name + "{";
  for (const auto& [k, v] : sample.labels) text += (text.back() == '{' ? "" : ",") + k + "=\"" + v + "\"";
  return text + "}";
}

std::string shell_quote(const std::string& arg) {
  if (arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@") ==
      std::string::npos) {
    return arg;
  }
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + shell_quote(a);
  return line;
}

}  // namespace pgscope::bench
