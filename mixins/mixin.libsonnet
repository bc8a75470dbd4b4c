// The pgscope monitoring mixin: dashboards, alerts and recording rules for
// PostgreSQL clusters run by Patroni (Zalando's postgres-operator, Spilo) and
// their pgBouncer poolers, over the metrics of pgscope-exporter.
//
//   grafanaDashboards   file name -> Grafana dashboard
//   prometheusAlerts    a Prometheus rule file object with the alerting rules
//   prometheusRules     a Prometheus rule file object with the recording rules
//   _config             what users override (see config.libsonnet)
(import 'config.libsonnet') +
(import '../alerts/alerts.libsonnet') +
(import '../alerts/rules.libsonnet') +
(import '../dashboards/dashboards.libsonnet')
