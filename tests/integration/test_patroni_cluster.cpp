// The exporter against a real Patroni cluster: the testbed of scripts/testbed
// (ctest fixture `testbed`: etcd, three members of PostgreSQL 15, Patroni TTL
// 10 s). One exporter per member, each with that member's PostgreSQL and
// REST API. A switchover and a hard kill of the leader must both show in what
// the exporters report, and the dead member's exporter must keep answering.
// Every case leaves the cluster whole (three running members) for the next.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/docs_check.hpp"
#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/testbed.hpp"

using namespace pgscope::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

struct Cluster {
  Testbed bed = Testbed::load();
  std::map<std::string, std::unique_ptr<ExporterProcess>> exporters;  // by member name

  Cluster() {
    bed.wait_until_whole();
    for (const auto& m : bed.members) {
      exporters[m.name] = std::make_unique<ExporterProcess>(std::vector<std::string>{
          "--postgres.dsn=" + bed.dsn(m), "--patroni.url=" + m.api_url(), "--scrape.timeout=5s"});
    }
  }
};

Cluster& cluster() {
  static Cluster instance;
  return instance;
}

// One scrape of one member's exporter.
struct Snapshot : ScrapeOutcome {
  std::string member;

  std::string describe() const {
    std::ostringstream out;
    out << member << ": " << summary() << "; pg_up " << get("pg_up") << ", patroni_up " << get("patroni_up")
        << ", patroni_primary " << get("patroni_primary") << ", patroni_replica " << get("patroni_replica")
        << ", timeline " << get("patroni_postgres_timeline") << ", failovers "
        << get("patroni_cluster_failovers_total");
    return out.str();
  }
};

Snapshot take(const std::string& member) {
  return {try_scrape(*cluster().exporters.at(member), {}, 10s), member};
}

std::map<std::string, Snapshot> take_all(const std::vector<std::string>& members) {
  std::map<std::string, Snapshot> all;
  for (const auto& m : members) all[m] = take(m);
  return all;
}

std::string describe(const std::map<std::string, Snapshot>& all) {
  std::string text;
  for (const auto& [member, snapshot] : all) text += snapshot.describe() + "\n";
  return text;
}

// The members whose exporter says patroni_primary 1.
std::vector<std::string> primaries(const std::map<std::string, Snapshot>& all) {
  std::vector<std::string> names;
  for (const auto& [member, snapshot] : all) {
    if (snapshot.get("patroni_primary") == 1) names.push_back(member);
  }
  return names;
}

std::vector<std::string> names_except(const std::string& excluded) {
  std::vector<std::string> names;
  for (const auto& m : cluster().bed.members) {
    if (m.name != excluded) names.push_back(m.name);
  }
  return names;
}

// Waits until, among `members`, exactly one exporter reports patroni_primary 1
// with a timeline above `timeline_before`, and the failover count (as that
// new leader's exporter reports it) is above `failovers_before`. Returns the
// new leader's name ("" on timeout) and leaves the last snapshots in `last`.
std::string wait_for_new_leader(const std::vector<std::string>& members, double timeline_before,
                                double failovers_before, std::chrono::milliseconds timeout,
                                std::map<std::string, Snapshot>& last) {
  std::string leader;
  wait_until(
      [&] {
        last = take_all(members);
        auto found = primaries(last);
        if (found.size() != 1) return false;
        const auto& snapshot = last.at(found.front());
        if (!(snapshot.get("patroni_postgres_timeline") > timeline_before)) return false;
        if (!(snapshot.get("patroni_cluster_failovers_total") > failovers_before)) return false;
        leader = found.front();
        return true;
      },
      timeout, 200ms);
  return leader;
}

}  // namespace

TEST_CASE("each member's exporter reports its own role", "[integration][testbed]") {
  auto& c = cluster();
  const std::string leader = c.bed.leader();
  REQUIRE_FALSE(leader.empty());
  for (const auto& m : c.bed.members) {
    const bool is_leader = m.name == leader;
    Snapshot last;
    bool settled = wait_until(
        [&] {
          last = take(m.name);
          return last.get("pg_up") == 1 && last.get("patroni_up") == 1 &&
                 last.get("patroni_primary") == (is_leader ? 1 : 0) &&
                 last.get("patroni_replica") == (is_leader ? 0 : 1);
        },
        15s);
    INFO("leader " << leader << "; " << last.describe() << "\nexporter log:\n"
                   << c.exporters.at(m.name)->log_tail());
    CHECK(settled);
    CHECK(last.get("pg_up") == 1);
    CHECK(last.get("patroni_up") == 1);
    CHECK(last.get("patroni_primary") == (is_leader ? 1 : 0));
    CHECK(last.get("patroni_replica") == (is_leader ? 0 : 1));
    // The cluster view is the same from every member: three members, one leader.
    CHECK(last.metrics.count("patroni_cluster_member_info") == 3);
    CHECK(last.metrics.count("patroni_cluster_member_info", {{"member", leader}, {"role", "leader"}}) == 1);
    CHECK(last.metrics.value("patroni_cluster_leaders", {{"scope", c.bed.scope}}) == 1.0);
  }
  // What a member's exporter emits (PostgreSQL and Patroni together) is valid
  // and described in docs/metrics.md.
  const auto body = c.exporters.at(leader)->scrape().body;
  const auto lint = promtool_check(body);
  INFO("promtool:\n" << lint.output);
  CHECK_FALSE(lint.parse_error());
  const auto missing = undocumented_families(parse_prom_text(body));
  INFO("not in docs/metrics.md: " << Catch::Detail::stringify(missing));
  CHECK(missing.empty());
}

TEST_CASE("a switchover shows as a new primary, a new timeline and one more failover",
          "[integration][testbed]") {
  auto& c = cluster();
  const std::string old_leader = c.bed.leader();
  REQUIRE_FALSE(old_leader.empty());
  const std::string candidate = names_except(old_leader).front();
  const auto before = take_all({old_leader, candidate});
  const double timeline_before = before.at(old_leader).get("patroni_postgres_timeline");
  const double failovers_before = before.at(candidate).get("patroni_cluster_failovers_total");
  INFO(describe(before));
  REQUIRE(timeline_before >= 1);
  REQUIRE(failovers_before >= 0);

  auto result = c.bed.patronictl({"switchover", "--leader", old_leader, "--candidate", candidate, "--force"});
  INFO("patronictl switchover: exit " << result.exit_code << "\n" << result.out << result.err);
  REQUIRE(result.exit_code == 0);

  std::map<std::string, Snapshot> last;
  const auto started = Clock::now();
  const std::string new_leader =
      wait_for_new_leader(names_except(""), timeline_before, failovers_before, 30s, last);
  INFO("after " << std::chrono::duration<double>(Clock::now() - started).count() << " s:\n"
                << describe(last));
  CHECK(new_leader == candidate);
  CHECK(primaries(last).size() == 1);

  // The old leader rejoins as a replica before the next case.
  REQUIRE_NOTHROW(c.bed.wait_until_whole(45s));
}

TEST_CASE("a hard kill of the leader: the survivors elect one, the dead member's exporter answers",
          "[integration][testbed]") {
  auto& c = cluster();
  const std::string old_leader = c.bed.leader();
  REQUIRE_FALSE(old_leader.empty());
  const auto& dead = c.bed.member(old_leader);
  const auto survivors = names_except(old_leader);
  const auto before = take_all(names_except(""));
  const double timeline_before = before.at(old_leader).get("patroni_postgres_timeline");
  const double failovers_before = before.at(survivors.front()).get("patroni_cluster_failovers_total");
  INFO(describe(before));
  REQUIRE(timeline_before >= 1);
  REQUIRE(failovers_before >= 0);

  bool restored = false;
  Finally restore_on_failure{[&] {
    if (!restored) c.bed.restore();
  }};

  REQUIRE(c.bed.patroni_pid(dead) > 0);
  REQUIRE(c.bed.postmaster_pid(dead) > 0);
  c.bed.kill_member(dead);
  const auto killed_at = Clock::now();
  REQUIRE(c.bed.patroni_pid(dead) == -1);
  REQUIRE(c.bed.postmaster_pid(dead) == -1);

  // Right away: the dead member's exporter answers, promptly, with both down.
  Snapshot dead_view = take(old_leader);
  {
    INFO(dead_view.describe() << "\nexporter log:\n" << c.exporters.at(old_leader)->log_tail());
    CHECK(dead_view.status == 200);
    CHECK(dead_view.seconds < 3.0);
    CHECK(dead_view.get("pg_up") == 0);
    CHECK(dead_view.get("patroni_up") == 0);
  }

  // Within the TTL (10 s) and a few HA loops: one new leader among the survivors.
  std::map<std::string, Snapshot> last;
  const std::string new_leader = wait_for_new_leader(survivors, timeline_before, failovers_before, 30s, last);
  const double election_s = std::chrono::duration<double>(Clock::now() - killed_at).count();
  {
    INFO("after " << election_s << " s:\n"
                  << describe(last) << "\nPatroni log of " << survivors.front() << ":\n"
                  << c.bed.log_tail(c.bed.member(survivors.front())));
    CHECK_FALSE(new_leader.empty());
    CHECK(primaries(last).size() == 1);
    CHECK(election_s < 20);
  }

  // Still answering, still down, after the election.
  dead_view = take(old_leader);
  {
    INFO(dead_view.describe());
    CHECK(dead_view.status == 200);
    CHECK(dead_view.seconds < 3.0);
    CHECK(dead_view.get("pg_up") == 0);
    CHECK(dead_view.get("patroni_up") == 0);
  }

  // Whole again for whatever runs next: the old leader rejoins as a replica.
  restored = true;
  REQUIRE_NOTHROW(c.bed.restore());
  REQUIRE_NOTHROW(c.bed.wait_until_whole(45s));
  Snapshot back;
  bool answered = wait_until(
      [&] {
        back = take(old_leader);
        return back.get("pg_up") == 1 && back.get("patroni_up") == 1 && back.get("patroni_replica") == 1;
      },
      15s);
  INFO(back.describe());
  CHECK(answered);
}
