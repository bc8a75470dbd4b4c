#include <catch2/catch.hpp>

#include "operator/cluster/settings.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_settings {

using namespace pgscope::op;
using Env = std::map<std::string, std::string>;

namespace {

// The UsageError message of parsing these, or "" if it parsed.
std::string usage_error(const std::vector<std::string>& args, const Env& env = {}) {
  try {
    parse_settings(args, env);
  } catch (const UsageError& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.find('\n') == std::string::npos);  // one line
    return message;
  }
  return "";
}

}  // namespace

TEST_CASE("settings: defaults as documented") {
  const auto s = parse_settings({}, {});
  CHECK(s.monitor_kind == MonitorKind::ServiceMonitor);
  CHECK_FALSE(s.inject_sidecars);
  CHECK(s.exporter_image == "ghcr.io/pgscope/pgscope-exporter:0.1.0");
  CHECK(s.exporter_port == 9187);
  CHECK(s.labels.empty());
  CHECK(s.release.empty());
  CHECK(s.dashboards_namespace.empty());
  CHECK(s.dashboard_label_key == "grafana_dashboard");
  CHECK(s.dashboard_label_value == "1");
  CHECK(s.dashboards);
  CHECK(s.rules);
  CHECK(s.cluster_label == "cluster");
  CHECK(s.scrape_interval == "30s");
  CHECK(s.scrape_timeout == "10s");
  CHECK(s.monitoring_user == "postgres");
  CHECK(s.zalando.cluster_labels == std::map<std::string, std::string>{{"application", "spilo"}});
  CHECK(s.zalando.cluster_name_label == "cluster-name");
  CHECK(s.zalando.pod_role_label == "spilo-role");
  CHECK(s.zalando.team_label == "team");
  CHECK(s.zalando.secret_name_template == "{username}.{cluster}.credentials.postgresql.acid.zalan.do");
  CHECK(s.zalando.pooler_user == "pooler");
  CHECK(s.namespaces.empty());
  CHECK_FALSE(s.leader_elect);
  CHECK(s.leader_elect_lease_name == "pgscope-operator");
  CHECK(s.leader_elect_lease_duration == std::chrono::seconds(15));
  CHECK(s.leader_elect_renew_deadline == std::chrono::seconds(10));
  CHECK(s.leader_elect_retry_period == std::chrono::seconds(2));
  CHECK(s.listen_address == ":8080");
  CHECK(s.resync_period == std::chrono::minutes(10));
  CHECK(s.workers == 2);
  CHECK(s.log_level == "info");
  CHECK(s.filename.empty());
  CHECK_FALSE(s.help);
}

TEST_CASE("settings: flag forms") {
  const auto s =
      parse_settings({"--release=kps", "--monitor-kind", "PodMonitor", "--inject-sidecars", "--no-rules",
                      "--labels=team=db,tier=gold", "-f", "pg.yaml", "--dashboard-label", "dash=yes",
                      "--namespaces=a,b", "--leader-elect.lease-duration=1m", "--log.level=debug"},
                     {});
  CHECK(s.release == "kps");
  CHECK(s.monitor_kind == MonitorKind::PodMonitor);
  CHECK(s.inject_sidecars);
  CHECK_FALSE(s.rules);
  CHECK(s.dashboards);
  CHECK(s.labels == std::map<std::string, std::string>{{"team", "db"}, {"tier", "gold"}});
  CHECK(s.filename == "pg.yaml");
  CHECK(s.dashboard_label_key == "dash");
  CHECK(s.dashboard_label_value == "yes");
  CHECK(s.namespaces == std::vector<std::string>{"a", "b"});
  CHECK(s.leader_elect_lease_duration == std::chrono::minutes(1));
  CHECK(s.log_level == "debug");

  CHECK_FALSE(parse_settings({"--inject-sidecars=false"}, {}).inject_sidecars);
  CHECK_FALSE(parse_settings({"--inject-sidecars", "--no-inject-sidecars"}, {}).inject_sidecars);
  CHECK(parse_settings({"-f=-"}, {}).filename == "-");
  CHECK(parse_settings({"--filename", "x.yaml"}, {}).filename == "x.yaml");
  CHECK(parse_settings({"--help"}, {}).help);
  CHECK(parse_settings({"-h"}, {}).help);
  CHECK(parse_settings({"--scrape-interval=1m30s", "--scrape-timeout=1m"}, {}).scrape_timeout == "1m");
  CHECK(parse_settings({"--release=a", "--release=b"}, {}).release == "b");  // the last one wins
}

TEST_CASE("settings: environment, and flags over it") {
  const Env env{{"PGSCOPE_OPERATOR_RELEASE", "from-env"},
                {"PGSCOPE_OPERATOR_ZALANDO_POOLER_USER", "bouncer"},
                {"PGSCOPE_OPERATOR_INJECT_SIDECARS", "true"},
                {"PGSCOPE_OPERATOR_DASHBOARDS", "false"},
                {"PGSCOPE_OPERATOR_LEADER_ELECT_RETRY_PERIOD", "500ms"},
                {"PGSCOPE_OPERATOR_WORKERS", "4"},
                {"UNRELATED", "x"}};
  const auto from_env = parse_settings({}, env);
  CHECK(from_env.release == "from-env");
  CHECK(from_env.zalando.pooler_user == "bouncer");
  CHECK(from_env.inject_sidecars);
  CHECK_FALSE(from_env.dashboards);
  CHECK(from_env.leader_elect_retry_period == std::chrono::milliseconds(500));
  CHECK(from_env.workers == 4);

  const auto flags_win =
      parse_settings({"--release=from-flag", "--no-inject-sidecars", "--workers", "8"}, env);
  CHECK(flags_win.release == "from-flag");
  CHECK_FALSE(flags_win.inject_sidecars);
  CHECK(flags_win.workers == 8);
  CHECK(flags_win.zalando.pooler_user == "bouncer");  // not given as a flag: env still counts

  CHECK(settings_env_name("zalando.cluster-name-label") == "PGSCOPE_OPERATOR_ZALANDO_CLUSTER_NAME_LABEL");
}

TEST_CASE("settings: bad values give one line naming the flag or variable") {
  CHECK_THAT(usage_error({"--exporter-port=0"}),
             Catch::Contains("--exporter-port") && Catch::Contains("65535"));
  CHECK_THAT(usage_error({"--monitor-kind=Probe"}),
             Catch::Contains("--monitor-kind") && Catch::Contains("PodMonitor"));
  CHECK_THAT(usage_error({"--scrape-interval=30"}), Catch::Contains("--scrape-interval"));
  CHECK_THAT(usage_error({"--scrape-interval=30s1m"}), Catch::Contains("largest first"));
  CHECK_THAT(usage_error({"--scrape-interval=0s"}), Catch::Contains("longer than 0s"));
  CHECK_THAT(usage_error({"--labels=foo"}), Catch::Contains("--labels") && Catch::Contains("k=v"));
  CHECK_THAT(usage_error({"--labels=a=b,a=c"}), Catch::Contains("twice"));
  CHECK_THAT(usage_error({"--labels=bad key=x"}), Catch::Contains("label key"));
  CHECK_THAT(usage_error({"--labels=pgscope.io/cluster=x"}), Catch::Contains("operator sets itself"));
  CHECK_THAT(usage_error({"--labels=release=a", "--release=b"}), Catch::Contains("contradicts"));
  CHECK_THAT(usage_error({"--release=not valid"}), Catch::Contains("--release"));
  CHECK_THAT(usage_error({}, {{"PGSCOPE_OPERATOR_WORKERS", "many"}}),
             Catch::Contains("PGSCOPE_OPERATOR_WORKERS"));
  CHECK_THAT(usage_error({}, {{"PGSCOPE_OPERATOR_LEADER_ELECT", "maybe"}}),
             Catch::Contains("PGSCOPE_OPERATOR_LEADER_ELECT") && Catch::Contains("true or false"));
  CHECK_THAT(usage_error({"--bogus"}), Catch::Contains("unknown flag --bogus"));
  CHECK_THAT(usage_error({"--release"}), Catch::Contains("--release") && Catch::Contains("needs a value"));
  CHECK_THAT(usage_error({"--release", "--workers=3"}), Catch::Contains("needs a value"));
  CHECK_THAT(usage_error({"--no-release"}), Catch::Contains("unknown flag --no-release"));
  CHECK_THAT(usage_error({"--no-rules=true"}), Catch::Contains("takes no value"));
  CHECK_THAT(usage_error({"render"}), Catch::Contains("unexpected argument \"render\""));
  CHECK_THAT(usage_error({"-f"}), Catch::Contains("-f") && Catch::Contains("needs a value"));
  CHECK_THAT(usage_error({"--cluster-label=cluster-name"}), Catch::Contains("Prometheus label name"));
  CHECK_THAT(usage_error({"--cluster-label=pod"}), Catch::Contains("already a label"));
  CHECK_THAT(usage_error({"--dashboards-namespace=Grafana"}), Catch::Contains("namespace name"));
  CHECK_THAT(usage_error({"--zalando.cluster-labels=app=spilo"}), Catch::Contains("application"));
  CHECK_THAT(usage_error({"--zalando.secret-name-template={user}.{cluster}"}), Catch::Contains("{user}"));
  CHECK_THAT(usage_error({"--zalando.pooler-user="}), Catch::Contains("must not be empty"));
  CHECK_THAT(usage_error({"--listen-address=8080"}), Catch::Contains(":PORT"));
  CHECK_THAT(usage_error({"--leader-elect.lease-duration=1.5s"}), Catch::Contains("duration"));
  CHECK_THAT(usage_error({"--log.level=verbose"}), Catch::Contains("--log.level"));
  CHECK_THAT(usage_error({"--namespaces=a,,b"}), Catch::Contains("namespace name"));
}

TEST_CASE("settings: a scrape timeout longer than the interval is refused") {
  CHECK_THAT(usage_error({"--scrape-timeout=1m"}),
             Catch::Contains("--scrape-timeout") && Catch::Contains("--scrape-interval (default)"));
  CHECK_THAT(usage_error({"--scrape-interval=5s"}), Catch::Contains("exceeds --scrape-interval 5s"));
  CHECK_THAT(usage_error({}, {{"PGSCOPE_OPERATOR_SCRAPE_TIMEOUT", "45s"}}),
             Catch::Contains("PGSCOPE_OPERATOR_SCRAPE_TIMEOUT"));
  CHECK(usage_error({"--scrape-interval=10s", "--scrape-timeout=10s"}).empty());  // equal is allowed
}

TEST_CASE("settings: leader election timings must nest") {
  CHECK_THAT(usage_error({"--leader-elect.renew-deadline=20s"}), Catch::Contains("shorter than"));
  CHECK_THAT(usage_error({"--leader-elect.retry-period=10s"}),
             Catch::Contains("--leader-elect.retry-period"));
}

TEST_CASE("settings: durations") {
  CHECK(parse_duration("500ms", "x") == std::chrono::milliseconds(500));
  CHECK(parse_duration("1h2m3s", "x") == std::chrono::milliseconds(3723000));
  CHECK(parse_duration("2d", "x") == std::chrono::hours(48));
  CHECK_THROWS_AS(parse_duration("", "x"), UsageError);
  CHECK_THROWS_AS(parse_duration("10", "x"), UsageError);
  CHECK_THROWS_AS(parse_duration("10 s", "x"), UsageError);
  CHECK_THROWS_AS(parse_duration("-1s", "x"), UsageError);
}

TEST_CASE("settings: help lists every flag with its variable and default") {
  const auto help = settings_help();
  for (const char* flag : {"--monitor-kind",
                           "--inject-sidecars",
                           "--exporter-image",
                           "--exporter-port",
                           "--labels",
                           "--release",
                           "--dashboards-namespace",
                           "--dashboard-label",
                           "--no-dashboards",
                           "--no-rules",
                           "--cluster-label",
                           "--scrape-interval",
                           "--scrape-timeout",
                           "--monitoring-user",
                           "--zalando.cluster-labels",
                           "--zalando.cluster-name-label",
                           "--zalando.pod-role-label",
                           "--zalando.team-label",
                           "--zalando.secret-name-template",
                           "--zalando.pooler-user",
                           "--kubeconfig",
                           "--context",
                           "--namespaces",
                           "--leader-elect",
                           "--leader-elect.namespace",
                           "--leader-elect.lease-name",
                           "--leader-elect.lease-duration",
                           "--leader-elect.renew-deadline",
                           "--leader-elect.retry-period",
                           "--listen-address",
                           "--resync-period",
                           "--workers",
                           "--log.level",
                           "--filename",
                           "-f FILE"}) {
    CHECK_THAT(help, Catch::Contains(flag));
  }
  CHECK_THAT(help, Catch::Contains("PGSCOPE_OPERATOR_ZALANDO_SECRET_NAME_TEMPLATE"));
  CHECK_THAT(help, Catch::Contains("default: 9187; env: PGSCOPE_OPERATOR_EXPORTER_PORT"));
}

}  // namespace unity_file_cluster_test_settings
