// Cluster view: the members of one Patroni cluster side by side (who leads,
// who lags, who is down), its timeline and failovers, WAL and replication
// slots, and how full its pgBouncer pools are.
local g = import '../mixins/lib/grafana.libsonnet';

function(c)
  local sel = g.selector(c);  // the whole cluster (primary side of lag, pooler)
  local msel = g.selector(c, 'member');  // the members chosen
  local cl = g.clusterBy(c);
  local ml = g.memberBy(c);
  local member = g.memberLegend(c);
  local clusterVars = ['job', 'namespace', 'cluster'] + (if c.showMultiCluster then [c.multiClusterLabel] else []);
  local m = { cl: cl, ml: ml, s: sel, ms: msel, member: c.memberLabel };

  // Lag and pool saturation come from the recording rules
  // (alerts/rules.libsonnet), which the alerts use too: what the dashboard
  // shows is what alerts fire on. Recorded series have no job label.
  local rmsel = g.recordedSelector(c, 'member');
  local lagBytes = 'max by (%s) (member:pg_replication_lag_bytes:max{%s})' % [ml, rmsel];
  local lagSeconds = 'max by (%s) (member:pg_replication_lag_seconds:max{%s})' % [ml, rmsel];
  // WAL written per second: pg_stat_wal counts it on PostgreSQL 14+; older
  // servers only have the WAL position, whose growth is the same thing on a
  // primary.
  local walRate = |||
    sum by (%(ml)s) (rate(pg_stat_wal_bytes_total{%(ms)s}[$__rate_interval]))
    or
    max by (%(ml)s) (deriv(pg_wal_lsn_location_bytes{%(ms)s}[$__rate_interval]) and on (%(ml)s) (pg_replication_is_replica{%(ms)s} == 0))
  ||| % m;
  // The fullest pool (user) of each database, per pooler pod: busy server
  // connections over pool_size.
  local poolSaturation = 'max by (%s, database) (member:pgbouncer_pool_saturation:ratio{%s})' % [ml, g.recordedSelector(c)];

  local upDown = [{ type: 'value', options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } } }];
  local yesNo = [{ type: 'value', options: { '0': { text: 'no', color: 'green', index: 0 }, '1': { text: 'yes', color: 'orange', index: 1 } } }];
  local role = [{ type: 'value', options: { '0': { text: 'replica', color: 'blue', index: 0 }, '1': { text: 'leader', color: 'green', index: 1 } } }];

  g.dashboard(
    c,
    'cluster',
    'Cluster',
    'The members of a PostgreSQL cluster side by side: roles, health, replication lag, timeline and failovers, WAL, replication slots and pooler saturation.',
    g.standardVariables(c, metric='pg_up', member=true),
    [
      g.row('Cluster'),
      g.stat('Leader',
             'The member holding the Patroni leader lock (patroni_primary is 1). More than one name here is a split brain; none means no leader.',
             [g.instant('max by (%(member)s) (patroni_primary{%(s)s} == 1)' % m, member, table=false)],
             'none',
             steps=[['green', null]]) + {
        options+: { textMode: 'name' },
      },
      g.stat('Members up',
             "Members whose PostgreSQL accepts the exporter's connection, out of the members exporting metrics.",
             [g.instant('sum(pg_up{%s})' % msel, 'up', table=false), g.instant('count(pg_up{%s})' % msel, 'members', table=false)],
             'none') + {
        options+: { textMode: 'value_and_name' },
      },
      g.stat('Timeline',
             'The PostgreSQL timeline of the leader; it rises by one at every failover or switchover.',
             [g.instant('max(patroni_postgres_timeline{%s})' % sel, table=false)],
             'none'),
      g.stat('Failovers',
             'Failovers and switchovers in the Patroni history of the cluster (entries of /history), since the cluster was created.',
             [g.instant('max(patroni_cluster_failovers_total{%s})' % sel, table=false)],
             'none'),
      g.stat('Maintenance mode',
             'Whether Patroni is paused (patronictl pause): no automatic failover happens while it is.',
             [g.instant('max(patroni_is_paused{%s})' % sel, table=false)],
             'none',
             steps=[['green', null], ['orange', 1]],
             mappings=[{ type: 'value', options: { '0': { text: 'off', index: 0 }, '1': { text: 'paused', index: 1 } } }]),
      g.stat('DCS last seen',
             'How long ago the member that saw the DCS (etcd, Kubernetes API) least recently last reached it. Patroni demotes a leader that cannot reach it for the TTL.',
             // Age at scrape time, as the alert measures it; members that never reached it (0) left out.
             [g.instant('max(timestamp(patroni_dcs_last_seen{%s}) - (patroni_dcs_last_seen{%s} > 0))' % [msel, msel], table=false)],
             's',
             steps=[['green', null], ['orange', c.dcsUnreachableSeconds]]),

      g.table(
        'Members',
        'Each member: role as Patroni and PostgreSQL see it (they disagree only during a switchover or a split), whether PostgreSQL and Patroni answer, timeline, lag, connections and pending restart. A member name opens its instance view.',
        [
          g.instant('max by (%(ml)s) (patroni_primary{%(ms)s})' % m),
          g.instant('max by (%(ml)s) (pg_replication_is_replica{%(ms)s})' % m),
          g.instant('max by (%(ml)s) (pg_up{%(ms)s})' % m),
          g.instant('max by (%(ml)s) (patroni_up{%(ms)s})' % m),
          g.instant('max by (%(ml)s) (patroni_postgres_timeline{%(ms)s})' % m),
          g.instant(lagBytes),
          g.instant(lagSeconds),
          g.instant('sum by (%(ml)s) (pg_stat_database_numbackends{%(ms)s})' % m),
          g.instant('max by (%(ml)s) (patroni_pending_restart{%(ms)s})' % m),
          g.instant('time() - max by (%(ml)s) (pg_postmaster_start_time_seconds{%(ms)s})' % m),
          g.instant('max by (%(ml)s, short_version) (pg_static{%(ms)s})' % m),
        ],
        'none',
        h=7,
        transformations=[
          g.merge,
          g.organize(
            hide=['Time', 'Value #K'] + g.clusterLabels(c),
            rename={
              'Value #A': 'Role',
              'Value #B': 'In recovery',
              'Value #C': 'PostgreSQL',
              'Value #D': 'Patroni',
              'Value #E': 'Timeline',
              'Value #F': 'Lag',
              'Value #G': 'Lag (time)',
              'Value #H': 'Connections',
              'Value #I': 'Pending restart',
              'Value #J': 'Uptime',
              short_version: 'Version',
            },
            order=[c.memberLabel] + ['Value #' + x for x in std.stringChars('ABCDEFGHIJ')] + ['short_version'],
          ),
        ],
        overrides=[
          g.column(c.memberLabel, g.colLinks([g.dataLink(c, 'Instance view', 'instance', { instance: c.memberLabel }, clusterVars)])),
          g.column('Role', { mappings: role } + g.colBackground([['blue', null], ['green', 1]])),
          g.column('In recovery', { mappings: [{ type: 'value', options: { '0': { text: 'no (read-write)', index: 0 }, '1': { text: 'yes (standby)', index: 1 } } }] }),
          g.column('PostgreSQL', { mappings: upDown } + g.colBackground([['red', null], ['green', 1]])),
          g.column('Patroni', { mappings: upDown } + g.colBackground([['red', null], ['green', 1]])),
          g.column('Lag', g.colUnit('bytes') + g.colBackground([['green', null], ['orange', c.replicationLagBytesWarning]])),
          g.column('Lag (time)', g.colUnit('s') + g.colBackground([['green', null], ['orange', c.replicationLagSecondsWarning]])),
          g.column('Pending restart', { mappings: yesNo }),
          g.column('Uptime', g.colUnit('s')),
        ],
      ),

      g.row('Replication'),
      g.timeseries('Replication lag (bytes)',
                   'WAL each replica has yet to replay, as the leader sees it (pg_stat_replication), or as Patroni last saw it for a replica not connected.',
                   [g.target(lagBytes, member)],
                   'bytes',
                   w=8),
      g.timeseries('Replication lag (time)',
                   'Seconds since the last transaction each replica replayed was committed on the leader; 0 when the replica has replayed all WAL it received.',
                   [g.target(lagSeconds, member)],
                   's',
                   w=8),
      g.timeseries('Replay lag seen by the leader',
                   'Per standby connection of the leader (pg_stat_replication): how long WAL took to be replayed by the standby. No sample while the leader writes nothing.',
                   [g.target('max by (%(cl)s, application_name) (pg_stat_replication_replay_lag_seconds{%(s)s})' % m, '{{application_name}}')],
                   's',
                   w=8),
      g.timeseries('Leader',
                   'patroni_primary of each member: 1 while it leads. A change of the line that is 1 is a failover or switchover.',
                   [g.target('max by (%(ml)s) (patroni_primary{%(ms)s})' % m, member)],
                   'none',
                   w=8,
                   min=0,
                   max=1) + {
        fieldConfig+: { defaults+: { custom+: { lineInterpolation: 'stepAfter' } } },
      },
      g.timeseries('Timeline',
                   'PostgreSQL timeline of each member. A member left on an older timeline after a failover has not been rewound or rebuilt yet.',
                   [g.target('max by (%(ml)s) (patroni_postgres_timeline{%(ms)s})' % m, member)],
                   'none',
                   w=8) + {
        fieldConfig+: { defaults+: { decimals: 0, custom+: { lineInterpolation: 'stepAfter' } } },
      },
      g.timeseries('Failovers',
                   'Failovers and switchovers in the Patroni history, cumulative: each step up is one.',
                   [g.target('max by (%(cl)s) (patroni_cluster_failovers_total{%(s)s})' % m, 'failovers')],
                   'none',
                   w=8) + {
        fieldConfig+: { defaults+: { decimals: 0, custom+: { lineInterpolation: 'stepAfter' } } },
      },

      g.row('WAL and replication slots'),
      g.timeseries('WAL generated',
                   'WAL bytes written per second by each member (the leader writes; replicas only replay).',
                   [g.target(walRate, member)],
                   'Bps',
                   w=8),
      g.timeseries('WAL on disk',
                   'Size of pg_wal on each member. It grows when a slot, wal_keep_size or failing archiving holds WAL back.',
                   [g.target('max by (%(ml)s) (pg_wal_size_bytes{%(ms)s})' % m, member)],
                   'bytes',
                   w=8),
      g.timeseries('WAL archiving',
                   'WAL segments archived and archive attempts that failed, per second. Failures keep WAL on disk until archiving works again.',
                   [
                     g.target('sum by (%(ml)s) (rate(pg_stat_archiver_archived_count{%(ms)s}[$__rate_interval]))' % m, '{{%s}} archived' % c.memberLabel),
                     g.target('sum by (%(ml)s) (rate(pg_stat_archiver_failed_count{%(ms)s}[$__rate_interval]))' % m, '{{%s}} failed' % c.memberLabel),
                   ],
                   'ops',
                   w=8),
      g.timeseries('WAL retained by replication slots',
                   'WAL each slot keeps on disk (current position minus restart_lsn). An inactive slot retains WAL until the disk fills.',
                   [g.target('max by (%(ml)s, slot_name) (pg_replication_slots_pg_wal_lsn_diff{%(ms)s})' % m, '{{%s}} {{slot_name}}' % c.memberLabel)],
                   'bytes',
                   w=12),
      g.timeseries('Replication slots active',
                   'Whether each slot has a consumer connected (1) or not (0). Patroni keeps one physical slot per replica on the leader.',
                   [g.target('max by (%(ml)s, slot_name) (pg_replication_slots_active{%(ms)s})' % m, '{{%s}} {{slot_name}}' % c.memberLabel)],
                   'none',
                   w=12,
                   min=0,
                   max=1) + {
        fieldConfig+: { defaults+: { custom+: { lineInterpolation: 'stepAfter' } } },
      },

      g.row('Pooler'),
      g.timeseries('Pool saturation',
                   "Server connections busy with a client over the pool's pool_size, for the fullest pool of each database and pooler pod. At 100% further clients wait.",
                   [g.target(poolSaturation, '{{%s}} {{database}}' % c.memberLabel)],
                   'percentunit',
                   w=8,
                   min=0,
                   steps=[['green', null], ['orange', c.pgbouncerPoolSaturation]]),
      g.timeseries('Clients waiting',
                   'Client connections of the pooler waiting for a server connection.',
                   [g.target('sum by (%(cl)s, %(member)s) (pgbouncer_pools_client_waiting_connections{%(s)s})' % m, member)],
                   'short',
                   w=8),
      g.timeseries('Longest client wait',
                   'How long the oldest waiting client of any pool of the pooler has waited.',
                   [g.target('max by (%(cl)s, %(member)s) (pgbouncer_pools_client_maxwait_seconds{%(s)s})' % m, member)],
                   's',
                   w=8,
                   steps=[['green', null], ['orange', c.pgbouncerMaxWaitSeconds]]),
    ],
    links=[
      g.link(c, 'Overview', 'overview', clusterVars, 'All clusters'),
      g.link(c, 'Instance', 'instance', clusterVars + ['instance'], 'PostgreSQL of the members chosen'),
      g.link(c, 'pgBouncer', 'pgbouncer', clusterVars, "The cluster's connection pooler"),
      g.link(c, 'Exporter', 'exporter', clusterVars, 'The pgscope exporters of this cluster'),
    ],
  )
