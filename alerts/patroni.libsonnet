// Patroni: leadership, failovers, maintenance mode, the DCS. Roles come from
// Patroni and PostgreSQL themselves (patroni_primary, pg_replication_is_replica),
// never from the spilo-role pod label, which can be stale during a split.
function(h)
  local c = h.c;
  local f = h.f {
    dcsSeconds: h.num(c.dcsUnreachableSeconds),
    failoverWindow: c.failoverWindow,
  };
  [
    {
      name: 'pgscope-patroni',
      rules: [
        h.alert(
          'PatroniDown',
          'warning',
          'max by (%(ml)s) (patroni_up{%(sel)s}) == 0' % f,
          c.patroniDownFor,
          "Patroni's REST API does not answer.",
          'The exporter of %s has not been able to read Patroni\'s REST API for %s. Without Patroni this member takes no part in leader election, and a leader whose Patroni is gone keeps accepting writes while another member may be promoted.' % [h.member, c.patroniDownFor],
        ),
        // The DCS view (/cluster) of every member is aggregated: one alert per
        // cluster, silent when at least one member sees a leader. A normal
        // failover goes through a few seconds without a leader (until the old
        // leader's key expires): noLeaderFor is longer than that.
        h.alert(
          'PatroniNoLeader',
          'critical',
          'max by (%(cl)s) (patroni_cluster_leaders{%(sel)s}) == 0' % f,
          c.noLeaderFor,
          'The Patroni cluster has no leader.',
          'No member of %s has held the Patroni leader lock for %s: the cluster has no primary that accepts writes.' % [h.cluster, c.noLeaderFor],
        ),
        // Two views of a split brain: Patroni's role of each member, and
        // PostgreSQL's own recovery state (a primary that Patroni no longer
        // controls still shows up there). A standby leader is in recovery and
        // not patroni_primary, so standby clusters count one leader less.
        h.alert(
          'PatroniMultipleLeaders',
          'critical',
          // Members are counted once each (max by member first): a member
          // scraped by two jobs must not look like two primaries.
          |||
            count by (%(cl)s) (max by (%(ml)s) (patroni_primary{%(sel)s}) == 1) > 1
            or
            count by (%(cl)s) (max by (%(ml)s) (pg_replication_is_replica{%(sel)s}) == 0) > 1
          ||| % f,
          c.multipleLeadersFor,
          'More than one member of the cluster acts as primary.',
          '{{ $value }} members of %s act as primary at once (Patroni role or PostgreSQL out of recovery): clients may write to more than one of them and the data diverges.' % h.cluster,
        ),
        // An event, so no "for". Two sources, each aggregated per cluster so
        // that one failover gives one alert: the entries of Patroni's /history
        // (the same on every member), and the highest timeline of the cluster
        // (for Patroni configured with max_timelines_history, whose history
        // stops growing). Each compares the cluster's value now with its lowest
        // over the window (a subquery), which is exact and ignores members that
        // come and go; timelines of 0 (PostgreSQL not running) are left out.
        // The subquery steps at the evaluation interval: a coarser step would
        // miss a change that happens before its first step.
        h.alert(
          'PatroniFailover',
          'warning',
          |||
            (
              max by (%(cl)s) (patroni_cluster_failovers_total{%(sel)s})
              - min_over_time((max by (%(cl)s) (patroni_cluster_failovers_total{%(sel)s}))[%(failoverWindow)s:])
              > 0
            )
            or
            (
              max by (%(cl)s) (patroni_postgres_timeline{%(sel)s})
              - min_over_time((max by (%(cl)s) (patroni_postgres_timeline{%(sel)s} > 0))[%(failoverWindow)s:])
              > 0
            )
          ||| % f,
          '0m',
          'The Patroni cluster changed its leader.',
          'The leader of %s changed {{ $value }} time(s) in the last %s (failover or switchover; the timeline rose). Check that it was planned, and if not why the old leader failed.' % [h.cluster, c.failoverWindow],
        ),
        h.alert(
          'PatroniPaused',
          'warning',
          'max by (%(cl)s) (patroni_is_paused{%(sel)s}) == 1' % f,
          c.pausedFor,
          'The Patroni cluster is in maintenance mode.',
          'Patroni has been paused in %s for more than %s: no automatic failover happens while it is paused.' % [h.cluster, c.pausedFor],
        ),
        h.alert(
          'PatroniPendingRestart',
          'info',
          'max by (%(ml)s) (patroni_pending_restart{%(sel)s}) == 1' % f,
          c.pendingRestartFor,
          'PostgreSQL needs a restart to apply changed settings.',
          'PostgreSQL of %s has been waiting for a restart for more than %s: settings changed in the Patroni configuration do not apply until it restarts.' % [h.member, c.pendingRestartFor],
        ),
        // dcs_last_seen is 0 before Patroni first reached the DCS: left out,
        // so that a starting member is not reported as cut off since 1970.
        // The age is taken at scrape time (timestamp()), not at evaluation:
        // with a 60 s scrape interval a sample is up to 60 s old when a rule
        // reads it, which with time() alone looked like a DCS outage.
        h.alert(
          'PatroniDCSUnreachable',
          'critical',
          'max by (%(ml)s) (timestamp(patroni_dcs_last_seen{%(sel)s}) - (patroni_dcs_last_seen{%(sel)s} > 0)) > %(dcsSeconds)s' % f,
          c.dcsUnreachableFor,
          'Patroni cannot reach its DCS.',
          'Patroni on %s last reached its DCS (Kubernetes API or etcd) {{ $value | humanizeDuration }} ago. A leader cut off from the DCS for longer than ttl demotes itself unless failsafe_mode is on, and no member can be promoted.' % h.member,
        ),
      ],
    },
  ]
