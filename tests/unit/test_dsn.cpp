#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <string>

#include "exporter/dsn.hpp"

using namespace pgscope;

namespace {

const std::string kSpecial = R"(p@ss'w\rd:/?)";

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/pgscope-dsn-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What libpq makes of a connection string; fails the test if it cannot.
std::map<std::string, std::string> conninfo(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  INFO(dsn << ": " << (error ? error : ""));
  if (error) PQfreemem(error);
  REQUIRE(options != nullptr);
  std::map<std::string, std::string> out;
  for (auto* o = options; o->keyword; ++o) {
    if (o->val) out[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return out;
}

std::string resolve_error(const std::string& flag, const Environment& env) {
  try {
    resolve_dsn(flag, env);
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("no UsageError");
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("dsn: flag and DATA_SOURCE_NAME, keyword and URI forms", "[dsn]") {
  auto kv = conninfo(resolve_dsn("host=db port=5433 user=u password=pw dbname=app", {}));
  CHECK(kv["host"] == "db");
  CHECK(kv["port"] == "5433");
  CHECK(kv["user"] == "u");
  CHECK(kv["password"] == "pw");
  CHECK(kv["dbname"] == "app");
  CHECK(kv["application_name"] == "pgscope-exporter");

  auto uri = conninfo(resolve_dsn("postgresql://u:p%40ss@db:5433/app?sslmode=require", {}));
  CHECK(uri["host"] == "db");
  CHECK(uri["password"] == "p@ss");
  CHECK(uri["sslmode"] == "require");
  CHECK(uri["application_name"] == "pgscope-exporter");

  CHECK(conninfo(resolve_dsn("host=db application_name=mine", {}))["application_name"] == "mine");
  CHECK(conninfo(resolve_dsn("postgres://db/x?application_name=mine", {}))["application_name"] == "mine");

  const Environment env = {{"DATA_SOURCE_NAME", "host=fromenv"}, {"POSTGRES_USER", "z"}};
  CHECK(conninfo(resolve_dsn("", env))["host"] == "fromenv");
  CHECK(conninfo(resolve_dsn("host=fromflag", env))["host"] == "fromflag");
  CHECK(resolve_dsn("", {}) == "");
}

TEST_CASE("dsn: DATA_SOURCE_URI with user and password", "[dsn]") {
  auto zalando = conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", ":5432/?sslmode=disable"},
                                           {"DATA_SOURCE_USER", "u"},
                                           {"DATA_SOURCE_PASS", "pw"}}));
  CHECK(zalando["host"] == "localhost");
  CHECK(zalando["port"] == "5432");
  CHECK(zalando["sslmode"] == "disable");
  CHECK(zalando["user"] == "u");
  CHECK(zalando["password"] == "pw");
  CHECK(zalando["application_name"] == "pgscope-exporter");

  auto remote = conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", "db.example:5432/postgres?sslmode=require"},
                                          {"DATA_SOURCE_USER", "u"},
                                          {"DATA_SOURCE_PASS", kSpecial}}));
  CHECK(remote["host"] == "db.example");
  CHECK(remote["dbname"] == "postgres");
  CHECK(remote["sslmode"] == "require");
  CHECK(remote["password"] == kSpecial);

  auto prefixed = conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", "postgresql://old:oldpw@db/x"},
                                            {"DATA_SOURCE_USER", "new"},
                                            {"DATA_SOURCE_PASS", "np"}}));
  CHECK(prefixed["user"] == "new");
  CHECK(prefixed["password"] == "np");
  CHECK(conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", "postgres://db/x"}}))["host"] == "db");

  // DATA_SOURCE_NAME wins over DATA_SOURCE_URI, as in postgres_exporter.
  CHECK(conninfo(resolve_dsn("", {{"DATA_SOURCE_NAME", "host=a"}, {"DATA_SOURCE_URI", "b:5432/"}}))["host"] ==
        "a");
}

TEST_CASE("dsn: DATA_SOURCE_PASS_FILE", "[dsn]") {
  TempFile secret(kSpecial + "\n");
  auto kv = conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", "localhost:5432/postgres?sslmode=disable"},
                                      {"DATA_SOURCE_USER", "u"},
                                      {"DATA_SOURCE_PASS", "ignored"},
                                      {"DATA_SOURCE_PASS_FILE", secret.path()}}));
  CHECK(kv["password"] == kSpecial);

  TempFile crlf("pw\r\n");
  CHECK(conninfo(resolve_dsn(
            "", {{"DATA_SOURCE_URI", "h/"}, {"DATA_SOURCE_PASS_FILE", crlf.path()}}))["password"] == "pw");

  const std::string missing =
      resolve_error("", {{"DATA_SOURCE_URI", "h/"}, {"DATA_SOURCE_PASS_FILE", "/nonexistent/pass"}});
  CHECK(missing.find("DATA_SOURCE_PASS_FILE: cannot read /nonexistent/pass: No such file or directory") == 0);
  CHECK(contains(resolve_error("", {{"DATA_SOURCE_URI", "h/"}, {"DATA_SOURCE_PASS_FILE", "/tmp"}}), "/tmp"));

  TempFile user("someone\n");
  CHECK(conninfo(resolve_dsn(
            "", {{"DATA_SOURCE_URI", "h/"}, {"DATA_SOURCE_USER_FILE", user.path()}}))["user"] == "someone");
}

TEST_CASE("dsn: Zalando POSTGRES_USER / POSTGRES_PASSWORD", "[dsn]") {
  auto kv = conninfo(resolve_dsn("", {{"POSTGRES_USER", "robot_zmon"}, {"POSTGRES_PASSWORD", kSpecial}}));
  CHECK(kv["host"] == "localhost");
  CHECK(kv["port"] == "5432");
  CHECK(kv["dbname"] == "postgres");
  CHECK(kv["sslmode"] == "disable");
  CHECK(kv["user"] == "robot_zmon");
  CHECK(kv["password"] == kSpecial);
  CHECK(kv["application_name"] == "pgscope-exporter");

  // Any DATA_SOURCE_* target beats the sidecar defaults.
  CHECK(conninfo(resolve_dsn("", {{"POSTGRES_USER", "z"}, {"DATA_SOURCE_URI", "db:5432/"}}))["host"] == "db");
  CHECK(resolve_dsn("", {{"POSTGRES_PASSWORD", "only"}}) == "");
}

TEST_CASE("dsn: special characters survive every source", "[dsn]") {
  std::string quoted = "'";
  for (char c : kSpecial) quoted += (c == '\'' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  quoted += "'";
  CHECK(conninfo(resolve_dsn("host=db password=" + quoted, {}))["password"] == kSpecial);
  CHECK(conninfo(resolve_dsn("", {{"DATA_SOURCE_NAME", "host=db password=" + quoted}}))["password"] ==
        kSpecial);
  CHECK(conninfo(resolve_dsn("postgresql://u:p%40ss%27w%5Crd%3A%2F%3F@db/x", {}))["password"] == kSpecial);
  CHECK(conninfo(resolve_dsn("", {{"DATA_SOURCE_URI", "db/x"},
                                  {"DATA_SOURCE_USER", "o'neil \\"},
                                  {"DATA_SOURCE_PASS", kSpecial}}))["user"] == "o'neil \\");
  auto spaced = conninfo(resolve_dsn(R"(host='a b' dbname='x\'y' user=a\ b)", {}));
  CHECK(spaced["host"] == "a b");
  CHECK(spaced["dbname"] == "x'y");
  CHECK(spaced["user"] == "a b");
}

TEST_CASE("dsn: errors name the source and never the password", "[dsn]") {
  const std::string name_error = resolve_error("", {{"DATA_SOURCE_NAME", "host=db password=s3cret oops"}});
  CHECK(name_error.find("DATA_SOURCE_NAME: invalid connection string: ") == 0);
  CHECK_FALSE(contains(name_error, "s3cret"));

  const std::string uri_error = resolve_error("", {{"DATA_SOURCE_NAME", "postgresql://u:s3cret@[::1/x"}});
  CHECK_FALSE(contains(uri_error, "s3cret"));
  CHECK(contains(uri_error, "xxxxx"));

  const std::string split = resolve_error("password=abc def host=x", {});
  CHECK(split.find("--postgres.dsn: ") == 0);
  CHECK_FALSE(contains(split, "abc"));
  CHECK_FALSE(contains(split, "def"));

  const std::string with_pass = resolve_error(
      "", {{"DATA_SOURCE_URI", "db/?bad"}, {"DATA_SOURCE_USER", "u"}, {"DATA_SOURCE_PASS", kSpecial}});
  CHECK(with_pass.find("DATA_SOURCE_URI: invalid connection string") == 0);
  CHECK_FALSE(contains(with_pass, kSpecial));

  const std::string special_uri = "postgresql://u:" + kSpecial + "@[::1/x";
  CHECK_FALSE(contains(resolve_error(special_uri, {}), "ss'w"));

  CHECK(resolve_error("", {{"DATA_SOURCE_PASS", "pw"}}).find("DATA_SOURCE_PASS is set but DATA_SOURCE_URI") ==
        0);
  CHECK_FALSE(contains(resolve_error("", {{"DATA_SOURCE_PASS", "pw"}}), "pw\""));
}

TEST_CASE("dsn: redact_dsn", "[dsn]") {
  CHECK(redact_dsn("host=db password=s3cret user=u") == "host=db password=xxxxx user=u");
  CHECK(redact_dsn("postgresql://u:s3cret@db:5432/x?sslmode=disable") ==
        "postgresql://u:xxxxx@db:5432/x?sslmode=disable");
  CHECK(redact_dsn("postgresql://db/x?password=s3cret&sslmode=disable") ==
        "postgresql://db/x?password=xxxxx&sslmode=disable");
  CHECK(redact_dsn("host=db user=u") == "host=db user=u");
  CHECK(redact_dsn("postgresql://u@db/x") == "postgresql://u@db/x");
  CHECK(redact_dsn("host=db sslpassword=k3y") == "host=db sslpassword=xxxxx");

  const std::string resolved = resolve_dsn("", {{"POSTGRES_USER", "u"}, {"POSTGRES_PASSWORD", kSpecial}});
  const std::string redacted = redact_dsn(resolved);
  CHECK_FALSE(contains(redacted, "ss'w"));
  CHECK(conninfo(redacted)["password"] == "xxxxx");
  CHECK(conninfo(redacted)["user"] == "u");

  // libpq takes the first '@'; redaction still hides everything up to the last.
  CHECK(redact_dsn("postgresql://u:p@ss@db/x") == "postgresql://u:xxxxx@db/x");

  // Strings libpq rejects are still redacted.
  for (const std::string& bad : std::vector<std::string>{
           "host=db password=abc def oops", "password='unter\\'minated", "postgresql://u:s3cret@[::1/x",
           "PASSWORD = abc other", "postgresql://u:" + kSpecial + "@db/?x"}) {
    CAPTURE(bad);
    const std::string out = redact_dsn(bad);
    CHECK(contains(out, "xxxxx"));
    CHECK_FALSE(contains(out, "abc"));
    CHECK_FALSE(contains(out, "def"));
    CHECK_FALSE(contains(out, "s3cret"));
    CHECK_FALSE(contains(out, "minated"));
    CHECK_FALSE(contains(out, "ss'w"));
  }
}

TEST_CASE("dsn: scrub_secret", "[dsn]") {
  CHECK(scrub_secret("connection to host=db password=s3cret failed: s3cret", "host=db password=s3cret") ==
        "connection to host=db password=xxxxx failed: xxxxx");
  CHECK(scrub_secret("bad \"postgresql://u:p%40ss@db\" p@ss", "postgresql://u:p%40ss@db") ==
        "bad \"postgresql://u:xxxxx@db\" xxxxx");
  CHECK(scrub_secret("missing \"=\" after \"def\"", "password=abc def") == "missing \"=\" after \"xxxxx\"");
  CHECK(scrub_secret("no secret here", "host=db") == "no secret here");
  const std::string resolved = resolve_dsn("", {{"POSTGRES_USER", "u"}, {"POSTGRES_PASSWORD", kSpecial}});
  CHECK(scrub_secret("FATAL: " + kSpecial + " rejected", resolved) == "FATAL: xxxxx rejected");
}

TEST_CASE("a URI with an unencoded '@' in the password is refused without echoing it", "[dsn]") {
  try {
    pgscope::resolve_dsn("postgresql://postgres:sec@ret99@db.example:5432/postgres", {});
    FAIL("accepted");
  } catch (const pgscope::UsageError& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("%40"));
    CHECK_THAT(message, !Catch::Contains("ret99"));
    CHECK_THAT(message, !Catch::Contains("sec"));
  }
  // Encoded, it works and the whole password survives.
  CHECK_THAT(pgscope::resolve_dsn("postgresql://postgres:sec%40ret99@db.example:5432/postgres", {}),
             Catch::Contains("sec@ret99"));
}

TEST_CASE("dsn: /probe targets take credentials from the auth module only", "[dsn]") {
  auto kv = conninfo(pgscope::probe_dsn("db.example:6432/shop?sslmode=require", "prober", "s3cr'et",
                                        {{"connect_timeout", "3"}}, "postgres"));
  CHECK(kv["host"] == "db.example");
  CHECK(kv["port"] == "6432");
  CHECK(kv["dbname"] == "shop");
  CHECK(kv["sslmode"] == "require");
  CHECK(kv["user"] == "prober");
  CHECK(kv["password"] == "s3cr'et");
  CHECK(kv["connect_timeout"] == "3");
  CHECK(kv["application_name"] == "pgscope-exporter");

  auto default_db = conninfo(pgscope::probe_dsn("host=10.0.0.1 port=5432", "", "", {}, "pgbouncer"));
  CHECK(default_db["dbname"] == "pgbouncer");
  CHECK(default_db["host"] == "10.0.0.1");
  auto uri = conninfo(pgscope::probe_dsn("postgresql://db.example/app", "", "", {}, "postgres"));
  CHECK(uri["dbname"] == "app");

  auto error_of = [](const std::string& target) {
    try {
      pgscope::probe_dsn(target, "u", "p", {}, "postgres");
    } catch (const pgscope::UsageError& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  CHECK_THAT(error_of("postgresql://u:hunter2@db.example/app"), Catch::Contains("auth module"));
  CHECK_THAT(error_of("host=db.example password=hunter2"), Catch::Contains("auth module"));
  CHECK(error_of("postgresql://u:hunter2@db.example/app").find("hunter2") == std::string::npos);
  CHECK_THAT(error_of(""), Catch::Contains("target is empty"));
  CHECK_THAT(error_of("dbname=app"), Catch::Contains("names no host"));
  CHECK_THAT(error_of("host=db.example nosuchkey=1"), Catch::Contains("not a connection string"));
}
