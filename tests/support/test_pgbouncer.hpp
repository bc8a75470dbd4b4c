#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/background_process.hpp"
#include "support/test_postgres.hpp"

namespace pgscope::test {

struct TestPgBouncerOptions {
  std::string pool_mode = "transaction";
  int default_pool_size = 2;
  int max_client_conn = 100;
  std::string extra_settings;  // more lines for the [pgbouncer] section
};

// pgBouncer's admin console answers, one map per row, by column name (SQL
// NULL reads as "").
using ShowRows = std::vector<std::map<std::string, std::string>>;

// A throwaway pgBouncer (/usr/sbin/pgbouncer, Debian package `pgbouncer`) in
// front of `backend`: pgbouncer.ini and userlist.txt in a temporary
// directory, listening on a free port of 127.0.0.1 (Unix socket in that
// directory), auth_type = trust. Database `postgres` is configured, any other
// name reaches the backend database of that name (`*`).
//
// Users (no passwords): pgscope_admin (admin_users), pgscope_stats
// (stats_users), postgres (the backend's superuser, for client connections)
// and pgscope_nobody (neither: the console refuses it).
//
// As root it runs as the `postgres` user (pgBouncer refuses root). The
// process gets SIGKILL when the thread that started it ends (the test binary
// dying included, even by SIGKILL), so call start() from a thread that
// outlives the instance; the destructor stops it and removes the directory.
class TestPgBouncer {
 public:
  // Starts it and waits until the admin console answers; throws
  // std::runtime_error with pgBouncer's log otherwise.
  explicit TestPgBouncer(const TestPostgres& backend, TestPgBouncerOptions options = {});
  ~TestPgBouncer();
  TestPgBouncer(const TestPgBouncer&) = delete;
  TestPgBouncer& operator=(const TestPgBouncer&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // The admin console (dbname=pgbouncer) over TCP, sslmode=disable.
  std::string admin_dsn(const std::string& user = "pgscope_admin") const;
  // A pooled connection to `db` through pgBouncer.
  std::string client_dsn(const std::string& db = "postgres", const std::string& user = "postgres") const;

  void stop();   // SIGTERM (immediate shutdown), SIGKILL after 5 s; no-op when stopped
  void start();  // same port and configuration; no-op when running
  bool running() const { return process_ != nullptr; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  // Runs one admin console command (SHOW ...) over its own connection.
  // Throws std::runtime_error with pgBouncer's message.
  ShowRows show(const std::string& command, const std::string& user = "pgscope_admin") const;

  std::string dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/pgbouncer.log"; }
  std::string log_tail(std::size_t lines = 40) const;

 private:
  void write_config() const;
  void start_once();  // spawn and wait for the console; throws when it exits or does not answer

  std::string backend_;  // host=... port=... of the PostgreSQL behind it
  TestPgBouncerOptions options_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;  // null when stopped
};

}  // namespace pgscope::test
