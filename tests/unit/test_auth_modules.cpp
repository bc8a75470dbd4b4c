// The config file's auth_modules: postgres_exporter's form, mistakes named by
// file and line, secrets read from files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "exporter/config_sections.hpp"

using namespace pgscope;

namespace {

struct TempConfig {
  explicit TempConfig(const std::string& text) {
    char pattern[] = "/tmp/pgscope-auth-XXXXXX";
    const int fd = mkstemp(pattern);
    close(fd);
    path = pattern;
    std::ofstream(path) << text;
  }
  ~TempConfig() { std::remove(path.c_str()); }
  std::string path;
};

std::string error_of(const std::string& text) {
  TempConfig config(text);
  try {
    load_auth_modules(config.path);
  } catch (const UsageError& error) {
    std::string message = error.what();
    return message.rfind(config.path, 0) == 0 ? "CONFIG" + message.substr(config.path.size()) : message;
  }
  return "";
}

}  // namespace

TEST_CASE("auth_modules: postgres_exporter's form", "[options]") {
  TempConfig secret("from-a-file\n");
  TempConfig config(
      "auth_modules:\n"
      "  first:\n"
      "    type: userpass\n"
      "    userpass:\n"
      "      username: alice\n"
      "      password: inline\n"
      "    options:\n"
      "      sslmode: require\n"
      "  second:\n"
      "    type: userpass\n"
      "    userpass: {username: bob, password_file: " +
      secret.path + "}\n");
  auto modules = load_auth_modules(config.path);
  REQUIRE(modules.size() == 2);
  CHECK(modules.at("first").username == "alice");
  CHECK(modules.at("first").password == "inline");
  CHECK(modules.at("first").options ==
        std::vector<std::pair<std::string, std::string>>{{"sslmode", "require"}});
  CHECK(modules.at("second").password == "from-a-file");
  CHECK(load_auth_modules("").empty());
  CHECK(load_auth_modules(TempConfig("web: {}\n").path).empty());
}

TEST_CASE("auth_modules: mistakes name the place and what to do", "[options]") {
  CHECK(error_of("auth_modules:\n  m:\n    type: token\n    userpass: {username: a}\n") ==
        "CONFIG:3:11: auth module \"m\": type must be userpass (the only kind postgres_exporter knows)");
  CHECK(error_of("auth_modules:\n  m:\n    type: userpass\n    userpass: {user: a}\n") ==
        "CONFIG:4:16: unknown key \"user\" in auth module \"m\" userpass (expected one of: password, "
        "password_file, username)");
  CHECK(error_of("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: a}\n    options: {host: "
                 "x}\n") ==
        "CONFIG:5:15: auth module \"m\": \"host\" is not a connection option it may set (target and userpass "
        "say the rest)");
  CHECK_THAT(error_of("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: a, password_file: "
                      "/nonexistent}\n"),
             Catch::Contains("cannot read password_file of auth module \"m\" /nonexistent"));
  CHECK_THAT(error_of("auth_modules: [a]\n"), Catch::Contains("auth_modules must be a map"));
}
