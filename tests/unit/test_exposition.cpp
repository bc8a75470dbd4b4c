#include <prometheus/text_serializer.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

#include "exporter/exposition.hpp"
#include "support/prom_text.hpp"

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric sample(std::vector<ClientMetric::Label> labels, double value, MetricType type) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  if (type == MetricType::Gauge) m.gauge.value = value;
  if (type == MetricType::Untyped) m.untyped.value = value;
  return m;
}

std::string gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[16384];
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("inflate failed");
    }
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace

TEST_CASE("render_text escapes hostile label values", "[exposition]") {
  auto f = family("pg_hostile", "Hostile labels.", MetricType::Gauge);
  f.metric.push_back(sample({{"v", "say \"hi\""}}, 1, MetricType::Gauge));
  f.metric.push_back(sample({{"v", R"(C:\data\base)"}}, 2, MetricType::Gauge));
  f.metric.push_back(sample({{"v", "line1\nline2"}}, 3, MetricType::Gauge));
  f.metric.push_back(sample({{"v", R"(already \n escaped)"}}, 4, MetricType::Gauge));
  f.metric.push_back(sample({{"v", "bücher ✓ 数据库"}}, 5, MetricType::Gauge));
  f.metric.push_back(sample({{"v", "tab\there, {braces}=, comma"}}, 6, MetricType::Gauge));

  CHECK(pgscope::render_text({f}) ==
        "# HELP pg_hostile Hostile labels.\n"
        "# TYPE pg_hostile gauge\n"
        "pg_hostile{v=\"say \\\"hi\\\"\"} 1\n"
        "pg_hostile{v=\"C:\\\\data\\\\base\"} 2\n"
        "pg_hostile{v=\"line1\\nline2\"} 3\n"
        "pg_hostile{v=\"already \\\\n escaped\"} 4\n"
        "pg_hostile{v=\"bücher ✓ 数据库\"} 5\n"
        "pg_hostile{v=\"tab\there, {braces}=, comma\"} 6\n");
}

TEST_CASE("render_text cuts a label value over 1024 bytes, visibly, at a character boundary",
          "[exposition]") {
  std::string value;
  for (int i = 0; value.size() < 10240; ++i) {
    const char* pieces[] = {"abc", "\"", "\\", "\n", "é"};
    value += pieces[i % 5];
  }
  bool truncated = false;
  const std::string kept = pgscope::sanitize_label_value(value, &truncated);
  CHECK(truncated);
  CHECK(kept.size() <= pgscope::kMaxLabelValueBytes);
  CHECK(kept.size() >= pgscope::kMaxLabelValueBytes - 1);  // "é" is two bytes
  const std::string marker = pgscope::kTruncationMarker;
  REQUIRE(kept.size() > marker.size());
  CHECK(kept.compare(kept.size() - marker.size(), marker.size(), marker) == 0);
  const std::string prefix = kept.substr(0, kept.size() - marker.size());
  CHECK(value.compare(0, prefix.size(), prefix) == 0);
  CHECK(pgscope::is_valid_utf8(kept));

  std::string escaped;
  for (char c : kept) {
    if (c == '"')
      escaped += "\\\"";
    else if (c == '\\')
      escaped += "\\\\";
    else if (c == '\n')
      escaped += "\\n";
    else
      escaped += c;
  }
  auto f = family("pg_long", "Long label.", MetricType::Gauge);
  f.metric.push_back(sample({{"query", value}, {"db", "x"}}, 7, MetricType::Gauge));
  const auto before = pgscope::exposition_counters().label_values_truncated;
  CHECK(pgscope::render_text({f}) ==
        "# HELP pg_long Long label.\n# TYPE pg_long gauge\npg_long{query=\"" + escaped + "\",db=\"x\"} 7\n");
  CHECK(pgscope::exposition_counters().label_values_truncated == before + 1);
}

TEST_CASE("sanitize_label_value: the limit, and cuts inside a multi-byte character", "[exposition]") {
  using pgscope::kMaxLabelValueBytes;
  using pgscope::sanitize_label_value;
  const std::string marker = pgscope::kTruncationMarker;
  const std::size_t room = kMaxLabelValueBytes - marker.size();
  bool truncated = true;

  const std::string at_limit(kMaxLabelValueBytes, 'a');
  CHECK(sanitize_label_value(at_limit, &truncated) == at_limit);
  CHECK_FALSE(truncated);
  CHECK(sanitize_label_value(at_limit + "b", &truncated) == std::string(room, 'a') + marker);
  CHECK(truncated);

  // The cut would fall inside "€" (3 bytes): the whole character goes.
  const std::string euro = "\xE2\x82\xAC";
  CHECK(sanitize_label_value(std::string(room - 1, 'a') + euro + "tail" + std::string(2000, 'x')) ==
        std::string(room - 1, 'a') + marker);
  CHECK(sanitize_label_value(std::string(room - 2, 'a') + euro + std::string(2000, 'x')) ==
        std::string(room - 2, 'a') + marker);
  CHECK(sanitize_label_value(std::string(room - 3, 'a') + euro + std::string(2000, 'x')) ==
        std::string(room - 3, 'a') + euro + marker);
  // Repaired first, then measured: 400 invalid bytes become 1200 bytes of U+FFFD.
  const std::string replaced = sanitize_label_value(std::string(400, '\xff'), &truncated);
  CHECK(truncated);
  CHECK(replaced.size() <= kMaxLabelValueBytes);
  CHECK(pgscope::is_valid_utf8(replaced));
  CHECK(sanitize_label_value("") == "");
}

TEST_CASE("repair_utf8 replaces each maximal invalid subpart with one U+FFFD", "[exposition]") {
  using pgscope::is_valid_utf8;
  using pgscope::repair_utf8;
  const std::string fffd = "\xEF\xBF\xBD";
  const std::pair<std::string, std::string> cases[] = {
      {"plain ascii", "plain ascii"},
      {"bücher ✓ 数据库 😀", "bücher ✓ 数据库 😀"},
      {"t\xff\xfe x", "t" + fffd + fffd + " x"},
      {"\xE2\x9Cx", fffd + "x"},                        // "✓" cut short: one replacement
      {"\xF0\x9F\x98", fffd},                           // "😀" cut short at the end
      {"\xC0\xAF", fffd + fffd},                        // overlong "/"
      {"\xE0\x80\xAF", fffd + fffd + fffd},             // overlong, three bytes
      {"\xED\xA0\x80", fffd + fffd + fffd},             // a surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\xF8\x88\x80\x80\x80", fffd + fffd + fffd + fffd + fffd},
      {"\x80"
       "a\xBF",
       fffd + "a" + fffd},  // lone continuation bytes
      {"\xC3", fffd},
      {"\xC3(", fffd + "("},
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8)},
  };
  for (const auto& [input, expected] : cases) {
    INFO(input);
    CHECK(repair_utf8(input) == expected);
    CHECK(is_valid_utf8(expected));
    CHECK(is_valid_utf8(input) == (input == expected));
  }
  // The ASCII fast path of is_valid_utf8 does not skip a bad byte in any position.
  for (std::size_t at = 0; at < 20; ++at) {
    std::string text(20, 'a');
    text[at] = '\xff';
    CHECK_FALSE(is_valid_utf8(text));
  }
}

TEST_CASE("render_text writes invalid UTF-8 in labels and HELP as U+FFFD", "[exposition]") {
  auto f = family("pg_bytes", "Help \xff with a bad byte.", MetricType::Gauge);
  f.metric.push_back(sample({{"relname", "t\xff\xfe x"}}, 1, MetricType::Gauge));
  const std::string text = pgscope::render_text({f});
  CHECK(text ==
        "# HELP pg_bytes Help \xEF\xBF\xBD with a bad byte.\n"
        "# TYPE pg_bytes gauge\n"
        "pg_bytes{relname=\"t\xEF\xBF\xBD\xEF\xBF\xBD x\"} 1\n");
  CHECK(pgscope::is_valid_utf8(text));
}

TEST_CASE("render_text leaves out invalid names and counts them", "[exposition]") {
  CHECK(pgscope::is_valid_metric_name("pg_settings_work_mem_bytes"));
  CHECK(pgscope::is_valid_metric_name("a:b_c9"));
  CHECK(pgscope::is_valid_metric_name("_x"));
  CHECK_FALSE(pgscope::is_valid_metric_name(""));
  CHECK_FALSE(pgscope::is_valid_metric_name("9lives"));
  CHECK_FALSE(pgscope::is_valid_metric_name("pg_settings_a-b"));
  CHECK_FALSE(pgscope::is_valid_metric_name("pg_settings_a.b"));
  CHECK_FALSE(pgscope::is_valid_metric_name("pg x"));
  CHECK_FALSE(pgscope::is_valid_metric_name("pg_\xc3\xa9"));
  CHECK(pgscope::is_valid_label_name("datname"));
  CHECK_FALSE(pgscope::is_valid_label_name("a:b"));
  CHECK_FALSE(pgscope::is_valid_label_name("__name__"));
  CHECK_FALSE(pgscope::is_valid_label_name("1st"));

  auto good = family("pg_settings_good", "Fine.", MetricType::Gauge);
  good.metric.push_back(sample({}, 1, MetricType::Gauge));
  auto bad = family("pg_settings_bad name\n\"x\"", "Not a name.", MetricType::Gauge);
  bad.metric.push_back(sample({}, 2, MetricType::Gauge));
  auto labels = family("pg_labels", "Label names.", MetricType::Counter);
  labels.metric.push_back(sample({{"ok", "1"}}, 1, MetricType::Counter));
  labels.metric.push_back(sample({{"not ok", "2"}}, 2, MetricType::Counter));
  labels.metric.push_back(sample({{"__reserved", "3"}}, 3, MetricType::Counter));
  labels.metric.push_back(sample({{"twice", "4"}, {"twice", "5"}}, 4, MetricType::Counter));
  labels.metric.push_back(sample({{"ok", "5"}}, 5, MetricType::Counter));

  const auto before = pgscope::exposition_counters().invalid_names_dropped;
  const std::string text = pgscope::render_text({good, bad, labels});
  CHECK(text ==
        "# HELP pg_settings_good Fine.\n"
        "# TYPE pg_settings_good gauge\n"
        "pg_settings_good 1\n"
        "# HELP pg_labels Label names.\n"
        "# TYPE pg_labels counter\n"
        "pg_labels{ok=\"1\"} 1\n"
        "pg_labels{ok=\"5\"} 5\n");
  CHECK(pgscope::exposition_counters().invalid_names_dropped == before + 4);
}

TEST_CASE("render_text writes once the series that coincide once repaired or cut", "[exposition]") {
  const std::string common(2000, 'q');
  auto f = family("pg_stmt", "Statements.", MetricType::Counter);
  f.metric.push_back(sample({{"query", "short"}}, 1, MetricType::Counter));
  f.metric.push_back(sample({{"query", common + "one"}}, 2, MetricType::Counter));
  f.metric.push_back(sample({{"query", common + "two"}}, 3, MetricType::Counter));
  f.metric.push_back(sample({{"query", "\xff"}}, 4, MetricType::Counter));
  f.metric.push_back(sample({{"query", "\xfe"}}, 5, MetricType::Counter));
  f.metric.push_back(sample({{"query", "\xEF\xBF\xBD"}}, 6, MetricType::Counter));  // U+FFFD itself
  auto parsed = pgscope::test::parse_prom_text(pgscope::render_text({f}));
  REQUIRE(parsed.samples.size() == 3);
  CHECK(parsed.samples[0].value == 1);
  CHECK(parsed.samples[1].value == 2);
  CHECK(parsed.samples[2].value == 4);

  // Label names that differ between samples: an empty value is no label to
  // Prometheus, so {a="",b="x"} and {b="x"} are one series.
  auto g = family("pg_mixed", "Mixed label names.", MetricType::Gauge);
  g.metric.push_back(sample({{"a", ""}, {"b", "x"}}, 1, MetricType::Gauge));
  g.metric.push_back(sample({{"b", "x"}}, 2, MetricType::Gauge));
  g.metric.push_back(sample({{"b", "x"}, {"a", "y"}}, 3, MetricType::Gauge));
  g.metric.push_back(sample({{"a", "y"}, {"b", "x"}}, 4, MetricType::Gauge));
  CHECK(pgscope::render_text({g}) ==
        "# HELP pg_mixed Mixed label names.\n"
        "# TYPE pg_mixed gauge\n"
        "pg_mixed{a=\"\",b=\"x\"} 1\n"
        "pg_mixed{b=\"x\",a=\"y\"} 3\n");
}

TEST_CASE("the sanitizer counters count what render_text cut and left out", "[exposition]") {
  const auto before = pgscope::exposition_counters();
  auto long_value = family("pg_long", "", MetricType::Gauge);
  long_value.metric.push_back(sample({{"v", std::string(5000, 'x')}}, 1, MetricType::Gauge));
  auto bad_name = family("pg bad", "", MetricType::Gauge);
  bad_name.metric.push_back(sample({}, 1, MetricType::Gauge));
  pgscope::render_text({long_value, bad_name});
  const auto counters = pgscope::exposition_counters();
  CHECK(counters.label_values_truncated == before.label_values_truncated + 1);
  CHECK(counters.invalid_names_dropped == before.invalid_names_dropped + 1);

  auto own = pgscope::test::parse_prom_text(pgscope::render_exposition_counters());
  CHECK(own.families.size() == 2);
  CHECK(own.value("pgscope_exporter_label_values_truncated_total") ==
        static_cast<double>(counters.label_values_truncated));
  CHECK(own.value("pgscope_exporter_invalid_names_dropped_total") ==
        static_cast<double>(counters.invalid_names_dropped));
  CHECK(own.families["pgscope_exporter_label_values_truncated_total"].type == "counter");
  CHECK(own.families["pgscope_exporter_label_values_truncated_total"].help.find("1024 bytes") !=
        std::string::npos);

  // render_text writes only what it is given.
  auto other = family("pg_up", "Up.", MetricType::Gauge);
  other.metric.push_back(sample({}, 1, MetricType::Gauge));
  auto build = family("pgscope_exporter_build_info", "Version.", MetricType::Gauge);
  build.metric.push_back(sample({{"version", "1"}}, 1, MetricType::Gauge));
  auto without = pgscope::test::parse_prom_text(pgscope::render_text({other, build}));
  CHECK_FALSE(without.has_family("pgscope_exporter_label_values_truncated_total"));
}

TEST_CASE("render_text of hostile values passes promtool and reads back as sanitized", "[exposition]") {
  const std::vector<std::string> values = {
      "say \"hi\"",           "C:\\data\\base\\",
      "line1\nline2\n",       "cr\rlf",
      "\\n literal",          "tab\t{}=,",
      "t\xff\xfe x",          "\xE2\x9C half",
      "bücher ✓ 数据库",      std::string(3000, '\\'),
      std::string(5000, '"'), std::string("\xc3") + std::string(4000, 'x'),
  };
  auto f = family("pg_hostile", "Hostile \\ help\nwith \"lines\"\xff.", MetricType::Gauge);
  for (std::size_t i = 0; i < values.size(); ++i) {
    f.metric.push_back(
        sample({{"v", values[i]}, {"i", std::to_string(i)}}, static_cast<double>(i), MetricType::Gauge));
  }
  const std::string text = pgscope::render_text({f});
  CHECK(pgscope::is_valid_utf8(text));
  const auto check = pgscope::test::promtool_check(text);
  INFO(check.output);
  CHECK_FALSE(check.parse_error());
  auto parsed = pgscope::test::parse_prom_text(text);
  REQUIRE(parsed.samples.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("value " << i);
    CHECK(parsed.samples[i].label("v") == pgscope::sanitize_label_value(values[i]));
    CHECK(parsed.samples[i].label("v").size() <= pgscope::kMaxLabelValueBytes);
  }
  CHECK(parsed.families["pg_hostile"].help == "Hostile \\ help\nwith \"lines\"\xEF\xBF\xBD.");
}

TEST_CASE("render_text writes what prometheus-cpp writes for ordinary families", "[exposition]") {
  // The serializer is render_text's own (to sanitize without copying); for
  // clean input its text is prometheus-cpp 1.0.1's, but for NaN's spelling.
  auto counter = family("pg_c_total", "Counter.", MetricType::Counter);
  counter.metric.push_back(sample({{"a", "1"}, {"b", "x y"}}, 12345678901234, MetricType::Counter));
  counter.metric.push_back(sample({}, 0.1 + 0.2, MetricType::Counter));
  auto gauge = family("pg_g", "", MetricType::Gauge);
  for (double v : {0.0, -0.0, 1.0 / 3, 1e16, 1e15, 1e-5, -2.5e-300, 5e-324, 123456789012345678.0}) {
    gauge.metric.push_back(sample({{"v", "k"}}, v, MetricType::Gauge));
    gauge.metric.back().label[0].value += std::to_string(gauge.metric.size());
  }
  gauge.metric.push_back(sample({}, std::numeric_limits<double>::infinity(), MetricType::Gauge));
  gauge.metric.back().timestamp_ms = 1700000000123;
  auto untyped = family("pg_u", "Untyped.", MetricType::Untyped);
  untyped.metric.push_back(sample({{"l", "v"}}, -7, MetricType::Untyped));
  untyped.metric.back().timestamp_ms = -5;
  auto summary = family("pg_s", "Summary.", MetricType::Summary);
  ClientMetric s;
  s.label = {{"db", "a"}};
  s.summary.sample_count = 3;
  s.summary.sample_sum = 1.5;
  s.summary.quantile = {{0.5, 0.25}, {0.99, 1.0}};
  summary.metric.push_back(s);
  auto histogram = family("pg_h", "Histogram.", MetricType::Histogram);
  ClientMetric h;
  h.histogram.sample_count = 4;
  h.histogram.sample_sum = 2.25;
  h.histogram.bucket = {{1, 0.5}, {3, 1.0}};
  histogram.metric.push_back(h);
  h.label = {{"db", "b"}};
  h.histogram.bucket.push_back({4, std::numeric_limits<double>::infinity()});
  histogram.metric.push_back(h);
  auto empty = family("pg_empty", "No samples.", MetricType::Gauge);

  const std::vector<MetricFamily> all = {counter, gauge, untyped, summary, histogram, empty};
  std::ostringstream expected;
  prometheus::TextSerializer().Serialize(expected, all);
  CHECK(pgscope::render_text(all) == expected.str());
}

TEST_CASE("render_text writes the largest doubles so that they read back", "[exposition]") {
  // prometheus-cpp's 16 digits round DBL_MAX up to 1.797693134862316e+308,
  // which overflows: Go's ParseFloat fails and Prometheus rejects the scrape.
  auto f = family("pg_big", "", MetricType::Gauge);
  f.metric.push_back(sample({{"v", "max"}}, std::numeric_limits<double>::max(), MetricType::Gauge));
  f.metric.push_back(sample({{"v", "lowest"}}, std::numeric_limits<double>::lowest(), MetricType::Gauge));
  f.metric.push_back(sample({{"v", "third"}}, 0.1 + 0.2, MetricType::Gauge));  // 16 digits, as ever
  CHECK(pgscope::render_text({f}) ==
        "# TYPE pg_big gauge\n"
        "pg_big{v=\"max\"} 1.7976931348623157e+308\n"
        "pg_big{v=\"lowest\"} -1.7976931348623157e+308\n"
        "pg_big{v=\"third\"} 0.3\n");
}

TEST_CASE("render_text escapes backslash and newline in HELP", "[exposition]") {
  // prometheus-cpp 1.0.1 writes HELP verbatim; render_text escapes it itself.
  // Quotes are not escaped in HELP (text format 0.0.4).
  auto f = family("pg_help", "Path like C:\\x,\nsecond line, \"quoted\".", MetricType::Gauge);
  f.metric.push_back(sample({}, 1, MetricType::Gauge));
  CHECK(pgscope::render_text({f}) ==
        "# HELP pg_help Path like C:\\\\x,\\nsecond line, \"quoted\".\n"
        "# TYPE pg_help gauge\n"
        "pg_help 1\n");
}

TEST_CASE("render_text writes counter and gauge families with HELP and TYPE", "[exposition]") {
  // prometheus-cpp 1.0.1 does not append "_total" to counters: the family
  // name is written as given, in HELP, TYPE and every sample. Collectors that
  // want the conventional suffix put it in the name themselves.
  auto commits = family("pg_stat_database_xact_commit", "Transactions committed.", MetricType::Counter);
  commits.metric.push_back(sample({{"datname", "app"}}, 1234, MetricType::Counter));
  commits.metric.push_back(sample({{"datname", "postgres"}}, 0, MetricType::Counter));
  auto suffixed = family("pg_scrapes_total", "Scrapes.", MetricType::Counter);
  suffixed.metric.push_back(sample({}, 3, MetricType::Counter));
  auto up = family("pg_up", "Whether the server answered.", MetricType::Gauge);
  up.metric.push_back(sample({}, 1, MetricType::Gauge));
  auto ratio = family("pg_ratio", "", MetricType::Gauge);  // no help: no HELP line
  ratio.metric.push_back(sample({{"kind", "a"}}, 0.25, MetricType::Gauge));
  ratio.metric.push_back(sample({{"kind", "b"}}, -1.5e-7, MetricType::Gauge));
  ratio.metric.push_back(sample({{"kind", "c"}}, 1e20, MetricType::Gauge));
  auto other = family("pg_settings_other", "Untyped.", MetricType::Untyped);
  other.metric.push_back(sample({}, 42, MetricType::Untyped));

  CHECK(pgscope::render_text({commits, suffixed, up, ratio, other}) ==
        "# HELP pg_stat_database_xact_commit Transactions committed.\n"
        "# TYPE pg_stat_database_xact_commit counter\n"
        "pg_stat_database_xact_commit{datname=\"app\"} 1234\n"
        "pg_stat_database_xact_commit{datname=\"postgres\"} 0\n"
        "# HELP pg_scrapes_total Scrapes.\n"
        "# TYPE pg_scrapes_total counter\n"
        "pg_scrapes_total 3\n"
        "# HELP pg_up Whether the server answered.\n"
        "# TYPE pg_up gauge\n"
        "pg_up 1\n"
        "# TYPE pg_ratio gauge\n"
        "pg_ratio{kind=\"a\"} 0.25\n"
        "pg_ratio{kind=\"b\"} -1.5e-07\n"
        "pg_ratio{kind=\"c\"} 1e+20\n"
        "# HELP pg_settings_other Untyped.\n"
        "# TYPE pg_settings_other untyped\n"
        "pg_settings_other 42\n");
}

TEST_CASE("render_text spells special values as the text format does", "[exposition]") {
  // prometheus-cpp writes "Nan"; render_text turns it into "NaN" without
  // touching a label value that happens to contain " Nan".
  auto f = family("pg_special", "Special values.", MetricType::Gauge);
  f.metric.push_back(sample({{"v", "x Nan"}}, std::nan(""), MetricType::Gauge));
  f.metric.push_back(sample({{"v", "Nan"}}, std::numeric_limits<double>::infinity(), MetricType::Gauge));
  f.metric.push_back(sample({{"v", "c"}}, -std::numeric_limits<double>::infinity(), MetricType::Gauge));
  auto g = family("Nan", "Nan", MetricType::Gauge);  // a family named Nan keeps its name
  g.metric.push_back(sample({}, std::nan(""), MetricType::Gauge));
  CHECK(pgscope::render_text({f, g}) ==
        "# HELP pg_special Special values.\n"
        "# TYPE pg_special gauge\n"
        "pg_special{v=\"x Nan\"} NaN\n"
        "pg_special{v=\"Nan\"} +Inf\n"
        "pg_special{v=\"c\"} -Inf\n"
        "# HELP Nan Nan\n"
        "# TYPE Nan gauge\n"
        "Nan NaN\n");
}

TEST_CASE("render_text of nothing is empty", "[exposition]") { CHECK(pgscope::render_text({}).empty()); }

TEST_CASE("gzip_compress round-trips through zlib", "[exposition]") {
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += "pg_stat_table_seq_scan{relname=\"t" + std::to_string(i) + "\"} 1\n";
  std::mt19937 random(42);
  std::string noise(300000, '\0');
  for (auto& c : noise) c = static_cast<char>(random());

  for (const std::string& body : {std::string(), std::string("x"), text, noise}) {
    std::string compressed = pgscope::gzip_compress(body);
    REQUIRE(compressed.size() >= 18);  // gzip header and trailer
    CHECK(static_cast<unsigned char>(compressed[0]) == 0x1f);
    CHECK(static_cast<unsigned char>(compressed[1]) == 0x8b);
    CHECK(gunzip(compressed) == body);
  }
  CHECK(pgscope::gzip_compress(text).size() < text.size() / 5);
}

TEST_CASE("accepts_gzip reads Accept-Encoding with q-values", "[exposition]") {
  using pgscope::accepts_gzip;
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("GZip"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("gzip, deflate, br"));
  CHECK(accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  CHECK(accepts_gzip(" deflate ,gzip ; q=0.5 "));
  CHECK(accepts_gzip("gzip;q=0.001"));
  CHECK(accepts_gzip("gzip;Q=1"));
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip("identity;q=0.5, *;q=0.1"));

  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("br, deflate"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
  CHECK_FALSE(accepts_gzip("gzip; q=0, *"));  // explicit refusal beats the wildcard
  CHECK_FALSE(accepts_gzip("*;q=0"));
  CHECK_FALSE(accepts_gzip("gzipper, notgzip"));
  CHECK_FALSE(accepts_gzip("gzip;q=banana"));
  CHECK_FALSE(accepts_gzip("gzip;q=2"));
}
