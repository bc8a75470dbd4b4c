// pgscope-exporter itself. These keep the target's labels (job, instance):
// they are about one exporter, not about the database behind it.
function(h)
  local c = h.c;
  local f = h.f;
  local target = 'the pgscope exporter {{ $labels.instance }} (%s)' % std.strReplace(h.member, 'member ', 'pod ');
  [
    {
      name: 'pgscope-exporter',
      rules: [
        // Every other alert depends on these series: a dead exporter would
        // otherwise silence them all.
        h.alert(
          'PgScopeExporterDown',
          'warning',
          'up{%(sel)s} == 0' % f,
          c.exporterDownFor,
          'Prometheus cannot scrape a pgscope exporter.',
          'Prometheus has not been able to scrape %s of job {{ $labels.job }} for %s: the alerts of this member cannot fire.' % [target, c.exporterDownFor],
        ),
        h.alert(
          'PgScopeCollectorFailing',
          'warning',
          'pgscope_exporter_collector_success{%(sel)s} == 0' % f,
          c.collectorFailingFor,
          'A collector of the pgscope exporter keeps failing.',
          'Collector {{ $labels.collector }} of %s has failed in every scrape for %s: its metrics are missing. pgscope_exporter_last_error_info and the exporter log tell why.' % [target, c.collectorFailingFor],
        ),
      ],
    },
  ]
