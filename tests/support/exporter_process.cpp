#include "support/exporter_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/background_process.hpp"

extern char** environ;

namespace pgscope::test {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tail_lines(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (std::size_t seen = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  }
  return text.substr(pos);
}

namespace {

using Clock = std::chrono::steady_clock;

// Writing to a child's stdin after it exited would raise SIGPIPE and kill the
// whole test binary; we want EPIPE instead. Children get the default back
// (see the spawn attributes below, and BackgroundProcess), since an ignored
// signal survives exec.
const bool sigpipe_ignored = [] {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  return true;
}();

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::map<std::string, std::string> environment_map() {
  std::map<std::string, std::string> result;
  for (char** entry = environ; entry && *entry; ++entry) {
    const char* eq = std::strchr(*entry, '=');
    if (eq) result.emplace(std::string(*entry, static_cast<std::size_t>(eq - *entry)), std::string(eq + 1));
  }
  return result;
}

std::vector<std::string> to_envp(std::map<std::string, std::string> vars, const EnvOverrides& env) {
  for (const auto& [name, value] : env) vars[name] = value;
  std::vector<std::string> envp;
  for (const auto& [name, value] : vars) envp.push_back(name + "=" + value);
  return envp;
}

// What the exporter must not inherit: its own settings and libpq's.
bool configures_exporter(const std::string& name) {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  return starts("PG") || starts("DATA_SOURCE_") || starts("POSTGRES_");
}

std::vector<std::string> exporter_envp(const EnvOverrides& env) {
  auto vars = environment_map();
  for (auto it = vars.begin(); it != vars.end();) {
    it = configures_exporter(it->first) ? vars.erase(it) : std::next(it);
  }
  return to_envp(std::move(vars), env);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

namespace detail {

std::vector<std::string> environment_with(const EnvOverrides& env) { return to_envp(environment_map(), env); }

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace detail

namespace {

using detail::c_strings;
using detail::decode_wait_status;

ProcessResult run_with_envp(const std::vector<std::string>& argv, std::vector<std::string> envp_strings,
                            const std::string& input, std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::invalid_argument("run_process: empty argv");
  auto argv_strings = argv;
  auto envp = c_strings(envp_strings);
  auto args = c_strings(argv_strings);

  // Our ends are close-on-exec so that no other child (a postmaster, say)
  // keeps them open and delays the EOF we wait for.
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(errno_text("pipe"));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }

  ProcessResult result;
  int in_fd = in_pipe[1];
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  const auto deadline = Clock::now() + timeout;
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 && !result.timed_out) {
      // Still holding the pipes open after the deadline: kill it, then keep
      // draining until the pipes close.
      result.timed_out = true;
      kill(pid, SIGKILL);
    }
    // A grandchild (a daemon it started) may hold the pipes open for good.
    if (result.timed_out && left < -2000) break;
    if (poll(fds, n, result.timed_out ? 1000 : static_cast<int>(std::min<long long>(left, 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
        if (written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buffer[8192];
      ssize_t r = read(fds[i].fd, buffer, sizeof buffer);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      if (r > 0) {
        sink.append(buffer, static_cast<std::size_t>(r));
      } else {
        close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) close(fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = result.timed_out ? 124 : decode_wait_status(status);
  return result;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const EnvOverrides& env,
                          const std::string& input, std::chrono::milliseconds timeout) {
  return run_with_envp(argv, detail::environment_with(env), input, timeout);
}

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(errno_text("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error(errno_text("bind 127.0.0.1:0"));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ScrapeResult::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

ExporterProcess::ExporterProcess(std::vector<std::string> args, EnvOverrides env)
    : args_(std::move(args)), env_(std::move(env)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string log_template = std::string(tmp && *tmp ? tmp : "/tmp") + "/pgscope-exporter-XXXXXX.log";
  int fd = mkstemps(log_template.data(), 4);
  if (fd < 0) throw std::runtime_error(errno_text("mkstemps " + log_template));
  close(fd);
  log_path_ = log_template;

  // The port was free a moment ago; another test may take it first, in which
  // case the exporter exits at once and we try another.
  std::string failure;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_tcp_port();
    std::vector<std::string> argv{PGSCOPE_EXPORTER_BINARY,
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    BackgroundProcess::Options options;
    options.environment = exporter_envp(env_);
    process_ = std::make_unique<BackgroundProcess>(std::move(argv), log_path_, std::move(options));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (!running()) break;
      if (scrape("/healthz", {}, true, std::chrono::seconds(2)).status > 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    bool exited = !running();
    int code = stop();
    failure =
        "pgscope-exporter " +
        std::string(exited ? "exited with " + std::to_string(code) : "did not answer /healthz within 10 s") +
        "; log tail:\n" + log_tail();
    std::string log_text = lower(log());
    bool port_taken = log_text.find("address already in use") != std::string::npos ||
                      log_text.find("cannot listen") != std::string::npos ||
                      log_text.find("bind") != std::string::npos;
    if (!exited || !port_taken) break;
    std::ofstream(log_path_, std::ios::trunc);
    process_.reset();
  }
  std::remove(log_path_.c_str());
  throw std::runtime_error(failure);
}

ExporterProcess::~ExporterProcess() {
  stop();
  std::remove(log_path_.c_str());
}

pid_t ExporterProcess::pid() const { return process_ ? process_->pid() : -1; }

bool ExporterProcess::running() { return process_ && process_->running(); }

int ExporterProcess::stop() { return process_ ? process_->stop(5000) : -1; }

std::string ExporterProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

namespace {

ScrapeResult to_result(const httplib::Result& response, Clock::time_point start) {
  ScrapeResult result;
  result.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!response) {
    result.error = httplib::to_string(response.error());
    return result;
  }
  result.status = response->status;
  result.body = response->body;
  for (const auto& [name, value] : response->headers) result.headers.emplace(lower(name), value);
  return result;
}

}  // namespace

ScrapeResult ExporterProcess::scrape(const std::string& path,
                                     const std::map<std::string, std::string>& headers, bool decompress,
                                     std::chrono::milliseconds timeout) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(2, 0);
  auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  client.set_read_timeout(usec / 1000000, usec % 1000000);
  client.set_decompress(decompress);
  httplib::Headers request_headers(headers.begin(), headers.end());

  const auto start = Clock::now();
  return to_result(client.Get(path.c_str(), request_headers), start);
}

ScrapeResult ExporterProcess::post(const std::string& path) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(30, 0);
  const auto start = Clock::now();
  return to_result(client.Post(path.c_str()), start);
}

std::string ExporterProcess::log() const { return read_file(log_path_); }

std::string ExporterProcess::log_tail(std::size_t lines) const { return tail_lines(log(), lines); }

ProcessResult run_exporter_once(const std::vector<std::string>& args, const EnvOverrides& env,
                                std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{PGSCOPE_EXPORTER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_with_envp(argv, exporter_envp(env), "", timeout);
}

}  // namespace pgscope::test
