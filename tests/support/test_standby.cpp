// TestPostgres as a streaming standby: the steps of its own (the registry,
// watchdog, start and teardown are shared with the primary, in
// test_postgres.cpp).
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_postgres.hpp"

namespace pgscope::test {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `condition` every 50 ms; the last exception it threw (a server still
// starting, say) counts as "not yet".
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit, std::string& last_error) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    try {
      if (condition()) return true;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

std::unique_ptr<TestPostgres> TestPostgres::standby_of(const TestPostgres& primary,
                                                       const std::string& slot_name,
                                                       const std::string& application_name) {
  if (!primary.running()) throw std::runtime_error("standby_of: the primary is not running");
  if (application_name.empty()) throw std::runtime_error("standby_of: application_name must not be empty");
  return std::unique_ptr<TestPostgres>(new TestPostgres(StandbyTag{}, primary, slot_name, application_name));
}

void TestPostgres::clone_from(const TestPostgres& primary, const std::string& slot_name) {
  if (!slot_name.empty()) {
    // Reserves WAL at once, so nothing the standby needs is removed before it
    // first connects.
    primary.exec("SELECT pg_create_physical_replication_slot(" + sql_literal(slot_name) +
                 ", true) WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = " +
                 sql_literal(slot_name) + ")");
  }
  // -R writes primary_conninfo (this connection string less dbname, so with
  // application_name) and primary_slot_name to postgresql.auto.conf and
  // creates standby.signal. Port and socket directory come from
  // pgscope_test.conf, which write_settings() rewrites for this server.
  std::vector<std::string> argv{
      bin_dir_ + "/pg_basebackup",
      "-D",
      data_dir(),
      "-d",
      primary.dsn() + " application_name=" + conninfo_value(standby_application_name_),
      "-R",
      "-X",
      "stream",
      "-c",
      "fast",
      "--no-sync"};
  if (!slot_name.empty()) {
    argv.push_back("-S");
    argv.push_back(slot_name);
  }
  try {
    run_checked(as_server_user(argv), "pg_basebackup");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + "\n--- primary log (tail):\n" + primary.log_tail());
  }
}

void TestPostgres::wait_until_streaming(const TestPostgres& primary) const {
  const std::string name = sql_literal(standby_application_name_);
  std::string last_error;
  bool ok = eventually(
      [&] {
        return query_value("SELECT pg_is_in_recovery()") == "t" &&
               query_value("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == "1" &&
               primary.query_value("SELECT count(*) FROM pg_stat_replication WHERE application_name = " +
                                   name + " AND state = 'streaming'") != "0";
      },
      std::chrono::seconds(30), last_error);
  if (!ok) {
    throw std::runtime_error("the standby did not start streaming within 30 s" +
                             (last_error.empty() ? "" : " (last error: " + last_error + ")") +
                             "\n--- standby log (tail):\n" + log_tail() + "\n--- primary log (tail):\n" +
                             primary.log_tail());
  }
}

void TestPostgres::wait_for_replay(const TestPostgres& primary, std::chrono::milliseconds timeout) const {
  // The insert position, not pg_current_wal_lsn(): with synchronous_commit
  // off that is the write position, which a commit just made may not have
  // reached yet. The WAL writer flushes it within wal_writer_delay, and the
  // WAL sender then sends it.
  const std::string target =
      sql_literal(primary.query_value("SELECT pg_current_wal_insert_lsn()")) + "::pg_lsn";
  // When the last record ends at a page boundary, the insert position is past
  // the next page's header (24 bytes, 40 at a segment start), which replay
  // reaches only with the next record.
  const std::string replayed =
      "SELECT pg_last_wal_replay_lsn() >= " + target + " OR (pg_wal_lsn_diff(" + target +
      ", pg_last_wal_replay_lsn()) <= 40 AND (pg_last_wal_replay_lsn() - '0/0') % 8192 = 0)";
  std::string last_error;
  bool ok = eventually([&] { return query_value(replayed) == "t"; }, timeout, last_error);
  if (!ok) {
    throw std::runtime_error("the standby did not replay up to " + target + " in time (replayed up to " +
                             query_value("SELECT pg_last_wal_replay_lsn()") + ")" +
                             (last_error.empty() ? "" : "; last error: " + last_error) +
                             "\n--- standby log (tail):\n" + log_tail());
  }
}

}  // namespace pgscope::test
