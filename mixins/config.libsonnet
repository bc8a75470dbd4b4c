// Settings of the pgscope mixin. Override any of them:
//   (import 'pgscope/mixins/mixin.libsonnet') + { _config+:: { clusterLabel: 'cluster' } }
{
  _config+:: {
    // Which targets are pgscope exporters. The operator names its scrape job
    // "pgscope"; a hand-made ServiceMonitor or static job may use another.
    pgscopeSelector: 'job=~".*pgscope.*"',
    // Label matchers added to every read of a recorded series (cluster:*,
    // member:*) by the alerting and recording rules, e.g. 'namespace="db"'.
    // Recorded series have no job label, so pgscopeSelector cannot restrict
    // them: a rule file meant for some clusters only (pgscope-operator writes
    // one per cluster) sets both. Empty: every recorded series. The dashboards
    // filter recorded series by their variables instead.
    recordedSelector: '',

    // The label that names a PostgreSQL cluster. Zalando's operator labels pods
    // `cluster-name` (its cluster_name_label); Prometheus's pod target labels
    // turn the dash into an underscore.
    clusterLabel: 'cluster_name',
    // The label of the team owning a cluster (Zalando: `team`).
    teamLabel: 'team',
    namespaceLabel: 'namespace',
    // The label that tells the members of one cluster apart (one exporter per
    // pod: the pod's name).
    memberLabel: 'pod',

    // Users who aggregate several Kubernetes clusters in one Prometheus (Thanos,
    // Mimir) set showMultiCluster and the label that names a Kubernetes cluster.
    showMultiCluster: false,
    multiClusterLabel: 'k8s_cluster',

    // Alert thresholds and durations. docs/alerting.md lists which alert reads which key.
    // How long a source may be unreachable before its alert fires.
    postgresDownFor: '2m',
    patroniDownFor: '2m',
    pgbouncerDownFor: '2m',
    exporterDownFor: '5m',
    // Patroni. A failover takes about ttl (30 s by default) without a leader:
    // noLeaderFor stays above that so that a normal failover does not page.
    noLeaderFor: '1m',
    multipleLeadersFor: '1m',
    // PatroniFailover stays firing this long after the leader changed.
    failoverWindow: '10m',
    dcsUnreachableSeconds: 60,
    dcsUnreachableFor: '1m',
    pendingRestartFor: '1h',
    pausedFor: '1h',
    // Replication.
    replicationLagBytesWarning: 256 * 1024 * 1024,
    replicationLagSecondsWarning: 300,
    replicationLagFor: '5m',
    replicaNotStreamingFor: '5m',
    slotInactiveFor: '30m',
    slotRetainedBytesWarning: 10 * 1024 * 1024 * 1024,
    // What pg_wal can hold for a slot without max_slot_wal_keep_size: set it
    // below the free space of the volume (Spilo keeps pg_wal on the data volume).
    slotRetainedBytesCritical: 50 * 1024 * 1024 * 1024,
    slotRetentionFor: '10m',
    // predict_linear extrapolates the slot's trend over slotPredictionLookback
    // and fires when the WAL reservation runs out within slotHoursToFullCritical.
    slotHoursToFullCritical: 4,
    slotPredictionLookback: '1h',
    // Transactions and connections.
    txidWraparoundWarning: 1000000000,  // age of datfrozenxid, in transactions (hard limit ~2.1e9)
    txidWraparoundCritical: 1500000000,
    txidWraparoundFor: '5m',
    connectionsUsedWarning: 0.85,  // share of max_connections
    connectionsUsedCritical: 0.95,
    connectionsFor: '5m',
    longTransactionSeconds: 3600,
    longTransactionFor: '2m',
    idleInTransactionSeconds: 600,
    idleInTransactionFor: '2m',
    deadlocksPer10m: 5,
    deadlocksFor: '0m',
    // Archiving fails when failures rose and no WAL file was archived for archiveStaleSeconds.
    archiveStaleSeconds: 600,
    archiveFailingFor: '5m',
    // A checksum failure keeps the alert firing this long after it was seen.
    checksumFailureWindowSeconds: 24 * 3600,
    cacheHitRatioWarning: 0.90,
    cacheHitRatioFor: '30m',
    // Below this many blocks read from disk per second the ratio says nothing.
    cacheHitMinBlocksReadPerSecond: 50,
    // pgBouncer.
    pgbouncerWaitingClients: 5,
    pgbouncerMaxWaitSeconds: 10,
    pgbouncerPoolSaturation: 0.90,  // server connections in use / pool_size
    pgbouncerFor: '5m',
    // The exporter.
    collectorFailingFor: '15m',

    // Dashboards.
    dashboardTags: ['pgscope', 'postgresql'],
    dashboardRefresh: '30s',
    dashboardTimezone: 'utc',
    dashboardUidPrefix: 'pgscope-',
    dashboardTitlePrefix: 'pgscope / ',
    grafanaDatasourceRegex: '',
    // How many statements and tables the "top" panels show: enough to find the
    // hot spot, few enough to read.
    dashboardTopN: 10,
    dashboardTopTables: 20,

    // Where each alert's runbook lives: runbook_url is this, "/", the alert's
    // name and ".md" (docs/runbooks/ in the repository).
    runbookBaseURL: 'https://github.com/pgscope/pgscope/blob/main/docs/runbooks',
  },

  // The alert thresholds and durations of _config, with the values each takes,
  // for tools that set them per cluster (pgscope-operator reads them from
  // annotations of the postgresql object: docs/operator-thresholds.md). A test
  // of the operator checks that every key here changes alerts and that no
  // other number or duration of _config does.
  //   number         a number, 0 or more
  //   ratio          a number from 0 to 1 (a share: 0.85 is 85%)
  //   duration       a Prometheus duration: 90s, 5m, 1h30m, 0m
  //   window         a duration longer than 0: a PromQL range, for which 0 is an error
  //   windowSeconds  a whole number of seconds, 1 or more: a PromQL range too
  _thresholdKinds:: {
    postgresDownFor: 'duration',
    patroniDownFor: 'duration',
    pgbouncerDownFor: 'duration',
    exporterDownFor: 'duration',
    noLeaderFor: 'duration',
    multipleLeadersFor: 'duration',
    failoverWindow: 'window',
    dcsUnreachableSeconds: 'number',
    dcsUnreachableFor: 'duration',
    pendingRestartFor: 'duration',
    pausedFor: 'duration',
    replicationLagBytesWarning: 'number',
    replicationLagSecondsWarning: 'number',
    replicationLagFor: 'duration',
    replicaNotStreamingFor: 'duration',
    slotInactiveFor: 'duration',
    slotRetainedBytesWarning: 'number',
    slotRetainedBytesCritical: 'number',
    slotRetentionFor: 'duration',
    slotHoursToFullCritical: 'number',
    slotPredictionLookback: 'window',
    txidWraparoundWarning: 'number',
    txidWraparoundCritical: 'number',
    txidWraparoundFor: 'duration',
    connectionsUsedWarning: 'ratio',
    connectionsUsedCritical: 'ratio',
    connectionsFor: 'duration',
    longTransactionSeconds: 'number',
    longTransactionFor: 'duration',
    idleInTransactionSeconds: 'number',
    idleInTransactionFor: 'duration',
    deadlocksPer10m: 'number',
    deadlocksFor: 'duration',
    archiveStaleSeconds: 'windowSeconds',
    archiveFailingFor: 'duration',
    checksumFailureWindowSeconds: 'number',
    cacheHitRatioWarning: 'ratio',
    cacheHitRatioFor: 'duration',
    cacheHitMinBlocksReadPerSecond: 'number',
    pgbouncerWaitingClients: 'number',
    pgbouncerMaxWaitSeconds: 'number',
    pgbouncerPoolSaturation: 'ratio',
    pgbouncerFor: 'duration',
    collectorFailingFor: 'duration',
  },
}
