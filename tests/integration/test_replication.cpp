// Streaming replication end to end: a primary, a standby streaming from it
// through a physical slot, and an exporter on each. Exported values are
// checked against the servers' own views, read just before and just after
// the scrape, so they are bracketed rather than compared with constants.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

const std::string kSlot = "standby_slot";
const std::string kApplication = "standby1";
constexpr double kMiB = 1024.0 * 1024.0;

std::vector<std::string> exporter_args(const std::string& dsn) {
  return {"--postgres.dsn=" + dsn, "--scrape.timeout=5s", "--log.level=debug"};
}

// One primary, one standby and their exporters for the whole binary: initdb
// and pg_basebackup are the slow steps. Every case leaves replay running.
struct Cluster {
  TestPostgres primary;
  std::unique_ptr<TestPostgres> standby;
  std::unique_ptr<ExporterProcess> on_primary;
  std::unique_ptr<ExporterProcess> on_standby;

  Cluster() : standby(TestPostgres::standby_of(primary, kSlot, kApplication)) {
    // The standby reports its replay position when WAL arrives or every
    // wal_receiver_status_interval (10 s by default): at 1 s the primary
    // sees a caught-up standby as such within a second.
    standby->append_config("wal_receiver_status_interval = 1s");
    standby->reload();
    primary.exec("CREATE TABLE filler (id int, payload text)");
    standby->wait_for_replay(primary);
    on_primary = std::make_unique<ExporterProcess>(exporter_args(primary.dsn()));
    on_standby = std::make_unique<ExporterProcess>(exporter_args(standby->dsn()));
  }
};

Cluster& cluster() {
  static Cluster instance;
  return instance;
}

// The lines of the exporter's log that say why a query failed.
std::string failure_lines(const ExporterProcess& exporter) {
  std::istringstream log(exporter.log());
  std::string lines;
  for (std::string line; std::getline(log, line);) {
    if (line.find("failed") != std::string::npos) lines += line + "\n";
  }
  return lines;
}

// Scrapes, parses, and requires every collector to have succeeded: a
// collector that fails on one side of replication is a bug in its query.
Exposition scrape(const ExporterProcess& exporter, const std::string& who, bool lint = false) {
  auto result = exporter.scrape();
  INFO(who << ": " << result.error << "\nexporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);
  if (lint) {
    auto check = promtool_check(result.body);
    INFO(who << ": promtool:\n" << check.output);
    CHECK_FALSE(check.parse_error());
  }
  Exposition metrics;
  try {
    metrics = parse_prom_text(result.body);
  } catch (const std::exception& e) {
    FAIL(who << ": the exposition does not parse: " << e.what());
  }
  auto successes = metrics.find("pgscope_exporter_collector_success");
  REQUIRE_FALSE(successes.empty());
  std::string failed;
  for (const auto* sample : successes) {
    if (sample->value != 1.0) failed += " " + sample->label("collector");
  }
  INFO(who << ": failed collectors:" << failed << "\nfailures in the exporter log:\n"
           << failure_lines(exporter));
  CHECK(failed.empty());
  return metrics;
}

// An LSN expression evaluated on `pg`, in bytes from 0/0.
double lsn_bytes(const TestPostgres& pg, const std::string& lsn_expression) {
  return std::stod(pg.query_value("SELECT (" + lsn_expression + ") - '0/0'::pg_lsn"));
}

double number(const TestPostgres& pg, const std::string& sql) { return std::stod(pg.query_value(sql)); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// Waits until the standby has received (not necessarily replayed) all WAL
// the primary has flushed.
void wait_for_receive(const TestPostgres& primary, const TestPostgres& standby) {
  const std::string flushed = primary.query_value("SELECT pg_current_wal_flush_lsn()");
  INFO("waiting for the standby to receive " << flushed);
  REQUIRE(eventually(
      [&] {
        return standby.query_value("SELECT pg_last_wal_receive_lsn() >= " + sql_literal(flushed) +
                                   "::pg_lsn") == "t";
      },
      std::chrono::seconds(10)));
}

// The standby's entry in the primary's pg_stat_replication.
const std::string kWalSender =
    "FROM pg_stat_replication WHERE application_name = " + sql_literal(kApplication);

}  // namespace

TEST_CASE("a primary and its standby each export their side of replication", "[integration]") {
  auto& c = cluster();
  const auto& primary = c.primary;
  const auto& standby = *c.standby;

  SECTION("the primary: not a replica, one streaming WAL sender, an active slot") {
    const double current_before = lsn_bytes(primary, "pg_current_wal_lsn()");
    const double replay_before = lsn_bytes(primary, "(SELECT replay_lsn " + kWalSender + ")");
    const double restart_before =
        lsn_bytes(primary, "(SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'standby_slot')");
    auto metrics = scrape(*c.on_primary, "primary", true);
    const double current_after = lsn_bytes(primary, "pg_current_wal_lsn()");
    const double replay_after = lsn_bytes(primary, "(SELECT replay_lsn " + kWalSender + ")");
    const double restart_after =
        lsn_bytes(primary, "(SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'standby_slot')");
    INFO("primary exporter log:\n" << c.on_primary->log_tail());

    CHECK(metrics.value("pg_up") == 1.0);
    CHECK(metrics.value("pg_replication_is_replica") == 0.0);
    CHECK(metrics.value("pg_replication_lag_seconds") == 0.0);  // 0 on a primary, says the catalog

    // One series for the standby, labelled as the primary's view shows it.
    auto senders = metrics.find("pg_stat_replication_pg_wal_lsn_diff", {{"application_name", kApplication}});
    REQUIRE(senders.size() == 1);
    CHECK(senders[0]->labels.size() == 4);
    CHECK(senders[0]->label("state") == primary.query_value("SELECT state " + kWalSender));
    CHECK(senders[0]->label("state") == "streaming");
    CHECK(senders[0]->label("slot_name") == kSlot);
    // The address as the view prints it (and postgres_exporter exports it),
    // not inet's text() with the netmask.
    CHECK(senders[0]->label("client_addr") == primary.query_value("SELECT client_addr " + kWalSender));
    CHECK(senders[0]->label("client_addr") == "127.0.0.1");
    // Current position minus the standby's replayed one, read between our reads.
    CHECK(senders[0]->value >= current_before - replay_after);
    CHECK(senders[0]->value <= current_after - replay_before);
    auto position = metrics.value("pg_stat_replication_pg_current_wal_lsn_bytes", senders[0]->labels);
    REQUIRE(position.has_value());
    CHECK(*position >= current_before);
    CHECK(*position <= current_after);
    // The time-based lags have no sample while the standby idles; their
    // families are checked under load below.

    // The slot the standby streams from.
    const Labels slot{{"slot_name", kSlot}, {"database", ""}};
    CHECK(metrics.value("pg_replication_slots_active", slot) == 1.0);
    auto retained = metrics.value("pg_replication_slots_pg_wal_lsn_diff", slot);
    REQUIRE(retained.has_value());
    CHECK(*retained >= current_before - restart_after);
    CHECK(*retained <= current_after - restart_before);
    const Labels typed{{"slot_name", kSlot}, {"slot_type", "physical"}};
    CHECK(metrics.value("pg_replication_slots_slot_is_active", typed) == 1.0);
    const std::string wal_status =
        primary.query_value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'standby_slot'");
    CHECK(metrics.value("pg_replication_slots_wal_status",
                        {{"slot_name", kSlot}, {"slot_type", "physical"}, {"wal_status", wal_status}}) ==
          1.0);
  }

  SECTION("the standby: a replica whose WAL receiver streams from the primary's slot") {
    const double flushed_before = lsn_bytes(standby, "(SELECT flushed_lsn FROM pg_stat_wal_receiver)");
    auto metrics = scrape(*c.on_standby, "standby", true);
    const double flushed_after = lsn_bytes(standby, "(SELECT flushed_lsn FROM pg_stat_wal_receiver)");
    INFO("standby exporter log:\n" << c.on_standby->log_tail());

    CHECK(metrics.value("pg_up") == 1.0);
    CHECK(metrics.value("pg_replication_is_replica") == 1.0);
    auto lag = metrics.value("pg_replication_lag_seconds");
    REQUIRE(lag.has_value());
    CHECK(*lag >= 0);
    auto last_replay = metrics.value("pg_replication_last_replay_seconds");
    REQUIRE(last_replay.has_value());
    CHECK(*last_replay >= 0);

    // Labelled with the upstream and slot the standby's own view shows.
    auto receiver = standby.query("SELECT sender_host, slot_name, received_tli FROM pg_stat_wal_receiver");
    REQUIRE(receiver.size() == 1);
    const Labels upstream{{"upstream_host", receiver[0][0].value_or("")},
                          {"slot_name", receiver[0][1].value_or("")}};
    CHECK(upstream == Labels{{"upstream_host", "127.0.0.1"}, {"slot_name", kSlot}});
    CHECK(metrics.count("pg_stat_wal_receiver_status") == 1);
    CHECK(metrics.value("pg_stat_wal_receiver_status", upstream) == 2.0);  // streaming
    CHECK(metrics.value("pg_stat_wal_receiver_received_tli", upstream) == std::stod(*receiver[0][2]));
    auto flushed = metrics.value("pg_stat_wal_receiver_flushed_lsn", upstream);
    REQUIRE(flushed.has_value());
    CHECK(*flushed >= flushed_before);
    CHECK(*flushed <= flushed_after);
    CHECK(metrics.value("pgscope_exporter_collector_success", {{"collector", "stat_wal_receiver"}}) == 1.0);

    // A standby has no WAL senders and pg_basebackup copies no slots.
    CHECK(metrics.count("pg_stat_replication_pg_wal_lsn_diff") == 0);
    CHECK(metrics.count("pg_replication_slots_active") == 0);
  }
}

TEST_CASE(
    "while the standby's replay is paused its lag shows in bytes on the primary and in seconds on itself",
    "[integration]") {
  auto& c = cluster();
  const auto& primary = c.primary;
  const auto& standby = *c.standby;
  const Labels sender{{"application_name", kApplication}};

  // A replayed commit, so that pg_last_xact_replay_timestamp() is recent.
  primary.exec("INSERT INTO filler VALUES (0, 'before the pause')");
  standby.wait_for_replay(primary);

  standby.exec("SELECT pg_wal_replay_pause()");
  Finally resume{[&] { standby.exec("SELECT pg_wal_replay_resume()"); }};
  // The pause is requested: no record after this position is replayed.
  const double replayed = lsn_bytes(standby, "pg_last_wal_replay_lsn()");

  // About 5 MB of WAL: 6000 rows of 1 kB, too small to be compressed,
  // committed synchronously so that all of it is flushed (and so sendable)
  // when exec() returns.
  const double start = lsn_bytes(primary, "pg_current_wal_insert_lsn()");
  primary.exec(
      "SET synchronous_commit = on;"
      "INSERT INTO filler SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 6000) g");
  REQUIRE(lsn_bytes(primary, "pg_current_wal_insert_lsn()") - start > 4 * kMiB);
  // The standby still receives and flushes WAL; it only does not replay it.
  wait_for_receive(primary, standby);
  REQUIRE(lsn_bytes(standby, "pg_last_wal_replay_lsn()") == replayed);

  {
    INFO("primary exporter log:\n" << c.on_primary->log_tail());
    const double current_before = lsn_bytes(primary, "pg_current_wal_lsn()");
    const double reported_before = lsn_bytes(primary, "(SELECT replay_lsn " + kWalSender + ")");
    auto metrics = scrape(*c.on_primary, "primary", true);
    const double current_after = lsn_bytes(primary, "pg_current_wal_lsn()");
    auto diff = metrics.value("pg_stat_replication_pg_wal_lsn_diff", sender);
    REQUIRE(diff.has_value());
    INFO("exported lag " << *diff << " bytes; primary at " << current_before << ".." << current_after
                         << ", standby replayed " << replayed << ", primary saw replay at "
                         << reported_before);
    CHECK(*diff > 1 * kMiB);
    // The primary knows at most what the standby replayed, which is frozen.
    CHECK(reported_before <= replayed);
    CHECK(*diff >= current_before - replayed);
    CHECK(*diff <= current_after - reported_before);
    CHECK(metrics.value("pg_replication_slots_active", {{"slot_name", kSlot}}) == 1.0);

    // The standby wrote and flushed the WAL, so the WAL sender has measured
    // those delays (they are cleared only once the standby replayed all).
    bool measured = eventually(
        [&] {
          auto m = scrape(*c.on_primary, "primary");
          return m.count("pg_stat_replication_write_lag_seconds", sender) == 1 &&
                 m.count("pg_stat_replication_flush_lag_seconds", sender) == 1;
        },
        std::chrono::seconds(5));
    INFO("primary's view: " << primary.query_value(
             "SELECT concat_ws(', ', write_lag, flush_lag, replay_lag) " + kWalSender));
    CHECK(measured);
  }

  {
    // The catalog: lag is now() - pg_last_xact_replay_timestamp() while the
    // received and replayed positions differ. Bracket it with that same
    // expression on the standby.
    INFO("standby exporter log:\n" << c.on_standby->log_tail());
    REQUIRE(standby.query_value("SELECT pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn()") == "t");
    const std::string since_replay = "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())";
    const double before = number(standby, since_replay);
    auto first = scrape(*c.on_standby, "standby", true);
    const double after = number(standby, since_replay);
    auto lag = first.value("pg_replication_lag_seconds");
    REQUIRE(lag.has_value());
    INFO("lag " << *lag << " s, bracketed by " << before << " and " << after);
    CHECK(*lag >= before - 0.01);
    CHECK(*lag <= after + 0.01);
    CHECK(first.value("pg_replication_last_replay_seconds") >= before - 0.01);
    CHECK(first.value("pg_stat_wal_receiver_status", {{"slot_name", kSlot}}) == 2.0);  // still streaming

    // Commits keep arriving; none is replayed, so the lag grows with the clock.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    primary.exec("SET synchronous_commit = on; INSERT INTO filler VALUES (1, 'while paused')");
    wait_for_receive(primary, standby);
    const double later_before = number(standby, since_replay);
    auto second = scrape(*c.on_standby, "standby");
    const double later_after = number(standby, since_replay);
    auto later = second.value("pg_replication_lag_seconds");
    REQUIRE(later.has_value());
    INFO("later lag " << *later << " s, bracketed by " << later_before << " and " << later_after);
    CHECK(*later >= *lag + 1.5);
    CHECK(*later >= later_before - 0.01);
    CHECK(*later <= later_after + 0.01);
  }

  standby.exec("SELECT pg_wal_replay_resume()");

  {
    // The standby catches up and says so within wal_receiver_status_interval;
    // on the way the WAL sender measures the replay delay too (shown until
    // the standby reports twice in a row that it replayed everything).
    bool saw_replay_lag = false;
    double last_diff = -1;
    bool caught_up = eventually(
        [&] {
          auto m = scrape(*c.on_primary, "primary");
          if (m.count("pg_stat_replication_replay_lag_seconds", sender) == 1) {
            saw_replay_lag = true;
            CHECK(m.value("pg_stat_replication_replay_lag_seconds", sender) >= 0.0);
          }
          last_diff = m.value("pg_stat_replication_pg_wal_lsn_diff", sender).value_or(-1);
          return saw_replay_lag && last_diff >= 0 && last_diff < 64 * 1024;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50));
    INFO("last exported lag " << last_diff << " bytes, replay lag seen: " << saw_replay_lag
                              << "\nprimary exporter log:\n"
                              << c.on_primary->log_tail());
    CHECK(caught_up);
  }
  {
    double lag = -1;
    bool caught_up = eventually(
        [&] {
          lag = scrape(*c.on_standby, "standby").value("pg_replication_lag_seconds").value_or(-1);
          return lag == 0.0;
        },
        std::chrono::seconds(10));
    INFO("last exported standby lag " << lag << " s");
    CHECK(caught_up);  // received == replayed: 0, says the catalog
  }
}
