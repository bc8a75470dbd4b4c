#pragma once

#include <string>

#include "core/metric_sink.hpp"
#include "patroni/patroni_model.hpp"

namespace pgscope::patroni {

// The families of Patroni's own /metrics, computed from /patroni as Patroni
// computes them (patroni/api.py, do_GET_metrics), labelled {scope, name}.
void emit_status(const Status& status, MetricSink& sink);

// The cluster view of /cluster, labelled with the scope of /patroni (older
// Patroni does not put the scope into /cluster).
void emit_cluster(const std::string& scope, const Cluster& cluster, MetricSink& sink);

// Failovers and switchovers from /history.
void emit_history(const std::string& scope, const History& history, MetricSink& sink);

}  // namespace pgscope::patroni
