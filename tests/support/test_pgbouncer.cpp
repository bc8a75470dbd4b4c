#include "support/test_pgbouncer.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/exporter_process.hpp"

namespace fs = std::filesystem;

namespace pgscope::test {
namespace {

const char* const kPgBouncer = "/usr/sbin/pgbouncer";

bool is_root() { return geteuid() == 0; }

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string make_temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  if (base.size() > 64) base = "/tmp";  // the Unix socket goes here: paths are limited to 107 bytes
  std::string path = base + "/pgscope-bouncer-XXXXXX";
  if (!mkdtemp(path.data())) throw std::runtime_error(errno_text("mkdtemp " + path));
  if (is_root()) {
    passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("running as root, but there is no `postgres` user to run pgBouncer as");
    if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error(errno_text("chown " + path));
    // The postgres user must reach the directory (its socket), e.g. when
    // TMPDIR is under /root.
    for (fs::path p = fs::path(path).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH);
    }
  }
  return path;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

}  // namespace

TestPgBouncer::TestPgBouncer(const TestPostgres& backend, TestPgBouncerOptions options)
    : backend_("host=" + backend.host() + " port=" + std::to_string(backend.port())),
      options_(std::move(options)) {
  if (access(kPgBouncer, X_OK) != 0) {
    throw std::runtime_error(std::string(kPgBouncer) +
                             " not found: install the `pgbouncer` package (scripts/setup)");
  }
  dir_ = make_temp_dir();
  try {
    // The port was free a moment ago; a parallel test may take it first.
    for (int attempt = 0;; ++attempt) {
      port_ = free_tcp_port();
      write_config();
      try {
        start_once();
        return;
      } catch (const std::runtime_error&) {
        const bool port_taken = log_tail(20).find("already in use") != std::string::npos;
        if (!port_taken || attempt == 4) throw;
      }
    }
  } catch (...) {
    stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

TestPgBouncer::~TestPgBouncer() {
  stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string TestPgBouncer::admin_dsn(const std::string& user) const { return client_dsn("pgbouncer", user); }

std::string TestPgBouncer::client_dsn(const std::string& db, const std::string& user) const {
  return "host=" + host() + " port=" + std::to_string(port_) + " user=" + conninfo_value(user) +
         " dbname=" + conninfo_value(db) + " sslmode=disable";
}

void TestPgBouncer::write_config() const {
  const std::string& backend = backend_;
  std::ostringstream ini;
  ini << "[databases]\n"
      << "postgres = " << backend << " dbname=postgres\n"
      << "* = " << backend << "\n"
      << "[pgbouncer]\n"
      << "listen_addr = " << host() << "\n"
      << "listen_port = " << port_ << "\n"
      << "unix_socket_dir = " << dir_ << "\n"
      << "auth_type = trust\n"
      << "auth_file = " << dir_ << "/userlist.txt\n"
      << "admin_users = pgscope_admin\n"
      << "stats_users = pgscope_stats\n"
      << "pool_mode = " << options_.pool_mode << "\n"
      << "default_pool_size = " << options_.default_pool_size << "\n"
      << "max_client_conn = " << options_.max_client_conn
      << "\n"
      // libpq-based clients may send it; Zalando's pooler ignores it too.
      << "ignore_startup_parameters = extra_float_digits\n"
      << options_.extra_settings << "\n";
  write_text(dir_ + "/pgbouncer.ini", ini.str());
  // auth_type = trust still wants every user listed.
  write_text(dir_ + "/userlist.txt",
             "\"pgscope_admin\" \"\"\n\"pgscope_stats\" \"\"\n\"postgres\" \"\"\n\"pgscope_nobody\" \"\"\n");
}

void TestPgBouncer::start() {
  if (running()) return;
  start_once();
}

void TestPgBouncer::start_once() {
  BackgroundProcess::Options options;
  if (is_root()) {
    passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("no `postgres` user to run pgBouncer as");
    // Not pgbouncer -u: BackgroundProcess switches user before it sets the
    // parent-death signal, which a change of credentials would clear.
    options.run_as = BackgroundProcess::RunAs{pw->pw_uid, pw->pw_gid};
  }
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{kPgBouncer, dir_ + "/pgbouncer.ini"}, log_path(), std::move(options));

  // Ready when the admin console answers a command.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::string last_error;
  while (std::chrono::steady_clock::now() < until) {
    if (!process_->running()) {
      process_.reset();
      throw std::runtime_error("pgBouncer exited while starting:\n" + log_tail());
    }
    Connection conn(PQconnectdb((admin_dsn() + " connect_timeout=2").c_str()), &PQfinish);
    if (PQstatus(conn.get()) == CONNECTION_OK) {
      Result result(PQexec(conn.get(), "SHOW VERSION"), &PQclear);
      if (PQresultStatus(result.get()) == PGRES_TUPLES_OK) return;
    }
    last_error = PQerrorMessage(conn.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error("pgBouncer did not answer within 15 s (" + last_error + "):\n" + log_tail());
}

void TestPgBouncer::stop() {
  if (!process_) return;
  process_->stop(5000);  // SIGTERM: pgBouncer's immediate shutdown
  process_.reset();
}

ShowRows TestPgBouncer::show(const std::string& command, const std::string& user) const {
  Connection conn(PQconnectdb((admin_dsn(user) + " connect_timeout=10").c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to pgBouncer's admin console: " +
                             std::string(PQerrorMessage(conn.get())));
  }
  Result result(PQexec(conn.get(), command.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error(command + " failed: " + PQerrorMessage(conn.get()));
  }
  ShowRows rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(result.get()); ++c)
      row[PQfname(result.get(), c)] = PQgetvalue(result.get(), r, c);
  }
  return rows;
}

std::string TestPgBouncer::log_tail(std::size_t lines) const {
  return tail_lines(read_file(log_path()), lines);
}

}  // namespace pgscope::test
