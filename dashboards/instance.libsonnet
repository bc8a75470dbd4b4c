// PostgreSQL instance view: what one member (or a few, side by side) is doing:
// sessions and locks, transactions and cache, checkpoints and WAL, vacuum and
// wraparound, databases, table hot spots and top statements.
local g = import '../mixins/lib/grafana.libsonnet';

function(c)
  local sel = g.selector(c);
  local msel = g.selector(c, 'member');
  local dsel = msel + ', datname=~"$datname"';  // for series per database
  local cl = g.clusterBy(c);
  local ml = g.memberBy(c);
  local member = g.memberLegend(c);
  local pod = c.memberLabel;
  local tl = ml + ', datname, schemaname, relname';  // one table of one member
  local clusterVars = ['job', 'namespace', 'cluster'] + (if c.showMultiCluster then [c.multiClusterLabel] else []);
  local m = { ml: ml, ms: msel, ds: dsel, tl: tl, pod: pod };

  // Sum of rate()s of a per-database counter, per member.
  local rateOf(metric) = 'sum by (%s) (rate(%s{%s}[$__rate_interval]))' % [ml, metric, dsel];
  local cacheHit = |||
    sum by (%(ml)s) (rate(pg_stat_database_blks_hit{%(ds)s}[$__rate_interval]))
    /
    (sum by (%(ml)s) (rate(pg_stat_database_blks_hit{%(ds)s}[$__rate_interval])) + sum by (%(ml)s) (rate(pg_stat_database_blks_read{%(ds)s}[$__rate_interval])))
  ||| % m;
  local connectionsUsed = 'sum by (%(ml)s) (pg_stat_database_numbackends{%(ms)s}) / on (%(ml)s) max by (%(ml)s) (pg_settings_max_connections{%(ms)s})' % m;
  // PostgreSQL 17 moved checkpoint statistics from pg_stat_bgwriter to
  // pg_stat_checkpointer: each expression reads whichever the server has.
  local either(before17, since17, scale='') =
    '%(s)ssum by (%(ml)s) (rate(%(a)s{%(ms)s}[$__rate_interval])) or %(s)ssum by (%(ml)s) (rate(%(b)s{%(ms)s}[$__rate_interval]))' % (m { a: before17, b: since17, s: scale });
  local walRate = |||
    sum by (%(ml)s) (rate(pg_stat_wal_bytes_total{%(ms)s}[$__rate_interval]))
    or
    max by (%(ml)s) (deriv(pg_wal_lsn_location_bytes{%(ms)s}[$__rate_interval]))
  ||| % m;

  // Tables: the largest `topTables` of the members chosen; other columns are
  // limited to those tables so that the merged table has one row per table.
  local topTables = 'topk(%d, max by (%s) (pg_stat_user_tables_size_bytes{%s}))' % [c.dashboardTopTables, tl, dsel];
  local ofTopTables(expr) = '(%s) and on (%s) %s' % [expr, tl, topTables];
  local tableRate(metric) = 'sum by (%s) (rate(%s{%s}[$__rate_interval]))' % [tl, metric, dsel];
  local topTablesBy(expr) = 'topk(%d, %s)' % [c.dashboardTopN, expr];
  local tableLegend = '{{%s}} {{datname}}.{{schemaname}}.{{relname}}' % pod;

  // Statements: pg_stat_statements is an extension (Spilo installs it) and
  // its collector is off by default (--collector.stat_statements); the
  // panels' descriptions say so when they are empty.
  local st = ml + ', datname, user, queryid';
  local stSel = msel + ', datname=~"$datname", queryid!="other"';  // "other" sums the rest
  local stRate(metric) = 'sum by (%s) (rate(%s{%s}[$__rate_interval]))' % [st, metric, stSel];
  local topStatements = 'topk(%d, %s)' % [c.dashboardTopN, stRate('pg_stat_statements_seconds_total')];
  local ofTopStatements(expr) = '(%s) and on (%s) %s' % [expr, st, topStatements];

  local wrapSteps = [['green', null], ['orange', c.txidWraparoundWarning], ['red', c.txidWraparoundCritical]];

  g.dashboard(
    c,
    'instance',
    'Instance',
    'PostgreSQL of the members chosen: activity, locks, transactions, cache hit ratio, checkpoints, WAL, vacuum and wraparound, table hot spots and top statements.',
    g.standardVariables(c, metric='pg_up', member=true) + [
      g.queryVariable('datname', 'Database', 'label_values(pg_stat_database_numbackends{%s}, datname)' % msel),
    ],
    [
      g.row('Instance'),
      g.stat('PostgreSQL',
             'Whether the exporter can connect to PostgreSQL and log in.',
             [g.instant('max by (%(ml)s) (pg_up{%(ms)s})' % m, member, table=false)],
             'none',
             steps=[['red', null], ['green', 1]],
             mappings=[{ type: 'value', options: { '0': { text: 'down', index: 0 }, '1': { text: 'up', index: 1 } } }]),
      g.stat('Role',
             'Whether PostgreSQL is in recovery (a standby) or read-write (the primary), as the server itself says.',
             [g.instant('max by (%(ml)s) (pg_replication_is_replica{%(ms)s})' % m, member, table=false)],
             'none',
             steps=[['green', null], ['blue', 1]],
             mappings=[{ type: 'value', options: { '0': { text: 'primary', index: 0 }, '1': { text: 'standby', index: 1 } } }]),
      g.stat('Uptime',
             'Time since the postmaster started.',
             [g.instant('time() - max by (%(ml)s) (pg_postmaster_start_time_seconds{%(ms)s})' % m, member, table=false)],
             's'),
      g.stat('Version',
             'PostgreSQL server version.',
             [g.instant('max by (%(ml)s, short_version) (pg_static{%(ms)s})' % m, '{{%s}}: {{short_version}}' % pod, table=false)],
             'none') + {
        options+: { textMode: 'name' },
      },
      g.stat('Connections used',
             'Backends over max_connections. New connections fail at 100% (less the superuser_reserved_connections for ordinary roles).',
             [g.instant(connectionsUsed, member, table=false)],
             'percentunit',
             steps=[['green', null], ['orange', c.connectionsUsedWarning], ['red', c.connectionsUsedCritical]]),
      g.stat('Cache hit ratio',
             'Share of block reads served from shared buffers over the dashboard interval (reads from the OS page cache count as misses).',
             [g.instant(cacheHit, member, table=false)],
             'percentunit',
             steps=[['red', null], ['green', c.cacheHitRatioWarning]]),

      g.row('Activity'),
      g.timeseries('Sessions by state',
                   'Backends per state (active, idle, idle in transaction, ...) in the databases chosen.',
                   [g.target('sum by (%(ml)s, state) (pg_stat_activity_count{%(ds)s})' % m, '{{%s}} {{state}}' % pod)],
                   'short',
                   w=8,
                   stack=true),
      g.timeseries('Connections',
                   'Backends connected, against max_connections.',
                   [
                     g.target('sum by (%(ml)s) (pg_stat_database_numbackends{%(ms)s})' % m, member),
                     g.target('max by (%(ml)s) (pg_settings_max_connections{%(ms)s})' % m, '{{%s}} max_connections' % pod),
                   ],
                   'short',
                   w=8),
      g.timeseries('Locks by mode',
                   'Locks held or awaited, per lock mode. Many AccessExclusiveLocks, or a rising total, suggest DDL or explicit locking blocking others.',
                   [g.target('sum by (%(ml)s, mode) (pg_locks_count{%(ds)s})' % m, '{{%s}} {{mode}}' % pod)],
                   'short',
                   w=8),
      g.timeseries('Oldest transaction',
                   'Age of the oldest open transaction of a backend and of a prepared transaction, and the longest one idle in transaction. Long transactions hold back vacuum and replication slots.',
                   [
                     g.target('max by (%(ml)s, source) (pg_oldest_transaction_age_seconds{%(ms)s})' % m, '{{%s}} {{source}}' % pod),
                     g.target('max by (%(ml)s) (pg_stat_activity_max_tx_duration{%(ds)s, state=~"idle in transaction.*"})' % m, '{{%s}} idle in transaction' % pod),
                   ],
                   's',
                   w=12,
                   steps=[['green', null], ['orange', c.longTransactionSeconds]]),
      g.timeseries('Oldest xmin',
                   'Age, in transactions, of the oldest xmin held, by holder: backends, standbys (hot_standby_feedback), replication slots, prepared transactions. Vacuum cannot remove rows newer than it. 0 while nothing is held.',
                   [g.target(g.orZeroPerMember(c, 'max by (%(ml)s, source) (pg_oldest_xmin_age{%(ms)s})' % m, msel), '{{%s}} {{source}}' % pod)],
                   'short',
                   w=12),

      g.row('Transactions'),
      g.timeseries('Transactions',
                   'Transactions committed and rolled back per second.',
                   [
                     g.target(rateOf('pg_stat_database_xact_commit'), '{{%s}} commit' % pod),
                     g.target(rateOf('pg_stat_database_xact_rollback'), '{{%s}} rollback' % pod),
                   ],
                   'ops',
                   w=8),
      g.timeseries('Rows',
                   'Rows returned, fetched, inserted, updated and deleted by queries, per second.',
                   [g.target(rateOf('pg_stat_database_tup_' + op), '{{%s}} %s' % [pod, op]) for op in ['returned', 'fetched', 'inserted', 'updated', 'deleted']],
                   'ops',
                   w=8),
      g.timeseries('Cache hit ratio',
                   'Share of block reads served from shared buffers. A drop means the working set no longer fits in shared_buffers.',
                   [g.target(cacheHit, member)],
                   'percentunit',
                   w=8,
                   max=1,
                   steps=[['red', null], ['green', c.cacheHitRatioWarning]]),
      g.timeseries('Deadlocks',
                   'Deadlocks detected per minute. Each one aborted a transaction.',
                   [g.target('60 * ' + rateOf('pg_stat_database_deadlocks'), member)],
                   'opm',
                   w=6),
      g.timeseries('Temporary files',
                   'Bytes written to temporary files per second: sorts and hashes that did not fit in work_mem.',
                   [g.target(rateOf('pg_stat_database_temp_bytes'), member)],
                   'Bps',
                   w=6),
      g.timeseries('Recovery conflicts',
                   'Queries cancelled on a standby because of conflicts with recovery, per minute.',
                   [g.target('60 * ' + rateOf('pg_stat_database_conflicts'), member)],
                   'opm',
                   w=6),
      g.timeseries('Sessions ended abnormally',
                   'Sessions per minute ended by a lost client connection, a fatal error, or an operator (pg_terminate_backend).',
                   [g.target('60 * ' + rateOf('pg_stat_database_sessions_' + k), '{{%s}} %s' % [pod, k]) for k in ['abandoned', 'fatal', 'killed']],
                   'opm',
                   w=6),

      g.row('Checkpoints and WAL'),
      g.timeseries('Checkpoints',
                   'Checkpoints per minute: timed (checkpoint_timeout) and requested (max_wal_size reached, or asked for). Many requested checkpoints mean max_wal_size is too small.',
                   [
                     g.target(either('pg_stat_bgwriter_checkpoints_timed_total', 'pg_stat_checkpointer_num_timed_total', '60 * '), '{{%s}} timed' % pod),
                     g.target(either('pg_stat_bgwriter_checkpoints_req_total', 'pg_stat_checkpointer_num_requested_total', '60 * '), '{{%s}} requested' % pod),
                   ],
                   'opm',
                   w=8),
      g.timeseries('Checkpoint write and sync time',
                   'Share of wall-clock time the checkpointer spent writing and syncing files.',
                   [
                     g.target(either('pg_stat_bgwriter_checkpoint_write_time_total', 'pg_stat_checkpointer_write_time_total', '0.001 * '), '{{%s}} write' % pod),
                     g.target(either('pg_stat_bgwriter_checkpoint_sync_time_total', 'pg_stat_checkpointer_sync_time_total', '0.001 * '), '{{%s}} sync' % pod),
                   ],
                   'percentunit',
                   w=8),
      g.timeseries('Buffers written',
                   'Shared buffers written per second by the checkpointer, the background writer, and backends themselves (the last should stay low).',
                   [
                     g.target(either('pg_stat_bgwriter_buffers_checkpoint_total', 'pg_stat_checkpointer_buffers_written_total'), '{{%s}} checkpointer' % pod),
                     g.target('sum by (%(ml)s) (rate(pg_stat_bgwriter_buffers_clean_total{%(ms)s}[$__rate_interval]))' % m, '{{%s}} background writer' % pod),
                     g.target('sum by (%(ml)s) (rate(pg_stat_bgwriter_buffers_backend_total{%(ms)s}[$__rate_interval]))' % m, '{{%s}} backends' % pod),
                   ],
                   'ops',
                   w=8),
      g.timeseries('WAL generated',
                   'WAL bytes written per second (on a standby: replayed).',
                   [g.target(walRate, member)],
                   'Bps',
                   w=8),
      g.timeseries('WAL records and full-page images',
                   'WAL records and full-page images per second. Many full-page images follow each checkpoint; a higher share means checkpoints come too often.',
                   [
                     g.target('sum by (%(ml)s) (rate(pg_stat_wal_records_total{%(ms)s}[$__rate_interval]))' % m, '{{%s}} records' % pod),
                     g.target('sum by (%(ml)s) (rate(pg_stat_wal_fpi_total{%(ms)s}[$__rate_interval]))' % m, '{{%s}} full-page images' % pod),
                   ],
                   'ops',
                   w=8),
      g.timeseries('WAL on disk',
                   'Size of pg_wal. It grows when replication slots, wal_keep_size or failing archiving hold WAL.',
                   [g.target('max by (%(ml)s) (pg_wal_size_bytes{%(ms)s})' % m, member)],
                   'bytes',
                   w=8),

      g.row('Vacuum and wraparound'),
      g.timeseries('Transaction ID age',
                   "Age, in transactions, of each database's datfrozenxid and of its oldest unfrozen table. PostgreSQL stops assigning transaction IDs near 2.1 billion; autovacuum freezes from autovacuum_freeze_max_age (200 million by default).",
                   [
                     g.target('max by (%(ml)s, datname) (pg_database_wraparound_age_datfrozenxid_seconds{%(ds)s})' % m, '{{%s}} {{datname}}' % pod),
                     g.target('max by (%(ml)s, datname) (pg_oldest_relfrozenxid_age{%(ds)s})' % m, '{{%s}} {{datname}} oldest table' % pod),
                   ],
                   'short',
                   w=8,
                   steps=wrapSteps),
      g.timeseries('Multixact ID age',
                   "Age, in multixacts, of each database's datminmxid and of its oldest table's relminmxid; multixacts wrap around like transaction IDs.",
                   [
                     g.target('max by (%(ml)s, datname) (pg_database_wraparound_age_datminmxid_seconds{%(ds)s})' % m, '{{%s}} {{datname}}' % pod),
                     g.target('max by (%(ml)s, datname) (pg_oldest_relminmxid_age{%(ds)s})' % m, '{{%s}} {{datname}} oldest table' % pod),
                   ],
                   'short',
                   w=8),
      g.timeseries('Vacuums running',
                   'VACUUMs and autovacuums running now, per table (pg_stat_progress_vacuum); 0 for a member vacuuming nothing.',
                   [g.target(g.orZeroPerMember(c, 'count by (%(tl)s) (pg_stat_progress_vacuum_heap_blks{%(ds)s})' % m, msel), tableLegend)],
                   'short',
                   w=8),
      g.timeseries('Vacuums and analyzes (top tables)',
                   'Vacuums and analyzes, manual and automatic, per hour, for the tables vacuumed most.',
                   [
                     g.target(topTablesBy('3600 * (%s + %s)' % [tableRate('pg_stat_user_tables_autovacuum_count'), tableRate('pg_stat_user_tables_vacuum_count')]), tableLegend + ' vacuum'),
                     g.target(topTablesBy('3600 * (%s + %s)' % [tableRate('pg_stat_user_tables_autoanalyze_count'), tableRate('pg_stat_user_tables_analyze_count')]), tableLegend + ' analyze'),
                   ],
                   'short',
                   w=12),
      g.timeseries('Dead rows (top tables)',
                   'Estimated dead rows of the tables with most: rows vacuum has yet to remove.',
                   [g.target(topTablesBy('max by (%(tl)s) (pg_stat_user_tables_n_dead_tup{%(ds)s})' % m), tableLegend)],
                   'short',
                   w=12),

      g.row('Databases and tables'),
      g.timeseries('Database size',
                   'Disk space of each database.',
                   [g.target('max by (%(ml)s, datname) (pg_database_size_bytes{%(ds)s})' % m, '{{%s}} {{datname}}' % pod)],
                   'bytes',
                   w=12),
      g.timeseries('Database growth',
                   'Change of database size per second over the dashboard interval.',
                   [g.target('max by (%(ml)s, datname) (deriv(pg_database_size_bytes{%(ds)s}[$__rate_interval]))' % m, '{{%s}} {{datname}}' % pod)],
                   'Bps',
                   w=12),
      g.timeseries('Sequential scans (top tables)',
                   'Sequential scans per second of the tables scanned most. A big table scanned often usually lacks an index.',
                   [g.target(topTablesBy(tableRate('pg_stat_user_tables_seq_scan')), tableLegend)],
                   'ops',
                   w=8),
      g.timeseries('Rows written (top tables)',
                   'Rows inserted, updated and deleted per second, for the tables written most.',
                   [g.target(topTablesBy('%s + %s + %s' % [tableRate('pg_stat_user_tables_n_tup_ins'), tableRate('pg_stat_user_tables_n_tup_upd'), tableRate('pg_stat_user_tables_n_tup_del')]), tableLegend)],
                   'ops',
                   w=8),
      g.timeseries('Rows read by sequential scans (top tables)',
                   'Live rows fetched by sequential scans per second, for the tables where it is highest.',
                   [g.target(topTablesBy(tableRate('pg_stat_user_tables_seq_tup_read')), tableLegend)],
                   'ops',
                   w=8),
      g.table(
        'Largest tables',
        'The largest tables with their access rates over the dashboard interval. Seq scans on a big table, a low HOT share with many updates, or many dead rows are where to look.',
        [
          g.instant(topTables),
          g.instant(ofTopTables(tableRate('pg_stat_user_tables_seq_scan'))),
          g.instant(ofTopTables(tableRate('pg_stat_user_tables_idx_scan'))),
          g.instant(ofTopTables(tableRate('pg_stat_user_tables_n_tup_ins'))),
          g.instant(ofTopTables(tableRate('pg_stat_user_tables_n_tup_upd'))),
          g.instant(ofTopTables(tableRate('pg_stat_user_tables_n_tup_del'))),
          g.instant(ofTopTables('max by (%(tl)s) (pg_stat_user_tables_n_live_tup{%(ds)s})' % m)),
          g.instant(ofTopTables('max by (%(tl)s) (pg_stat_user_tables_n_dead_tup{%(ds)s})' % m)),
          g.instant(ofTopTables('1000 * max by (%(tl)s) (pg_stat_user_tables_last_autovacuum{%(ds)s})' % m)),
        ],
        'none',
        h=10,
        transformations=[
          g.merge,
          g.organize(
            hide=['Time'] + g.clusterLabels(c),
            rename={
              'Value #A': 'Size',
              'Value #B': 'Seq scans/s',
              'Value #C': 'Index scans/s',
              'Value #D': 'Inserts/s',
              'Value #E': 'Updates/s',
              'Value #F': 'Deletes/s',
              'Value #G': 'Live rows',
              'Value #H': 'Dead rows',
              'Value #I': 'Last autovacuum',
            },
            order=[pod, 'datname', 'schemaname', 'relname'] + ['Value #' + x for x in std.stringChars('ABCDEFGHI')],
          ),
        ],
        overrides=[
          g.column('Size', g.colUnit('bytes')),
          g.column('Seq scans/s', g.colUnit('ops')),
          g.column('Index scans/s', g.colUnit('ops')),
          g.column('Inserts/s', g.colUnit('ops')),
          g.column('Updates/s', g.colUnit('ops')),
          g.column('Deletes/s', g.colUnit('ops')),
          g.column('Last autovacuum', g.colUnit('dateTimeAsIso') + { mappings: [{ type: 'value', options: { '0': { text: 'never', index: 0 } } }] }),
        ],
        sortBy=[{ displayName: 'Size', desc: true }],
      ),

      g.row('Top statements'),
      g.table(
        'Top statements',
        "Statements taking the most execution time over the dashboard interval (pg_stat_statements; needs the extension and the exporter's stat_statements collector). Look a queryid up with: SELECT query FROM pg_stat_statements WHERE queryid = ...",
        [
          g.instant(topStatements),
          g.instant(ofTopStatements(stRate('pg_stat_statements_calls_total'))),
          g.instant(ofTopStatements('%s / %s' % [stRate('pg_stat_statements_seconds_total'), stRate('pg_stat_statements_calls_total')])),
          g.instant(ofTopStatements(stRate('pg_stat_statements_rows_total'))),
        ],
        'none',
        h=10,
        transformations=[
          g.merge,
          g.organize(
            hide=['Time'] + g.clusterLabels(c),
            rename={ 'Value #A': 'Time/s', 'Value #B': 'Calls/s', 'Value #C': 'Mean time', 'Value #D': 'Rows/s' },
            order=[pod, 'datname', 'user', 'queryid', 'Value #A', 'Value #B', 'Value #C', 'Value #D'],
          ),
        ],
        overrides=[
          g.column('Time/s', g.colUnit('percentunit')),
          g.column('Calls/s', g.colUnit('ops')),
          g.column('Mean time', g.colUnit('s')),
          g.column('Rows/s', g.colUnit('ops')),
        ],
        sortBy=[{ displayName: 'Time/s', desc: true }],
      ),
      g.timeseries('Statement time (top statements)',
                   'Execution time per second of the statements taking the most; 100% is one backend busy all the time.',
                   [g.target(topStatements, '{{%s}} {{datname}} {{queryid}}' % pod)],
                   'percentunit',
                   w=12),
      g.timeseries('Statement calls (top statements)',
                   'Executions per second of the statements called most.',
                   [g.target('topk(%d, %s)' % [c.dashboardTopN, stRate('pg_stat_statements_calls_total')], '{{%s}} {{datname}} {{queryid}}' % pod)],
                   'ops',
                   w=12),
    ],
    links=[
      g.link(c, 'Cluster', 'cluster', clusterVars + ['instance'], 'The cluster of these members'),
      g.link(c, 'pgBouncer', 'pgbouncer', clusterVars, "The cluster's connection pooler"),
      g.link(c, 'Exporter', 'exporter', clusterVars + ['instance'], 'The exporters of these members'),
    ],
  )
