#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

// Patroni's REST API documents turned into plain values, without HTTP, so the
// mapping can be tested against recorded responses. Everything a document
// says is read defensively: a field that is absent or null takes the default
// Patroni's own /metrics would use, a field of the wrong type makes the whole
// document unreadable (it is not a Patroni we understand, and guessing would
// put wrong numbers on dashboards).
namespace pgscope::patroni {

// GET /patroni: the member this exporter watches.
struct Status {
  std::string scope;
  std::string name;  // "" before Patroni put it into /patroni (3.0.x)
  std::string version;
  double version_number = 0;  // padded semver, 3.0.2 -> 30002, as patroni_version
  std::string state;          // running, stopped, starting, ... ("unknown" when Patroni cannot query)
  std::string role;           // normalised: primary, replica, standby_leader, demoted, uninitialized
  double postmaster_start_time = 0;
  double xlog_location = 0;
  double xlog_received_location = 0;
  double xlog_replayed_location = 0;
  double xlog_replayed_timestamp = 0;
  bool xlog_paused = false;
  bool sync_standby = false;
  bool quorum_standby = false;
  std::string replication_state;  // streaming, in archive recovery, "" (Patroni 3.0.4+)
  double server_version = 0;
  double timeline = 0;
  double dcs_last_seen = 0;
  bool pending_restart = false;
  bool paused = false;
  bool cluster_unlocked = false;
  bool failsafe_mode_is_active = false;
};

// GET /cluster: every member as the DCS sees it.
struct Member {
  std::string name;
  std::string role;   // normalised: leader, standby_leader, sync_standby, quorum_standby, replica
  std::string state;  // as Patroni says: running, streaming, in archive recovery, stopped, ...
  std::optional<double> timeline;
  std::optional<double> lag_bytes;  // absent for the leader and when Patroni says "unknown"
};

struct Cluster {
  std::vector<Member> members;
};

// GET /history: one entry per timeline switch (failover or switchover).
struct History {
  std::size_t entries = 0;
  std::optional<double> last_switch;  // Unix time of the newest entry that has a timestamp
};

// A document read, or why not. Warnings are oddities that did not stop the
// reading (a timestamp in a format we do not know reads as 0).
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;
  std::vector<std::string> warnings;
};

Parsed<Status> parse_status(const std::string& body);
Parsed<Cluster> parse_cluster(const std::string& body);
Parsed<History> parse_history(const std::string& body);

// "2024-08-28 19:39:26.352526+00:00" (Python's str(datetime), as /patroni
// writes timestamps), "2019-09-24T09:22:33+02:00" (isoformat, as /history
// writes them), with Z, +HHMM, +HH or " UTC" as the zone; nullopt for
// anything else, including a time without a zone (its instant is unknown).
std::optional<double> parse_timestamp(const std::string& text);

// Patroni's padded semver: each of major, minor, patch as two digits.
double padded_semver(const std::string& version);

// PostgresqlState's fixed index (Patroni 4.1's patroni_postgres_state), or
// -1 for a state outside the enum, such as "unknown".
int postgres_state_index(const std::string& state);

// The roles of Patroni 4. /patroni said "master" before 4.0; /cluster may say
// "master" or "primary" for the lock holder in old versions, "leader" now.
std::string normalise_status_role(const std::string& role);
std::string normalise_member_role(const std::string& role);

}  // namespace pgscope::patroni
