// The Patroni collector's JSON mapping, against responses recorded in the
// shapes Patroni 3.0 and 4.x document (tests/unit/data/patroni), without HTTP.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "exporter/exposition.hpp"
#include "patroni/patroni_metrics.hpp"
#include "patroni/patroni_model.hpp"
#include "support/prom_text.hpp"
#include "test_patroni_support.hpp"

namespace {

using pgscope::MetricSink;
using pgscope::test::patroni::Families;
using pgscope::test::patroni::LabelMap;
using pgscope::test::patroni::read_data;
namespace patroni = pgscope::patroni;

// The families of Patroni's /metrics that are emitted whatever the member's
// state, with their types (Patroni's: xlog_* and timeline are counters).
const std::vector<std::pair<std::string, std::string>> kAlwaysEmitted = {
    {"patroni_version", "gauge"},
    {"patroni_postgres_running", "gauge"},
    {"patroni_postmaster_start_time", "gauge"},
    {"patroni_primary", "gauge"},
    {"patroni_master", "gauge"},
    {"patroni_xlog_location", "counter"},
    {"patroni_standby_leader", "gauge"},
    {"patroni_replica", "gauge"},
    {"patroni_sync_standby", "gauge"},
    {"patroni_quorum_standby", "gauge"},
    {"patroni_xlog_received_location", "counter"},
    {"patroni_xlog_replayed_location", "counter"},
    {"patroni_xlog_replayed_timestamp", "gauge"},
    {"patroni_xlog_paused", "gauge"},
    {"patroni_postgres_server_version", "gauge"},
    {"patroni_cluster_unlocked", "gauge"},
    {"patroni_failsafe_mode_is_active", "gauge"},
    {"patroni_postgres_timeline", "counter"},
    {"patroni_dcs_last_seen", "gauge"},
    {"patroni_pending_restart", "gauge"},
    {"patroni_is_paused", "gauge"},
    {"patroni_postgres_state", "gauge"},
};

Families status_families(const std::string& file) {
  auto parsed = patroni::parse_status(read_data(file));
  INFO(parsed.error);
  REQUIRE(parsed.value);
  CHECK(parsed.warnings.empty());
  MetricSink sink;
  patroni::emit_status(*parsed.value, sink);
  return Families(sink);
}

// Every family of /metrics is there once, with {scope, name} and its type.
void check_shape(const Families& families, const LabelMap& labels) {
  for (const auto& [name, type] : kAlwaysEmitted) {
    INFO(name);
    CHECK(families.type(name) == type);
    CHECK(families.samples(name) == 1);
    CHECK(families.value(name, labels).has_value());
  }
}

double at(const Families& families, const std::string& name, const LabelMap& labels) {
  INFO(name);
  auto value = families.value(name, labels);
  REQUIRE(value.has_value());
  return *value;
}

}  // namespace

TEST_CASE("Patroni timestamps in the formats /patroni and /history write", "[patroni]") {
  using patroni::parse_timestamp;
  CHECK(parse_timestamp("2023-03-14 09:12:45.918274+00:00").value() ==
        Approx(1678785165.918274).margin(1e-6));
  CHECK(parse_timestamp("2023-02-01T10:00:01+02:00").value() == 1675238401.0);
  CHECK(parse_timestamp("2023-02-01T08:00:01Z").value() == 1675238401.0);
  CHECK(parse_timestamp("2023-02-01T08:00:01.5+0000").value() == 1675238401.5);
  CHECK(parse_timestamp("2023-02-01T03:00:01-05").value() == 1675238401.0);
  CHECK(parse_timestamp("2023-02-01 08:00:01.25 UTC").value() == 1675238401.25);
  CHECK(parse_timestamp("2019-09-24T12:00+00").value() == 1569326400.0);
  CHECK(parse_timestamp("1970-01-01T00:00:00+00:00").value() == 0.0);
  CHECK(parse_timestamp("2024-02-29T00:00:00+00:00").value() == 1709164800.0);
  CHECK(parse_timestamp("2023-03-14 09:12:45+05:30:15").value() == 1678785165.0 - 19815);

  CHECK_FALSE(parse_timestamp(""));
  CHECK_FALSE(parse_timestamp("2023-03-14 09:12:45"));  // no zone: the instant is unknown
  CHECK_FALSE(parse_timestamp("2023-03-14 09:12:45 CET"));
  CHECK_FALSE(parse_timestamp("2023-13-14 09:12:45+00:00"));
  CHECK_FALSE(parse_timestamp("2023-03-14 25:12:45+00:00"));
  CHECK_FALSE(parse_timestamp("2023-03-14 09:12:45.+00:00"));
  CHECK_FALSE(parse_timestamp("2023-03-14 09:12:45+00:00 trailing"));
  CHECK_FALSE(parse_timestamp("yesterday"));
}

TEST_CASE("Patroni versions as padded semver", "[patroni]") {
  CHECK(patroni::padded_semver("3.0.1") == 30001);
  CHECK(patroni::padded_semver("4.0.4") == 40004);
  CHECK(patroni::padded_semver("2.1.12") == 20112);
  CHECK(patroni::padded_semver("4.1") == 40100);
  CHECK(patroni::padded_semver("4.1.0.dev1") == 40100);
  CHECK(patroni::padded_semver("3.3.0rc1") == 30300);
  CHECK(patroni::padded_semver("") == 0);
  CHECK(patroni::padded_semver("garbage") == 0);
}

TEST_CASE("Postgres states as Patroni 4.1 numbers them", "[patroni]") {
  CHECK(patroni::postgres_state_index("initializing new cluster") == 0);
  CHECK(patroni::postgres_state_index("running") == 5);
  CHECK(patroni::postgres_state_index("stopped") == 12);
  CHECK(patroni::postgres_state_index("crashed") == 14);
  CHECK(patroni::postgres_state_index("unknown") == -1);
  CHECK(patroni::postgres_state_index("") == -1);
}

TEST_CASE("Patroni 3.0 leader: /patroni as Patroni's own /metrics", "[patroni]") {
  auto families = status_families("v3_patroni_leader.json");
  // Patroni 3.0 put no member name into /patroni (and its /metrics had only
  // {scope}): the name label is empty, which Prometheus reads as absent.
  const LabelMap labels = {{"scope", "pg-main"}, {"name", ""}};
  check_shape(families, labels);
  CHECK(at(families, "patroni_version", labels) == 30001);
  CHECK(at(families, "patroni_postgres_running", labels) == 1);
  CHECK(at(families, "patroni_postmaster_start_time", labels) == Approx(1678785165.918274).margin(1e-6));
  CHECK(at(families, "patroni_primary", labels) == 1);  // role "master"
  CHECK(at(families, "patroni_master", labels) == 1);
  CHECK(at(families, "patroni_xlog_location", labels) == 83886424);
  CHECK(at(families, "patroni_standby_leader", labels) == 0);
  CHECK(at(families, "patroni_replica", labels) == 0);
  CHECK(at(families, "patroni_sync_standby", labels) == 0);
  CHECK(at(families, "patroni_quorum_standby", labels) == 0);
  CHECK(at(families, "patroni_xlog_received_location", labels) == 0);
  CHECK(at(families, "patroni_xlog_replayed_location", labels) == 0);
  CHECK(at(families, "patroni_xlog_replayed_timestamp", labels) == 0);
  CHECK(at(families, "patroni_xlog_paused", labels) == 0);
  CHECK(at(families, "patroni_postgres_server_version", labels) == 150002);
  CHECK(at(families, "patroni_cluster_unlocked", labels) == 0);
  CHECK(at(families, "patroni_failsafe_mode_is_active", labels) == 0);
  CHECK(at(families, "patroni_postgres_timeline", labels) == 3);
  CHECK(at(families, "patroni_dcs_last_seen", labels) == 1678785300);
  CHECK(at(families, "patroni_pending_restart", labels) == 0);
  CHECK(at(families, "patroni_is_paused", labels) == 0);
  CHECK(at(families, "patroni_postgres_state", labels) == 5);
  // Patroni 3.0.1 does not report replication_state: no streaming families.
  CHECK(families.find("patroni_postgres_streaming") == nullptr);
  CHECK(families.find("patroni_postgres_in_archive_recovery") == nullptr);
  CHECK(families.all.size() == kAlwaysEmitted.size());
}

TEST_CASE("Patroni 3.0 replica: /patroni as Patroni's own /metrics", "[patroni]") {
  auto families = status_families("v3_patroni_replica.json");
  const LabelMap labels = {{"scope", "pg-main"}, {"name", ""}};
  check_shape(families, labels);
  CHECK(at(families, "patroni_primary", labels) == 0);
  CHECK(at(families, "patroni_master", labels) == 0);
  CHECK(at(families, "patroni_replica", labels) == 1);
  CHECK(at(families, "patroni_xlog_location", labels) == 0);
  CHECK(at(families, "patroni_xlog_received_location", labels) == 83886424);
  CHECK(at(families, "patroni_xlog_replayed_location", labels) == 83886200);
  CHECK(at(families, "patroni_xlog_replayed_timestamp", labels) == Approx(1678785295.301998).margin(1e-6));
  CHECK(at(families, "patroni_xlog_paused", labels) == 0);
  CHECK(at(families, "patroni_pending_restart", labels) == 1);
  CHECK(at(families, "patroni_is_paused", labels) == 1);  // "pause": true
  CHECK(at(families, "patroni_dcs_last_seen", labels) == 1678785301);
  CHECK(families.find("patroni_postgres_streaming") == nullptr);
}

TEST_CASE("Patroni 4 primary: /patroni as Patroni's own /metrics", "[patroni]") {
  auto families = status_families("v4_patroni_primary.json");
  const LabelMap labels = {{"scope", "demo"}, {"name", "patroni1"}};
  check_shape(families, labels);
  CHECK(at(families, "patroni_version", labels) == 40004);
  CHECK(at(families, "patroni_postgres_running", labels) == 1);
  CHECK(at(families, "patroni_postmaster_start_time", labels) == Approx(1737360011.520931).margin(1e-6));
  CHECK(at(families, "patroni_primary", labels) == 1);
  CHECK(at(families, "patroni_master", labels) == 1);
  CHECK(at(families, "patroni_replica", labels) == 0);
  CHECK(at(families, "patroni_xlog_location", labels) == 22320573386952.0);
  CHECK(at(families, "patroni_postgres_server_version", labels) == 160006);
  CHECK(at(families, "patroni_postgres_timeline", labels) == 24);
  CHECK(at(families, "patroni_pending_restart", labels) == 1);
  CHECK(at(families, "patroni_is_paused", labels) == 0);
  // Patroni 4 on Postgres 16 writes both; a primary neither streams nor
  // restores from the archive.
  CHECK(at(families, "patroni_postgres_streaming", labels) == 0);
  CHECK(at(families, "patroni_postgres_in_archive_recovery", labels) == 0);
  CHECK(families.all.size() == kAlwaysEmitted.size() + 2);
}

TEST_CASE("Patroni 4 quorum replica: /patroni as Patroni's own /metrics", "[patroni]") {
  auto families = status_families("v4_patroni_replica.json");
  const LabelMap labels = {{"scope", "demo"}, {"name", "patroni2"}};
  check_shape(families, labels);
  CHECK(at(families, "patroni_primary", labels) == 0);
  CHECK(at(families, "patroni_master", labels) == 0);
  CHECK(at(families, "patroni_replica", labels) == 1);
  CHECK(at(families, "patroni_sync_standby", labels) == 0);
  CHECK(at(families, "patroni_quorum_standby", labels) == 1);
  CHECK(at(families, "patroni_xlog_received_location", labels) == 22320573387104.0);
  CHECK(at(families, "patroni_xlog_replayed_location", labels) == 22320573386952.0);
  CHECK(at(families, "patroni_xlog_replayed_timestamp", labels) == Approx(1737369899.871345).margin(1e-6));
  CHECK(at(families, "patroni_postgres_streaming", labels) == 1);
  CHECK(at(families, "patroni_postgres_in_archive_recovery", labels) == 0);
  CHECK(at(families, "patroni_postgres_state", labels) == 5);
}

TEST_CASE("Patroni 4 with Postgres stopped: every family, at Patroni's defaults", "[patroni]") {
  auto families = status_families("v4_patroni_stopped.json");
  const LabelMap labels = {{"scope", "demo"}, {"name", "patroni3"}};
  check_shape(families, labels);
  CHECK(at(families, "patroni_version", labels) == 40100);
  CHECK(at(families, "patroni_postgres_running", labels) == 0);
  CHECK(at(families, "patroni_postmaster_start_time", labels) == 0);
  CHECK(at(families, "patroni_replica", labels) == 1);
  CHECK(at(families, "patroni_postgres_server_version", labels) == 0);
  CHECK(at(families, "patroni_postgres_timeline", labels) == 0);
  CHECK(at(families, "patroni_cluster_unlocked", labels) == 1);
  CHECK(at(families, "patroni_failsafe_mode_is_active", labels) == 1);
  CHECK(at(families, "patroni_postgres_state", labels) == 12);
  // As in Patroni: no server version, no streaming families.
  CHECK(families.find("patroni_postgres_streaming") == nullptr);
}

TEST_CASE("Patroni standby leader and other roles", "[patroni]") {
  auto parsed = patroni::parse_status(
      R"({"state": "unknown", "role": "standby_leader", "patroni": {"version": "3.2.2", "scope": "s",
          "name": "n"}, "timeline": null, "xlog": {"replayed_timestamp": null, "paused": true}})");
  REQUIRE(parsed.value);
  MetricSink sink;
  patroni::emit_status(*parsed.value, sink);
  Families families(sink);
  const LabelMap labels = {{"scope", "s"}, {"name", "n"}};
  CHECK(at(families, "patroni_standby_leader", labels) == 1);
  CHECK(at(families, "patroni_primary", labels) == 0);
  CHECK(at(families, "patroni_replica", labels) == 0);
  CHECK(at(families, "patroni_xlog_paused", labels) == 1);
  CHECK(at(families, "patroni_postgres_timeline", labels) == 0);
  CHECK(at(families, "patroni_postgres_running", labels) == 0);
  CHECK(at(families, "patroni_postgres_state", labels) == -1);
}

TEST_CASE("An unreadable timestamp reads as 0 with a warning, not as garbage", "[patroni]") {
  auto parsed = patroni::parse_status(
      R"({"state": "running", "role": "primary", "postmaster_start_time": "last Tuesday",
          "patroni": {"version": "4.0.4", "scope": "s", "name": "n"}})");
  REQUIRE(parsed.value);
  CHECK(parsed.value->postmaster_start_time == 0);
  REQUIRE(parsed.warnings.size() == 1);
  CHECK_THAT(parsed.warnings[0], Catch::Contains("postmaster_start_time"));
}

TEST_CASE("Patroni 3.0 /cluster: members, roles, lag", "[patroni]") {
  auto parsed = patroni::parse_cluster(read_data("v3_cluster.json"));
  INFO(parsed.error);
  REQUIRE(parsed.value);
  MetricSink sink;
  patroni::emit_cluster("pg-main", *parsed.value, sink);
  Families families(sink);

  const auto info = [](const char* member, const char* role, const char* state) {
    return LabelMap{{"scope", "pg-main"}, {"member", member}, {"role", role}, {"state", state}};
  };
  CHECK(families.samples("patroni_cluster_member_info") == 4);
  CHECK(families.value("patroni_cluster_member_info", info("pg-node1", "leader", "running")) == 1);
  CHECK(families.value("patroni_cluster_member_info", info("pg-node2", "sync_standby", "running")) == 1);
  // Patroni 3.0 does not say whether a replica streams: "running" stays.
  CHECK(families.value("patroni_cluster_member_info", info("pg-node3", "replica", "running")) == 1);
  CHECK(families.value("patroni_cluster_member_info", info("pg-node4", "replica", "stopped")) == 1);

  const auto member = [](const char* name) { return LabelMap{{"scope", "pg-main"}, {"member", name}}; };
  CHECK(families.samples("patroni_cluster_member_timeline") == 3);
  CHECK(families.value("patroni_cluster_member_timeline", member("pg-node1")) == 3);
  CHECK(families.value("patroni_cluster_member_timeline", member("pg-node3")) == 3);
  CHECK_FALSE(families.value("patroni_cluster_member_timeline", member("pg-node4")));
  // No lag for the leader, none for "unknown".
  CHECK(families.samples("patroni_cluster_member_lag_bytes") == 2);
  CHECK(families.value("patroni_cluster_member_lag_bytes", member("pg-node2")) == 0);
  CHECK(families.value("patroni_cluster_member_lag_bytes", member("pg-node3")) == 224);

  const auto role = [](const char* name) { return LabelMap{{"scope", "pg-main"}, {"role", name}}; };
  CHECK(families.samples("patroni_cluster_members") == 5);
  CHECK(families.value("patroni_cluster_members", role("leader")) == 1);
  CHECK(families.value("patroni_cluster_members", role("standby_leader")) == 0);
  CHECK(families.value("patroni_cluster_members", role("sync_standby")) == 1);
  CHECK(families.value("patroni_cluster_members", role("quorum_standby")) == 0);
  CHECK(families.value("patroni_cluster_members", role("replica")) == 2);
  CHECK(families.value("patroni_cluster_leaders", {{"scope", "pg-main"}}) == 1);
  CHECK(families.value("patroni_cluster_has_leader", {{"scope", "pg-main"}}) == 1);
}

TEST_CASE("Patroni 4 /cluster: quorum standby, streaming and archive states", "[patroni]") {
  auto parsed = patroni::parse_cluster(read_data("v4_cluster.json"));
  INFO(parsed.error);
  REQUIRE(parsed.value);
  MetricSink sink;
  patroni::emit_cluster("demo", *parsed.value, sink);
  Families families(sink);

  const auto info = [](const char* member, const char* role, const char* state) {
    return LabelMap{{"scope", "demo"}, {"member", member}, {"role", role}, {"state", state}};
  };
  CHECK(families.value("patroni_cluster_member_info", info("patroni1", "leader", "running")) == 1);
  CHECK(families.value("patroni_cluster_member_info", info("patroni2", "quorum_standby", "streaming")) == 1);
  CHECK(families.value("patroni_cluster_member_info", info("patroni3", "replica", "in archive recovery")) ==
        1);
  CHECK(families.value("patroni_cluster_member_info", info("patroni4", "replica", "stopped")) == 1);

  const auto member = [](const char* name) { return LabelMap{{"scope", "demo"}, {"member", name}}; };
  CHECK(families.value("patroni_cluster_member_lag_bytes", member("patroni2")) == 0);
  CHECK(families.value("patroni_cluster_member_lag_bytes", member("patroni3")) == 1048576);
  CHECK_FALSE(families.value("patroni_cluster_member_lag_bytes", member("patroni4")));
  CHECK_FALSE(families.value("patroni_cluster_member_lag_bytes", member("patroni1")));
  CHECK(families.value("patroni_cluster_member_timeline", member("patroni3")) == 24);

  const auto role = [](const char* name) { return LabelMap{{"scope", "demo"}, {"role", name}}; };
  CHECK(families.value("patroni_cluster_members", role("leader")) == 1);
  CHECK(families.value("patroni_cluster_members", role("quorum_standby")) == 1);
  CHECK(families.value("patroni_cluster_members", role("sync_standby")) == 0);
  CHECK(families.value("patroni_cluster_members", role("replica")) == 2);
  CHECK(families.value("patroni_cluster_has_leader", {{"scope", "demo"}}) == 1);
}

TEST_CASE("/cluster without a leader, or with two", "[patroni]") {
  SECTION("none") {
    auto parsed =
        patroni::parse_cluster(R"({"members": [{"name": "a", "role": "replica", "state": "running"}]})");
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_cluster("s", *parsed.value, sink);
    Families families(sink);
    CHECK(families.value("patroni_cluster_leaders", {{"scope", "s"}}) == 0);
    CHECK(families.value("patroni_cluster_has_leader", {{"scope", "s"}}) == 0);
  }
  SECTION("two, one of them named master by an old Patroni") {
    auto parsed = patroni::parse_cluster(
        R"({"members": [{"name": "a", "role": "master", "state": "running"},
                        {"name": "b", "role": "standby_leader", "state": "running"}]})");
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_cluster("s", *parsed.value, sink);
    Families families(sink);
    CHECK(families.value("patroni_cluster_member_info",
                         {{"scope", "s"}, {"member", "a"}, {"role", "leader"}, {"state", "running"}}) == 1);
    CHECK(families.value("patroni_cluster_leaders", {{"scope", "s"}}) == 2);
    CHECK(families.value("patroni_cluster_has_leader", {{"scope", "s"}}) == 0);
  }
  SECTION("empty") {
    auto parsed = patroni::parse_cluster(R"({"members": []})");
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_cluster("s", *parsed.value, sink);
    Families families(sink);
    CHECK(families.value("patroni_cluster_members", {{"scope", "s"}, {"role", "replica"}}) == 0);
    CHECK(families.value("patroni_cluster_has_leader", {{"scope", "s"}}) == 0);
  }
}

TEST_CASE("/history: failovers and the last one's time", "[patroni]") {
  SECTION("Patroni 3.0, with an entry from before timestamps") {
    auto parsed = patroni::parse_history(read_data("v3_history.json"));
    INFO(parsed.error);
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_history("pg-main", *parsed.value, sink);
    Families families(sink);
    CHECK(families.type("patroni_cluster_failovers_total") == "counter");
    CHECK(families.value("patroni_cluster_failovers_total", {{"scope", "pg-main"}}) == 3);
    CHECK(families.value("patroni_cluster_last_failover_timestamp_seconds", {{"scope", "pg-main"}}).value() ==
          Approx(1678785160.004153).margin(1e-6));
  }
  SECTION("Patroni 4") {
    auto parsed = patroni::parse_history(read_data("v4_history.json"));
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_history("demo", *parsed.value, sink);
    Families families(sink);
    CHECK(families.value("patroni_cluster_failovers_total", {{"scope", "demo"}}) == 3);
    CHECK(families.value("patroni_cluster_last_failover_timestamp_seconds", {{"scope", "demo"}}).value() ==
          Approx(1737360009.402117).margin(1e-6));
  }
  SECTION("no failover yet") {
    auto parsed = patroni::parse_history("[]");
    REQUIRE(parsed.value);
    MetricSink sink;
    patroni::emit_history("s", *parsed.value, sink);
    Families families(sink);
    CHECK(families.value("patroni_cluster_failovers_total", {{"scope", "s"}}) == 0);
    CHECK(families.find("patroni_cluster_last_failover_timestamp_seconds") == nullptr);
  }
}

TEST_CASE("Malformed /patroni documents are rejected with a reason, never thrown", "[patroni]") {
  const std::string good = read_data("v4_patroni_replica.json");
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"empty body", ""},
      {"whitespace", "  \n"},
      {"truncated", good.substr(0, good.size() / 2)},
      {"HTML error page", "<html><body>502 Bad Gateway</body></html>"},
      {"a number where an object is expected", "42"},
      {"an array", "[1, 2]"},
      {"null", "null"},
      {"not Patroni's", R"({"status": "ok"})"},
      {"patroni is a number", R"({"state": "running", "role": "primary", "patroni": 4})"},
      {"version missing", R"({"state": "running", "role": "primary", "patroni": {"scope": "s"}})"},
      {"scope a number",
       R"({"state": "running", "role": "primary", "patroni": {"version": "4.0.0", "scope": 1}})"},
      {"state missing", R"({"role": "primary", "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"role an object",
       R"({"state": "running", "role": {}, "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"xlog a number",
       R"({"state": "running", "role": "primary", "xlog": 5, "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"location a string", R"({"state": "running", "role": "primary", "xlog": {"location": "0/3000060"},
          "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"paused a number", R"({"state": "running", "role": "replica", "xlog": {"paused": 1},
          "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"timeline a string",
       R"({"state": "running", "role": "primary", "timeline": "3", "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"pause a string",
       R"({"state": "running", "role": "primary", "pause": "yes", "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"number out of range", R"({"state": "running", "role": "primary", "server_version": 1e999,
          "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"start time a number", R"({"state": "running", "role": "primary", "postmaster_start_time": 17,
          "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"NaN literal", R"({"state": "running", "role": "primary", "server_version": NaN,
          "patroni": {"version": "4.0.0", "scope": "s"}})"},
      {"invalid UTF-8",
       "{\"state\": \"run\xff\", \"role\": \"primary\", \"patroni\": {\"version\": \"4\", "
       "\"scope\": \"s\"}}"},
      // Valid JSON, as deep as 4 MiB allows: nlohmann parses and frees it
      // without recursion, so no stack overflow.
      {"deeply nested", std::string(2 * 1024 * 1024, '[') + std::string(2 * 1024 * 1024, ']')},
      {"nested, truncated", std::string(4 * 1024 * 1024 - 1, '[')},
      {"binary", std::string("\0\x01\x02\xff", 4)},
  };
  for (const auto& [what, body] : cases) {
    INFO(what);
    patroni::Parsed<patroni::Status> parsed;
    REQUIRE_NOTHROW(parsed = patroni::parse_status(body));
    CHECK_FALSE(parsed.value);
    CHECK_FALSE(parsed.error.empty());
  }
}

TEST_CASE("Huge but valid numbers are read, not rejected", "[patroni]") {
  auto parsed = patroni::parse_status(
      R"({"state": "running", "role": "primary", "xlog": {"location": 18446744073709551615},
          "dcs_last_seen": 123456789012345678901234567890, "patroni": {"version": "4.0.0", "scope": "s"}})");
  INFO(parsed.error);
  REQUIRE(parsed.value);
  CHECK(parsed.value->xlog_location == Approx(18446744073709551615.0));
  CHECK(parsed.value->dcs_last_seen == Approx(1.2345678901234568e29));
}

TEST_CASE("Malformed /cluster and /history documents are rejected, never thrown", "[patroni]") {
  const std::vector<std::pair<const char*, std::string>> clusters = {
      {"empty", ""},
      {"array", "[]"},
      {"members missing", R"({"scope": "s"})"},
      {"members an object", R"({"members": {}})"},
      {"member a string", R"({"members": ["a"]})"},
      {"member without a name", R"({"members": [{"role": "leader"}]})"},
      {"lag an object", R"({"members": [{"name": "a", "lag": {}}]})"},
      {"timeline a string", R"({"members": [{"name": "a", "timeline": "3"}]})"},
      {"truncated", R"({"members": [{"name": "a", "ro)"},
  };
  for (const auto& [what, body] : clusters) {
    INFO(what);
    patroni::Parsed<patroni::Cluster> parsed;
    REQUIRE_NOTHROW(parsed = patroni::parse_cluster(body));
    CHECK_FALSE(parsed.value);
    CHECK_FALSE(parsed.error.empty());
  }
  const std::vector<std::pair<const char*, std::string>> histories = {
      {"empty", ""},
      {"object", "{}"},
      {"entry a number", "[1]"},
      {"timestamp a number", R"([[1, 2, "r", 17]])"},
      {"truncated", R"([[1, 2, "no recovery)"},
  };
  for (const auto& [what, body] : histories) {
    INFO(what);
    patroni::Parsed<patroni::History> parsed;
    REQUIRE_NOTHROW(parsed = patroni::parse_history(body));
    CHECK_FALSE(parsed.value);
    CHECK_FALSE(parsed.error.empty());
  }
}

TEST_CASE("Patroni families render as valid Prometheus text", "[patroni]") {
  MetricSink sink;
  auto status = patroni::parse_status(read_data("v4_patroni_replica.json"));
  auto cluster = patroni::parse_cluster(read_data("v4_cluster.json"));
  auto history = patroni::parse_history(read_data("v4_history.json"));
  REQUIRE(status.value);
  REQUIRE(cluster.value);
  REQUIRE(history.value);
  patroni::emit_status(*status.value, sink);
  patroni::emit_cluster(status.value->scope, *cluster.value, sink);
  patroni::emit_history(status.value->scope, *history.value, sink);
  CHECK(sink.dropped() == 0);
  const std::string text = pgscope::render_text(sink.take());

  const auto parsed = pgscope::test::parse_prom_text(text);
  CHECK(parsed.value("patroni_xlog_replayed_location", {{"scope", "demo"}, {"name", "patroni2"}}) ==
        22320573386952.0);
  CHECK(parsed.families.at("patroni_xlog_location").type == "counter");
  CHECK(parsed.value("patroni_cluster_member_info",
                     {{"member", "patroni3"}, {"state", "in archive recovery"}}) == 1);
  const auto check = pgscope::test::promtool_check(text);
  INFO(check.output);
  CHECK_FALSE(check.parse_error());
}
