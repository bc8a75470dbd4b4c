#pragma once

#include "core/metric_sink.hpp"

namespace pgscope {

// The standard process_* metrics every Prometheus exporter serves (CPU,
// memory, file descriptors, threads, start time), read from /proc/self, so
// the exporter's own cost shows on the same dashboards as everyone else's.
// prometheus-cpp has no process collector, hence these few lines.
void add_process_metrics(MetricSink& sink);

}  // namespace pgscope
