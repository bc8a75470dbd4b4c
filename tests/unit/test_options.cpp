#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "exporter/dsn.hpp"
#include "exporter/options.hpp"

using namespace pgscope;
using namespace std::chrono_literals;

namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/pgscope-options-XXXXXX.yaml";
    const int fd = mkstemps(name, 5);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Options parse(std::vector<std::string> args, const Environment& env = {}) {
  std::vector<const char*> argv = {"pgscope-exporter"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data(), env);
}

// The UsageError message, checked to be a single line.
std::string error_of(std::vector<std::string> args, const Environment& env = {}) {
  try {
    parse(std::move(args), env);
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    CHECK_FALSE(message.empty());
    return message;
  }
  FAIL("no UsageError");
  return "";
}

std::string password_of(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  REQUIRE(options != nullptr);
  std::string password;
  for (auto* o = options; o->keyword; ++o) {
    if (std::string(o->keyword) == "password" && o->val) password = o->val;
  }
  PQconninfoFree(options);
  return password;
}

}  // namespace

TEST_CASE("options: defaults", "[options]") {
  const Options o = parse({});
  CHECK(o.listen_address == ":9187");
  CHECK(o.telemetry_path == "/metrics");
  CHECK(o.web_config_file.empty());
  CHECK(o.scrape_timeout == 10s);
  CHECK(o.config_file.empty());
  CHECK(o.log_level == "info");
  CHECK(o.log_format == "logfmt");
  CHECK(o.collectors.empty());
  CHECK(o.postgres.dsn.empty());
  CHECK(o.postgres.include_databases.empty());
  CHECK(o.postgres.exclude_databases.empty());
  CHECK(o.postgres.table_limit == 200);
  CHECK(o.postgres.statement_limit == 100);
  CHECK(o.postgres.statement_timeout == 5s);
  CHECK(o.postgres.lock_timeout == 1s);
  CHECK_FALSE(o.show_help);
  CHECK_FALSE(o.show_version);
  CHECK_FALSE(o.dump_catalog);
  CHECK_FALSE(o.dump_metrics_reference);
  CHECK(o.warnings.empty());
}

TEST_CASE("options: flag forms", "[options]") {
  CHECK(parse({"--web.listen-address=:1234"}).listen_address == ":1234");
  CHECK(parse({"--web.listen-address", "127.0.0.1:1234"}).listen_address == "127.0.0.1:1234");
  CHECK(parse({"--web.telemetry-path", "/m"}).telemetry_path == "/m");
  CHECK(parse({"--web.config.file=/etc/web.yml"}).web_config_file == "/etc/web.yml");
  CHECK(parse({"--log.level=debug", "--log.format", "json"}).log_format == "json");
  CHECK(parse({"--postgres.table-limit=5", "--postgres.statement-limit", "7"}).postgres.statement_limit == 7);
  CHECK(parse({"--dump-catalog"}).dump_catalog);
  CHECK(parse({"--dump-catalog=true", "--no-dump-catalog"}).dump_catalog == false);
  CHECK(parse({"--dump-metrics-reference"}).dump_metrics_reference);
  CHECK(parse({"--version"}).show_version);
  CHECK(parse({"--help"}).show_help);
  CHECK(parse({"-h"}).show_help);
  CHECK(parse({"--web.listen-address=:1", "--web.listen-address=:2"}).listen_address == ":2");

  const Options c = parse({"--collector.stat_statements", "--no-collector.locks", "--collector.wal=false",
                           "--collector.x1=true"});
  CHECK(c.collectors == std::map<std::string, bool>{
                            {"stat_statements", true}, {"locks", false}, {"wal", false}, {"x1", true}});

  const Options l = parse({"--postgres.exclude-databases=a, b,,c", "--include-databases", "x"});
  CHECK(l.postgres.exclude_databases == std::vector<std::string>{"a", "b", "c"});
  CHECK(l.postgres.include_databases == std::vector<std::string>{"x"});
  CHECK(parse({"--exclude-databases=t1"}).postgres.exclude_databases == std::vector<std::string>{"t1"});
}

TEST_CASE("options: durations", "[options]") {
  auto timeout = [](const std::string& text) { return parse({"--scrape.timeout=" + text}).scrape_timeout; };
  CHECK(timeout("10s") == 10s);
  CHECK(timeout("500ms") == 500ms);
  CHECK(timeout("1m") == 1min);
  CHECK(timeout("1m30s") == 90s);
  CHECK(timeout("1.5s") == 1500ms);
  CHECK(timeout("2h") == 2h);
  CHECK(parse({"--postgres.statement-timeout=0s"}).postgres.statement_timeout == 0ms);
  CHECK(parse({"--postgres.lock-timeout=250ms"}).postgres.lock_timeout == 250ms);

  for (const std::string bad : {"abc", "10", "-1s", "10x", "", "s", "1..5s", "5us"}) {
    CAPTURE(bad);
    CHECK(error_of({"--scrape.timeout=" + bad}) ==
          "--scrape.timeout: \"" + bad + "\" is not a duration (use e.g. 10s or 500ms)");
  }
  CHECK(error_of({"--scrape.timeout=0s"}).find("--scrape.timeout: \"0s\" must be longer than 0") == 0);
}

TEST_CASE("options: environment", "[options]") {
  const Options o = parse({}, {{"PG_EXPORTER_WEB_LISTEN_ADDRESS", ":2000"},
                               {"PG_EXPORTER_WEB_TELEMETRY_PATH", "/x"},
                               {"PG_EXPORTER_SCRAPE_TIMEOUT", "3s"},
                               {"PG_EXPORTER_COLLECTOR_STAT_STATEMENTS", "false"},
                               {"PG_EXPORTER_COLLECTOR_LOCKS", "true"},
                               {"PG_EXPORTER_POSTGRES_TABLE_LIMIT", "9"},
                               {"PG_EXPORTER_POSTGRES_STATEMENT_TIMEOUT", "2s"},
                               {"PG_EXPORTER_EXCLUDE_DATABASES", "template0,template1"},
                               {"PG_EXPORTER_INCLUDE_DATABASES", "app"},
                               {"PG_EXPORTER_LOG_LEVEL", "warn"},
                               {"PG_EXPORTER_WEB_CONFIG_FILE", ""}});  // empty: unset
  CHECK(o.listen_address == ":2000");
  CHECK(o.telemetry_path == "/x");
  CHECK(o.scrape_timeout == 3s);
  CHECK(o.collectors == std::map<std::string, bool>{{"stat_statements", false}, {"locks", true}});
  CHECK(o.postgres.table_limit == 9);
  CHECK(o.postgres.statement_timeout == 2s);
  CHECK(o.postgres.exclude_databases == std::vector<std::string>{"template0", "template1"});
  CHECK(o.postgres.include_databases == std::vector<std::string>{"app"});
  CHECK(o.log_level == "warn");
  CHECK(o.web_config_file.empty());

  // The pgscope name wins over postgres_exporter's.
  CHECK(parse({}, {{"PG_EXPORTER_EXCLUDE_DATABASES", "a"}, {"PG_EXPORTER_POSTGRES_EXCLUDE_DATABASES", "b"}})
            .postgres.exclude_databases == std::vector<std::string>{"b"});

  // Actions are flags only: a container's PG_EXPORTER_VERSION=0.15.0 must not matter.
  const Options v = parse({}, {{"PG_EXPORTER_VERSION", "0.15.0"}});
  CHECK_FALSE(v.show_version);
  CHECK(v.warnings.empty());

  const Options w = parse({}, {{"PG_EXPORTER_WEB_LISTEN_ADRESS", ":1"}});
  REQUIRE(w.warnings.size() == 1);
  CHECK(w.warnings[0].find("PG_EXPORTER_WEB_LISTEN_ADRESS") != std::string::npos);
  CHECK(w.warnings[0].find("did you mean PG_EXPORTER_WEB_LISTEN_ADDRESS?") != std::string::npos);

  CHECK(error_of({}, {{"PG_EXPORTER_SCRAPE_TIMEOUT", "abc"}}) ==
        "PG_EXPORTER_SCRAPE_TIMEOUT: \"abc\" is not a duration (use e.g. 10s or 500ms)");
  CHECK(error_of({}, {{"PG_EXPORTER_COLLECTOR_WAL", "maybe"}}) ==
        "PG_EXPORTER_COLLECTOR_WAL: \"maybe\" is not a boolean (use true or false)");
  CHECK(
      error_of({}, {{"PG_EXPORTER_POSTGRES_TABLE_LIMIT", "-3"}}).find("PG_EXPORTER_POSTGRES_TABLE_LIMIT: ") ==
      0);
}

TEST_CASE("options: config file", "[options]") {
  TempFile config(R"(web:
  listen_address: "127.0.0.1:9999"
  telemetry_path: /prom
  config_file: /etc/web.yml
scrape: {timeout: 4s}
log:
  level: debug
  format: json
collectors:
  stat_statements: false
  locks: yes
postgres:
  include_databases: [app, "other"]
  exclude_databases: template0, template1
  table_limit: 10
  statement_limit: 20
  statement_timeout: 3s
  lock_timeout: 100ms
queries:
  anything: {goes: [here]}
auth_modules:
  foo: {type: userpass}
)");
  const Options o = parse({"--config.file", config.path()});
  CHECK(o.config_file == config.path());
  CHECK(o.listen_address == "127.0.0.1:9999");
  CHECK(o.telemetry_path == "/prom");
  CHECK(o.web_config_file == "/etc/web.yml");
  CHECK(o.scrape_timeout == 4s);
  CHECK(o.log_level == "debug");
  CHECK(o.log_format == "json");
  CHECK(o.collectors == std::map<std::string, bool>{{"stat_statements", false}, {"locks", true}});
  CHECK(o.postgres.include_databases == std::vector<std::string>{"app", "other"});
  CHECK(o.postgres.exclude_databases == std::vector<std::string>{"template0", "template1"});
  CHECK(o.postgres.table_limit == 10);
  CHECK(o.postgres.statement_limit == 20);
  CHECK(o.postgres.statement_timeout == 3s);
  CHECK(o.postgres.lock_timeout == 100ms);

  TempFile empty("");
  CHECK(parse({"--config.file=" + empty.path()}).listen_address == ":9187");
  TempFile sections("web:\nlog:\n");
  CHECK(parse({"--config.file=" + sections.path()}).log_level == "info");
}

TEST_CASE("options: precedence flag > environment > config file > default", "[options]") {
  TempFile config(
      "web: {listen_address: ':1'}\nscrape: {timeout: 1s}\ncollectors: {a: true, b: true, c: true}\n");
  const Environment env = {{"PG_EXPORTER_CONFIG_FILE", config.path()},
                           {"PG_EXPORTER_WEB_LISTEN_ADDRESS", ":2"},
                           {"PG_EXPORTER_COLLECTOR_B", "false"},
                           {"PG_EXPORTER_COLLECTOR_C", "false"}};
  const Options all = parse({"--web.listen-address=:3", "--collector.c"}, env);
  CHECK(all.listen_address == ":3");
  CHECK(all.scrape_timeout == 1s);
  CHECK(all.telemetry_path == "/metrics");
  CHECK(all.collectors == std::map<std::string, bool>{{"a", true}, {"b", false}, {"c", true}});
  CHECK(parse({}, env).listen_address == ":2");
  CHECK(parse({"--config.file", config.path()}).listen_address == ":1");

  TempFile other("web: {listen_address: ':4'}\n");
  CHECK(parse({"--config.file=" + other.path()}, env).listen_address == ":2");
  CHECK(
      parse({"--config.file=" + other.path()}, {{"PG_EXPORTER_CONFIG_FILE", config.path()}}).listen_address ==
      ":4");
}

TEST_CASE("options: flag errors are one line naming the flag", "[options]") {
  CHECK(error_of({"--web.listen-adress=:1"}).find("unknown flag --web.listen-adress (") == 0);
  CHECK(error_of({"--web.listen-adress=:1"}).find("did you mean --web.listen-address?") != std::string::npos);
  CHECK(error_of({"--bogus"}) == "unknown flag --bogus (see --help)");
  CHECK(error_of({"--no-web.listen-address"}).find("unknown flag --no-web.listen-address") == 0);
  CHECK(error_of({"--scrape.timeout"}) == "--scrape.timeout needs a value (e.g. --scrape.timeout=DURATION)");
  CHECK(error_of({"--scrape.timeout", "--version=false"}).find("--scrape.timeout needs a value") == 0);
  CHECK(error_of({"-web.listen-address=:1"}).find("unknown flag -web.listen-address (flags start with two") ==
        0);
  CHECK(error_of({"--web.telemetry-path=metrics"}) ==
        "--web.telemetry-path: \"metrics\" must start with / (e.g. /metrics)");
  CHECK(error_of({"--log.level=verbose"}) ==
        "--log.level: \"verbose\" is not a log level (use debug, info, warn or error)");
  CHECK(error_of({"--log.format=text"}).find("--log.format: \"text\" is not a log format") == 0);
  CHECK(error_of({"--postgres.table-limit=0"})
            .find("--postgres.table-limit: \"0\" is not a positive integer") == 0);
  CHECK(error_of({"--postgres.statement-limit=1x"}).find("--postgres.statement-limit: \"1x\"") == 0);
  CHECK(error_of({"--collector.wal=maybe"}) ==
        "--collector.wal: \"maybe\" is not a boolean (use true or false)");
  CHECK(error_of({"--collector.Stat-Statements"}).find("--collector.Stat-Statements: collector names") == 0);
  CHECK(error_of({"--no-collector.wal=true"}).find("--no-collector.wal takes no value") == 0);
  CHECK(error_of({"--web.listen-address="}).find("--web.listen-address: \"\" is empty") == 0);
  CHECK(error_of({"--web.telemetry-path=a\nb"}).find("\"a\\nb\"") != std::string::npos);
  // A flag name with a line break (a script's stray "\n") stays on one line,
  // the break written out.
  CHECK(error_of({"--no-collector.locks\n--help"}).find("--no-collector.locks\\x0a--help") == 0);

  // A shell-split DSN leaves the password as a stray argument: never echo it.
  const std::string stray = error_of({"--postgres.dsn", "host=db", "password=s3cret"});
  CHECK(stray.find("unexpected argument") == 0);
  CHECK(stray.find("s3cret") == std::string::npos);
}

TEST_CASE("options: config file errors name file:line:column", "[options]") {
  TempFile typo("# comment\n\nscrape:\n  timeout: 5s\n\nweb:\n  listen_adress: ':1'\n");
  CHECK(error_of({"--config.file=" + typo.path()}) ==
        typo.path() +
            ":7:3: unknown key \"listen_adress\" in section \"web\" (expected one of: listen_address, "
            "telemetry_path, config_file)");

  TempFile top("webs:\n  listen_address: ':1'\n");
  CHECK(error_of({"--config.file=" + top.path()}) ==
        top.path() +
            ":1:1: unknown top-level key \"webs\" (expected one of: web, scrape, log, collectors, postgres, "
            "patroni, pgbouncer, probe, "
            "queries, auth_modules)");

  TempFile value("scrape:\n  timeout: abc\n");
  CHECK(error_of({"--config.file=" + value.path()}) ==
        value.path() + ":2:3: scrape.timeout: \"abc\" is not a duration (use e.g. 10s or 500ms)");

  TempFile syntax("web:\n  listen_address: [':1'\nscrape: {}\n");
  const std::string syntax_error = error_of({"--config.file=" + syntax.path()});
  CHECK(syntax_error.find(syntax.path() + ":") == 0);
  CHECK(syntax_error.find("invalid YAML") != std::string::npos);

  // The YAML parser's message quotes the bad escape's character (a CR):
  // written out, the message stays on one line.
  TempFile escape("a: \"\\\rb\"\n");
  CHECK(error_of({"--config.file=" + escape.path()}).find("\\x0d") != std::string::npos);

  TempFile tab("web:\n\tlisten_address: x\n");
  CHECK(error_of({"--config.file=" + tab.path()}).find(tab.path() + ":2:") == 0);

  TempFile not_map("- a\n- b\n");
  CHECK(error_of({"--config.file=" + not_map.path()}).find(not_map.path() + ":1:1: ") == 0);
  TempFile section("web: 3\n");
  CHECK(error_of({"--config.file=" + section.path()}).find("section \"web\" must be a map") !=
        std::string::npos);
  TempFile list("web: {listen_address: [a, b]}\n");
  CHECK(error_of({"--config.file=" + list.path()}).find("web.listen_address: expected a single value") !=
        std::string::npos);
  TempFile null_value("log:\n  level:\n");
  CHECK(error_of({"--config.file=" + null_value.path()}).find(":2:3: log.level: has no value") !=
        std::string::npos);
  TempFile collector("collectors:\n  stat-statements: true\n");
  CHECK(error_of({"--config.file=" + collector.path()}).find(":2:3: collector name \"stat-statements\"") !=
        std::string::npos);
  TempFile config_in_config("config:\n  file: x\n");
  CHECK(error_of({"--config.file=" + config_in_config.path()}).find("unknown top-level key \"config\"") !=
        std::string::npos);

  CHECK(error_of({"--config.file=/nonexistent/x.yaml"}) ==
        "cannot read config file /nonexistent/x.yaml: No such file or directory");
  CHECK(error_of({}, {{"PG_EXPORTER_CONFIG_FILE", "/nonexistent/y.yaml"}}).find("/nonexistent/y.yaml") !=
        std::string::npos);
}

TEST_CASE("options: DSN sources and precedence", "[options]") {
  TempFile config("postgres:\n  dsn: host=fromconfig\n");
  const std::string with_config = "--config.file=" + config.path();
  auto host_of = [](const Options& o) { return o.postgres.dsn.substr(0, o.postgres.dsn.find(' ')); };
  CHECK(host_of(parse({"--postgres.dsn=host=flag"}, {{"DATA_SOURCE_NAME", "host=env"}})) == "host='flag'");
  CHECK(host_of(parse({}, {{"PG_EXPORTER_POSTGRES_DSN", "host=pgenv"}, {"DATA_SOURCE_NAME", "host=env"}})) ==
        "host='pgenv'");
  CHECK(host_of(parse({with_config}, {{"DATA_SOURCE_NAME", "host=env"}})) == "host='env'");
  CHECK(host_of(parse({with_config}, {{"POSTGRES_USER", "zalando"}})) == "host='fromconfig'");
  CHECK(host_of(parse({with_config})) == "host='fromconfig'");
  CHECK(parse({}, {{"POSTGRES_USER", "zalando"}}).postgres.dsn.find("user='zalando'") != std::string::npos);

  // Errors name the source and hide the password.
  const std::string flag_error = error_of({"--postgres.dsn=postgresql://u:s3cret@[::1/x"});
  CHECK(flag_error.find("--postgres.dsn: invalid connection string") == 0);
  CHECK(flag_error.find("s3cret") == std::string::npos);
  const std::string env_error = error_of({}, {{"PG_EXPORTER_POSTGRES_DSN", "password=s3cret bad"}});
  CHECK(env_error.find("PG_EXPORTER_POSTGRES_DSN: ") == 0);
  CHECK(env_error.find("s3cret") == std::string::npos);
  TempFile bad("\npostgres:\n  dsn: \"password=s3cret bad\"\n");
  const std::string config_error = error_of({"--config.file=" + bad.path()});
  CHECK(config_error.find(bad.path() + ":3:3: postgres.dsn: invalid connection string") == 0);
  CHECK(config_error.find("s3cret") == std::string::npos);

  const std::string special = R"(p@ss'w\rd:/?)";
  CHECK(password_of(parse({}, {{"DATA_SOURCE_URI", "localhost:5432/postgres"},
                               {"DATA_SOURCE_USER", "u"},
                               {"DATA_SOURCE_PASS", special}})
                        .postgres.dsn) == special);
}

TEST_CASE("options: --help works with a broken environment; help lists every flag", "[options]") {
  CHECK(parse({"--help"}, {{"PG_EXPORTER_SCRAPE_TIMEOUT", "abc"}}).show_help);
  CHECK(parse({"--version", "--bogus"}).show_version);
  const std::string help = help_text();
  for (const char* expected : {"--web.listen-address",
                               "--web.telemetry-path",
                               "--web.config.file",
                               "--postgres.dsn",
                               "--scrape.timeout",
                               "--config.file",
                               "--log.level",
                               "--log.format",
                               "--collector.NAME",
                               "--no-collector.NAME",
                               "--postgres.include-databases",
                               "--postgres.exclude-databases",
                               "--include-databases",
                               "--exclude-databases",
                               "--postgres.table-limit",
                               "--postgres.statement-limit",
                               "--postgres.statement-timeout",
                               "--postgres.lock-timeout",
                               "--version",
                               "--help",
                               "--dump-catalog",
                               "--dump-metrics-reference",
                               "PG_EXPORTER_WEB_LISTEN_ADDRESS",
                               "PG_EXPORTER_SCRAPE_TIMEOUT",
                               "PG_EXPORTER_COLLECTOR_NAME",
                               "PG_EXPORTER_POSTGRES_TABLE_LIMIT",
                               "PG_EXPORTER_CONFIG_FILE",
                               "PG_EXPORTER_EXCLUDE_DATABASES",
                               "default: :9187",
                               "default: /metrics",
                               "default: 10s",
                               "default: 200",
                               "default: 100",
                               "default: 5s",
                               "default: 1s",
                               "default: info",
                               "default: logfmt",
                               "DATA_SOURCE_NAME",
                               "DATA_SOURCE_URI",
                               "DATA_SOURCE_PASS_FILE",
                               "POSTGRES_USER"}) {
    CAPTURE(expected);
    CHECK(help.find(expected) != std::string::npos);
  }
}

TEST_CASE("options: current_environment reads the process environment", "[options]") {
  ::setenv("PGSCOPE_TEST_VARIABLE", "a=b", 1);
  const Environment env = current_environment();
  ::unsetenv("PGSCOPE_TEST_VARIABLE");
  REQUIRE(env.count("PGSCOPE_TEST_VARIABLE") == 1);
  CHECK(env.at("PGSCOPE_TEST_VARIABLE") == "a=b");
}
