// pgBouncer, as Zalando's connection pooler runs it. The pooler pods are
// scraped by an exporter of their own: the member label is the pooler pod's.
function(h)
  local c = h.c;
  local f = h.f {
    waiting: h.num(c.pgbouncerWaitingClients),
    maxWait: h.num(c.pgbouncerMaxWaitSeconds),
    saturation: h.num(c.pgbouncerPoolSaturation),
    poolSaturation: h.recorded('member:pgbouncer_pool_saturation:ratio'),
  };
  local pooler = 'pgBouncer ' + std.strReplace(h.member, 'member ', '');
  [
    {
      name: 'pgscope-pgbouncer',
      rules: [
        h.alert(
          'PgBouncerDown',
          'critical',
          'max by (%(ml)s) (pgbouncer_up{%(sel)s}) == 0' % f,
          c.pgbouncerDownFor,
          'pgBouncer does not answer.',
          'The exporter has not been able to reach the admin console of %s for %s: clients of this pooler cannot reach the database.' % [pooler, c.pgbouncerDownFor],
        ),
        // Many waiting clients, or a few that have waited long. The value is
        // always the number of waiting clients of the database's pools.
        h.alert(
          'PgBouncerClientsWaiting',
          'warning',
          |||
            sum by (%(ml)s, database) (pgbouncer_pools_client_waiting_connections{%(sel)s}) >= %(waiting)s
            or
            (
              sum by (%(ml)s, database) (pgbouncer_pools_client_waiting_connections{%(sel)s}) > 0
              and on (%(ml)s, database)
              max by (%(ml)s, database) (pgbouncer_pools_client_maxwait_seconds{%(sel)s}) > %(maxWait)s
            )
          ||| % f,
          c.pgbouncerFor,
          'Clients wait for a server connection in pgBouncer.',
          '{{ $value }} clients of database {{ $labels.database }} on %s wait for a server connection (%s or more, or the oldest for more than %ss): queries queue up in front of PostgreSQL.' % [pooler, f.waiting, f.maxWait],
        ),
        h.alert(
          'PgBouncerPoolSaturated',
          'warning',
          '%(poolSaturation)s > %(saturation)s' % f,
          c.pgbouncerFor,
          'A pgBouncer pool uses nearly all its server connections.',
          'The pool of database {{ $labels.database }} and user {{ $labels.user }} on %s has {{ $value | humanizePercentage }} of its pool_size in use (more than %s%%): further clients will wait.' % [pooler, h.num(c.pgbouncerPoolSaturation * 100)],
        ),
      ],
    },
  ]
