// Faults of a real Patroni cluster under the exporters: the testbed of
// scripts/testbed (ctest fixture `testbed`: etcd, three members of
// PostgreSQL 15, Patroni TTL 10 s, pgBouncer in front of member1). One
// exporter per member with that member's PostgreSQL and REST API, member1's
// also with pgBouncer. While Patroni promotes one member and demotes another
// (a switchover), and while a member's Patroni is stopped (SIGSTOP: its API
// accepts connections and never answers), every scrape answers within
// Prometheus's scrape timeout, the affected *_up is 0 and the rest intact,
// and every exporter reports the new roles by itself afterwards.
// Every case leaves the cluster whole (three running members) for the next.
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/testbed.hpp"

using namespace pgscope::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kScrapeTimeout = "3";  // X-Prometheus-Scrape-Timeout-Seconds
constexpr double kLatestAnswer = 3.2;        // seconds: the timeout and a little for loopback and CI

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void report(const std::string& line) { std::cout << "[patroni faults] " << line << std::endl; }

struct Cluster {
  Testbed bed = Testbed::load();
  std::map<std::string, std::unique_ptr<ExporterProcess>> exporters;  // by member name

  Cluster() {
    bed.wait_until_whole();
    for (const auto& m : bed.members) {
      std::vector<std::string> args{"--postgres.dsn=" + bed.dsn(m), "--patroni.url=" + m.api_url(),
                                    "--scrape.timeout=10s"};
      if (m.name == bed.members.front().name) args.push_back("--pgbouncer.dsn=" + bed.pgbouncer_admin_dsn());
      exporters[m.name] = std::make_unique<ExporterProcess>(args);
    }
  }

  std::vector<std::string> names() const {
    std::vector<std::string> all;
    for (const auto& m : bed.members) all.push_back(m.name);
    return all;
  }
};

Cluster& cluster() {
  static Cluster instance;
  return instance;
}

struct Snapshot : ScrapeOutcome {
  std::string member;

  std::string describe() const {
    std::ostringstream out;
    out << member << ": " << summary() << "; pg_up " << get("pg_up") << ", patroni_up " << get("patroni_up")
        << ", pgbouncer_up " << get("pgbouncer_up") << ", patroni_primary " << get("patroni_primary")
        << ", pg_replication_is_replica " << get("pg_replication_is_replica") << ", timeline "
        << get("patroni_postgres_timeline");
    return out.str();
  }
};

Snapshot take(const std::string& member) {
  return {try_scrape(*cluster().exporters.at(member),
                     {{"X-Prometheus-Scrape-Timeout-Seconds", kScrapeTimeout}}, 15s),
          member};
}

// Scrapes every member's exporter in turn, without pause, until stopped, and
// keeps what went wrong: an answer that is not a 200 with a parsable
// exposition, or that came later than the scrape timeout.
class Watcher {
 public:
  Watcher(std::vector<std::string> members, Clock::time_point start) : members_(std::move(members)) {
    thread_ = std::thread([this, start] {
      while (!stopping_) {
        for (const auto& member : members_) {
          const double sent = seconds_since(start);
          const auto snapshot = take(member);
          std::lock_guard<std::mutex> lock(mutex_);
          auto& mine = per_member_[member];
          mine.pg_up.push_back({sent, snapshot.status == 200 && snapshot.get("pg_up") == 1});
          ++mine.scrapes;
          if (snapshot.seconds > mine.slowest) {
            mine.slowest = snapshot.seconds;
            mine.slowest_scrape = snapshot.describe() + "; collector durations: postgres " +
                                  std::to_string(snapshot.get("pgscope_exporter_collector_duration_seconds",
                                                              {{"collector", "postgres"}})) +
                                  " s, patroni " +
                                  std::to_string(snapshot.get("pgscope_exporter_collector_duration_seconds",
                                                              {{"collector", "patroni"}})) +
                                  " s";
          }
          if (snapshot.status != 200 || snapshot.seconds > kLatestAnswer) {
            ++mine.failed;
            if (first_failure_.empty()) first_failure_ = snapshot.describe();
            continue;
          }
          if (snapshot.get("pg_up") != 1) ++mine.pg_down;
          if (snapshot.get("patroni_up") != 1) ++mine.patroni_down;
          if (snapshot.metrics.value("pgbouncer_up") && snapshot.get("pgbouncer_up") != 1)
            ++mine.pgbouncer_down;
        }
      }
    });
  }
  ~Watcher() { stop(); }

  struct Figures {
    long scrapes = 0, failed = 0, pg_down = 0, patroni_down = 0, pgbouncer_down = 0;
    double slowest = 0;
    std::string slowest_scrape;
    std::vector<std::pair<double, bool>> pg_up;  // when each scrape was sent (s since start), pg_up 1

    // When the first scrape sent at or after `at` that reported pg_up 1 was
    // sent (s since start); -1: none.
    double up_after(double at) const {
      for (const auto& [sent, up] : pg_up) {
        if (sent >= at && up) return sent;
      }
      return -1;
    }
    // The first scrape sent at or after `at`: when, and whether it said pg_up 1.
    std::pair<double, bool> first_after(double at) const {
      for (const auto& sample : pg_up) {
        if (sample.first >= at) return sample;
      }
      return {-1, false};
    }
    // Scrapes sent at least `grace` seconds after `at` that still said pg_up 0.
    long down_after(double at, double grace) const {
      long count = 0;
      for (const auto& [sent, up] : pg_up) count += sent >= at + grace && !up ? 1 : 0;
      return count;
    }
  };
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, Figures> figures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return per_member_;
  }
  std::string first_failure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_failure_;
  }

 private:
  std::vector<std::string> members_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, Figures> per_member_;
  std::string first_failure_;
  std::thread thread_;
};

// Connects to each member's PostgreSQL directly every 100 ms (a new session
// each time, as a client after a restart would) and keeps when it answered:
// the ground truth for when a member's PostgreSQL was down.
class DirectProbe {
 public:
  struct Sample {
    double at = 0;  // seconds since `start`
    bool answered = false;
  };
  explicit DirectProbe(Clock::time_point start) : start_(start) {
    thread_ = std::thread([this] {
      while (!stopping_) {
        for (const auto& m : cluster().bed.members) {
          const std::string dsn = cluster().bed.dsn(m) + " connect_timeout=1";
          std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(dsn.c_str()), &PQfinish);
          bool answered = false;
          if (PQstatus(connection.get()) == CONNECTION_OK) {
            std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), "SELECT 1"),
                                                                 &PQclear);
            answered = PQresultStatus(result.get()) == PGRES_TUPLES_OK;
          }
          std::lock_guard<std::mutex> lock(mutex_);
          samples_[m.name].push_back({seconds_since(start_), answered});
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~DirectProbe() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // When the member's PostgreSQL first answered after its last failure
  // (seconds since start); -1 when it never failed.
  double back_at(const std::string& member) const {
    std::lock_guard<std::mutex> lock(mutex_);
    double back = -1;
    bool failed = false;
    for (const auto& sample : samples_.at(member)) {
      if (!sample.answered) {
        failed = true;
        back = -1;
      } else if (failed && back < 0) {
        back = sample.at;
      }
    }
    return failed ? back : -1;
  }
  double first_failure(const std::string& member) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& sample : samples_.at(member)) {
      if (!sample.answered) return sample.at;
    }
    return -1;
  }

 private:
  Clock::time_point start_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Sample>> samples_;
  std::thread thread_;
};

// Waits until every member's exporter reports every source up and `leader`
// as the only primary (PostgreSQL out of recovery there only).
bool roles_settled(const std::string& leader, std::map<std::string, Snapshot>& last,
                   std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        bool settled = true;
        for (const auto& member : cluster().names()) {
          auto snapshot = take(member);
          const double primary = member == leader ? 1 : 0;
          settled = settled && snapshot.status == 200 && snapshot.get("pg_up") == 1 &&
                    snapshot.get("patroni_up") == 1 && snapshot.get("patroni_primary") == primary &&
                    snapshot.get("pg_replication_is_replica") == 1 - primary;
          last[member] = std::move(snapshot);
        }
        return settled;
      },
      timeout, 200ms);
}

// The state letter and parent of a process, from /proc/PID/stat ('?' and 0 when gone).
std::pair<char, pid_t> state_and_parent(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return {'?', 0};
  std::istringstream rest(stat.substr(paren + 2));
  char state = '?';
  pid_t parent = 0;
  rest >> state >> parent;
  return {state, parent};
}

// SIGCONT for a Patroni this test stopped. As root, scripts/testbed runs
// Patroni under util-linux's runuser, which stops itself when its child
// stops and goes on only when continued itself: left stopped, it would
// outlive the member (and `scripts/testbed down` complains). So the runuser
// that our SIGSTOP stopped is continued too; it then continues its child.
void resume(pid_t patroni) {
  const pid_t parent = state_and_parent(patroni).second;
  kill(patroni, SIGCONT);
  if (parent > 1 && read_file("/proc/" + std::to_string(parent) + "/comm").rfind("runuser", 0) == 0 &&
      state_and_parent(parent).first == 'T') {
    kill(parent, SIGCONT);
  }
}

std::string describe(const std::map<std::string, Snapshot>& all) {
  std::string text;
  for (const auto& [member, snapshot] : all) text += snapshot.describe() + "\n";
  return text;
}

}  // namespace

TEST_CASE("a switchover under the exporters: every scrape in time, the new roles reported by themselves",
          "[integration][testbed][faults]") {
  auto& c = cluster();
  const std::string old_leader = c.bed.leader();
  REQUIRE_FALSE(old_leader.empty());
  std::map<std::string, Snapshot> last;
  {
    const bool settled = roles_settled(old_leader, last, 20s);
    INFO(describe(last));
    REQUIRE(settled);
  }
  std::string candidate;
  for (const auto& name : c.names()) {
    if (name != old_leader && candidate.empty()) candidate = name;
  }

  const auto origin = Clock::now();
  DirectProbe direct(origin);
  Watcher watcher(c.names(), origin);
  std::this_thread::sleep_for(1s);  // a few scrapes before
  const auto started = Clock::now();
  const auto result =
      c.bed.patronictl({"switchover", "--leader", old_leader, "--candidate", candidate, "--force"});
  INFO("patronictl switchover: exit " << result.exit_code << "\n" << result.out << result.err);
  REQUIRE(result.exit_code == 0);

  const bool settled = roles_settled(candidate, last, 45s);
  const double settle_seconds = seconds_since(started);
  std::this_thread::sleep_for(1s);  // a few scrapes after
  watcher.stop();
  direct.stop();
  const auto figures = watcher.figures();

  std::ostringstream summary;
  summary << "switchover " << old_leader << " -> " << candidate
          << ": every exporter reports the new roles after " << std::fixed << std::setprecision(1)
          << settle_seconds << " s";
  for (const auto& [member, f] : figures) {
    summary << "\n  " << member << ": " << f.scrapes << " scrapes, " << f.failed
            << " failed or late, slowest " << std::setprecision(3) << f.slowest << " s; pg_up 0 in "
            << f.pg_down << ", patroni_up 0 in " << f.patroni_down << ", pgbouncer_up 0 in "
            << f.pgbouncer_down;
    const double back = direct.back_at(member);
    if (back >= 0) {
      summary << "; its PostgreSQL refused connections from " << std::setprecision(1)
              << direct.first_failure(member) << " s to " << back
              << " s (since the watch began); the first scrape sent after that (at "
              << f.first_after(back).first << " s) said pg_up " << (f.first_after(back).second ? 1 : 0)
              << ", pg_up 1 from a scrape sent at " << f.up_after(back) << " s on";
    }
    if (f.slowest > 0.5) summary << "\n    slowest: " << f.slowest_scrape;
  }
  report(summary.str());
  INFO(summary.str() << "\nfirst failure: " << watcher.first_failure() << "\nlast:\n"
                     << describe(last) << "exporter log of " << old_leader << ":\n"
                     << c.exporters.at(old_leader)->log_tail());
  CHECK(settled);
  for (const auto& [member, f] : figures) {
    CHECK(f.scrapes > 3);
    CHECK(f.failed == 0);
    CHECK(f.slowest <= kLatestAnswer);
    CHECK(f.patroni_down == 0);                      // Patroni's API answers throughout a switchover
    CHECK(f.pgbouncer_down == 0);                    // pgBouncer's console does not depend on the backend
    if (member == candidate) CHECK(f.pg_down == 0);  // promoted without a restart
    // Once its PostgreSQL answers again (a direct connection works), the
    // exporter says so by itself: no scrape sent half a second later still
    // reports it down.
    const double back = direct.back_at(member);
    if (back >= 0) {
      CHECK(f.up_after(back) >= 0);
      CHECK(f.down_after(back, 0.5) == 0);
    }
  }
  // Whole again for the next case: the old leader streams as a replica.
  REQUIRE_NOTHROW(c.bed.wait_until_whole(45s));
}

TEST_CASE(
    "a member's Patroni stopped (API hanging): patroni_up 0 by the deadline, PostgreSQL intact, then back",
    "[integration][testbed][faults]") {
  auto& c = cluster();
  const std::string leader = c.bed.leader();
  REQUIRE_FALSE(leader.empty());
  std::string replica;
  for (const auto& name : c.names()) {
    if (name != leader && replica.empty()) replica = name;
  }
  const auto& member = c.bed.member(replica);
  const pid_t patroni = c.bed.patroni_pid(member);
  REQUIRE(patroni > 0);
  {
    std::map<std::string, Snapshot> last;
    const bool settled = roles_settled(leader, last, 20s);
    INFO(describe(last));
    REQUIRE(settled);
  }

  // Well within the TTL (10 s): the cluster does not notice.
  Snapshot first, second, other;
  {
    kill(patroni, SIGSTOP);
    Finally resume_patroni{[&] { resume(patroni); }};
    first = take(replica);   // over the keep-alive connection it had
    second = take(replica);  // over a new one, accepted by the kernel, never answered
    other = take(leader);
  }
  const auto resumed = Clock::now();
  report("Patroni of " + replica + " stopped: scrapes answered in " + std::to_string(first.seconds) +
         " s and " + std::to_string(second.seconds) + " s");
  INFO("first: " << first.describe() << "\nsecond: " << second.describe()
                 << "\nthe leader's: " << other.describe() << "\nexporter log:\n"
                 << c.exporters.at(replica)->log_tail());
  for (const auto* s : {&first, &second}) {
    CHECK(s->status == 200);
    CHECK(s->seconds <= kLatestAnswer);
    CHECK(s->get("patroni_up") == 0);
    CHECK(s->has_error_kind("patroni", "timeout"));
    CHECK(s->get("pg_up") == 1);
    CHECK(s->get("pg_replication_is_replica") == 1);
  }
  CHECK(other.get("patroni_up") == 1);
  CHECK(other.get("pg_up") == 1);

  Snapshot back;
  const bool recovered = wait_until(
      [&] {
        back = take(replica);
        return back.status == 200 && back.get("patroni_up") == 1 && back.get("pg_up") == 1;
      },
      15s, 100ms);
  report("Patroni of " + replica + " resumed: patroni_up 1 again after " +
         std::to_string(seconds_since(resumed)) + " s");
  INFO("after resuming: " << back.describe());
  CHECK(recovered);
  CHECK(back.get("patroni_replica") == 1);
  REQUIRE_NOTHROW(c.bed.wait_until_whole(45s));
}
