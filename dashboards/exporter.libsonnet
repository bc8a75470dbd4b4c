// Exporter view: is pgscope itself healthy? Scrapes, collectors and catalog
// queries that fail or get slow, series dropped by caps, and the process.
// When a panel elsewhere is empty, this is where to find out why.
local g = import '../mixins/lib/grafana.libsonnet';

function(c)
  // The member variable selects exporters: database members and poolers.
  local esel = g.selector(c, 'member');
  local ml = g.memberBy(c);
  local pod = c.memberLabel;
  local member = g.memberLegend(c);
  local clusterVars = ['job', 'namespace', 'cluster'] + (if c.showMultiCluster then [c.multiClusterLabel] else []);
  local m = { ml: ml, es: esel, pod: pod };
  local okFail = [{ type: 'value', options: { '0': { text: 'failed', index: 0 }, '1': { text: 'ok', index: 1 } } }];

  g.dashboard(
    c,
    'exporter',
    'Exporter',
    'The pgscope exporters: scrape health, collector and query durations and failures, caps, and the exporter processes.',
    g.standardVariables(c, metric='pgscope_exporter_build_info', member=true),
    [
      g.row('Exporters'),
      g.stat('Targets up',
             "Exporters Prometheus scrapes successfully (Prometheus's up), out of all selected.",
             [g.instant('sum(up{%s})' % esel, 'up', table=false), g.instant('count(up{%s})' % esel, 'targets', table=false)],
             'none') + {
        options+: { textMode: 'value_and_name' },
      },
      g.stat('Collectors failing',
             'Collectors (sources such as postgres, patroni, pgbouncer, and catalog collectors) that failed in the last scrape.',
             [g.instant('count(pgscope_exporter_collector_success{%s} == 0) or vector(0)' % esel, table=false)],
             'none',
             steps=[['green', null], ['red', 1]]),
      g.stat('Queries failing',
             'Catalog queries that failed in some database in the last scrape.',
             [g.instant('count(pgscope_exporter_query_success{%s} == 0) or vector(0)' % esel, table=false)],
             'none',
             steps=[['green', null], ['red', 1]]),
      g.stat('Series dropped',
             "Series left out of the last scrape by a query's max_series or a collector's cap: some tables or statements are missing from the dashboards.",
             [g.instant('sum(pgscope_exporter_query_series_dropped{%s}) or vector(0)' % esel, table=false)],
             'none',
             steps=[['green', null], ['orange', 1]]),
      g.stat('Slowest collector',
             'The longest any collector took in the last scrape. Close to the scrape timeout, scrapes start failing.',
             [g.instant('max(pgscope_exporter_collector_duration_seconds{%s})' % esel, table=false)],
             's',
             steps=[['green', null], ['orange', 5]]),
      g.stat('Version',
             'pgscope-exporter versions running.',
             [g.instant('count by (version) (pgscope_exporter_build_info{%s})' % esel, '{{version}}', table=false)],
             'none') + {
        options+: { textMode: 'name' },
      },

      g.row('Collectors'),
      g.timeseries('Collector duration',
                   'How long each collector took per scrape.',
                   [g.target('max by (%(ml)s, collector) (pgscope_exporter_collector_duration_seconds{%(es)s})' % m, '{{%s}} {{collector}}' % pod)],
                   's',
                   w=12),
      g.timeseries('Collector failures',
                   'Collectors failing per exporter (1 - pgscope_exporter_collector_success, summed); 0 when all succeed.',
                   [g.target('sum by (%(ml)s) (1 - pgscope_exporter_collector_success{%(es)s})' % m, member)],
                   'none',
                   w=12,
                   min=0),
      g.table(
        'Collectors',
        'Every collector of every exporter in the last scrape: success and duration. A failure here explains missing panels; the exporter log says why.',
        [
          g.instant('max by (%(ml)s, collector) (pgscope_exporter_collector_success{%(es)s})' % m),
          g.instant('max by (%(ml)s, collector) (pgscope_exporter_collector_duration_seconds{%(es)s})' % m),
        ],
        'none',
        h=10,
        transformations=[
          g.merge,
          g.organize(hide=['Time'] + g.clusterLabels(c),
                     rename={ 'Value #A': 'Success', 'Value #B': 'Duration' },
                     order=[pod, 'collector', 'Value #A', 'Value #B']),
        ],
        overrides=[
          g.column('Success', { mappings: okFail } + g.colBackground([['red', null], ['green', 1]])),
          g.column('Duration', g.colUnit('s')),
        ],
        sortBy=[{ displayName: 'Success', desc: false }],
      ),

      g.row('Catalog queries'),
      g.timeseries('Slowest queries',
                   'Catalog queries taking the longest in the last scrapes (summed over the databases each runs in).',
                   [g.target('topk(%d, max by (%s, query) (pgscope_exporter_query_duration_seconds{%s}))' % [c.dashboardTopN, ml, esel], '{{%s}} {{query}}' % pod)],
                   's',
                   w=12),
      g.timeseries('Query executions and cache hits',
                   "Catalog query runs per second, and answers served from a query's cache instead.",
                   [
                     g.target('sum by (%(ml)s) (rate(pgscope_exporter_query_executions_total{%(es)s}[$__rate_interval]))' % m, '{{%s}} executed' % pod),
                     g.target('sum by (%(ml)s) (rate(pgscope_exporter_query_cache_hits_total{%(es)s}[$__rate_interval]))' % m, '{{%s}} from cache' % pod),
                   ],
                   'ops',
                   w=12),
      g.table(
        'Queries',
        'Catalog queries of every exporter in the last scrape: success, duration and series dropped by caps. Failed ones first.',
        [
          g.instant('max by (%(ml)s, query) (pgscope_exporter_query_success{%(es)s})' % m),
          g.instant('max by (%(ml)s, query) (pgscope_exporter_query_duration_seconds{%(es)s})' % m),
          g.instant('max by (%(ml)s, query) (pgscope_exporter_query_series_dropped{%(es)s})' % m),
        ],
        'none',
        h=10,
        transformations=[
          g.merge,
          g.organize(hide=['Time'] + g.clusterLabels(c),
                     rename={ 'Value #A': 'Success', 'Value #B': 'Duration', 'Value #C': 'Series dropped' },
                     order=[pod, 'query', 'Value #A', 'Value #B', 'Value #C']),
        ],
        overrides=[
          g.column('Success', { mappings: okFail } + g.colBackground([['red', null], ['green', 1]])),
          g.column('Duration', g.colUnit('s')),
          g.column('Series dropped', g.colBackground([['green', null], ['orange', 1]])),
        ],
        sortBy=[{ displayName: 'Success', desc: false }],
      ),

      g.row('Process'),
      g.timeseries('Scrapes',
                   'Scrapes each exporter answered per second.',
                   [g.target('sum by (%(ml)s) (rate(pgscope_exporter_scrapes_total{%(es)s}[$__rate_interval]))' % m, member)],
                   'reqps',
                   w=8),
      g.timeseries('Target up',
                   "Prometheus's up for each exporter: 0 when the scrape failed.",
                   [g.target('max by (%(ml)s) (up{%(es)s})' % m, member)],
                   'none',
                   w=8,
                   min=0,
                   max=1),
      g.timeseries('CPU',
                   'CPU used by each exporter process; 100% is one core.',
                   [g.target('sum by (%(ml)s) (rate(process_cpu_seconds_total{%(es)s}[$__rate_interval]))' % m, member)],
                   'percentunit',
                   w=8),
      g.timeseries('Memory',
                   'Resident memory of each exporter process.',
                   [g.target('max by (%(ml)s) (process_resident_memory_bytes{%(es)s})' % m, member)],
                   'bytes',
                   w=8),
      g.timeseries('File descriptors',
                   'Open file descriptors of each exporter process, against its limit.',
                   [
                     g.target('max by (%(ml)s) (process_open_fds{%(es)s})' % m, '{{%s}} open' % pod),
                     g.target('max by (%(ml)s) (process_max_fds{%(es)s})' % m, '{{%s}} limit' % pod),
                   ],
                   'short',
                   w=8),
      g.timeseries('Configuration reload',
                   'Whether the last configuration reload (SIGHUP, POST /-/reload) of each exporter worked.',
                   [g.target('max by (%(ml)s) (pgscope_exporter_config_last_reload_successful{%(es)s})' % m, member)],
                   'none',
                   w=8,
                   min=0,
                   max=1),
    ],
    links=[
      g.link(c, 'Overview', 'overview', clusterVars, 'All clusters'),
      g.link(c, 'Cluster', 'cluster', clusterVars, 'The PostgreSQL cluster of these exporters'),
    ],
  )
