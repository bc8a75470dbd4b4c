#include "patroni/patroni_metrics.hpp"

#include <map>

namespace pgscope::patroni {
namespace {

using prometheus::MetricType;

// Roles /cluster uses in Patroni 3 and 4: each gets a count, 0 included, so
// that "no sync standby" is a sample rather than a missing series.
const char* const kMemberRoles[] = {"leader", "standby_leader", "sync_standby", "quorum_standby", "replica"};

}  // namespace

void emit_status(const Status& s, MetricSink& sink) {
  const LabelPairs labels = {{"scope", s.scope}, {"name", s.name}};
  auto gauge = [&](const char* name, const char* help, double value) {
    sink.gauge(name, help, labels, value);
  };
  // The xlog_* and timeline families are counters in Patroni (without the
  // _total suffix); the same type keeps queries and recording rules written
  // against Patroni's /metrics valid.
  auto counter = [&](const char* name, const char* help, double value) {
    sink.counter(name, help, labels, value);
  };
  const bool primary = s.role == "primary";

  gauge("patroni_version", "Patroni semver without periods.", s.version_number);
  gauge("patroni_postgres_running", "Value is 1 if Postgres is running, 0 otherwise.", s.state == "running");
  gauge("patroni_postmaster_start_time", "Epoch seconds since Postgres started.", s.postmaster_start_time);
  gauge("patroni_primary", "Value is 1 if this node is the leader, 0 otherwise.", primary);
  // Patroni 4.0 dropped patroni_master for patroni_primary; dashboards made
  // for Patroni 2 and 3 still chart it, so it stays, with the same value.
  gauge("patroni_master", "Value is 1 if this node is the leader, 0 otherwise.", primary);
  counter("patroni_xlog_location",
          "Current location of the Postgres transaction log, 0 if this node is not the leader.",
          s.xlog_location);
  gauge("patroni_standby_leader", "Value is 1 if this node is the standby_leader, 0 otherwise.",
        s.role == "standby_leader");
  gauge("patroni_replica", "Value is 1 if this node is a replica, 0 otherwise.", s.role == "replica");
  gauge("patroni_sync_standby", "Value is 1 if this node is a sync standby, 0 otherwise.", s.sync_standby);
  gauge("patroni_quorum_standby", "Value is 1 if this node is a quorum standby, 0 otherwise.",
        s.quorum_standby);
  counter("patroni_xlog_received_location",
          "Current location of the received Postgres transaction log, 0 if this node is not a replica.",
          s.xlog_received_location);
  counter("patroni_xlog_replayed_location",
          "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.",
          s.xlog_replayed_location);
  gauge("patroni_xlog_replayed_timestamp",
        "Current timestamp of the replayed Postgres transaction log, 0 if null.", s.xlog_replayed_timestamp);
  gauge("patroni_xlog_paused", "Value is 1 if the Postgres xlog is paused, 0 otherwise.", s.xlog_paused);
  // Patroni writes these two only for Postgres 9.6 and later (it cannot
  // tell otherwise), and only since 3.0.4, which added replication_state to
  // /patroni: for an older Patroni, 0 would claim a streaming replica is not
  // streaming.
  if (s.server_version >= 90600 && s.version_number >= 30004) {
    gauge("patroni_postgres_streaming", "Value is 1 if Postgres is streaming, 0 otherwise.",
          s.replication_state == "streaming");
    gauge("patroni_postgres_in_archive_recovery",
          "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
          s.replication_state == "in archive recovery");
  }
  gauge("patroni_postgres_server_version", "Version of Postgres (if running), 0 otherwise.",
        s.server_version);
  gauge("patroni_cluster_unlocked", "Value is 1 if the cluster is unlocked, 0 if locked.",
        s.cluster_unlocked);
  gauge("patroni_failsafe_mode_is_active", "Value is 1 if failsafe mode is active, 0 if inactive.",
        s.failsafe_mode_is_active);
  counter("patroni_postgres_timeline", "Postgres timeline of this node (if running), 0 otherwise.",
          s.timeline);
  gauge("patroni_dcs_last_seen", "Epoch timestamp when DCS was last contacted successfully by Patroni.",
        s.dcs_last_seen);
  gauge("patroni_pending_restart", "Value is 1 if the node needs a restart, 0 otherwise.", s.pending_restart);
  gauge("patroni_is_paused", "Value is 1 if auto failover is disabled, 0 otherwise.", s.paused);
  // Patroni 4.1's numbering (0=initdb ... 5=running ... 12=stopped,
  // 14=crashed, -1 for a state outside it); the state strings, and so the
  // numbers, are the same in older versions.
  gauge("patroni_postgres_state", "Numeric representation of Postgres state.", postgres_state_index(s.state));
}

void emit_cluster(const std::string& scope, const Cluster& cluster, MetricSink& sink) {
  std::map<std::string, int> by_role;
  for (const char* role : kMemberRoles) by_role[role] = 0;
  int leaders = 0;
  for (const auto& member : cluster.members) {
    ++by_role[member.role];
    if (member.role == "leader" || member.role == "standby_leader") ++leaders;
    sink.gauge("patroni_cluster_member_info",
               "A member of the Patroni cluster as /cluster lists it, with its role (leader, standby_leader, "
               "sync_standby, quorum_standby, replica) and state (running, streaming, in archive recovery, "
               "stopped, ...); always 1.",
               {{"scope", scope}, {"member", member.name}, {"role", member.role}, {"state", member.state}},
               1);
    if (member.timeline) {
      sink.gauge("patroni_cluster_member_timeline", "Postgres timeline of a member, as it last reported it.",
                 {{"scope", scope}, {"member", member.name}}, *member.timeline);
    }
    if (member.lag_bytes) {
      sink.gauge("patroni_cluster_member_lag_bytes",
                 "How far a member's WAL position is behind the leader's, in bytes, as the DCS knows them; "
                 "absent for the leader and for a member whose position is unknown.",
                 {{"scope", scope}, {"member", member.name}}, *member.lag_bytes);
    }
  }
  for (const auto& [role, count] : by_role) {
    sink.gauge("patroni_cluster_members", "Members of the Patroni cluster by role.",
               {{"scope", scope}, {"role", role}}, count);
  }
  sink.gauge("patroni_cluster_leaders",
             "Members holding the leader lock (leader or standby_leader); exactly 1 is healthy.",
             {{"scope", scope}}, leaders);
  sink.gauge("patroni_cluster_has_leader",
             "Whether the Patroni cluster has exactly one leader (1) or not (0).", {{"scope", scope}},
             leaders == 1);
}

void emit_history(const std::string& scope, const History& history, MetricSink& sink) {
  // Each history entry is a new timeline, started by a failover or a
  // switchover. Patroni may keep only the last max_timelines_history entries,
  // so the count can drop; Prometheus then sees a counter reset.
  sink.counter("patroni_cluster_failovers_total",
               "Failovers and switchovers in the Patroni cluster's history (entries of /history).",
               {{"scope", scope}}, static_cast<double>(history.entries));
  if (history.last_switch) {
    sink.gauge("patroni_cluster_last_failover_timestamp_seconds",
               "When the last failover or switchover of the Patroni cluster happened, in Unix time.",
               {{"scope", scope}}, *history.last_switch);
  }
}

}  // namespace pgscope::patroni
