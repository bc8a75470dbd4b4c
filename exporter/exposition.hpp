#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace pgscope {

// Prometheus text format 0.0.4 via prometheus-cpp's serializer.
std::string render_text(const std::vector<prometheus::MetricFamily>& families);

// gzip-compresses `body` (for Accept-Encoding: gzip).
std::string gzip_compress(const std::string& body);

// True when an Accept-Encoding header value allows gzip.
bool accepts_gzip(const std::string& accept_encoding);

}  // namespace pgscope
