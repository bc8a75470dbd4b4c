// Recording rules: what dashboards repeat on every refresh and what alerts
// join across targets, computed once per evaluation.
//
// Names are fixed (dashboards and alerts use them whatever labels are
// configured); the label sets follow _config. With the default _config:
//   cluster labels = namespace, cluster_name       (k8s_cluster first when showMultiCluster)
//   member labels  = namespace, cluster_name, pod
//
// record                                                   labels
// member:pg_stat_database_xact_commit:rate5m               member labels
// member:pg_stat_database_xact_rollback:rate5m             member labels
// member:pg_stat_database_xact:rate5m                      member labels  (commits + rollbacks)
// cluster:pg_stat_database_xact_commit:rate5m              cluster labels
// cluster:pg_stat_database_xact_rollback:rate5m            cluster labels
// cluster:pg_stat_database_xact:rate5m                     cluster labels (commits + rollbacks)
// member:pg_stat_database_numbackends:sum                  member labels  (connections to databases)
// cluster:pg_stat_database_numbackends:sum                 cluster labels
// member:pg_stat_database_blks_hit:rate5m                  member labels
// member:pg_stat_database_blks_read:rate5m                 member labels
// member:pg_stat_database_blks_hit:ratio_rate5m            member labels  (cache hit ratio, 0..1)
// member:pg_stat_wal_bytes:rate5m                          member labels  (WAL written, bytes/s; PostgreSQL 14+)
// member:pg_replication_lag_bytes:max                      member labels  (pod = the replica; replicas only)
// member:pg_replication_lag_seconds:max                    member labels  (every member; 0 on the leader and on caught-up replicas)
// member:pgbouncer_pool_saturation:ratio                   member labels (pod = the pooler pod), database, user
// cluster:pgbouncer_pool_saturation:ratio                  cluster labels (the most saturated pool)
// cluster:pgbouncer_stats_queries_pooled:rate5m            cluster labels
// cluster:pgbouncer_stats_sql_transactions_pooled:rate5m   cluster labels
// cluster:pgbouncer_stats_queries_duration_seconds:rate5m  cluster labels (÷ queries_pooled = mean query time)
// cluster:pgbouncer_stats_server_in_transaction_seconds:rate5m  cluster labels (÷ sql_transactions = mean transaction time)
// cluster:pgbouncer_stats_client_wait_seconds:rate5m       cluster labels
local utils = import '../mixins/lib/utils.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local f = {
      sel: c.pgscopeSelector,
      cl: utils.by(utils.clusterLabels(c)),
      ml: utils.by(utils.memberLabels(c)),
      member: c.memberLabel,
    },
    // A recorded series as the rules read it: with recordedSelector's matchers,
    // if any, so that a rule file for some clusters only aggregates theirs.
    local recorded(name) = if c.recordedSelector == '' then name else '%s{%s}' % [name, c.recordedSelector],
    // sum by LEVEL (rate(METRIC{selector}[5m])), recorded without the
    // counter's _total suffix, as the naming convention has it.
    local sumRate(level, metric) = {
      local name = if std.endsWith(metric, '_total') then std.substr(metric, 0, std.length(metric) - 6) else metric,
      record: '%s:%s:rate5m' % [level, name],
      expr: 'sum by (%s) (rate(%s{%s}[5m]))' % [if level == 'cluster' then f.cl else f.ml, metric, f.sel],
    },

    groups+: [
      {
        name: 'pgscope-postgres.rules',
        rules: [
          // Member rates first: the cluster rates sum them (rules of a group
          // run in order, so a later rule sees this evaluation's results).
          sumRate('member', 'pg_stat_database_xact_commit'),
          sumRate('member', 'pg_stat_database_xact_rollback'),
          {
            record: 'member:pg_stat_database_xact:rate5m',
            expr: '%s + %s' % [recorded('member:pg_stat_database_xact_commit:rate5m'), recorded('member:pg_stat_database_xact_rollback:rate5m')],
          },
          {
            record: 'cluster:pg_stat_database_xact_commit:rate5m',
            expr: 'sum by (%s) (%s)' % [f.cl, recorded('member:pg_stat_database_xact_commit:rate5m')],
          },
          {
            record: 'cluster:pg_stat_database_xact_rollback:rate5m',
            expr: 'sum by (%s) (%s)' % [f.cl, recorded('member:pg_stat_database_xact_rollback:rate5m')],
          },
          {
            record: 'cluster:pg_stat_database_xact:rate5m',
            expr: 'sum by (%s) (%s)' % [f.cl, recorded('member:pg_stat_database_xact:rate5m')],
          },
          {
            record: 'member:pg_stat_database_numbackends:sum',
            expr: 'sum by (%(ml)s) (pg_stat_database_numbackends{%(sel)s})' % f,
          },
          {
            record: 'cluster:pg_stat_database_numbackends:sum',
            expr: 'sum by (%s) (%s)' % [f.cl, recorded('member:pg_stat_database_numbackends:sum')],
          },
          sumRate('member', 'pg_stat_database_blks_hit'),
          sumRate('member', 'pg_stat_database_blks_read'),
          {
            // NaN (no sample) on a member that read no block at all: an idle
            // server has no meaningful ratio.
            record: 'member:pg_stat_database_blks_hit:ratio_rate5m',
            expr: |||
              %(hit)s
              /
              (%(hit)s + %(read)s > 0)
            ||| % {
              hit: recorded('member:pg_stat_database_blks_hit:rate5m'),
              read: recorded('member:pg_stat_database_blks_read:rate5m'),
            },
          },
          sumRate('member', 'pg_stat_wal_bytes_total'),
        ],
      },
      {
        name: 'pgscope-replication.rules',
        rules: [
          {
            // Measured on the leader, in one query: its current WAL position
            // minus what each replica replayed (pg_stat_replication). Taking the
            // leader's position from one scrape and the replica's from another
            // would add the WAL written between the two scrapes to the lag.
            // application_name is the Patroni member name, which Spilo sets to
            // the pod name: it becomes the member label, so the series belongs
            // to the replica. WAL senders of logical slots (CDC consumers) are
            // not members and are left out. A replica that is not connected has
            // no WAL sender: Patroni's view from the DCS (member positions)
            // fills in for it.
            record: 'member:pg_replication_lag_bytes:max',
            expr: |||
              max by (%(ml)s) (
                label_replace(
                  max by (%(cl)s, application_name) (
                    pg_stat_replication_pg_wal_lsn_diff{%(sel)s}
                    unless on (%(ml)s, slot_name) pg_replication_slots_slot_is_active{%(sel)s, slot_type="logical"}
                    and on (%(ml)s) (pg_replication_is_replica{%(sel)s} == 0)
                  ),
                  "%(member)s", "$1", "application_name", "(.+)"
                )
              )
              or
              max by (%(ml)s) (
                label_replace(
                  max by (%(cl)s, member) (patroni_cluster_member_lag_bytes{%(sel)s}),
                  "%(member)s", "$1", "member", "(.+)"
                )
              )
            ||| % f,
          },
          {
            // The replica's own view: time since the last replayed commit
            // (0 on the leader). PostgreSQL reports it as soon as the received
            // and replayed positions differ, which also happens on a replica
            // that has replayed everything but restarted (or was rewound) while
            // the leader writes nothing: the age of the last commit then grows
            // for as long as the cluster is idle. The leader's byte lag of 0
            // says the replica is in fact caught up: its lag is 0.
            record: 'member:pg_replication_lag_seconds:max',
            expr: |||
              max by (%(ml)s) (pg_replication_lag_seconds{%(sel)s})
              unless on (%(ml)s) (%(lagBytes)s == 0)
              or
              0 * max by (%(ml)s) (pg_replication_lag_seconds{%(sel)s})
            ||| % (f { lagBytes: recorded('member:pg_replication_lag_bytes:max') }),
          },
        ],
      },
      {
        name: 'pgscope-pgbouncer.rules',
        rules: [
          {
            // Server connections paired with a client against the pool's
            // pool_size (each database/user pair has a pool of that size).
            // Idle, used and tested connections are still free for clients.
            // SHOW POOLS' database is SHOW DATABASES' name (its own database
            // label is the server-side database).
            record: 'member:pgbouncer_pool_saturation:ratio',
            expr: |||
              sum by (%(ml)s, database, user) (pgbouncer_pools_server_active_connections{%(sel)s})
              / on (%(ml)s, database) group_left
              max by (%(ml)s, database) (
                label_replace(pgbouncer_databases_pool_size{%(sel)s} > 0, "database", "$1", "name", "(.*)")
              )
            ||| % f,
          },
          {
            record: 'cluster:pgbouncer_pool_saturation:ratio',
            expr: 'max by (%s) (%s)' % [f.cl, recorded('member:pgbouncer_pool_saturation:ratio')],
          },
          sumRate('cluster', 'pgbouncer_stats_queries_pooled_total'),
          sumRate('cluster', 'pgbouncer_stats_sql_transactions_pooled_total'),
          sumRate('cluster', 'pgbouncer_stats_queries_duration_seconds_total'),
          sumRate('cluster', 'pgbouncer_stats_server_in_transaction_seconds_total'),
          sumRate('cluster', 'pgbouncer_stats_client_wait_seconds_total'),
        ],
      },
    ],
  },
}
