// Alerting rules of the pgscope mixin. docs/alerting.md lists them with the
// _config key of each threshold; docs/runbooks/<AlertName>.md says what to do.
//
// Label conventions, so that Alertmanager can group and inhibit reliably:
// an alert about a cluster carries the cluster labels (namespace and cluster
// name, plus the multi-cluster label when shown); an alert about one member
// also carries the member label; alerts about a thing on a member add its own
// label (datname, slot_name, database and user of a pool, collector). Most
// expressions aggregate "by" these labels so that job, instance (a pod IP) and
// Patroni's scope/name do not split or rename an alert.
//
// Several alerts read recording rules (rules.libsonnet): load rules.yaml
// together with alerts.yaml.
local utils = import '../mixins/lib/utils.libsonnet';

// What every alert file needs, bound to the configuration.
local helpers(c) = {
  c: c,

  // Substitutions for the expressions: '... %(sel)s ...' % h.f.
  f: {
    sel: c.pgscopeSelector,
    cl: utils.by(utils.clusterLabels(c)),
    ml: utils.by(utils.memberLabels(c)),
    member: c.memberLabel,
  },

  // A threshold as PromQL and people read it: 0.85, not 0.84999999999999998.
  // 15 significant digits keep a threshold set per cluster (536870912.5) as it
  // was given; %g alone would round it to 5.36871e+08.
  num(x):: if x == std.floor(x) then '%d' % x else '%.15g' % x,

  // A recorded series (alerts/rules.libsonnet) as the alerts read it: with
  // recordedSelector's matchers, if any.
  recorded(name):: if c.recordedSelector == '' then name else '%s{%s}' % [name, c.recordedSelector],

  // "1.5 billion" for transaction ID ages in descriptions.
  large(x)::
    if x >= 1e9 then self.num(x / 1e9) + ' billion'
    else if x >= 1e6 then self.num(x / 1e6) + ' million'
    else self.num(x),

  // "9.5GiB"-style text for byte thresholds in descriptions.
  bytes(x)::
    local units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    local step(v, i) = if v >= 1024 && i < std.length(units) - 1 then step(v / 1024, i + 1) else [v, i];
    local r = step(x, 0);
    self.num(r[0]) + units[r[1]],

  local label(name) = '{{ $labels.%s }}' % name,
  // How descriptions name a cluster and a member, with the configured labels.
  cluster: 'cluster ' +
           (if c.showMultiCluster then label(c.multiClusterLabel) + '/' else '') +
           label(c.namespaceLabel) + '/' + label(c.clusterLabel),
  member: 'member ' + label(c.memberLabel) + ' of ' + self.cluster,

  alert(name, severity, expr, forDuration, summary, description, labels={}):: {
    alert: name,
    expr: expr,
    'for': forDuration,
    labels: { severity: severity } + labels,
    annotations: {
      summary: summary,
      description: description,
      runbook_url: c.runbookBaseURL + '/' + name + '.md',
    },
  },
};

{
  prometheusAlerts+:: {
    local h = helpers($._config),
    // Each file is a function of the helpers returning rule groups.
    groups+:
      (import 'patroni.libsonnet')(h) +
      (import 'postgres.libsonnet')(h) +
      (import 'pgbouncer.libsonnet')(h) +
      (import 'exporter.libsonnet')(h),
  },
}
