// PostgreSQL itself (availability, transactions, connections, data safety)
// and streaming replication between the members.
function(h)
  local c = h.c;
  local f = h.f {
    stale: h.num(c.archiveStaleSeconds),
    checksumWindow: h.num(c.checksumFailureWindowSeconds),
    minReads: h.num(c.cacheHitMinBlocksReadPerSecond),
    lookback: c.slotPredictionLookback,
    horizon: h.num(c.slotHoursToFullCritical * 3600),
    retainedCritical: h.num(c.slotRetainedBytesCritical),
  };
  local pct(x) = h.num(x * 100) + '%';

  // The leader: PostgreSQL out of recovery. Slot and wraparound alerts look
  // only there, as replicas repeat the leader's catalog.
  local onLeader = 'and on (%(ml)s) (max by (%(ml)s) (pg_replication_is_replica{%(sel)s}) == 0)' % f;

  local connections(severity, share) = h.alert(
    'PostgresTooManyConnections',
    severity,
    |||
      sum by (%(ml)s) (pg_stat_activity_count{%(sel)s})
      / on (%(ml)s)
      max by (%(ml)s) (pg_settings_max_connections{%(sel)s})
      > %(share)s
    ||| % (f { share: h.num(share) }),
    c.connectionsFor,
    'PostgreSQL is running out of connections.',
    '{{ $value | humanizePercentage }} of max_connections are in use on %s (more than %s). New clients are refused once it is reached; only superusers keep reserved slots.' % [h.member, pct(share)],
  );

  // Transaction IDs and multixact IDs both wrap around at 2^31.
  local wraparound(severity, age) = h.alert(
    'PostgresTxidWraparound',
    severity,
    |||
      max by (%(ml)s, datname, kind) (
        label_replace(pg_database_wraparound_age_datfrozenxid_seconds{%(sel)s}, "kind", "transaction", "", "")
        or
        label_replace(pg_database_wraparound_age_datminmxid_seconds{%(sel)s}, "kind", "multixact", "", "")
      ) > %(age)s
      %(onLeader)s
    ||| % (f { age: h.num(age), onLeader: onLeader }),
    c.txidWraparoundFor,
    'A database is approaching transaction ID wraparound.',
    'The oldest unfrozen {{ $labels.kind }} ID of database {{ $labels.datname }} on %s is {{ $value | humanize }} IDs old (more than %s). At about 2.1 billion PostgreSQL stops accepting writes to protect the data.' % [h.member, h.large(age)],
  );

  local lagBytes = h.bytes(c.replicationLagBytesWarning);

  [
    {
      name: 'pgscope-postgres',
      rules: [
        h.alert(
          'PostgresDown',
          'critical',
          'max by (%(ml)s) (pg_up{%(sel)s}) == 0' % f,
          c.postgresDownFor,
          'PostgreSQL does not answer.',
          'The exporter of %s has not been able to connect to PostgreSQL and log in for %s; pgscope_exporter_last_error_info{source="postgres"} tells why.' % [h.member, c.postgresDownFor],
        ),
        connections('warning', c.connectionsUsedWarning),
        connections('critical', c.connectionsUsedCritical),
        // Open transactions of client backends (autovacuum workers included)
        // and forgotten prepared transactions, which survive restarts.
        h.alert(
          'PostgresLongRunningTransaction',
          'warning',
          'max by (%(ml)s, source) (pg_oldest_transaction_age_seconds{%(sel)s}) > %(threshold)s' % (f { threshold: h.num(c.longTransactionSeconds) }),
          c.longTransactionFor,
          'A transaction has been open for a long time.',
          'The oldest open transaction ({{ $labels.source }}) on %s started {{ $value | humanizeDuration }} ago. Until it ends VACUUM cannot remove the rows it may still see, and it keeps its locks.' % h.member,
        ),
        // The age of the transaction of a session now idle in it: the cost
        // (locks, the xmin horizon) grows with the transaction's age.
        h.alert(
          'PostgresIdleInTransaction',
          'warning',
          'max by (%(ml)s, datname) (pg_stat_activity_max_tx_duration{%(sel)s, state=~"idle in transaction.*"}) > %(threshold)s' % (f { threshold: h.num(c.idleInTransactionSeconds) }),
          c.idleInTransactionFor,
          'A session sits idle inside an open transaction.',
          'A session of database {{ $labels.datname }} on %s is idle inside a transaction that started {{ $value | humanizeDuration }} ago: it holds its locks and holds back VACUUM while the client does nothing.' % h.member,
        ),
        h.alert(
          'PostgresDeadlocks',
          'warning',
          'sum by (%(ml)s, datname) (increase(pg_stat_database_deadlocks{%(sel)s}[10m])) > %(threshold)s' % (f { threshold: h.num(c.deadlocksPer10m) }),
          c.deadlocksFor,
          'Transactions deadlock.',
          'About {{ $value | humanize }} deadlocks in database {{ $labels.datname }} on %s in the last 10 minutes (more than %s): PostgreSQL aborted one transaction of each.' % [h.member, h.num(c.deadlocksPer10m)],
        ),
        // Failures alone are not enough (one failed attempt followed by
        // success is harmless); the archiver retrying the same file without
        // success is. Without any success since the start there is no
        // last_archive_age sample, so "unless" (not "and") keeps the alert.
        h.alert(
          'PostgresArchiveFailing',
          'critical',
          |||
            max by (%(ml)s) (increase(pg_stat_archiver_failed_count{%(sel)s}[%(stale)ss])) > 0
            unless on (%(ml)s)
            max by (%(ml)s) (pg_stat_archiver_last_archive_age{%(sel)s}) < %(stale)s
          ||| % f,
          c.archiveFailingFor,
          'WAL archiving is failing.',
          'archive_command failed {{ $value | humanize }} times in the last %s on %s and no WAL file was archived in that time. Unarchived WAL stays in pg_wal until it fills the volume, and point-in-time recovery stops at the last archived file.' % [h.num(c.archiveStaleSeconds) + 's', h.member],
        ),
        // The counter never goes down: the timestamp of the last failure ends
        // the alert a while after it, or a reset of the statistics.
        h.alert(
          'PostgresChecksumFailures',
          'critical',
          |||
            max by (%(ml)s, datname) (
              pg_stat_database_checksum_failures{%(sel)s} > 0
              and (time() - pg_stat_database_checksum_last_failure{%(sel)s}) < %(checksumWindow)s
            )
          ||| % f,
          '0m',
          'PostgreSQL read data pages with wrong checksums.',
          '{{ $value }} data page checksum failures in database {{ $labels.datname }} on %s, the last in the past %s: pages on disk are corrupt.' % [h.member, h.num(c.checksumFailureWindowSeconds / 3600) + 'h'],
        ),
        // Only while the member reads enough blocks from outside shared
        // buffers for the ratio to mean something.
        h.alert(
          'PostgresCacheHitRatioLow',
          'warning',
          |||
            %(ratio)s < %(threshold)s
            and on (%(ml)s)
            %(reads)s > %(minReads)s
          ||| % (f {
                   threshold: h.num(c.cacheHitRatioWarning),
                   ratio: h.recorded('member:pg_stat_database_blks_hit:ratio_rate5m'),
                   reads: h.recorded('member:pg_stat_database_blks_read:rate5m'),
                 }),
          c.cacheHitRatioFor,
          'Too many reads miss the shared buffers.',
          'Only {{ $value | humanizePercentage }} of the block reads on %s were served from shared buffers over the last 5 minutes (less than %s): the working set does not fit in shared_buffers, or queries scan large tables.' % [h.member, pct(c.cacheHitRatioWarning)],
        ),
        wraparound('warning', c.txidWraparoundWarning),
        wraparound('critical', c.txidWraparoundCritical),
      ],
    },
    {
      name: 'pgscope-replication',
      rules: [
        // Two rules, one name: the lag in bytes (WAL not yet replayed, what
        // maximum_lag_on_failover compares) and in time (what readers of the
        // replica see). The unit label keeps their alerts apart.
        h.alert(
          'PostgresReplicationLagHigh',
          'warning',
          '%s > %s' % [h.recorded('member:pg_replication_lag_bytes:max'), h.num(c.replicationLagBytesWarning)],
          c.replicationLagFor,
          'A replica is far behind the leader.',
          'Replica %s has not replayed the last {{ $value | humanize1024 }}B of the leader\'s WAL (more than %s). Patroni does not promote a replica further behind than maximum_lag_on_failover.' % [h.member, lagBytes],
          { unit: 'bytes' },
        ),
        h.alert(
          'PostgresReplicationLagHigh',
          'warning',
          '%s > %s' % [h.recorded('member:pg_replication_lag_seconds:max'), h.num(c.replicationLagSecondsWarning)],
          c.replicationLagFor,
          'A replica is far behind the leader.',
          'Replica %s shows data {{ $value | humanizeDuration }} old (more than %ss): its last replayed transaction committed that long ago on the leader.' % [h.member, h.num(c.replicationLagSecondsWarning)],
          { unit: 'seconds' },
        ),
        // A standby leader may restore from the archive instead of streaming
        // (Zalando standby clusters from S3): left out.
        h.alert(
          'PostgresReplicaNotStreaming',
          'warning',
          |||
            max by (%(ml)s) (pg_replication_is_replica{%(sel)s}) == 1
            unless on (%(ml)s) max by (%(ml)s) (pg_stat_wal_receiver_status{%(sel)s} == 2)
            unless on (%(ml)s) max by (%(ml)s) (patroni_standby_leader{%(sel)s} == 1)
          ||| % f,
          c.replicaNotStreamingFor,
          'A replica does not stream WAL from the leader.',
          'Replica %s is in recovery but its WAL receiver has not been streaming for %s: it falls further behind, and a failover to it would lose data.' % [h.member, c.replicaNotStreamingFor],
        ),
        h.alert(
          'PostgresReplicationSlotInactive',
          'warning',
          |||
            max by (%(ml)s, slot_name, slot_type) (pg_replication_slots_slot_is_active{%(sel)s}) == 0
            %(onLeader)s
          ||| % (f { onLeader: onLeader }),
          c.slotInactiveFor,
          'A replication slot on the leader has no consumer.',
          'The {{ $labels.slot_type }} replication slot {{ $labels.slot_name }} on the leader %s has had no consumer for %s: the leader keeps all WAL from the slot\'s position on.' % [h.member, c.slotInactiveFor],
        ),
        h.alert(
          'PostgresReplicationSlotWALRetentionHigh',
          'warning',
          'max by (%(ml)s, slot_name) (pg_replication_slots_pg_wal_lsn_diff{%(sel)s}) > %(threshold)s' % (f { threshold: h.num(c.slotRetainedBytesWarning) }),
          c.slotRetentionFor,
          'A replication slot retains a lot of WAL.',
          'Replication slot {{ $labels.slot_name }} on %s retains {{ $value | humanize1024 }}B of WAL (more than %s): pg_wal grows until its consumer catches up or the slot is dropped.' % [h.member, h.bytes(c.slotRetainedBytesWarning)],
        ),
        // The value is the WAL that may still be written before the limit:
        // safe_wal_size (max_slot_wal_keep_size is set; the slot is lost at 0),
        // otherwise slotRetainedBytesCritical less what the slot retains. It
        // fires when the trend of the lookback window reaches the limit within
        // slotHoursToFullCritical, and for slots already past it
        // (wal_status unreserved or lost).
        h.alert(
          'PostgresReplicationSlotWALRetentionHigh',
          'critical',
          |||
            max by (%(ml)s, slot_name) (
              clamp_min(pg_replication_slots_safe_wal_size_bytes{%(sel)s}, 0)
              and predict_linear(pg_replication_slots_safe_wal_size_bytes{%(sel)s}[%(lookback)s], %(horizon)s) < 0
            )
            or
            max by (%(ml)s, slot_name) (
              clamp_min(%(retainedCritical)s - pg_replication_slots_pg_wal_lsn_diff{%(sel)s}, 0)
              and predict_linear(pg_replication_slots_pg_wal_lsn_diff{%(sel)s}[%(lookback)s], %(horizon)s) > %(retainedCritical)s
            )
            or
            max by (%(ml)s, slot_name) (pg_replication_slots_wal_status{%(sel)s, wal_status=~"unreserved|lost"}) * 0
          ||| % f,
          c.slotRetentionFor,
          'A replication slot will soon lose its WAL or fill pg_wal.',
          'Replication slot {{ $labels.slot_name }} on %s has {{ $value | humanize1024 }}B of WAL left before its limit (safe_wal_size, or %s retained), and at the rate of the last %s reaches it within %sh. A lost slot means its replica must be rebuilt; a full pg_wal stops PostgreSQL.' % [h.member, h.bytes(c.slotRetainedBytesCritical), c.slotPredictionLookback, h.num(c.slotHoursToFullCritical)],
        ),
      ],
    },
  ]
