// Settings of the pgscope mixin. Override any of them:
//   (import 'pgscope/mixins/mixin.libsonnet') + { _config+:: { clusterLabel: 'cluster' } }
{
  _config+:: {
    // Which targets are pgscope exporters. The operator names its scrape job
    // "pgscope"; a hand-made ServiceMonitor or static job may use another.
    pgscopeSelector: 'job=~".*pgscope.*"',

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
}
