#pragma once

#include <string>

#include "core/metric_sink.hpp"

namespace pgscope {

// What every collector reports about the last error of its source, in the
// same families, so one alert and one dashboard panel cover all sources.
// Kept after the source recovers; the timestamp says when it happened.
void emit_last_error(MetricSink& sink, const std::string& source, const std::string& kind,
                     const std::string& message, double timestamp);

// Error texts from libpq and libcurl span lines ("...failed: Connection
// refused\n\tIs the server running..."); one line reads better in a label
// and a log.
std::string one_line(const std::string& message);

// Seconds since the Unix epoch, for *_timestamp_seconds.
double unix_now();

}  // namespace pgscope
