#include "support/test_postgres.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/exporter_process.hpp"

namespace fs = std::filesystem;

namespace pgscope::test {
namespace {

bool is_root() { return geteuid() == 0; }

// ---- The registry ----------------------------------------------------------
// Signal handlers may only use async-signal-safe calls, so they see plain
// postmaster pids in a fixed table and send SIGQUIT (what "pg_ctl stop -m
// immediate" sends). The exit handler can do more and walks the instances.

constexpr int kSlots = 64;
std::atomic<pid_t> g_postmasters[kSlots];
struct sigaction g_previous[NSIG];

struct Registry {
  std::mutex mutex;
  std::set<TestPostgres*> live;
  bool used[kSlots] = {};
};

Registry& registry() {
  static auto* instance = new Registry;  // never destroyed: used from atexit
  return *instance;
}

void stop_all_at_exit() {
  std::set<TestPostgres*> live;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    live = registry().live;
  }
  for (auto* instance : live) instance->stop_immediately_and_remove();
}

void on_fatal_signal(int sig) {
  for (auto& pid : g_postmasters) {
    pid_t p = pid.load();
    if (p > 0) kill(p, SIGQUIT);
  }
  sigaction(sig, &g_previous[sig], nullptr);
  raise(sig);
}

// Installed before main() on purpose: Catch2 saves the handlers it finds
// when a test case starts and puts them back when it ends, so handlers
// installed later, inside a test case, would be lost after it.
const bool handlers_installed = [] {
  for (int sig : {SIGINT, SIGTERM, SIGABRT, SIGHUP, SIGSEGV}) {
    struct sigaction current {};
    sigaction(sig, nullptr, &current);
    if (current.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup: keep ignoring
    g_previous[sig] = current;
    struct sigaction ours {};
    ours.sa_handler = on_fatal_signal;
    sigemptyset(&ours.sa_mask);
    sigaction(sig, &ours, nullptr);
  }
  std::atexit(stop_all_at_exit);
  return true;
}();

// ---- Where things are ------------------------------------------------------

std::string find_bin_dir() {
  if (const char* env = std::getenv("PGSCOPE_PG_BINDIR"); env && *env) return env;
  // The newest installed major version (Debian installs them side by side).
  int best = 0;
  if (DIR* d = opendir("/usr/lib/postgresql")) {
    while (dirent* entry = readdir(d)) {
      int major = std::atoi(entry->d_name);
      std::string pg_ctl = std::string("/usr/lib/postgresql/") + entry->d_name + "/bin/pg_ctl";
      if (major > best && access(pg_ctl.c_str(), X_OK) == 0) best = major;
    }
    closedir(d);
  }
  if (best == 0) {
    throw std::runtime_error("no PostgreSQL server found under /usr/lib/postgresql (run scripts/setup)");
  }
  return "/usr/lib/postgresql/" + std::to_string(best) + "/bin";
}

passwd* server_user() {
  passwd* pw = getpwnam("postgres");
  if (!pw) throw std::runtime_error("running as root, but there is no `postgres` user to run PostgreSQL as");
  return pw;
}

std::string make_temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  // The Unix socket goes in this directory, and socket paths are limited to
  // 107 bytes.
  if (base.size() > 64) base = "/tmp";
  std::string path = base + "/pgscope-pg-XXXXXX";
  if (!mkdtemp(path.data())) throw std::runtime_error("mkdtemp " + path + ": " + std::strerror(errno));
  if (is_root()) {
    passwd* pw = server_user();
    if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
    }
    // The postgres user must be able to reach the directory, e.g. when
    // TMPDIR is under /root.
    for (fs::path p = fs::path(path).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH);
    }
  }
  return path;
}

void notice_sink(void*, const char*) {}  // NOTICEs would clutter the test output

struct Connection {
  PGconn* conn;
  explicit Connection(const std::string& conninfo) : conn(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      PQfinish(conn);
      throw std::runtime_error("cannot connect to test PostgreSQL: " + message);
    }
    PQsetNoticeProcessor(conn, notice_sink, nullptr);
  }
  ~Connection() { PQfinish(conn); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Result run_sql(const TestPostgres& pg, const std::string& sql, const std::string& db) {
  Connection c(pg.dsn(db) + " application_name=pgscope-test connect_timeout=10");
  Result result(PQexec(c.conn, sql.c_str()), &PQclear);
  auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    std::string message = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(c.conn);
    throw std::runtime_error("SQL failed in database " + db + ": " + message + "SQL: " + sql);
  }
  return result;
}

}  // namespace

std::string sql_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string sql_literal(const std::string& value) {
  // standard_conforming_strings is on: backslashes are literal in '...'.
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

TestPostgres::TestPostgres() : bin_dir_(find_bin_dir()), dir_(make_temp_dir()) {
  claim_registry_slot();
  try {
    start_watchdog();
    run_checked(as_server_user({bin_dir_ + "/initdb", "-D", data_dir(), "-A", "trust", "-U", "postgres", "-E",
                                "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"}),
                "initdb");
    std::ofstream(data_dir() + "/postgresql.conf", std::ios::app)
        << "\ninclude_if_exists 'pgscope_test.conf'\n";
    start_on_free_port();
  } catch (...) {
    stop_immediately_and_remove();
    dismiss_watchdog();
    throw;
  }
}

// The standby's own steps (clone_from, wait_until_streaming) are in
// test_standby.cpp.
TestPostgres::TestPostgres(StandbyTag, const TestPostgres& primary, const std::string& slot_name,
                           const std::string& application_name)
    : bin_dir_(primary.bin_dir_), dir_(make_temp_dir()), standby_application_name_(application_name) {
  claim_registry_slot();
  try {
    start_watchdog();
    clone_from(primary, slot_name);
    start_on_free_port();
    wait_until_streaming(primary);
  } catch (...) {
    stop_immediately_and_remove();
    dismiss_watchdog();
    throw;
  }
}

void TestPostgres::claim_registry_slot() {
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    for (int i = 0; i < kSlots && slot_ < 0; ++i) {
      if (!registry().used[i]) {
        registry().used[i] = true;
        slot_ = i;
      }
    }
    registry().live.insert(this);
  }
  if (slot_ < 0) {
    stop_immediately_and_remove();
    throw std::runtime_error("more than 64 TestPostgres instances at once");
  }
}

void TestPostgres::start_on_free_port() {
  // The port was free a moment ago; a parallel test may take it first.
  for (int attempt = 0;; ++attempt) {
    port_ = free_tcp_port();
    try {
      start_once();
      return;
    } catch (const std::runtime_error&) {
      std::string log = log_tail(20);
      bool port_taken =
          log.find("could not bind") != std::string::npos || log.find("already in use") != std::string::npos;
      if (!port_taken || attempt == 4) throw;
    }
  }
}

TestPostgres::~TestPostgres() {
  try {
    stop();
  } catch (const std::exception&) {
    // stop() already fell back to an immediate shutdown; nothing else to do.
  }
  stop_immediately_and_remove();
  dismiss_watchdog();
}

std::string TestPostgres::dsn(const std::string& db, const std::string& user) const {
  return "host=" + host() + " port=" + std::to_string(port_) + " user=" + conninfo_value(user) +
         " dbname=" + conninfo_value(db) + " sslmode=disable";
}

std::vector<std::string> TestPostgres::as_server_user(std::vector<std::string> argv) const {
  if (!is_root()) return argv;
  argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

std::string TestPostgres::run_checked(const std::vector<std::string>& argv, const std::string& what) const {
  auto result = run_process(argv, {}, "", std::chrono::seconds(120));
  if (result.exit_code != 0) {
    throw std::runtime_error(what + " failed (exit " + std::to_string(result.exit_code) + "): " + result.out +
                             result.err + "\n--- " + log_path() + " (tail):\n" + log_tail());
  }
  return result.out;
}

void TestPostgres::write_owned_file(const std::string& path, const std::string& text) const {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  if (is_root()) {
    passwd* pw = server_user();
    if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
    }
  }
}

void TestPostgres::write_settings() const {
  // A file of our own, included from postgresql.conf, so that a new port
  // (retry) or appended settings simply rewrite it.
  std::ostringstream conf;
  conf << "port = " << port_ << "\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = " << sql_literal(dir_) << "\n"
       << "shared_preload_libraries = 'pg_stat_statements'\n"
       << "wal_level = logical\n"
       << "max_replication_slots = 10\n"
       << "max_wal_senders = 10\n"
       // A test server's data is thrown away: durability only costs time.
       << "fsync = off\n"
       << "synchronous_commit = off\n"
       << "full_page_writes = off\n"
       // More for the collectors to show.
       << "track_io_timing = on\n"
       << "track_functions = all\n"
       << "log_line_prefix = '%m [%p] %q%u@%d '\n"
       << extra_config_;
  write_owned_file(data_dir() + "/pgscope_test.conf", conf.str());
}

void TestPostgres::start_once() {
  write_settings();
  run_checked(as_server_user({bin_dir_ + "/pg_ctl", "start", "-D", data_dir(), "-l", log_path(), "-w", "-t",
                              "60", "-s"}),
              "pg_ctl start");
  std::istringstream pid_file(read_file(data_dir() + "/postmaster.pid"));
  pid_t pid = -1;
  pid_file >> pid;
  if (pid <= 0) throw std::runtime_error("pg_ctl start succeeded, but postmaster.pid has no pid");
  postmaster_pid_ = pid;
  g_postmasters[slot_].store(pid);
}

void TestPostgres::start() {
  if (running()) return;
  start_once();
}

void TestPostgres::stop() {
  if (!running()) return;
  auto fast = run_process(
      as_server_user({bin_dir_ + "/pg_ctl", "stop", "-D", data_dir(), "-m", "fast", "-w", "-t", "30", "-s"}),
      {}, "", std::chrono::seconds(40));
  if (fast.exit_code != 0) {
    run_process(
        as_server_user({bin_dir_ + "/pg_ctl", "stop", "-D", data_dir(), "-m", "immediate", "-w", "-s"}), {},
        "", std::chrono::seconds(40));
  }
  g_postmasters[slot_].store(0);
  postmaster_pid_ = -1;
  if (fast.exit_code != 0) {
    throw std::runtime_error("pg_ctl stop -m fast failed: " + fast.out + fast.err + "\n" + log_tail());
  }
}

void TestPostgres::restart() {
  stop();
  start();
}

void TestPostgres::stop_immediately_and_remove() {
  // A failed start can leave a server that pg_ctl gave up waiting for: its
  // postmaster.pid is the sign.
  std::error_code no_throw;
  if (running() || (!dir_.empty() && fs::exists(data_dir() + "/postmaster.pid", no_throw))) {
    try {
      run_process(
          as_server_user({bin_dir_ + "/pg_ctl", "stop", "-D", data_dir(), "-m", "immediate", "-w", "-s"}), {},
          "", std::chrono::seconds(30));
    } catch (const std::exception&) {
      if (postmaster_pid_ > 0) kill(postmaster_pid_, SIGQUIT);
    }
    postmaster_pid_ = -1;
  }
  std::lock_guard<std::mutex> lock(registry().mutex);
  if (slot_ >= 0) {
    g_postmasters[slot_].store(0);
    registry().used[slot_] = false;
    slot_ = -1;
  }
  registry().live.erase(this);
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

void TestPostgres::start_watchdog() {
  // A child that waits for EOF on a pipe. The pipe closes when this process
  // ends however it ends (even SIGKILL); unless we said "q" first, the child
  // then stops the server and removes the directory. Everything it needs is
  // prepared before fork, since only async-signal-safe calls may follow it.
  static const char* script =
      "if [ -f \"$1/data/postmaster.pid\" ]; then\n"
      "  if [ \"$3\" = 1 ]; then runuser -u postgres -- \"$2\" stop -D \"$1/data\" -m immediate -s\n"
      "  else \"$2\" stop -D \"$1/data\" -m immediate -s; fi\n"
      "fi >/dev/null 2>&1\n"
      "rm -rf \"$1\"\n";
  std::vector<std::string> args{
      "/bin/sh", "-c", script, "pgscope-watchdog", dir_, bin_dir_ + "/pg_ctl", is_root() ? "1" : "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Ctrl-C reaches the whole process group; the watchdog must outlive the
    // test binary to clean up after it.
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    // Drop every other inherited descriptor, above all other watchdogs'
    // write ends, which would keep their pipes from ever closing.
    int read_fd = fds[0];
    if (close_range(3, read_fd - 1, 0) != 0 || close_range(read_fd + 1, ~0U, 0) != 0) {
      for (int fd = 3; fd < 65536; ++fd) {
        if (fd != read_fd) close(fd);
      }
    }
    char word = 0;
    ssize_t n;
    while ((n = read(read_fd, &word, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1 && word == 'q') _exit(0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[0]);
  if (null_fd >= 0) close(null_fd);
  watchdog_pid_ = pid;
  watchdog_fd_ = fds[1];
}

void TestPostgres::dismiss_watchdog() {
  if (watchdog_fd_ < 0) return;
  ssize_t ignored = write(watchdog_fd_, "q", 1);
  (void)ignored;
  close(watchdog_fd_);
  watchdog_fd_ = -1;
  while (waitpid(watchdog_pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  watchdog_pid_ = -1;
}

void TestPostgres::exec(const std::string& sql, const std::string& db) const { run_sql(*this, sql, db); }

Rows TestPostgres::query(const std::string& sql, const std::string& db) const {
  auto result = run_sql(*this, sql, db);
  Rows rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    std::vector<std::optional<std::string>> row;
    for (int c = 0; c < PQnfields(result.get()); ++c) {
      if (PQgetisnull(result.get(), r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(result.get(), r, c), PQgetlength(result.get(), r, c)));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string TestPostgres::query_value(const std::string& sql, const std::string& db) const {
  auto rows = query(sql, db);
  if (rows.empty() || rows[0].empty()) throw std::runtime_error("query returned no rows: " + sql);
  return rows[0][0].value_or("");
}

void TestPostgres::append_config(const std::string& lines) {
  extra_config_ += lines + "\n";
  write_settings();
}

void TestPostgres::prepend_hba(const std::string& line) {
  std::string path = data_dir() + "/pg_hba.conf";
  write_owned_file(path, line + "\n" + read_file(path));
}

void TestPostgres::reload() const { exec("SELECT pg_reload_conf()"); }

std::string TestPostgres::log_tail(std::size_t lines) const {
  return tail_lines(read_file(log_path()), lines);
}

}  // namespace pgscope::test
