#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgscope::test {

// SQL quoting for names the tests make up (hostile ones included):
// sql_identifier("we\"ird") is "we""ird", sql_literal("it's") is 'it''s'.
std::string sql_identifier(const std::string& name);
std::string sql_literal(const std::string& value);

// A value for a libpq keyword/value connection string, quoted and escaped.
std::string conninfo_value(const std::string& value);

using Rows = std::vector<std::vector<std::optional<std::string>>>;  // nullopt: SQL NULL

// A throwaway PostgreSQL server of its own: a fresh cluster in a temporary
// directory on a free port of 127.0.0.1, started by the constructor and
// removed by the destructor.
//
// As root it runs as the `postgres` user (PostgreSQL refuses root). Every
// live instance is in a process-wide registry: exit() and SIGINT, SIGTERM,
// SIGABRT, SIGHUP and SIGSEGV stop them immediately, and a small watchdog
// process per instance stops the server and removes the directory when the
// test binary dies in any other way (SIGKILL from a ctest timeout).
class TestPostgres {
 public:
  TestPostgres();  // initdb + start; throws std::runtime_error with the log
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // A streaming standby of `primary` (running), in a temporary directory of
  // its own on a free port, with the same teardown guarantees: pg_basebackup
  // -R -X stream -c fast as the server user, so primary_conninfo (with
  // `application_name`) and standby.signal come from pg_basebackup. With a
  // `slot_name` the standby streams from that physical slot, which is created
  // on the primary (reserving WAL at once) unless it exists. Returns once the
  // standby is in recovery, its WAL receiver is streaming and the primary's
  // pg_stat_replication shows it streaming; throws std::runtime_error with
  // both servers' logs otherwise.
  static std::unique_ptr<TestPostgres> standby_of(const TestPostgres& primary,
                                                  const std::string& slot_name = "",
                                                  const std::string& application_name = "standby1");
  bool is_standby() const { return !standby_application_name_.empty(); }
  // Waits until this standby has replayed everything the primary had written
  // when called (pg_current_wal_lsn()); throws std::runtime_error at `timeout`.
  // Replay must not be paused.
  void wait_for_replay(const TestPostgres& primary,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // Keyword form over TCP: host, port, user, dbname, sslmode=disable.
  std::string dsn(const std::string& db = "postgres", const std::string& user = "postgres") const;

  void stop();     // fast shutdown (immediate when that fails); no-op when stopped
  void start();    // same port and data; no-op when running
  void restart();  // stop + start
  bool running() const { return postmaster_pid_ > 0; }
  pid_t postmaster_pid() const { return postmaster_pid_; }

  // Runs SQL as postgres over its own connection (one per call, so every
  // call is its own session). Several statements may be given; explicit
  // BEGIN/COMMIT in them make separate transactions. Throws
  // std::runtime_error with the server's message.
  void exec(const std::string& sql, const std::string& db = "postgres") const;
  Rows query(const std::string& sql, const std::string& db = "postgres") const;
  // First column of the first row ("" for NULL); throws when there is no row.
  std::string query_value(const std::string& sql, const std::string& db = "postgres") const;

  // Adds lines to the server configuration (applied at the next reload or
  // restart) / puts a line in front of pg_hba.conf (first match wins there).
  void append_config(const std::string& lines);
  void prepend_hba(const std::string& line);
  void reload() const;  // SELECT pg_reload_conf()

  std::string dir() const { return dir_; }  // the temporary directory (sockets, log)
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log_path() const { return dir_ + "/postgres.log"; }
  std::string log_tail(std::size_t lines = 40) const;

  // Used by the exit and signal handlers: SIGQUIT-style stop, no waiting on
  // pg_ctl's timeouts, then removes the directory.
  void stop_immediately_and_remove();

 private:
  struct StandbyTag {};
  TestPostgres(StandbyTag, const TestPostgres& primary, const std::string& slot_name,
               const std::string& application_name);
  void claim_registry_slot();
  void start_on_free_port();  // start_once() on a free port, retried when another process takes it
  void clone_from(const TestPostgres& primary, const std::string& slot_name);  // pg_basebackup
  void wait_until_streaming(const TestPostgres& primary) const;

  std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
  std::string run_checked(const std::vector<std::string>& argv, const std::string& what) const;
  void write_settings() const;
  void write_owned_file(const std::string& path, const std::string& text) const;
  void start_once();
  void start_watchdog();
  void dismiss_watchdog();

  std::string bin_dir_;
  std::string dir_;
  int port_ = 0;
  std::string extra_config_;
  std::string standby_application_name_;  // "" for a primary
  pid_t postmaster_pid_ = -1;
  pid_t watchdog_pid_ = -1;
  int watchdog_fd_ = -1;  // write end; closing it without a word means "clean up"
  int slot_ = -1;         // index in the signal-safe postmaster pid table
};

}  // namespace pgscope::test
