#include "exporter/exposition.hpp"

#include <prometheus/text_serializer.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <locale>
#include <sstream>
#include <stdexcept>

namespace pgscope {
namespace {

// prometheus-cpp 1.0.1 writes HELP text verbatim, but text format 0.0.4 wants
// `\` as `\\` and a line feed as `\n` there; a raw line feed would end the
// comment early and turn the rest of the help into a malformed sample line.
bool help_needs_escaping(const std::string& help) { return help.find_first_of("\\\n") != std::string::npos; }

std::string escape_help(const std::string& help) {
  std::string escaped;
  escaped.reserve(help.size() + 8);
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

bool has_nan(const prometheus::MetricFamily& family) {
  for (const auto& metric : family.metric) {
    if (std::isnan(metric.counter.value) || std::isnan(metric.gauge.value) ||
        std::isnan(metric.untyped.value) || std::isnan(metric.summary.sample_sum) ||
        std::isnan(metric.histogram.sample_sum)) {
      return true;
    }
    for (const auto& quantile : metric.summary.quantile) {
      if (std::isnan(quantile.value)) return true;
    }
  }
  return false;
}

bool all_digits(const std::string& text, std::size_t begin, std::size_t end) {
  if (begin >= end) return false;
  for (std::size_t i = begin; i < end; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) && !(i == begin && text[i] == '-')) return false;
  }
  return true;
}

// prometheus-cpp writes NaN as "Nan". Prometheus parses it (Go's ParseFloat
// ignores case) but the format spells it "NaN" and stricter parsers may not
// agree. The value is the last token of a sample line, or the one before a
// timestamp; label values cannot hold a raw line feed or end a line, so
// matching whole space-separated tokens there never touches a label.
void canonicalize_nan(std::string& text) {
  std::size_t line_begin = 0;
  while (line_begin < text.size()) {
    std::size_t line_end = text.find('\n', line_begin);
    if (line_end == std::string::npos) line_end = text.size();
    if (text[line_begin] != '#') {
      std::size_t last_space = text.rfind(' ', line_end);
      if (last_space != std::string::npos && last_space >= line_begin) {
        std::size_t value_begin = last_space + 1;
        std::size_t value_end = line_end;
        if (all_digits(text, value_begin, line_end)) {  // a timestamp follows the value
          std::size_t previous =
              last_space > line_begin ? text.rfind(' ', last_space - 1) : std::string::npos;
          if (previous != std::string::npos && previous >= line_begin) {
            value_begin = previous + 1;
            value_end = last_space;
          }
        }
        if (text.compare(value_begin, value_end - value_begin, "Nan") == 0) text[value_begin + 2] = 'N';
      }
    }
    line_begin = line_end + 1;
  }
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

std::string render_text(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  // The format wants '.' as decimal point whatever the global locale says.
  out.imbue(std::locale::classic());
  prometheus::TextSerializer serializer;
  bool escape = std::any_of(families.begin(), families.end(),
                            [](const prometheus::MetricFamily& f) { return help_needs_escaping(f.help); });
  if (escape) {
    // Rare (help texts come from the catalog), so copying everything once is
    // simpler than re-implementing the serializer for the families at stake.
    std::vector<prometheus::MetricFamily> escaped = families;
    for (auto& family : escaped) family.help = escape_help(family.help);
    serializer.Serialize(out, escaped);
  } else {
    serializer.Serialize(out, families);
  }
  std::string text = out.str();
  if (std::any_of(families.begin(), families.end(), has_nan)) canonicalize_nan(text);
  return text;
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
