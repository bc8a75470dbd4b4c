#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/exporter_process.hpp"

namespace pgscope::test {

// One Patroni member of the testbed (scripts/testbed).
struct TestbedMember {
  std::string name;    // member1..member3
  int pg_port = 0;     // PostgreSQL on 127.0.0.1
  int api_port = 0;    // Patroni's REST API on 127.0.0.1
  std::string config;  // its patroni.yml
  std::string dir;     // its directory in the state directory (data/, patroni.pid, patroni.log)

  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_port); }
};

struct ApiResponse {
  int status = -1;  // -1: no answer (see error)
  std::string body;
  std::string error;
};

// The testbed that `scripts/testbed up` started (in a ctest run: the fixture
// `testbed`), read from the env file in its state directory.
class Testbed {
 public:
  // Reads $PGSCOPE_TESTBED_DIR/env (default: the script's own default
  // directory); throws std::runtime_error saying how to start one.
  static Testbed load();
  // The assignments of an env file (NAME=value, values as bash's %q writes them).
  static std::map<std::string, std::string> parse_env(const std::string& text);

  std::string dir;
  std::string scope;
  int etcd_port = 0;
  int pgbouncer_port = 0;
  int pgbouncer_target_port = 0;  // member1's PostgreSQL: the leader at `up`; it does not follow failovers
  std::vector<TestbedMember> members;
  std::string superuser, superuser_password;
  std::string replication_user, replication_password;
  std::string pgbouncer_admin_user, pgbouncer_admin_password, pgbouncer_stats_user;

  const TestbedMember& member(const std::string& name) const;  // throws for an unknown name
  // host=127.0.0.1 port=.. user=<superuser> password=.. dbname=postgres sslmode=disable
  std::string dsn(const TestbedMember& member) const;
  // pgBouncer's admin console as its admin user (dbname=pgbouncer).
  std::string pgbouncer_admin_dsn() const;

  // ---- Patroni's REST API ----
  ApiResponse api_get(const TestbedMember& member, const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;
  // GET /cluster from the first member that answers; null when none does.
  nlohmann::json cluster() const;
  // The running leader by /cluster; "" when there is none.
  std::string leader() const;
  // Three members, one running leader, two running replicas, and the leader's
  // /patroni shows both streaming.
  bool healthy(std::string* why = nullptr) const;
  // Waits until healthy(); throws std::runtime_error saying what is missing
  // when `timeout` passes first.
  void wait_until_whole(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // patronictl -c <member1's config> ARGS...
  ProcessResult patronictl(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // ---- Processes ----
  // The pid of the member's Patroni (its pid file) / postmaster (postmaster.pid)
  // when that process is alive; -1 otherwise.
  pid_t patroni_pid(const TestbedMember& member) const;
  pid_t postmaster_pid(const TestbedMember& member) const;
  // kill -9 of the member's Patroni and postmaster (what is alive of them).
  void kill_member(const TestbedMember& member) const;
  // `scripts/testbed up`, which restarts what is not running and returns when
  // the cluster is whole again; throws std::runtime_error with its output.
  void restore() const;
  std::string log_tail(const TestbedMember& member, std::size_t lines = 40) const;
};

// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(250));

}  // namespace pgscope::test
