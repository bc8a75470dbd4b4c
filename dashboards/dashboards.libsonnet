// The Grafana dashboards of the mixin, by file name. Each file is a function of
// _config, so that a user's overrides (labels, selector, tags) reach every
// query, variable and link.
//
// Recording rules (alerts/rules.libsonnet) the dashboards read, so that what
// they show is what the alerts fire on and fleet-wide panels stay cheap:
//   overview: cluster:pg_stat_database_xact:rate5m, cluster:pg_stat_database_numbackends:sum,
//             member:pg_replication_lag_bytes:max, member:pg_replication_lag_seconds:max
//   cluster:  member:pg_replication_lag_bytes:max, member:pg_replication_lag_seconds:max,
//             member:pgbouncer_pool_saturation:ratio
// The other panels query the exporter's series with [$__rate_interval]: they
// filter by database, table or pool, which the recorded series aggregate away.
{
  grafanaDashboards+:: {
    'pgscope-overview.json': (import 'overview.libsonnet')($._config),
    'pgscope-cluster.json': (import 'cluster.libsonnet')($._config),
    'pgscope-instance.json': (import 'instance.libsonnet')($._config),
    'pgscope-pgbouncer.json': (import 'pgbouncer.libsonnet')($._config),
    'pgscope-exporter.json': (import 'exporter.libsonnet')($._config),
  },
}
