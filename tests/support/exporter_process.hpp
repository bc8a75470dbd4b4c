#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pgscope::test {

// ---- Running programs ------------------------------------------------------
// The test support runs other programs (initdb, pg_ctl, promtool, the
// exporter) with argument vectors, never through a shell, so names with
// quotes or spaces in them reach the program unchanged.

using EnvOverrides = std::map<std::string, std::string>;

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal; 124 on timeout
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv[0] (looked up in PATH when it has no slash) with this process's
// environment plus `env`, feeds `input` to its stdin, and captures stdout and
// stderr. Kills it after `timeout`.
// Throws std::runtime_error when the program cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const EnvOverrides& env = {},
                          const std::string& input = "",
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A file's whole content ("" when it cannot be read: for logs that may not
// exist yet), and the last `lines` lines of a text.
std::string read_file(const std::string& path);
std::string tail_lines(const std::string& text, std::size_t lines);

// For the code that starts programs (here and BackgroundProcess): this
// process's environment plus `env` as "NAME=value" strings; a
// null-terminated array of pointers into `strings` for exec; a waitpid status
// as an exit code (128 + signal when killed by one).
namespace detail {
std::vector<std::string> environment_with(const EnvOverrides& env);
std::vector<char*> c_strings(std::vector<std::string>& strings);
int decode_wait_status(int status);
}  // namespace detail

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it,
// close). Another process can take it before we use it; callers retry.
int free_tcp_port();

// ---- The exporter under test -----------------------------------------------

class BackgroundProcess;

struct ScrapeResult {
  int status = -1;  // HTTP status; -1 when no response arrived (see error)
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  double elapsed_ms = 0;
  std::string error;  // transport error when status is -1

  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
};

// Runs PGSCOPE_EXPORTER_BINARY on a free port of 127.0.0.1 with `args`
// (without --web.listen-address, which is added) until stop() or destruction.
// Its stdout and stderr go to a temporary log file. The exporter inherits no
// variable that configures it or libpq (PG*, DATA_SOURCE_*, POSTGRES_*) from
// the test's environment, so a developer's DATA_SOURCE_NAME cannot leak into
// a test: pass them in `env`.
class ExporterProcess {
 public:
  // Waits until GET /healthz answers (at most 10 s); throws
  // std::runtime_error with the log's tail when it does not or the process
  // exits first.
  explicit ExporterProcess(std::vector<std::string> args, EnvOverrides env = {});
  ~ExporterProcess();
  ExporterProcess(const ExporterProcess&) = delete;
  ExporterProcess& operator=(const ExporterProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const;  // -1 once stop() or running() saw it exit
  std::string url(const std::string& path = "/") const;

  // GET `path`. With decompress=false a gzip body is returned as sent.
  ScrapeResult scrape(const std::string& path = "/metrics",
                      const std::map<std::string, std::string>& headers = {}, bool decompress = true,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // POST `path` without a body (/-/reload).
  ScrapeResult post(const std::string& path) const;

  std::string log() const;  // everything it printed so far
  std::string log_tail(std::size_t lines = 40) const;
  bool running();

  // SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit code (128 +
  // signal when killed by one). Later calls return the same value.
  int stop();

 private:
  std::vector<std::string> args_;
  EnvOverrides env_;
  std::string log_path_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;  // the current attempt's
};

// Runs the exporter once to completion (flag errors, --version, --help),
// with the same environment rules as ExporterProcess.
ProcessResult run_exporter_once(const std::vector<std::string>& args, const EnvOverrides& env = {},
                                std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace pgscope::test
