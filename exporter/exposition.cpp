#include "exporter/exposition.hpp"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace pgscope {
namespace {

constexpr const char* kTruncatedName = "pgscope_exporter_label_values_truncated_total";
constexpr const char* kInvalidNamesName = "pgscope_exporter_invalid_names_dropped_total";

std::atomic<std::uint64_t> label_values_truncated{0};
std::atomic<std::uint64_t> invalid_names_dropped{0};

// Names already logged as invalid; bounded, so that a server inventing a new
// bad name each scrape cannot grow it (or the log) without end.
std::mutex logged_mutex;
std::set<std::string> logged_names;
constexpr std::size_t kMaxLoggedNames = 64;

// Counts and logs (once per name) a family or sample left out for a name.
void drop_for_name(const std::string& what, const std::string& name, const std::string& family) {
  ++invalid_names_dropped;
  const std::string key = what + '\x1f' + name;
  {
    std::lock_guard<std::mutex> lock(logged_mutex);
    if (logged_names.size() >= kMaxLoggedNames || !logged_names.insert(key).second) return;
  }
  const std::string shown = sanitize_label_value(name);  // for the log: valid UTF-8, bounded
  if (what == "metric") {
    spdlog::warn("exposition: family \"{}\" left out: not a valid metric name", shown);
  } else {
    spdlog::warn("exposition: samples of {} left out: label name \"{}\" is not valid, reserved or repeated",
                 family, shown);
  }
}

// The length of the UTF-8 sequence starting at text[i] when it is valid, else
// 0 with `bad` set to the length of its maximal invalid subpart (at least 1):
// the bytes a decoder following Unicode's "U+FFFD substitution of maximal
// subparts" replaces with one U+FFFD.
std::size_t sequence_length(const unsigned char* text, std::size_t size, std::size_t i, std::size_t& bad) {
  const unsigned char lead = text[i];
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const bool ok = i + k < size && (k == 1 ? text[i + k] >= low && text[i + k] <= high
                                            : text[i + k] >= 0x80 && text[i + k] <= 0xBF);
    if (!ok) {
      bad = k;
      return 0;
    }
  }
  return length;
}

void append_escaped_label_value(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_escaped_help(std::string& out, const std::string& help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// 16 significant digits, as prometheus-cpp writes them (so the text of every
// ordinary value is what it always was), but 17 where 16 round a finite value
// beyond the largest double: 1.797693134862316e+308 would not read back
// (Go's ParseFloat fails with ErrRange and Prometheus rejects the scrape).
void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buffer[64];
  auto written = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 16);
  double back = 0;
  const auto read = std::from_chars(buffer, written.ptr, back);
  if (read.ec == std::errc::result_out_of_range || std::isinf(back)) {
    written = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 17);
  }
  out.append(buffer, written.ptr);
}

const char* type_name(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Summary:
      return "summary";
    case prometheus::MetricType::Histogram:
      return "histogram";
    default:
      return "untyped";
  }
}

// Whether a sample's label names are valid, not reserved and not repeated
// (`extra` is the label the type adds to some lines: quantile, le). Returns
// the first offending name through `bad`.
bool labels_valid(const std::vector<prometheus::ClientMetric::Label>& labels, const char* extra,
                  std::string& bad) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& name = labels[i].name;
    bool ok = is_valid_label_name(name) && (extra == nullptr || name != extra);
    for (std::size_t j = 0; ok && j < i; ++j) ok = labels[j].name != name;
    if (!ok) {
      bad = name;
      return false;
    }
  }
  return true;
}

// Writes a family's samples. Families come as MetricSink::take() gives them,
// without repeated label sets; but once a label value had to be changed, or
// when the samples do not all have the same label names (so that an empty
// value, which Prometheus reads as no label, can make two of them one
// series), the series written are remembered (keys_) and a repeat is left out.
class FamilyWriter {
 public:
  FamilyWriter(std::string& out, const prometheus::MetricFamily& family) : out_(out), family_(family) {}

  void write() {
    const char* extra = family_.type == prometheus::MetricType::Summary     ? "quantile"
                        : family_.type == prometheus::MetricType::Histogram ? "le"
                                                                            : nullptr;
    tracking_ = !same_label_names();
    std::string bad;
    for (std::size_t i = 0; i < family_.metric.size(); ++i) {
      const auto& metric = family_.metric[i];
      if (!labels_valid(metric.label, extra, bad)) {
        drop_for_name("label", bad, family_.name);
        continue;
      }
      if (!render_labels(metric, i, extra)) continue;  // the same series as an earlier sample
      write_sample(metric);
    }
  }

 private:
  bool same_label_names() const {
    if (family_.metric.empty()) return true;
    const auto& first = family_.metric.front().label;
    for (const auto& metric : family_.metric) {
      if (metric.label.size() != first.size()) return false;
      for (std::size_t i = 0; i < first.size(); ++i) {
        if (metric.label[i].name != first[i].name) return false;
      }
    }
    return true;
  }

  // Fills body_ with `name="value",...` (no braces), sanitized and escaped;
  // false when the series repeats one already written.
  bool render_labels(const prometheus::ClientMetric& metric, std::size_t index, const char* extra) {
    body_.clear();
    values_.clear();
    sanitized_.clear();
    sanitized_.reserve(metric.label.size());  // values_ points into it: no reallocation
    for (const auto& label : metric.label) {
      if (!body_.empty()) body_ += ',';
      body_ += label.name;
      body_ += "=\"";
      if (label.value.size() <= kMaxLabelValueBytes && is_valid_utf8(label.value)) {
        append_escaped_label_value(body_, label.value);
        values_.push_back(&label.value);
      } else {
        bool truncated = false;
        sanitized_.push_back(sanitize_label_value(label.value, &truncated));
        if (truncated) ++label_values_truncated;
        append_escaped_label_value(body_, sanitized_.back());
        values_.push_back(&sanitized_.back());
      }
      body_ += '"';
    }
    if (!sanitized_.empty() && !tracking_) {
      tracking_ = true;
      std::vector<const std::string*> values;
      std::string bad;
      for (std::size_t i = 0; i < index; ++i) {  // all written unchanged
        const auto& earlier = family_.metric[i];
        if (!labels_valid(earlier.label, extra, bad)) continue;
        values.clear();
        for (const auto& label : earlier.label) values.push_back(&label.value);
        keys_.insert(series_key(earlier, values));
      }
    }
    return !tracking_ || keys_.insert(series_key(metric, values_)).second;
  }

  // Prometheus's identity of a series: label order does not matter and an
  // empty value is no label. Length-prefixed, so no byte can fake a separator.
  static std::string series_key(const prometheus::ClientMetric& metric,
                                const std::vector<const std::string*>& values) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t i = 0; i < metric.label.size(); ++i) {
      if (!values[i]->empty()) pairs.emplace_back(metric.label[i].name, *values[i]);
    }
    std::sort(pairs.begin(), pairs.end());
    std::string key;
    for (const auto& [name, value] : pairs) {
      key += std::to_string(name.size()) + ':' + name + std::to_string(value.size()) + ':' + value;
    }
    return key;
  }

  void head(const char* suffix, const char* extra_name = nullptr, double extra_value = 0,
            const char* extra_text = nullptr) {
    out_ += family_.name;
    out_ += suffix;
    if (body_.empty() && extra_name == nullptr) {
      out_ += ' ';
      return;
    }
    out_ += '{';
    out_ += body_;
    if (extra_name != nullptr) {
      if (!body_.empty()) out_ += ',';
      out_ += extra_name;
      out_ += "=\"";
      if (extra_text != nullptr) {
        out_ += extra_text;
      } else {
        append_value(out_, extra_value);
      }
      out_ += '"';
    }
    out_ += "} ";
  }

  void tail(const prometheus::ClientMetric& metric) {
    if (metric.timestamp_ms != 0) {
      out_ += ' ';
      out_ += std::to_string(metric.timestamp_ms);
    }
    out_ += '\n';
  }

  void write_sample(const prometheus::ClientMetric& metric) {
    switch (family_.type) {
      case prometheus::MetricType::Counter:
        head("");
        append_value(out_, metric.counter.value);
        tail(metric);
        break;
      case prometheus::MetricType::Gauge:
        head("");
        append_value(out_, metric.gauge.value);
        tail(metric);
        break;
      case prometheus::MetricType::Summary: {
        const auto& summary = metric.summary;
        head("_count");
        out_ += std::to_string(summary.sample_count);
        tail(metric);
        head("_sum");
        append_value(out_, summary.sample_sum);
        tail(metric);
        for (const auto& quantile : summary.quantile) {
          head("", "quantile", quantile.quantile);
          append_value(out_, quantile.value);
          tail(metric);
        }
        break;
      }
      case prometheus::MetricType::Histogram: {
        const auto& histogram = metric.histogram;
        head("_count");
        out_ += std::to_string(histogram.sample_count);
        tail(metric);
        head("_sum");
        append_value(out_, histogram.sample_sum);
        tail(metric);
        double last = -std::numeric_limits<double>::infinity();
        for (const auto& bucket : histogram.bucket) {
          head("_bucket", "le", bucket.upper_bound);
          last = bucket.upper_bound;
          out_ += std::to_string(bucket.cumulative_count);
          tail(metric);
        }
        if (last != std::numeric_limits<double>::infinity()) {
          head("_bucket", "le", 0, "+Inf");
          out_ += std::to_string(histogram.sample_count);
          tail(metric);
        }
        break;
      }
      default:
        head("");
        append_value(out_, metric.untyped.value);
        tail(metric);
        break;
    }
  }

  std::string& out_;
  const prometheus::MetricFamily& family_;
  std::string body_;
  std::vector<const std::string*> values_;  // the values written, sanitized or not
  std::vector<std::string> sanitized_;
  bool tracking_ = false;
  std::unordered_set<std::string> keys_;
};

void write_family(std::string& out, const prometheus::MetricFamily& family) {
  if (!is_valid_metric_name(family.name)) {
    drop_for_name("metric", family.name, family.name);
    return;
  }
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    if (is_valid_utf8(family.help)) {
      append_escaped_help(out, family.help);
    } else {
      append_escaped_help(out, repair_utf8(family.help));
    }
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += type_name(family.type);
  out += '\n';
  FamilyWriter(out, family).write();
}

void write_counter(std::string& out, const char* name, const char* help, std::uint64_t value) {
  out += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + " counter\n" + name + ' ' +
         std::to_string(value) + '\n';
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const char* blanks = " \t";
  std::size_t begin = text.find_first_not_of(blanks);
  if (begin == std::string::npos) return "";
  std::size_t end = text.find_last_not_of(blanks);
  return text.substr(begin, end - begin + 1);
}

// The weight of one Accept-Encoding element, or -1 when it is malformed (a
// malformed element is ignored: identity is always a safe answer).
double quality(const std::string& parameters) {
  double q = 1.0;
  std::size_t begin = 0;
  while (begin <= parameters.size()) {
    std::size_t end = parameters.find(';', begin);
    if (end == std::string::npos) end = parameters.size();
    std::string parameter = trim(parameters.substr(begin, end - begin));
    begin = end + 1;
    if (parameter.empty()) continue;
    std::size_t equals = parameter.find('=');
    if (equals == std::string::npos) continue;
    if (lower(trim(parameter.substr(0, equals))) != "q") continue;
    std::string value = trim(parameter.substr(equals + 1));
    if (value.empty() || value.find_first_not_of("0123456789.") != std::string::npos) return -1;
    char* parsed_end = nullptr;
    q = std::strtod(value.c_str(), &parsed_end);
    if (*parsed_end != '\0' || q < 0 || q > 1) return -1;
  }
  return q;
}

}  // namespace

bool is_valid_utf8(const std::string& text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    // Runs of ASCII, the common case, eight bytes at a time.
    while (i + 8 <= size) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= size) break;
    std::size_t bad = 0;
    const std::size_t length = sequence_length(bytes, size, i, bad);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string repair_utf8(const std::string& text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t bad = 0;
    const std::size_t length = sequence_length(bytes, text.size(), i, bad);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += bad;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

std::string sanitize_label_value(const std::string& value, bool* truncated) {
  std::string out = is_valid_utf8(value) ? value : repair_utf8(value);
  const bool cut = out.size() > kMaxLabelValueBytes;
  if (cut) {
    const std::string marker = kTruncationMarker;
    std::size_t keep = kMaxLabelValueBytes - marker.size();
    // Back to the start of the character at `keep` (out is valid UTF-8 now).
    while (keep > 0 && (static_cast<unsigned char>(out[keep]) & 0xC0) == 0x80) --keep;
    out.resize(keep);
    out += marker;
  }
  if (truncated != nullptr) *truncated = cut;
  return out;
}

namespace {
bool is_name(const std::string& name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}
}  // namespace

bool is_valid_metric_name(const std::string& name) { return is_name(name, true); }

bool is_valid_label_name(const std::string& name) {
  return is_name(name, false) && name.compare(0, 2, "__") != 0;
}

ExpositionCounters exposition_counters() {
  return {label_values_truncated.load(), invalid_names_dropped.load()};
}

std::string render_text(const std::vector<prometheus::MetricFamily>& families) {
  std::string out;
  std::size_t samples = 0;
  for (const auto& family : families) samples += family.metric.size();
  out.reserve(samples * 64 + families.size() * 128);
  for (const auto& family : families) write_family(out, family);
  return out;
}

std::string render_exposition_counters() {
  std::string out;
  write_counter(out, kTruncatedName,
                "Label values longer than 1024 bytes cut to 1024, ending in \"...[truncated]\", in the "
                "expositions served since the exporter started (a label value is also made valid UTF-8: "
                "each invalid sequence becomes U+FFFD).",
                label_values_truncated.load());
  write_counter(out, kInvalidNamesName,
                "Families with a metric name, and samples with a label name, that are not valid Prometheus "
                "names, left out of the expositions served since the exporter started (names come from "
                "data only in dynamic_name entries such as pg_settings); each name is logged once.",
                invalid_names_dropped.load());
  return out;
}

std::string gzip_compress(const std::string& body) {
  z_stream stream{};
  // 15 + 16: the largest window, wrapped in a gzip header rather than zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: cannot initialise zlib");
  }
  std::string compressed;
  compressed.resize(deflateBound(&stream, static_cast<uLong>(std::min<std::size_t>(body.size(), 1u << 30))) +
                    64);
  std::size_t consumed = 0;
  std::size_t produced = 0;
  int status = Z_OK;
  // avail_in and avail_out are 32-bit, so a body is fed in slices.
  constexpr std::size_t kSlice = 1u << 30;
  while (status != Z_STREAM_END) {
    if (stream.avail_in == 0 && consumed < body.size()) {
      std::size_t slice = std::min(kSlice, body.size() - consumed);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data() + consumed));
      stream.avail_in = static_cast<uInt>(slice);
      consumed += slice;
    }
    if (produced == compressed.size()) compressed.resize(compressed.size() * 2);
    std::size_t room = std::min(kSlice, compressed.size() - produced);
    stream.next_out = reinterpret_cast<Bytef*>(&compressed[produced]);
    stream.avail_out = static_cast<uInt>(room);
    status = deflate(&stream, consumed == body.size() ? Z_FINISH : Z_NO_FLUSH);
    produced += room - stream.avail_out;
    if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
      deflateEnd(&stream);
      throw std::runtime_error("gzip: deflate failed");
    }
  }
  deflateEnd(&stream);
  compressed.resize(produced);
  return compressed;
}

bool accepts_gzip(const std::string& accept_encoding) {
  double gzip = -1;      // weight given to gzip itself, -1 when not named
  double wildcard = -1;  // weight given to "*"
  std::size_t begin = 0;
  while (begin <= accept_encoding.size()) {
    std::size_t end = accept_encoding.find(',', begin);
    if (end == std::string::npos) end = accept_encoding.size();
    std::string element = accept_encoding.substr(begin, end - begin);
    begin = end + 1;
    std::size_t semicolon = element.find(';');
    std::string coding = lower(trim(element.substr(0, semicolon)));
    double q = quality(semicolon == std::string::npos ? "" : element.substr(semicolon + 1));
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = std::max(gzip, q);
    } else if (coding == "*") {
      wildcard = std::max(wildcard, q);
    }
  }
  // An explicit gzip weight wins over the wildcard's (RFC 9110, 12.5.3).
  if (gzip >= 0) return gzip > 0;
  return wildcard > 0;
}

}  // namespace pgscope
