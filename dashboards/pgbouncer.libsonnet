// pgBouncer view: the cluster's connection pooler. Are clients waiting, for
// how long, are the pools full, and what traffic goes through.
// Pools (SHOW POOLS) are labelled by pgBouncer's database name and user;
// SHOW DATABASES names the same database `name` (its `database` label is the
// server-side database), so pool sizes are joined on name -> database.
local g = import '../mixins/lib/grafana.libsonnet';

function(c)
  // The member variable here selects pooler pods, the database variable
  // pgBouncer's databases.
  local psel = g.selector(c, 'member');
  local dbsel = psel + ', database=~"$database"';
  local cl = g.clusterBy(c);
  local ml = g.memberBy(c);
  local pod = c.memberLabel;
  local member = g.memberLegend(c);
  local clusterVars = ['job', 'namespace', 'cluster'] + (if c.showMultiCluster then [c.multiClusterLabel] else []);
  local m = { cl: cl, ml: ml, ps: psel, ds: dbsel, pod: pod };

  local poolSize = 'max by (%(ml)s, database) (label_replace(pgbouncer_databases_pool_size{%(ps)s}, "database", "$1", "name", "(.*)"))' % m;
  local sum(metric, by='') = 'sum by (%s%s) (%s{%s})' % [ml, by, metric, dbsel];
  local rateOf(metric, by=', database') = 'sum by (%s%s) (rate(%s{%s}[$__rate_interval]))' % [ml, by, metric, dbsel];
  local serverStates = ['active', 'idle', 'used', 'testing', 'login'];
  local serverOpen = std.join(' + ', ['pgbouncer_pools_server_%s_connections{%s}' % [s, dbsel] for s in serverStates]);
  // Busy server connections over pool_size, for the fullest pool (user) of
  // each database.
  local saturation = |||
    max by (%(ml)s, database) (
      pgbouncer_pools_server_active_connections{%(ds)s}
      / on (%(ml)s, database) group_left ()
      (%(size)s > 0)
    )
  ||| % (m { size: poolSize });
  local dbLegend = '{{%s}} {{database}}' % pod;

  g.dashboard(
    c,
    'pgbouncer',
    'pgBouncer',
    "The cluster's pgBouncer poolers: client connections active and waiting, longest wait, transaction and query rates and durations, server connections against pool sizes.",
    g.standardVariables(c, metric='pgbouncer_up', member=true) + [
      g.queryVariable('database', 'Database', 'label_values(pgbouncer_pools_client_active_connections{%s}, database)' % psel),
    ],
    [
      g.row('Pooler'),
      g.stat('pgBouncer',
             'Whether the exporter can reach the admin console of each pooler pod.',
             [g.instant('max by (%(ml)s) (pgbouncer_up{%(ps)s})' % m, member, table=false)],
             'none',
             steps=[['red', null], ['green', 1]],
             mappings=[{ type: 'value', options: { '0': { text: 'down', index: 0 }, '1': { text: 'up', index: 1 } } }]),
      g.stat('Clients active',
             'Client connections paired with a server connection or idle, over all pools.',
             [g.instant('sum(pgbouncer_pools_client_active_connections{%s})' % dbsel, table=false)],
             'short'),
      g.stat('Clients waiting',
             'Client connections waiting for a server connection, over all pools.',
             [g.instant('sum(pgbouncer_pools_client_waiting_connections{%s})' % dbsel, table=false)],
             'short',
             steps=[['green', null], ['orange', c.pgbouncerWaitingClients]]),
      g.stat('Longest wait',
             'How long the oldest waiting client of any pool has waited.',
             [g.instant('max(pgbouncer_pools_client_maxwait_seconds{%s})' % dbsel, table=false)],
             's',
             steps=[['green', null], ['orange', c.pgbouncerMaxWaitSeconds]]),
      g.stat('Fullest pool',
             'Busy server connections over pool_size, for the fullest pool.',
             [g.instant('max(%s)' % saturation, table=false)],
             'percentunit',
             steps=[['green', null], ['orange', c.pgbouncerPoolSaturation]]),
      g.stat('Transactions/s',
             'Transactions pooled per second, all databases.',
             [g.instant('sum(%s)' % rateOf('pgbouncer_stats_sql_transactions_pooled_total'), table=false)],
             'ops',
             graph=true),

      g.row('Clients'),
      g.timeseries('Client connections',
                   'Client connections per pool (database and user): active ones and those waiting for a server connection.',
                   [
                     g.target(sum('pgbouncer_pools_client_active_connections', ', database, user'), '{{%s}} {{database}}/{{user}} active' % pod),
                     g.target(sum('pgbouncer_pools_client_waiting_connections', ', database, user'), '{{%s}} {{database}}/{{user}} waiting' % pod),
                   ],
                   'short',
                   w=8),
      g.timeseries('Longest client wait',
                   'How long the oldest waiting client of each pool has waited. Clients wait when every server connection of the pool is busy.',
                   [g.target('max by (%(ml)s, database, user) (pgbouncer_pools_client_maxwait_seconds{%(ds)s})' % m, '{{%s}} {{database}}/{{user}}' % pod)],
                   's',
                   w=8,
                   steps=[['green', null], ['orange', c.pgbouncerMaxWaitSeconds]]),
      g.timeseries('Client slots',
                   'Client connections in use against max_client_conn: pgBouncer refuses clients beyond it.',
                   [
                     g.target('max by (%(ml)s) (pgbouncer_used_clients{%(ps)s})' % m, '{{%s}} used' % pod),
                     g.target('max by (%(ml)s) (pgbouncer_config_max_client_connections{%(ps)s})' % m, '{{%s}} max_client_conn' % pod),
                   ],
                   'short',
                   w=8),

      g.row('Servers'),
      g.timeseries('Server connections by state',
                   'Server connections to PostgreSQL: active (paired with a client), idle, used (to be checked), testing and logging in.',
                   [g.target(sum('pgbouncer_pools_server_%s_connections' % s), '{{%s}} %s' % [pod, s]) for s in serverStates],
                   'short',
                   w=8,
                   stack=true),
      g.timeseries('Server connections vs pool size',
                   "Open server connections of each database's pools against its pool_size (per user).",
                   [
                     g.target('sum by (%(ml)s, database) (%(open)s)' % (m { open: serverOpen }), dbLegend + ' open'),
                     g.target(poolSize, dbLegend + ' pool_size'),
                   ],
                   'short',
                   w=8),
      g.timeseries('Pool saturation',
                   'Busy server connections over pool_size, for the fullest pool of each database. At 100% new transactions wait for a server connection.',
                   [g.target(saturation, dbLegend)],
                   'percentunit',
                   w=8,
                   min=0,
                   steps=[['green', null], ['orange', c.pgbouncerPoolSaturation]]),

      g.row('Traffic'),
      g.timeseries('Transactions and queries',
                   'Transactions and queries pooled to the server per second, per database.',
                   [
                     g.target(rateOf('pgbouncer_stats_sql_transactions_pooled_total'), dbLegend + ' transactions'),
                     g.target(rateOf('pgbouncer_stats_queries_pooled_total'), dbLegend + ' queries'),
                   ],
                   'ops',
                   w=8),
      g.timeseries('Average duration',
                   'Average time a transaction held a server connection, and average query time, over the interval.',
                   [
                     g.target('%s / %s' % [rateOf('pgbouncer_stats_server_in_transaction_seconds_total'), rateOf('pgbouncer_stats_sql_transactions_pooled_total')], dbLegend + ' transaction'),
                     g.target('%s / %s' % [rateOf('pgbouncer_stats_queries_duration_seconds_total'), rateOf('pgbouncer_stats_queries_pooled_total')], dbLegend + ' query'),
                   ],
                   's',
                   w=8),
      g.timeseries('Client wait time',
                   'Seconds clients spent waiting for a server connection, per second of wall-clock time: 1 means one client waiting all the time.',
                   [g.target(rateOf('pgbouncer_stats_client_wait_seconds_total'), dbLegend)],
                   's',
                   w=8),
      g.timeseries('Network traffic',
                   'Bytes received from clients and sent to them per second.',
                   [
                     g.target(rateOf('pgbouncer_stats_received_bytes_total'), dbLegend + ' received'),
                     g.target(rateOf('pgbouncer_stats_sent_bytes_total'), dbLegend + ' sent'),
                   ],
                   'Bps',
                   w=12),
      g.table(
        'Databases',
        "pgBouncer's databases (SHOW DATABASES): where each points, pool mode and sizes, server connections now, and whether it is paused or disabled.",
        [
          g.instant('max by (%(ml)s, name, database, host, port, pool_mode) (pgbouncer_databases_pool_size{%(ps)s})' % m),
          g.instant('max by (%(ml)s, name) (pgbouncer_databases_reserve_pool{%(ps)s})' % m),
          g.instant('max by (%(ml)s, name) (pgbouncer_databases_current_connections{%(ps)s})' % m),
          g.instant('max by (%(ml)s, name) (pgbouncer_databases_max_connections{%(ps)s})' % m),
          g.instant('max by (%(ml)s, name) (pgbouncer_databases_paused{%(ps)s})' % m),
          g.instant('max by (%(ml)s, name) (pgbouncer_databases_disabled{%(ps)s})' % m),
        ],
        'none',
        w=12,
        transformations=[
          g.merge,
          g.organize(
            hide=['Time'] + g.clusterLabels(c),
            rename={
              name: 'Name',
              database: 'Server database',
              'Value #A': 'Pool size',
              'Value #B': 'Reserve pool',
              'Value #C': 'Server connections',
              'Value #D': 'Max connections',
              'Value #E': 'Paused',
              'Value #F': 'Disabled',
            },
            order=[pod, 'name', 'database', 'host', 'port', 'pool_mode'] + ['Value #' + x for x in std.stringChars('ABCDEF')],
          ),
        ],
        overrides=[
          g.column('Paused', { mappings: [{ type: 'value', options: { '0': { text: 'no', index: 0 }, '1': { text: 'PAUSED', color: 'orange', index: 1 } } }] }),
          g.column('Disabled', { mappings: [{ type: 'value', options: { '0': { text: 'no', index: 0 }, '1': { text: 'DISABLED', color: 'red', index: 1 } } }] }),
        ],
      ),
    ],
    links=[
      g.link(c, 'Cluster', 'cluster', clusterVars, 'The PostgreSQL cluster behind this pooler'),
      g.link(c, 'Exporter', 'exporter', clusterVars, 'The pgscope exporters of this cluster'),
    ],
  )
