// Fleet overview: one row per PostgreSQL cluster, to answer "is anything
// unhealthy, and which cluster" before opening the cluster view.
local g = import '../mixins/lib/grafana.libsonnet';

function(c)
  local sel = g.selector(c);
  local cl = g.clusterBy(c);
  local ml = g.memberBy(c);
  // ALERTS carries the labels an alert keeps: the alerting rules aggregate by
  // cluster (and member), so they keep namespace and cluster but not always
  // job; the exporter selector would hide them. The alert names are this
  // mixin's.
  local alertSel = std.join(', ', [
    'alertstate="firing"',
    'alertname=~"(Postgres|Patroni|PgBouncer|PgScope).*"',
  ] + (if c.showMultiCluster then ['%s=~"$%s"' % [c.multiClusterLabel, c.multiClusterLabel]] else []) + [
    '%s=~"$namespace"' % c.namespaceLabel,
    '%s=~"$cluster"' % c.clusterLabel,
  ]);
  // Fleet-wide aggregates come from the recording rules (alerts/rules.libsonnet):
  // with many clusters these are the expensive queries. Recorded series keep
  // only the cluster (and member) labels, so the job variable does not apply.
  local rsel = g.recordedSelector(c);
  local tps = 'cluster:pg_stat_database_xact:rate5m{%s}' % rsel;
  local lagBytes = 'max by (%s) (member:pg_replication_lag_bytes:max{%s})' % [cl, rsel];
  local lagSeconds = 'max by (%s) (member:pg_replication_lag_seconds:max{%s})' % [cl, rsel];
  local connections = 'cluster:pg_stat_database_numbackends:sum{%s}' % rsel;
  // The busiest member's share of max_connections: the one that refuses
  // clients first.
  local connectionsUsed = |||
    max by (%(cl)s) (
      sum by (%(ml)s) (pg_stat_database_numbackends{%(s)s})
      / on (%(ml)s) max by (%(ml)s) (pg_settings_max_connections{%(s)s})
    )
  ||| % { cl: cl, ml: ml, s: sel };
  // 0 for clusters with nothing firing, so that every cluster has a value.
  local alertsFiring = 'count by (%(cl)s) (ALERTS{%(a)s}) or (0 * count by (%(cl)s) (pg_up{%(s)s}))' % { cl: cl, a: alertSel, s: sel };
  local clusterLegend = g.clusterLegend(c);
  local clusterVars = ['job', 'namespace', 'cluster'] + (if c.showMultiCluster then [c.multiClusterLabel] else []);

  local okBad = [['red', null], ['green', 1]];
  local zeroGood = [['green', null], ['red', 1]];

  g.dashboard(
    c,
    'overview',
    'Overview',
    'Every PostgreSQL cluster pgscope monitors: leader, members, replication lag, load and alerts.',
    g.standardVariables(c, metric='pg_up'),
    [
      g.row('Fleet'),
      g.stat('Clusters',
             'PostgreSQL clusters with at least one member exporting metrics.',
             [g.instant('count(count by (%s) (pg_up{%s}))' % [cl, sel], table=false)],
             'none'),
      g.stat('Clusters without a leader',
             'Clusters in which no member holds the Patroni leader lock (patroni_cluster_has_leader is 0 on every member). Such a cluster accepts no writes.',
             [g.instant('count(max by (%s) (patroni_cluster_has_leader{%s}) == 0) or vector(0)' % [cl, sel], table=false)],
             'none',
             steps=zeroGood),
      g.stat('Members down',
             'Members whose PostgreSQL the exporter cannot connect to (pg_up is 0).',
             [g.instant('count(pg_up{%s} == 0) or vector(0)' % sel, table=false)],
             'none',
             steps=zeroGood),
      g.stat('Exporters down',
             'pgscope exporters Prometheus cannot scrape (up is 0): their members and poolers are not monitored at all.',
             [g.instant('count(up{%s} == 0) or vector(0)' % sel, table=false)],
             'none',
             steps=zeroGood),
      g.stat('Alerts firing',
             "Alerts of this mixin firing now for the selected clusters (Prometheus's ALERTS series).",
             [g.instant('count(ALERTS{%s}) or vector(0)' % alertSel, table=false)],
             'none',
             steps=zeroGood),
      g.stat('Max replication lag',
             'The largest replay lag of any replica, in seconds since the last replayed transaction (0 when the replica has replayed everything).',
             [g.instant('max(member:pg_replication_lag_seconds:max{%s})' % rsel, table=false)],
             's',
             steps=[['green', null], ['orange', c.replicationLagSecondsWarning]]),

      g.row('Clusters'),
      g.table(
        'Clusters',
        "One row per cluster. The cluster name opens the cluster view, the leader the instance view of that member. Lag is the worst replica; connections used is the busiest member's share of max_connections.",
        [
          g.instant('max by (%(cl)s, leader) (label_replace(patroni_primary{%(s)s} == 1, "leader", "$1", "%(m)s", "(.*)"))' % { cl: cl, s: sel, m: c.memberLabel }),
          g.instant('count by (%s) (pg_up{%s})' % [cl, sel]),
          g.instant('sum by (%s) (pg_up{%s})' % [cl, sel]),
          g.instant(lagBytes),
          g.instant(lagSeconds),
          g.instant(tps),
          g.instant(connections),
          g.instant(connectionsUsed),
          g.instant('max by (%s) (patroni_postgres_timeline{%s})' % [cl, sel]),
          g.instant('max by (%s) (patroni_cluster_failovers_total{%s})' % [cl, sel]),
          g.instant('min by (%s) (up{%s})' % [cl, sel]),
          g.instant(alertsFiring),
        ],
        'none',
        h=10,
        transformations=[
          g.merge,
          g.organize(
            hide=['Time', 'Value #A'],
            rename={
              'Value #B': 'Members',
              'Value #C': 'Members up',
              'Value #D': 'Max lag',
              'Value #E': 'Max lag (time)',
              'Value #F': 'Transactions/s',
              'Value #G': 'Connections',
              'Value #H': 'Connections used',
              'Value #I': 'Timeline',
              'Value #J': 'Failovers',
              'Value #K': 'Exporters',
              'Value #L': 'Alerts firing',
            },
            order=g.clusterLabels(c) + ['leader'] + ['Value #' + x for x in std.stringChars('BCDEFGHIJKL')],
          ),
        ],
        overrides=[
          g.column(c.clusterLabel, g.colLinks([g.dataLink(c, 'Cluster view', 'cluster', {
            namespace: c.namespaceLabel,
            cluster: c.clusterLabel,
          } + (if c.showMultiCluster then { [c.multiClusterLabel]: c.multiClusterLabel } else {}), ['job'])])),
          g.column('leader', g.colLinks([g.dataLink(c, 'Instance view of the leader', 'instance', {
            namespace: c.namespaceLabel,
            cluster: c.clusterLabel,
            instance: 'leader',
          } + (if c.showMultiCluster then { [c.multiClusterLabel]: c.multiClusterLabel } else {}), ['job'])])),
          g.column('Members up', g.colBackground([['red', null], ['green', 1]])),
          g.column('Max lag', g.colUnit('bytes') + g.colBackground([['green', null], ['orange', c.replicationLagBytesWarning]])),
          g.column('Max lag (time)', g.colUnit('s') + g.colBackground([['green', null], ['orange', c.replicationLagSecondsWarning]])),
          g.column('Transactions/s', g.colUnit('ops')),
          g.column('Connections used', g.colUnit('percentunit') + g.colBackground([['green', null], ['orange', c.connectionsUsedWarning], ['red', c.connectionsUsedCritical]])),
          g.column('Exporters', { mappings: [{ type: 'value', options: { '0': { text: 'some down', color: 'red', index: 0 }, '1': { text: 'all up', color: 'green', index: 1 } } }] } + g.colBackground([['red', null], ['green', 1]])),
          g.column('Alerts firing', g.colBackground([['green', null], ['red', 1]])),
        ],
      ),

      g.row('Trends'),
      g.timeseries('Transactions per second',
                   'Commits and rollbacks per second, all members and databases of each cluster.',
                   [g.target(tps, clusterLegend)],
                   'ops',
                   w=8),
      g.timeseries('Connections',
                   'Backends connected to PostgreSQL, all members of each cluster.',
                   [g.target(connections, clusterLegend)],
                   'short',
                   w=8),
      g.timeseries('Alerts firing',
                   'Alerts of this mixin firing per cluster.',
                   [g.target(alertsFiring, clusterLegend)],
                   'none',
                   w=8),
      g.timeseries('Replication lag (bytes)',
                   'WAL the most lagging replica of each cluster has yet to replay, as its leader sees it (pg_stat_replication) or as Patroni last saw it.',
                   [g.target(lagBytes, clusterLegend)],
                   'bytes',
                   w=12),
      g.timeseries('Replication lag (time)',
                   'Seconds since the last transaction the most lagging replica of each cluster replayed was committed on the leader (0 when it is up to date).',
                   [g.target(lagSeconds, clusterLegend)],
                   's',
                   w=12),
    ],
    links=[
      g.link(c, 'Cluster', 'cluster', clusterVars, 'The members of the clusters chosen, side by side'),
      g.link(c, 'Exporter', 'exporter', clusterVars, 'The pgscope exporters of these clusters'),
    ],
  )
