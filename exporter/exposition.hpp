#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pgscope {

// Prometheus text format 0.0.4. Every exposition the exporter serves (/metrics
// and /probe) is written here, so this is the one place where values that come
// from data (database, role, table and schema names, application_name, query
// text, error messages) are made safe, whatever the source:
//
//   - a label value is valid UTF-8: each invalid sequence (its maximal subpart,
//     as Unicode recommends) becomes U+FFFD;
//   - a label value longer than kMaxLabelValueBytes (after that repair) is cut at
//     a character boundary and ends in kTruncationMarker, kMaxLabelValueBytes at
//     most in all, and counted in pgscope_exporter_label_values_truncated_total;
//   - a family whose name is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*; only
//     dynamic_name entries such as pg_settings take names from data) is left out,
//     and so is a sample with a label name that is not valid, reserved ("__...")
//     or repeated; each is counted in pgscope_exporter_invalid_names_dropped_total
//     and logged (once per name);
//   - `\`, `"` and line feeds in label values, `\` and line feeds in HELP, are
//     escaped; HELP is valid UTF-8 too;
//   - samples of a family whose label sets coincide once repaired or cut (two
//     long statements alike in their first kilobyte) are written once: the first;
//   - NaN and infinities are spelled NaN, +Inf, -Inf; other values with 16
//     significant digits (as prometheus-cpp), 17 where 16 would round beyond the
//     largest double (1.797693134862316e+308 overflows a reader).
//
std::string render_text(const std::vector<prometheus::MetricFamily>& families);

// The exporter's two counters above (see ExpositionCounters), as text in the
// same format. /metrics writes them after everything else, so that they
// already count what the same answer's collected part needed.
std::string render_exposition_counters();

constexpr std::size_t kMaxLabelValueBytes = 1024;
constexpr const char* kTruncationMarker = "...[truncated]";

// The rule above for one label value, without counting: valid UTF-8, at most
// kMaxLabelValueBytes. `truncated`, when given, tells whether it was cut.
std::string sanitize_label_value(const std::string& value, bool* truncated = nullptr);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string repair_utf8(const std::string& text);
bool is_valid_utf8(const std::string& text);
bool is_valid_metric_name(const std::string& name);
bool is_valid_label_name(const std::string& name);  // "__" prefixes are reserved: false

// Since the process started, over every render_text call.
struct ExpositionCounters {
  std::uint64_t label_values_truncated = 0;
  std::uint64_t invalid_names_dropped = 0;
};
ExpositionCounters exposition_counters();

// gzip-compresses `body` (for Accept-Encoding: gzip).
std::string gzip_compress(const std::string& body);

// True when an Accept-Encoding header value allows gzip.
bool accepts_gzip(const std::string& accept_encoding);

}  // namespace pgscope
