// A small builder for Grafana 10 dashboards (JSON model, schemaVersion 38), so
// that the dashboards under dashboards/ read as lists of queries. grafonnet is
// not used: the mixin must build offline with Debian's jsonnet alone.
//
// Panels are given a width and height only; dashboard() lays them out left to
// right in Grafana's 24-column grid, starting a new line when one is full and at
// every row, and numbers them. Every panel and target reads the ${datasource}
// variable, so the JSON imports as it is (no __inputs to fill in).
local utils = import 'utils.libsonnet';

{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  // ---- Selectors -------------------------------------------------------------

  // The label matchers of a query: the exporter selector, then one matcher per
  // variable the dashboard has. level: 'fleet' (job and namespace... cluster),
  // 'member' (also the member variable).
  selector(config, level='cluster')::
    std.join(', ', [config.pgscopeSelector, 'job=~"$job"'] +
                   (if config.showMultiCluster then ['%s=~"$%s"' % [config.multiClusterLabel, config.multiClusterLabel]] else []) +
                   ['%s=~"$namespace"' % config.namespaceLabel, '%s=~"$cluster"' % config.clusterLabel] +
                   (if level == 'member' then ['%s=~"$instance"' % config.memberLabel] else [])),

  // The matchers for series of the recording rules (alerts/rules.libsonnet):
  // they keep only the cluster (and member) labels, not job, so only the
  // variables of those labels apply to them.
  recordedSelector(config, level='cluster')::
    std.join(', ', (if config.showMultiCluster then ['%s=~"$%s"' % [config.multiClusterLabel, config.multiClusterLabel]] else []) +
                   ['%s=~"$namespace"' % config.namespaceLabel, '%s=~"$cluster"' % config.clusterLabel] +
                   (if level == 'member' then ['%s=~"$instance"' % config.memberLabel] else [])),

  clusterBy(config):: utils.by(utils.clusterLabels(config)),
  clusterLabels(config):: utils.clusterLabels(config),
  // A legend naming a cluster ("{{namespace}} / {{cluster_name}}"), and then a member.
  clusterLegend(config):: std.join(' / ', ['{{%s}}' % l for l in utils.clusterLabels(config)]),
  memberLegend(config):: '{{%s}}' % config.memberLabel,
  memberBy(config):: utils.by(utils.memberLabels(config)),

  // ---- Template variables ----------------------------------------------------

  datasourceVariable(config):: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    regex: config.grafanaDatasourceRegex,
    current: { selected: true, text: 'default', value: 'default' },
    hide: 0,
    refresh: 1,
    includeAll: false,
    multi: false,
    options: [],
    skipUrlSync: false,
  },

  // A query variable refreshed on time range change. Variables that select
  // targets are multi-select with "All" meaning any value (.+), so that "All"
  // does not expand into a huge regex of every value.
  queryVariable(name, label, query, multi=true, hide=0):: {
    name: name,
    label: label,
    type: 'query',
    datasource: $.datasource,
    query: query,
    definition: query,
    refresh: 2,
    sort: 1,
    regex: '',
    hide: hide,
    multi: multi,
    includeAll: multi,
    [if multi then 'allValue']: '.+',
    current: if multi then { selected: true, text: ['All'], value: ['$__all'] } else {},
    options: [],
    skipUrlSync: false,
  },

  // The chain of variables every dashboard starts with: datasource, job, the
  // multi-cluster label (when shown), namespace, cluster and, with member=true,
  // the member (pod). Each one's values are limited by the ones before it;
  // `metric` is a series every relevant target exports.
  standardVariables(config, metric='pgscope_exporter_build_info', member=false, memberMetric=metric)::
    local mc = config.multiClusterLabel;
    local base = config.pgscopeSelector;
    local withJob = base + ', job=~"$job"';
    local withMc = withJob + (if config.showMultiCluster then ', %s=~"$%s"' % [mc, mc] else '');
    local withNs = withMc + ', %s=~"$namespace"' % config.namespaceLabel;
    local withCluster = withNs + ', %s=~"$cluster"' % config.clusterLabel;
    [
      $.datasourceVariable(config),
      $.queryVariable('job', 'Job', 'label_values(%s{%s}, job)' % [metric, base]),
    ] +
    (if config.showMultiCluster then
       [$.queryVariable(mc, 'Kubernetes cluster', 'label_values(%s{%s}, %s)' % [metric, withJob, mc])]
     else []) +
    [
      $.queryVariable('namespace', 'Namespace', 'label_values(%s{%s}, %s)' % [metric, withMc, config.namespaceLabel]),
      $.queryVariable('cluster', 'Cluster', 'label_values(%s{%s}, %s)' % [metric, withNs, config.clusterLabel]),
    ] +
    (if member then
       [$.queryVariable('instance',
                        'Member (%s)' % config.memberLabel,
                        'label_values(%s{%s}, %s)' % [memberMetric, withCluster, config.memberLabel])]
     else []),

  // ---- Links -----------------------------------------------------------------

  // The URL of another pgscope dashboard keeping the time range, the data
  // source and the variables named in `vars` (same names in every dashboard).
  dashboardUrl(config, short, vars=[])::
    '/d/%s%s?${__url_time_range}&${datasource:queryparam}' % [config.dashboardUidPrefix, short] +
    std.join('', ['&${%s:queryparam}' % v for v in vars]),

  link(config, title, short, vars=[], tooltip=''):: {
    title: title,
    type: 'link',
    url: $.dashboardUrl(config, short, vars),
    tooltip: tooltip,
    icon: 'dashboard',
    targetBlank: false,
    keepTime: false,  // already in the URL
    includeVars: false,
    asDropdown: false,
    tags: [],
  },

  // All pgscope dashboards, as a drop-down, carrying time and variables.
  allDashboardsLink(config):: {
    title: 'pgscope',
    type: 'dashboards',
    tags: config.dashboardTags,
    asDropdown: true,
    includeVars: true,
    keepTime: true,
    targetBlank: false,
    icon: 'external link',
    tooltip: '',
    url: '',
  },

  // A data link on a table cell: opens dashboard `short` for the row's labels.
  // fields: variable name -> field (column) of the row.
  dataLink(config, title, short, fields, keepVars=[]):: {
    title: title,
    url: $.dashboardUrl(config, short, keepVars) +
         std.join('', ['&var-%s=${__data.fields["%s"]}' % [v, fields[v]] for v in std.objectFields(fields)]),
  },

  // ---- Targets ---------------------------------------------------------------

  // A range query for graphs.
  target(expr, legend=''):: {
    datasource: $.datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    range: true,
    instant: false,
  },

  // An instant query, formatted as a table (for tables, stats and bar gauges).
  instant(expr, legend='', table=true):: {
    datasource: $.datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    range: false,
    instant: true,
    format: if table then 'table' else 'time_series',
  },

  // ---- Panels ----------------------------------------------------------------

  local refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  local panel(type, title, description, targets, unit, w, h) = {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    targets: [targets[i] { refId: refIds[i] } for i in std.range(0, std.length(targets) - 1)],
    fieldConfig: {
      defaults: {
        unit: unit,
        color: { mode: 'palette-classic' },
        thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
        mappings: [],
      },
      overrides: [],
    },
    gridPos: { w: w, h: h },
  },

  row(title, collapsed=false):: {
    type: 'row',
    title: title,
    collapsed: collapsed,
    panels: [],
    gridPos: { w: 24, h: 1 },
  },

  // min/max: axis bounds (null: automatic); stack: stacked areas; steps:
  // thresholds drawn as dashed lines (the alert thresholds of _config).
  timeseries(title, description, targets, unit, w=12, h=8, min=null, max=null, stack=false, steps=null, legendCalcs=['mean', 'max', 'lastNotNull'])::
    panel('timeseries', title, description, targets, unit, w, h) + {
      fieldConfig+: {
        defaults+: {
          [if min != null then 'min']: min,
          [if max != null then 'max']: max,
          [if steps != null then 'thresholds']: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in steps] },
          custom: {
            drawStyle: 'line',
            lineInterpolation: 'linear',
            lineWidth: 1,
            fillOpacity: if stack then 40 else 10,
            gradientMode: 'none',
            showPoints: 'never',
            spanNulls: false,
            axisPlacement: 'auto',
            axisSoftMin: 0,
            stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
            thresholdsStyle: { mode: if steps != null then 'dashed' else 'off' },
          },
        },
      },
      options: {
        legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: legendCalcs },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  // steps: threshold colours, e.g. [['green', null], ['red', 1]].
  stat(title, description, targets, unit, w=4, h=4, steps=[['green', null]], mappings=[], graph=false, colorMode='value')::
    panel('stat', title, description, targets, unit, w, h) + {
      fieldConfig+: {
        defaults+: {
          color: { mode: 'thresholds' },
          thresholds: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in steps] },
          mappings: mappings,
        },
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: colorMode,
        graphMode: if graph then 'area' else 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
      },
    },

  // Horizontal bars, one per series (instant queries).
  bargauge(title, description, targets, unit, w=12, h=8, min=0, max=null, steps=[['green', null]])::
    panel('bargauge', title, description, targets, unit, w, h) + {
      fieldConfig+: {
        defaults+: {
          color: { mode: 'thresholds' },
          thresholds: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in steps] },
          min: min,
          [if max != null then 'max']: max,
        },
      },
      options: {
        displayMode: 'gradient',
        orientation: 'horizontal',
        showUnfilled: true,
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      },
    },

  // A table of instant queries (format table). transformations: see merge()
  // and organize(); overrides: see column().
  table(title, description, targets, unit, w=24, h=8, transformations=[], overrides=[], sortBy=[])::
    panel('table', title, description, targets, unit, w, h) + {
      fieldConfig+: {
        defaults+: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false } },
        overrides: overrides,
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
        sortBy: sortBy,
      },
      transformations: transformations,
    },

  // Joins the instant queries of a table into one row per label set.
  merge:: { id: 'merge', options: {} },
  // Hides, renames and orders columns: hide is a list of field names, rename
  // an object field -> header, order a list of field names.
  organize(hide=[], rename={}, order=[]):: {
    id: 'organize',
    options: {
      excludeByName: { [f]: true for f in hide },
      renameByName: rename,
      indexByName: { [order[i]]: i for i in std.range(0, std.length(order) - 1) },
    },
  },

  // An override of one column (by field name) with the given properties.
  column(name, props):: {
    matcher: { id: 'byName', options: name },
    properties: [{ id: k, value: props[k] } for k in std.objectFields(props)],
  },
  // Shorthands for column() properties.
  colUnit(unit):: { unit: unit },
  colBackground(steps):: {
    'custom.cellOptions': { type: 'color-background', mode: 'basic' },
    thresholds: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in steps] },
  },
  colLinks(links):: { links: links },

  // ---- Dashboard -------------------------------------------------------------

  // Places panels in the grid: left to right, a new line when the next panel
  // does not fit or is a row; ids count from 1.
  local layout(panels) =
    local step(state, p) =
      local w = p.gridPos.w;
      local h = p.gridPos.h;
      local isRow = p.type == 'row';
      local wrap = state.x > 0 && (isRow || state.x + w > 24);
      local y = if wrap then state.y + state.lineH else state.y;
      local x = if wrap then 0 else state.x;
      {
        x: if isRow then 0 else x + w,
        y: if isRow then y + 1 else y,
        lineH: if isRow then 0 else if wrap || x == 0 then h else std.max(state.lineH, h),
        out: state.out + [p { id: std.length(state.out) + 1, gridPos: { x: x, y: y, w: w, h: h } }],
      };
    std.foldl(step, panels, { x: 0, y: 0, lineH: 0, out: [] }).out,

  dashboard(config, short, title, description, variables, panels, links=[]):: {
    uid: config.dashboardUidPrefix + short,
    title: config.dashboardTitlePrefix + title,
    description: description,
    tags: config.dashboardTags,
    timezone: config.dashboardTimezone,
    refresh: config.dashboardRefresh,
    editable: true,
    graphTooltip: 1,  // shared crosshair: members side by side line up in time
    schemaVersion: 38,
    version: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    time: { from: 'now-1h', to: 'now' },
    timepicker: { refresh_intervals: ['10s', '30s', '1m', '5m', '15m', '30m', '1h'] },
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }],
    },
    templating: { list: variables },
    links: links + [$.allDashboardsLink(config)],
    panels: layout(panels),
  },

  // ---- PromQL shared by several dashboards -----------------------------------

  // expr, or 0 for each member (of memberSel) that expr has no series for:
  // for gauges that only exist while something happens (a vacuum running, an
  // xmin held), so that a quiet member shows 0 rather than nothing.
  orZeroPerMember(config, expr, memberSel)::
    local ml = $.memberBy(config);
    '(%s) or on (%s) (0 * max by (%s) (pg_up{%s}))' % [std.stripChars(expr, '\n'), ml, ml, memberSel],
}
