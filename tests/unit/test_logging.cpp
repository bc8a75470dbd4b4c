#include <spdlog/spdlog.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "exporter/logging.hpp"
#include "exporter/options.hpp"

using namespace pgscope;

namespace {

// Points file descriptor 2 at a temporary file for the lifetime of the object,
// so the real stderr sink is what gets tested.
class StderrCapture {
 public:
  StderrCapture() {
    char name[] = "/tmp/pgscope-log-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() {
    restore();
    std::remove(path_.c_str());
  }
  std::string text() {
    restore();
    std::ifstream in(path_, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const std::string kTricky = "say \"hi\"\nand \\ bye\ttab";

}  // namespace

TEST_CASE("logging: logfmt escapes quotes, backslashes and newlines", "[logging]") {
  std::string text;
  {
    StderrCapture capture;
    setup_logging("info", "logfmt");
    spdlog::debug("hidden");
    spdlog::info(kTricky);
    spdlog::warn("careful");
    spdlog::error("broken {}", 42);
    text = capture.text();
  }
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 3);
  const std::regex info(
      R"(ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info msg="say \\"hi\\"\\nand \\\\ bye\\ttab")");
  CHECK(std::regex_match(lines[0], info));
  CHECK(lines[1].find(" level=warn msg=\"careful\"") != std::string::npos);
  CHECK(lines[2].find(" level=error msg=\"broken 42\"") != std::string::npos);
}

TEST_CASE("logging: json is one valid object a line", "[logging]") {
  std::string text;
  {
    StderrCapture capture;
    setup_logging("debug", "json");
    spdlog::debug(kTricky);
    spdlog::info(std::string("bad utf-8: \xff"));
    text = capture.text();
  }
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].rfind("{\"ts\":\"", 0) == 0);
  const auto record = nlohmann::json::parse(lines[0]);
  CHECK(record["level"] == "debug");
  CHECK(record["msg"] == kTricky);
  CHECK(std::regex_match(record["ts"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(lines[0].find("\\\"hi\\\"\\n") != std::string::npos);
  CHECK(nlohmann::json::parse(lines[1])["level"] == "info");
}

TEST_CASE("logging: levels filter", "[logging]") {
  std::string text;
  {
    StderrCapture capture;
    setup_logging("error", "logfmt");
    spdlog::info("no");
    spdlog::warn("no");
    spdlog::error("yes");
    text = capture.text();
  }
  CHECK(lines_of(text).size() == 1);
  setup_logging("info", "logfmt");
}

TEST_CASE("logging: unknown level or format", "[logging]") {
  CHECK_THROWS_AS(setup_logging("verbose", "logfmt"), UsageError);
  CHECK_THROWS_AS(setup_logging("info", "text"), UsageError);
  CHECK_THROWS_WITH(setup_logging("info", "text"),
                    Catch::Contains("--log.format") && Catch::Contains("\"text\""));
  CHECK_THROWS_WITH(setup_logging("trace", "json"), Catch::Contains("--log.level"));
}
