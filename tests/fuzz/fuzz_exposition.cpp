// libFuzzer target for the exposition: MetricSink and render_text
// (scripts/fuzz exposition).
//
// The input is a small script, one directive a line (see the seeds in
// tests/fuzz/corpus/exposition); names, help texts and label values are raw
// bytes, with \n \r \t \s (space) \0 \\ \xHH decoded, so any byte can appear:
//
//   sink                          first line only: build the families with two
//                                 MetricSinks, merged (default: hand the
//                                 families to render_text as they are)
//   to A | to B                   (sink) which sink the next lines fill
//   truncate N                    (sink) MetricSink::truncate(N) after merging
//   family TYPE NAME [HELP]       counter, gauge or untyped
//   sample VALUE [@MS] [LABEL=VALUE]...
//                                 VALUE: a number, NaN, +Inf, -Inf, max, -max,
//                                 min, denorm, -0 or bits:HEX (the double's
//                                 bits); @MS a timestamp (direct only)
//
// render_text's output must be a valid text-format 0.0.4 exposition
// (exposition_check.hpp says how strictly) that reads back as what
// exposition.hpp promises, modelled here independently of exposition.cpp:
// the families with valid metric names, in order, with their types and help
// texts (invalid UTF-8 repaired); of each, the samples whose label names are
// valid, unreserved and distinct, once per series as written; label values
// valid UTF-8 (each maximal invalid subpart one U+FFFD) and cut to 1024 bytes
// ending in "...[truncated]"; values to 16 significant digits; the exporter's
// two counters last (render_exposition_counters, appended as /metrics does,
// unless a family has one of their names), counting exactly the values cut
// and the families and samples left out.
// With sinks, every sample added is kept, dropped() or truncated. Anything
// else, a crash, a sanitizer report or an escaping exception is a finding.
//
// Direct families are what MetricSink::take() gives: one family per name,
// one sample per series (the harness drops what would repeat), so that
// findings there are render_text's own.
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/metric_sink.hpp"
#include "exporter/exposition.hpp"
#include "exposition_check.hpp"
#include "fuzz_text.hpp"

namespace {

using pgscope::fuzz::printable;
using pgscope::fuzz::unescape;
using pgscope::fuzz::Violation;
using prometheus::MetricType;

constexpr std::size_t kMaxFamilies = 64;
constexpr std::size_t kMaxSamples = 512;

MetricType type_of(const std::string& word) {
  if (word == "counter") return MetricType::Counter;
  if (word == "gauge") return MetricType::Gauge;
  return MetricType::Untyped;
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    default:
      return "untyped";
  }
}

double value_of(const std::string& token) {
  if (token == "NaN" || token == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (token == "+Inf" || token == "inf") return std::numeric_limits<double>::infinity();
  if (token == "-Inf") return -std::numeric_limits<double>::infinity();
  if (token == "max") return std::numeric_limits<double>::max();
  if (token == "-max") return std::numeric_limits<double>::lowest();
  if (token == "min") return std::numeric_limits<double>::min();
  if (token == "denorm") return std::numeric_limits<double>::denorm_min();
  if (token.compare(0, 5, "bits:") == 0) {
    std::uint64_t bits = std::strtoull(token.c_str() + 5, nullptr, 16);
    double value;
    static_assert(sizeof value == sizeof bits);
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  char* end = nullptr;
  const double value = std::strtod(token.c_str(), &end);
  return end == token.c_str() ? 0 : value;
}

double metric_value(const prometheus::ClientMetric& metric, MetricType type) {
  return pgscope::sample_value(metric, type);
}

void set_value(prometheus::ClientMetric& metric, MetricType type, double value) {
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else if (type == MetricType::Gauge) {
    metric.gauge.value = value;
  } else {
    metric.untyped.value = value;
  }
}

// The series as Prometheus identifies it (label order does not matter, an
// empty value is no label); "" when the label names repeat.
std::string series_key(const pgscope::LabelPairs& labels) {
  std::set<std::string> names;
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& label : labels) {
    if (!names.insert(label.first).second) return "";
    if (!label.second.empty()) sorted.push_back(label);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string key = "{";
  for (const auto& [name, value] : sorted)
    key += std::to_string(name.size()) + ":" + name + std::to_string(value.size()) + ":" + value;
  return key;
}

std::string ltrim(const std::string& text) {
  std::size_t begin = 0;
  while (begin < text.size() && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  return text.substr(begin);
}

// exposition.hpp: 16 significant digits (as prometheus-cpp writes them), so
// a value reads back within half a unit in the 16th digit; the sign of a
// zero, NaN and the infinities exactly.
bool same_value(double expected, double got) {
  if (std::isnan(expected) || std::isnan(got)) return std::isnan(expected) && std::isnan(got);
  if (expected == 0 || got == 0 || std::isinf(expected) || std::isinf(got)) {
    return expected == got && std::signbit(expected) == std::signbit(got);
  }
  return std::fabs(expected - got) <= 1e-15 * std::fabs(expected);
}

// The contract of exposition.hpp, written again independently of
// exposition.cpp so that the two can disagree.
constexpr std::size_t kMaxLabelValueBytes = 1024;
const std::string kMarker = "...[truncated]";
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Invalid UTF-8 with each maximal subpart replaced by one U+FFFD: the WHATWG
// decoder, which implements Unicode's recommendation.
std::string repair(const std::string& text) {
  std::string out;
  std::size_t needed = 0, seen = 0, start = 0;
  unsigned char lower = 0x80, upper = 0xBF;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    if (needed == 0) {
      start = i;
      if (b < 0x80) {
        out += static_cast<char>(b);
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;
        needed = 2;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;
        needed = 3;
      } else {
        out += kReplacement;
      }
      continue;
    }
    if (b < lower || b > upper) {
      needed = seen = 0;
      lower = 0x80, upper = 0xBF;
      out += kReplacement;
      --i;  // this byte starts afresh
      continue;
    }
    lower = 0x80, upper = 0xBF;
    if (++seen == needed) {
      out.append(text, start, i + 1 - start);
      needed = seen = 0;
    }
  }
  if (needed != 0) out += kReplacement;
  return out;
}

std::size_t char_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// Why `got` is not what a label value `value` may become, or "".
std::string check_label_value(const std::string& value, const std::string& got) {
  const std::string repaired = repair(value);
  if (repaired.size() <= kMaxLabelValueBytes) {
    return got == repaired ? "" : "expected \"" + printable(repaired, 80) + "\"";
  }
  if (got.size() > kMaxLabelValueBytes)
    return "longer than " + std::to_string(kMaxLabelValueBytes) + " bytes";
  if (got.size() < kMarker.size() || got.compare(got.size() - kMarker.size(), kMarker.size(), kMarker) != 0) {
    return "cut without ending in " + kMarker;
  }
  const std::string kept = got.substr(0, got.size() - kMarker.size());
  if (repaired.compare(0, kept.size(), kept) != 0) return "cut, but not a prefix of the repaired value";
  // A character boundary, and as long as fits.
  const unsigned char next = static_cast<unsigned char>(repaired[kept.size()]);
  if ((next & 0xC0) == 0x80) return "cut inside a character";
  if (kept.size() + char_length(next) + kMarker.size() <= kMaxLabelValueBytes) {
    return "cut to " + std::to_string(kept.size()) + " bytes, shorter than needed";
  }
  return "";
}

// The Prometheus identity of a sample's series, once its values are written.
std::string written_key(const std::vector<prometheus::ClientMetric::Label>& labels) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& label : labels) {
    std::string value = repair(label.value);
    if (value.size() > kMaxLabelValueBytes) {
      std::size_t keep = kMaxLabelValueBytes - kMarker.size();
      while ((static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) --keep;
      value = value.substr(0, keep) + kMarker;
    }
    if (!value.empty()) pairs.emplace_back(label.name, value);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string key;
  for (const auto& [name, value] : pairs)
    key += std::to_string(name.size()) + ":" + name + std::to_string(value.size()) + ":" + value;
  return key;
}

bool labels_ok(const std::vector<prometheus::ClientMetric::Label>& labels) {
  std::set<std::string> names;
  for (const auto& label : labels) {
    if (!pgscope::fuzz::valid_label_name(label.name) || label.name.compare(0, 2, "__") == 0) return false;
    if (!names.insert(label.name).second) return false;
  }
  return true;
}

struct Expected {
  std::vector<const prometheus::MetricFamily*> families;              // those written
  std::vector<std::vector<const prometheus::ClientMetric*>> samples;  // of each, those written
  bool own_counters = false;
  std::uint64_t truncated = 0;  // label values cut
  std::uint64_t dropped = 0;    // families and samples left out for a name
};

// What render_text writes of `families` by exposition.hpp: families with a
// metric name, samples with valid, unreserved, distinct label names, once
// per series (as written), and the exporter's two counters after them
// unless a family already has one of their names.
Expected expect(const std::vector<prometheus::MetricFamily>& families) {
  Expected out;
  bool counters = false;
  for (const auto& family : families) {
    if (family.name == "pgscope_exporter_label_values_truncated_total" ||
        family.name == "pgscope_exporter_invalid_names_dropped_total") {
      counters = true;
    }
    if (!pgscope::fuzz::valid_metric_name(family.name)) {
      ++out.dropped;
      continue;
    }
    out.families.push_back(&family);
    out.samples.emplace_back();
    std::set<std::string> series;
    for (const auto& metric : family.metric) {
      if (!labels_ok(metric.label)) {
        ++out.dropped;
        continue;
      }
      for (const auto& label : metric.label)
        out.truncated += repair(label.value).size() > kMaxLabelValueBytes;
      if (series.insert(written_key(metric.label)).second) out.samples.back().push_back(&metric);
    }
  }
  out.own_counters = !counters;
  return out;
}

// What render_text was given against what its text reads back as.
std::vector<Violation> compare(const std::vector<prometheus::MetricFamily>& given,
                               const std::vector<pgscope::fuzz::ParsedFamily>& parsed,
                               const pgscope::ExpositionCounters& before,
                               const pgscope::ExpositionCounters& after) {
  std::vector<Violation> out;
  auto fail = [&](const std::string& message) { out.push_back({"fidelity", 0, message}); };
  const Expected expected = expect(given);
  if (after.label_values_truncated - before.label_values_truncated != expected.truncated) {
    fail("label_values_truncated counted " +
         std::to_string(after.label_values_truncated - before.label_values_truncated) + ", expected " +
         std::to_string(expected.truncated));
  }
  if (after.invalid_names_dropped - before.invalid_names_dropped != expected.dropped) {
    fail("invalid_names_dropped counted " +
         std::to_string(after.invalid_names_dropped - before.invalid_names_dropped) + ", expected " +
         std::to_string(expected.dropped));
  }
  const std::size_t count = expected.families.size() + (expected.own_counters ? 2 : 0);
  if (parsed.size() != count) {
    fail(std::to_string(count) + " families expected, " + std::to_string(parsed.size()) + " read back");
    return out;
  }
  if (expected.own_counters) {
    const auto& truncated = parsed[count - 2];
    const auto& dropped = parsed[count - 1];
    if (truncated.name != "pgscope_exporter_label_values_truncated_total" || truncated.type != "counter" ||
        dropped.name != "pgscope_exporter_invalid_names_dropped_total" || dropped.type != "counter") {
      fail("the exporter's own counters are not the last two families");
    }
  }
  for (std::size_t i = 0; i < expected.families.size(); ++i) {
    const auto& e = *expected.families[i];
    const auto& p = parsed[i];
    const std::string where = "family " + std::to_string(i) + " (" + printable(e.name, 60) + ")";
    if (p.name != e.name) fail(where + " reads back as " + printable(p.name, 60));
    if (p.type != type_name(e.type)) fail(where + ": type " + type_name(e.type) + " reads back as " + p.type);
    if (ltrim(p.help) != ltrim(repair(e.help))) {
      fail(where + ": help \"" + printable(e.help, 80) + "\" reads back as \"" + printable(p.help, 80) +
           "\"");
    }
    const auto& metrics = expected.samples[i];
    if (p.samples.size() != metrics.size()) {
      fail(where + ": " + std::to_string(metrics.size()) + " samples expected, " +
           std::to_string(p.samples.size()) + " read back");
      continue;
    }
    for (std::size_t j = 0; j < metrics.size(); ++j) {
      const auto& em = *metrics[j];
      const auto& ps = p.samples[j];
      const std::string sample = where + " sample " + std::to_string(j);
      if (ps.name != e.name) fail(sample + " reads back named " + printable(ps.name, 60));
      const double value = metric_value(em, e.type);
      if (!same_value(value, ps.value)) {
        char text[96];
        std::snprintf(text, sizeof text, ": value %.17g reads back as %.17g", value, ps.value);
        fail(sample + text);
      }
      if (ps.has_timestamp != (em.timestamp_ms != 0)) fail(sample + ": timestamp lost or made up");
      if (ps.labels.size() != em.label.size()) {
        fail(sample + ": " + std::to_string(em.label.size()) + " labels given, " +
             std::to_string(ps.labels.size()) + " read back");
        continue;
      }
      for (std::size_t k = 0; k < em.label.size(); ++k) {
        const auto& el = em.label[k];
        const auto& pl = ps.labels[k];
        if (pl.first != el.name) {
          fail(sample + ": label " + printable(el.name, 60) + " reads back as " + printable(pl.first, 60));
        }
        const std::string problem = check_label_value(el.value, pl.second);
        if (!problem.empty()) {
          fail(sample + ": label " + printable(el.name, 60) + "=\"" + printable(el.value, 80) +
               "\" reads back as \"" + printable(pl.second, 80) + "\": " + problem);
        }
      }
    }
  }
  return out;
}

struct Script {
  bool sink = false;
  bool truncate = false;
  std::size_t keep = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // render_text logs names it leaves out
  pgscope::fuzz::tolerated_kinds();       // says what it tolerates once, up front
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> lines = pgscope::fuzz::split(input, "\n");

  Script script;
  script.sink = !lines.empty() && lines[0] == "sink";
  pgscope::MetricSink sinks[2];
  int into = 0;
  pgscope::MetricSink::Family handle = pgscope::MetricSink::kRejected;
  bool have_handle = false;
  std::size_t added = 0;  // samples handed to a sink

  std::vector<prometheus::MetricFamily> direct;
  std::set<std::string> direct_names;
  std::set<std::string> direct_series;  // of the last family
  std::size_t families = 0, samples = 0;

  for (std::size_t n = script.sink ? 1 : 0; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    const std::vector<std::string> words = pgscope::fuzz::split(line, " ");
    const std::string& verb = words[0];
    if (verb == "to" && words.size() >= 2) {
      into = words[1] == "B" ? 1 : 0;
      have_handle = false;  // a family handle belongs to its sink
    } else if (verb == "truncate" && words.size() >= 2) {
      script.truncate = true;
      script.keep = std::strtoul(words[1].c_str(), nullptr, 10);
    } else if (verb == "family" && words.size() >= 3) {
      if (++families > kMaxFamilies) break;
      const MetricType type = type_of(words[1]);
      const std::string name = unescape(words[2]);
      // The help is the rest of the line after the name and one space.
      std::string help;
      const std::size_t name_end = verb.size() + 1 + words[1].size() + 1 + words[2].size();
      if (name_end < line.size()) help = unescape(line.substr(name_end + 1));
      if (script.sink) {
        handle = sinks[into].family(name, help, type);
        have_handle = true;
      } else if (direct_names.insert(name).second) {
        prometheus::MetricFamily family;
        family.name = name;
        family.help = help;
        family.type = type;
        direct.push_back(std::move(family));
        direct_series.clear();
        have_handle = true;
      } else {
        have_handle = false;  // a second family of that name: its samples go nowhere
      }
    } else if (verb == "sample" && words.size() >= 2) {
      if (!have_handle) continue;
      if (++samples > kMaxSamples) break;
      const double value = value_of(words[1]);
      std::int64_t timestamp = 0;
      pgscope::LabelPairs labels;
      for (std::size_t w = 2; w < words.size(); ++w) {
        if (w == 2 && !words[w].empty() && words[w][0] == '@') {
          timestamp = std::strtoll(words[w].c_str() + 1, nullptr, 10);
          continue;
        }
        const std::size_t equals = words[w].find('=');
        labels.emplace_back(unescape(words[w].substr(0, equals)),
                            equals == std::string::npos ? "" : unescape(words[w].substr(equals + 1)));
      }
      if (script.sink) {
        sinks[into].add(handle, labels, value);
        ++added;
      } else {
        const std::string key = series_key(labels);
        if (key.empty() || !direct_series.insert(key).second) continue;  // not a series take() would give
        prometheus::ClientMetric metric;
        for (const auto& [label, label_value] : labels) metric.label.push_back({label, label_value});
        set_value(metric, direct.back().type, value);
        metric.timestamp_ms = timestamp;
        direct.back().metric.push_back(std::move(metric));
      }
    }
  }

  std::vector<prometheus::MetricFamily> rendered;
  std::size_t truncated = 0;
  if (script.sink) {
    sinks[0].merge(std::move(sinks[1]));
    if (script.truncate) truncated = sinks[0].truncate(script.keep);
    rendered = sinks[0].take();
    std::size_t kept = 0;
    for (const auto& family : rendered) kept += family.metric.size();
    if (kept + sinks[0].dropped() + truncated != added) {
      const std::vector<Violation> accounting{{"sink", 0,
                                               std::to_string(added) + " samples added, " +
                                                   std::to_string(kept) + " taken + " +
                                                   std::to_string(sinks[0].dropped()) + " dropped + " +
                                                   std::to_string(truncated) + " truncated"}};
      if (!pgscope::fuzz::findings(accounting).empty())
        pgscope::fuzz::report_and_abort("fuzz_exposition", "MetricSink lost count of samples", accounting,
                                        "");
    }
  } else {
    rendered = std::move(direct);
  }

  const auto before = pgscope::exposition_counters();
  std::string text = pgscope::render_text(rendered);
  if (expect(rendered).own_counters) text += pgscope::render_exposition_counters();
  const auto after = pgscope::exposition_counters();
  static const bool print = std::getenv("PGSCOPE_FUZZ_PRINT") != nullptr;  // to look at a seed
  if (print) std::fwrite(text.data(), 1, text.size(), stderr);
  const pgscope::fuzz::CheckResult result = pgscope::fuzz::check_exposition(text);
  const auto found = pgscope::fuzz::findings(result.violations);
  if (!found.empty()) {
    pgscope::fuzz::report_and_abort("fuzz_exposition", "render_text wrote an invalid exposition", found,
                                    text);
  }
  if (result.violations.empty()) {
    const auto differences = pgscope::fuzz::findings(compare(rendered, result.families, before, after));
    if (!differences.empty()) {
      pgscope::fuzz::report_and_abort(
          "fuzz_exposition", "the exposition does not read back as what was rendered", differences, text);
    }
  }
  return 0;
}
