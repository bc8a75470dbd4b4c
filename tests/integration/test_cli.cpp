// The exporter's command line: mistakes end with exit code 2 and one line
// that names the problem and never a password; --version and --help work.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/exporter_process.hpp"

using Catch::Matchers::Contains;
using pgscope::test::ProcessResult;
using pgscope::test::run_exporter_once;

namespace {

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// A usage error: exit code 2, nothing on stdout, exactly one line on stderr.
void check_usage_error(const ProcessResult& result) {
  INFO("stdout: " << result.out);
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 2);
  CHECK(non_empty_lines(result.err).size() == 1);
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp && *tmp ? tmp : "/tmp") + "/pgscope-cli-XXXXXX.yml";
    int fd = mkstemps(path.data(), 4);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("an unknown flag is a usage error naming the flag", "[cli]") {
  auto result = run_exporter_once({"--no-such-flag"});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("no-such-flag"));
}

TEST_CASE("a bad duration is a usage error naming the flag", "[cli]") {
  auto result = run_exporter_once({"--scrape.timeout=banana"});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("scrape.timeout"));
}

TEST_CASE("a missing config file is a usage error naming the file", "[cli]") {
  const std::string path = "/nonexistent-pgscope-dir/pgscope.yml";
  auto result = run_exporter_once({"--config.file=" + path});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains(path));
}

TEST_CASE("an unknown key in the config file is a usage error naming file and line", "[cli]") {
  TempFile config(
      "# pgscope test config\n"
      "web:\n"
      "  bogus_key: 1\n");
  auto result = run_exporter_once({"--config.file=" + config.path});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains(config.path + ":3"));
  CHECK_THAT(result.err, Contains("bogus_key"));
}

TEST_CASE("usage errors never print the password of the DSN", "[cli]") {
  const std::string secret = "s3cretpw";
  SECTION("a bad flag next to a DSN with a password") {
    auto result =
        run_exporter_once({"--postgres.dsn=postgresql://u:" + secret + "@127.0.0.1:1/db", "--bogus"});
    check_usage_error(result);
    CHECK_THAT(result.out + result.err, !Contains(secret));
  }
  SECTION("a malformed DSN with a password") {
    auto result = run_exporter_once({"--postgres.dsn=host=127.0.0.1 password='" + secret});
    check_usage_error(result);
    CHECK_THAT(result.out + result.err, !Contains(secret));
  }
  SECTION("a password in the environment next to a bad flag") {
    auto result =
        run_exporter_once({"--bogus"}, {{"DATA_SOURCE_NAME", "postgresql://u:" + secret + "@h/db"}});
    check_usage_error(result);
    CHECK_THAT(result.out + result.err, !Contains(secret));
  }
}

TEST_CASE("a missing DATA_SOURCE_PASS_FILE is a usage error naming the variable", "[cli]") {
  auto result = run_exporter_once({}, {{"DATA_SOURCE_URI", "127.0.0.1:1/postgres?sslmode=disable"},
                                       {"DATA_SOURCE_USER", "u"},
                                       {"DATA_SOURCE_PASS_FILE", "/nonexistent-pgscope-dir/pass"}});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("DATA_SOURCE_PASS_FILE"));
}

TEST_CASE("--version prints the version and exits 0", "[cli]") {
  auto result = run_exporter_once({"--version"});
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Contains(PGSCOPE_VERSION));
}

TEST_CASE("--help describes the flags and exits 0", "[cli]") {
  auto result = run_exporter_once({"--help"});
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("--web.listen-address"));
  CHECK_THAT(result.out, Contains("--postgres.dsn"));
  CHECK_THAT(result.out, Contains("--collector."));
}

TEST_CASE("an unknown collector is a usage error listing the known ones", "[cli]") {
  auto result = run_exporter_once({"--postgres.dsn=host=127.0.0.1 port=1", "--collector.stat_databse"});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("stat_databse"));
  CHECK_THAT(result.err, Contains("stat_database"));
}

TEST_CASE("no connection configured at all is a usage error saying how to give one", "[cli]") {
  auto result = run_exporter_once({});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("DATA_SOURCE_NAME"));
}

TEST_CASE("a malformed DSN is a usage error naming the flag, not the password", "[cli]") {
  auto result = run_exporter_once({"--postgres.dsn=host=x password=s3cretpw port='unterminated"});
  check_usage_error(result);
  CHECK_THAT(result.err, Contains("--postgres.dsn"));
  CHECK_THAT(result.err, !Contains("s3cretpw"));
}

TEST_CASE("--dump-catalog prints a catalog that reads back and names every collector", "[cli]") {
  auto result = run_exporter_once({"--dump-catalog"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("pg_stat_database:"));
  CHECK_THAT(result.out, Contains("collector: stat_user_tables"));
  CHECK_THAT(result.out, Contains("{{table_limit}}"));
}

TEST_CASE("Patroni credentials in --patroni.url reach neither the log nor the metrics", "[cli]") {
  pgscope::test::ExporterProcess exporter({"--patroni.url=http://admin:s3cretpw@127.0.0.1:1"});
  auto result = exporter.scrape();
  REQUIRE(result.status == 200);
  CHECK_THAT(result.body, Contains("patroni_up 0"));
  CHECK_THAT(result.body, !Contains("s3cretpw"));
  exporter.stop();
  CHECK_THAT(exporter.log(), Contains("scraping Patroni at http://xxxxx@127.0.0.1:1"));
  CHECK_THAT(exporter.log(), !Contains("s3cretpw"));
}

TEST_CASE("a bad --patroni.url or --pgbouncer.dsn is a usage error", "[cli]") {
  auto url = run_exporter_once({"--patroni.url=localhost:8008"});
  check_usage_error(url);
  CHECK_THAT(url.err, Contains("--patroni.url"));
  auto dsn = run_exporter_once({"--pgbouncer.dsn=host=x password=s3cretpw port='open"});
  check_usage_error(dsn);
  CHECK_THAT(dsn.err, Contains("--pgbouncer.dsn"));
  CHECK_THAT(dsn.err, !Contains("s3cretpw"));
}
