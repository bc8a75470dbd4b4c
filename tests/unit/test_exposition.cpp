#include <zlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include "exporter/exposition.hpp"

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

TEST_CASE("render_text keeps a 10 kB label value whole", "[exposition]") {
  std::string value;
  std::string escaped;
  for (int i = 0; value.size() < 10240; ++i) {
    const char* pieces[] = {"abc", "\"", "\\", "\n", "é"};
    const char* escapes[] = {"abc", "\\\"", "\\\\", "\\n", "é"};
    value += pieces[i % 5];
    escaped += escapes[i % 5];
  }
  auto f = family("pg_long", "Long label.", MetricType::Gauge);
  f.metric.push_back(sample({{"query", value}, {"db", "x"}}, 7, MetricType::Gauge));
  CHECK(pgscope::render_text({f}) ==
        "# HELP pg_long Long label.\n# TYPE pg_long gauge\npg_long{query=\"" + escaped + "\",db=\"x\"} 7\n");
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
