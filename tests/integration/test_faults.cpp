// The exporter under faults of its sources, scraped with PostgreSQL,
// pgBouncer and a Patroni REST API at once: PostgreSQL stopped, restarted
// and frozen (every process SIGSTOPped, so connections hang rather than
// fail), Patroni's API accepting connections and never answering, pgBouncer
// gone. Every scrape answers by Prometheus's deadline with the failing
// source's *_up 0 and the others intact, and the exporter recovers by itself.
// Hundreds of such cycles leave no threads, descriptors or server
// connections behind, and SIGTERM ends the exporter at once, also in the
// middle of a scrape of a frozen server.
//
// Cycle counts: PGSCOPE_FREEZE_CYCLES (default 200) and
// PGSCOPE_RESTART_CYCLES (default 50) for a longer soak by hand.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/finally.hpp"
#include "support/process_figures.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_pgbouncer.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Prometheus's scrape timeout that the fault cases send, and how much later
// than that an answer may arrive (loopback, a loaded CI machine).
constexpr const char* kScrapeTimeout = "3";
constexpr double kScrapeTimeoutSeconds = 3.0;
constexpr double kLateness = 0.2;

// ---- PostgreSQL -----------------------------------------------------------------

// The postmaster and its children (backends, background processes).
std::vector<pid_t> server_processes(const TestPostgres& pg) {
  const pid_t postmaster = pg.postmaster_pid();
  std::vector<pid_t> pids{postmaster};
  const auto pm = std::to_string(postmaster);
  std::istringstream children(read_file("/proc/" + pm + "/task/" + pm + "/children"));
  for (pid_t child; children >> child;) pids.push_back(child);
  return pids;
}

// Every process of the server SIGSTOPped until thawed or destroyed (also when
// an assertion throws): connections hang, new ones complete the TCP handshake
// in the listen backlog and then hang too.
class Frozen {
 public:
  explicit Frozen(const TestPostgres& pg) : pids_(server_processes(pg)) {
    for (pid_t pid : pids_) kill(pid, SIGSTOP);
  }
  ~Frozen() { thaw(); }
  void thaw() {
    // The postmaster last: a child it forks must not see it run before itself.
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) kill(*it, SIGCONT);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

int exporter_connections(const TestPostgres& pg) {
  return std::stoi(
      pg.query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgscope-exporter'"));
}

// ---- A Patroni REST API of our own -----------------------------------------------

// Serves the recorded Patroni 4 documents (/patroni, /cluster, /history) on a
// free port of 127.0.0.1, keep-alive as Patroni does. hang(true) makes it go
// on accepting connections and reading requests without ever answering, as a
// Patroni whose API thread is stuck; hang(false) answers what is pending.
class FakePatroni {
 public:
  FakePatroni() {
    const std::string data = std::string(PGSCOPE_SOURCE_DIR) + "/tests/unit/data/patroni/";
    documents_ = {{"/patroni", read_file(data + "v4_patroni_primary.json")},
                  {"/cluster", read_file(data + "v4_cluster.json")},
                  {"/history", read_file(data + "v4_history.json")}};
    for (const auto& [path, body] : documents_) {
      if (body.empty()) throw std::runtime_error("FakePatroni: no recorded document for " + path);
    }
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("FakePatroni: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakePatroni() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
  }
  FakePatroni(const FakePatroni&) = delete;
  FakePatroni& operator=(const FakePatroni&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void hang(bool on) { hanging_ = on; }
  int open_connections() const { return open_; }
  long accepted() const { return accepted_; }

 private:
  struct Client {
    int fd = -1;
    std::string pending;  // what arrived and is not answered yet
  };

  void answer(Client& client) {
    for (auto end = client.pending.find("\r\n\r\n"); end != std::string::npos;
         end = client.pending.find("\r\n\r\n")) {
      const std::string head = client.pending.substr(0, end);
      client.pending.erase(0, end + 4);
      const auto first = head.find(' ');
      const auto second = head.find(' ', first + 1);
      const std::string path = head.substr(first + 1, second - first - 1);
      auto found = documents_.find(path);
      const std::string body = found != documents_.end() ? found->second : "{}";
      const std::string response =
          std::string(found != documents_.end() ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found") +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
      std::size_t sent = 0;
      while (sent < response.size()) {
        const auto n = ::send(client.fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EAGAIN) {
          pollfd out{client.fd, POLLOUT, 0};
          ::poll(&out, 1, 100);
        } else {
          return;  // the client left; its EOF closes it
        }
      }
    }
  }

  void run() {
    std::vector<Client> clients;
    while (!stopping_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const auto& client : clients) fds.push_back({client.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 20);
      for (std::size_t i = 0; i < clients.size(); ++i) {
        if (fds[i + 1].revents == 0) continue;
        char buffer[4096];
        for (;;) {
          const auto n = ::recv(clients[i].fd, buffer, sizeof buffer, 0);
          if (n > 0) {
            clients[i].pending.append(buffer, static_cast<std::size_t>(n));
            continue;
          }
          if (n == 0 || errno != EAGAIN) {
            ::close(clients[i].fd);
            clients[i].fd = -1;
          }
          break;
        }
      }
      clients.erase(std::remove_if(clients.begin(), clients.end(), [](const Client& c) { return c.fd < 0; }),
                    clients.end());
      if (fds[0].revents & POLLIN) {
        for (int fd; (fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          clients.push_back({fd, {}});
          ++accepted_;
        }
      }
      if (!hanging_) {
        for (auto& client : clients) answer(client);
      }
      open_ = static_cast<int>(clients.size());
    }
    for (auto& client : clients) ::close(client.fd);
  }

  std::map<std::string, std::string> documents_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> hanging_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_{0};
  std::atomic<long> accepted_{0};
  std::thread thread_;
};

// ---- The sources, shared by the cases --------------------------------------------

struct Sources {
  TestPostgres pg;
  std::unique_ptr<TestPgBouncer> bouncer;
  FakePatroni patroni;
  int databases = 0;

  Sources() {
    // The application name in every line, and a line per session end: the
    // shutdown case reads the exporter's disconnections from the log.
    pg.append_config("log_disconnections = on\nlog_line_prefix = '%m [%p] %q%u@%d app=%a '\n");
    pg.reload();
    pg.exec("CREATE DATABASE app_one");
    pg.exec("CREATE DATABASE app_two");
    pg.exec(
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g FROM "
        "generate_series(1, 1000) g",
        "app_one");
    databases = std::stoi(
        pg.query_value("SELECT count(*) FROM pg_database WHERE datallowconn AND NOT datistemplate"));
    bouncer = std::make_unique<TestPgBouncer>(pg);
  }

  std::vector<std::string> exporter_args() const {
    return {"--postgres.dsn=" + pg.dsn(), "--pgbouncer.dsn=" + bouncer->admin_dsn(),
            "--patroni.url=" + patroni.url(), "--scrape.timeout=10s"};
  }
};

Sources& sources() {
  static Sources instance;
  return instance;
}

// ---- Scrapes ----------------------------------------------------------------------

struct Scraped : ScrapeOutcome {
  double success(const std::string& collector) const {
    return get("pgscope_exporter_collector_success", {{"collector", collector}});
  }
  std::string describe() const {
    std::ostringstream out;
    out << summary() << ": pg_up " << get("pg_up") << ", pgbouncer_up " << get("pgbouncer_up")
        << ", patroni_up " << get("patroni_up") << "; success postgres " << success("postgres")
        << ", pgbouncer " << success("pgbouncer") << ", patroni " << success("patroni");
    return out.str();
  }
};

// GET /metrics as Prometheus does, with its scrape timeout in the header; the
// client itself waits up to 15 s, so that a late answer shows as late.
Scraped scrape(const ExporterProcess& exporter, const std::string& timeout_seconds) {
  return {try_scrape(exporter, {{"X-Prometheus-Scrape-Timeout-Seconds", timeout_seconds}}, 15s)};
}

bool all_up(const Scraped& s) {
  return s.status == 200 && s.get("pg_up") == 1 && s.get("pgbouncer_up") == 1 && s.get("patroni_up") == 1;
}

// Scrapes until every source is up; returns how long that took (-1: never
// within `limit`), the last scrape in `last`.
double time_to_recover(const ExporterProcess& exporter, Scraped& last,
                       std::chrono::milliseconds limit = 10s) {
  const auto start = Clock::now();
  const bool recovered = eventually(
      [&] {
        last = scrape(exporter, kScrapeTimeout);
        return all_up(last);
      },
      limit);
  return recovered ? seconds_since(start) : -1;
}

// SIGTERM to the exporter, then its exit awaited in steps of a millisecond;
// returns the seconds from kill() to the exit and sets the exit code (after
// 5 s stop() kills it: 137).
double terminate(ExporterProcess& exporter, int& exit_code) {
  const auto start = Clock::now();
  kill(exporter.pid(), SIGTERM);
  while (exporter.running() && seconds_since(start) < 5) std::this_thread::sleep_for(1ms);
  const double seconds = seconds_since(start);
  exit_code = exporter.stop();
  return seconds;
}

// The figures go to stdout, so they are in the ctest log of a passing run too.
void report(const std::string& line) { std::cout << "[faults] " << line << std::endl; }

}  // namespace

TEST_CASE("a frozen PostgreSQL: answered by the deadline with pg_up 0, the rest intact, then recovery",
          "[integration][faults]") {
  auto& s = sources();
  ExporterProcess exporter(s.exporter_args());
  REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));  // connections open and idle

  Scraped during;
  {
    Frozen frozen(s.pg);
    during = scrape(exporter, kScrapeTimeout);
    // A second scrape while still frozen: the connection dropped by the first
    // is dialled again and hangs in the listen backlog, also bounded.
    const auto again = scrape(exporter, kScrapeTimeout);
    INFO("first: " << during.describe() << "\nsecond: " << again.describe() << "\nexporter log:\n"
                   << exporter.log_tail());
    report("frozen PostgreSQL, scrape timeout 3 s: answered in " + std::to_string(during.seconds) +
           " s, then " + std::to_string(again.seconds) + " s");
    CHECK(again.status == 200);
    CHECK(again.seconds <= kScrapeTimeoutSeconds + kLateness);
    CHECK(again.get("pg_up") == 0);
  }
  INFO("while frozen: " << during.describe() << "\nexporter log:\n" << exporter.log_tail());
  CHECK(during.status == 200);
  CHECK(during.seconds <= kScrapeTimeoutSeconds + kLateness);
  CHECK(during.seconds >= 2.0);  // it did wait for the server, up to the header's 3 s less the margin
  CHECK(during.get("pg_up") == 0);
  CHECK(during.has_error_kind("postgres", "timeout"));
  CHECK(during.success("postgres") == 0);
  CHECK(during.get("pgbouncer_up") == 1);
  CHECK(during.success("pgbouncer") == 1);
  CHECK(during.get("patroni_up") == 1);
  CHECK(during.success("patroni") == 1);
  CHECK(during.get("patroni_primary") == 1);
  CHECK(during.get("pgscope_exporter_scrapes_total") >= 2);

  Scraped last;
  const double recovery = time_to_recover(exporter, last);
  report("thawed: every source up again after " + std::to_string(recovery) + " s");
  INFO("after thawing: " << last.describe());
  CHECK(recovery >= 0);
  CHECK(last.success("postgres") == 1);
}

TEST_CASE("PostgreSQL stopped, started and restarted under the exporter", "[integration][faults]") {
  auto& s = sources();
  ExporterProcess exporter(s.exporter_args());
  REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));

  bool restarted = false;
  Finally restart_on_failure{[&] {
    if (!restarted) s.pg.start();
  }};
  s.pg.stop();
  const auto down = scrape(exporter, kScrapeTimeout);
  {
    INFO("stopped: " << down.describe() << "\nexporter log:\n" << exporter.log_tail());
    report("stopped PostgreSQL: answered in " + std::to_string(down.seconds) + " s");
    CHECK(down.status == 200);
    CHECK(down.seconds < 1.0);  // refused at once: nothing to wait for
    CHECK(down.get("pg_up") == 0);
    CHECK(down.has_error_kind("postgres", "connection"));
    CHECK(down.get("pgbouncer_up") == 1);
    CHECK(down.get("patroni_up") == 1);
  }
  s.pg.start();
  restarted = true;
  {
    Scraped last;
    const double recovery = time_to_recover(exporter, last);
    INFO("started again: " << last.describe() << "\nexporter log:\n" << exporter.log_tail());
    CHECK(recovery >= 0);
  }

  // A restart between two scrapes: the exporter's idle connections were
  // ended by the server (pg_ctl stop -m fast). The next scrape must see the
  // server that is up again, not report it down because of the connections
  // that died while nobody was looking.
  s.pg.restart();
  const auto first = scrape(exporter, kScrapeTimeout);
  INFO("first scrape after the restart: " << first.describe() << "\nexporter log:\n" << exporter.log_tail());
  CHECK(all_up(first));
  CHECK(first.success("postgres") == 1);
  CHECK(first.success("stat_database") == 1);
  CHECK(first.success("stat_user_tables") == 1);  // per-database connections (app_one) too
  CHECK(first.get("pg_stat_user_tables_n_live_tup", {{"datname", "app_one"}, {"relname", "orders"}}) >= 0);
  const auto second = scrape(exporter, kScrapeTimeout);
  CHECK(all_up(second));
}

TEST_CASE("Patroni's API accepting and never answering: patroni_up 0 by the deadline, the rest intact",
          "[integration][faults]") {
  auto& s = sources();
  ExporterProcess exporter(s.exporter_args());
  REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));

  Scraped during;
  {
    s.patroni.hang(true);
    Finally answer_again{[&] { s.patroni.hang(false); }};
    during = scrape(exporter, kScrapeTimeout);
  }
  INFO("Patroni hanging: " << during.describe() << "\nexporter log:\n" << exporter.log_tail());
  report("hanging Patroni API: answered in " + std::to_string(during.seconds) + " s");
  CHECK(during.status == 200);
  CHECK(during.seconds <= kScrapeTimeoutSeconds + kLateness);
  CHECK(during.get("patroni_up") == 0);
  CHECK(during.has_error_kind("patroni", "timeout"));
  CHECK(during.success("patroni") == 0);
  CHECK(during.get("pg_up") == 1);
  CHECK(during.success("postgres") == 1);
  CHECK(during.get("pgbouncer_up") == 1);

  const auto back = scrape(exporter, kScrapeTimeout);  // the very next scrape
  INFO("answering again: " << back.describe());
  CHECK(all_up(back));
  CHECK(back.get("patroni_primary") == 1);
}

TEST_CASE("pgBouncer gone: pgbouncer_up 0 at once, the rest intact, back by itself",
          "[integration][faults]") {
  auto& s = sources();
  ExporterProcess exporter(s.exporter_args());
  REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));

  bool restarted = false;
  Finally restart_on_failure{[&] {
    if (!restarted) s.bouncer->start();
  }};
  s.bouncer->stop();
  const auto down = scrape(exporter, kScrapeTimeout);
  {
    INFO("pgBouncer stopped: " << down.describe() << "\nexporter log:\n" << exporter.log_tail());
    report("pgBouncer stopped: answered in " + std::to_string(down.seconds) + " s");
    CHECK(down.status == 200);
    CHECK(down.seconds < 1.0);
    CHECK(down.get("pgbouncer_up") == 0);
    CHECK(down.success("pgbouncer") == 0);
    CHECK(down.get("pg_up") == 1);
    CHECK(down.get("patroni_up") == 1);
  }
  s.bouncer->start();
  restarted = true;
  Scraped last;
  const double recovery = time_to_recover(exporter, last);
  INFO("started again: " << last.describe());
  CHECK(recovery >= 0);

  // Restarted between two scrapes: the next one sees it up.
  s.bouncer->stop();
  s.bouncer->start();
  const auto first = scrape(exporter, kScrapeTimeout);
  INFO("first scrape after a pgBouncer restart: " << first.describe() << "\nexporter log:\n"
                                                  << exporter.log_tail());
  CHECK(all_up(first));
}

TEST_CASE("every source failing at once: still answered by the deadline", "[integration][faults]") {
  auto& s = sources();
  ExporterProcess exporter(s.exporter_args());
  REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));

  Scraped during;
  {
    bool restarted = false;
    Finally restore{[&] {
      s.patroni.hang(false);
      if (!restarted) s.bouncer->start();
    }};
    s.bouncer->stop();
    s.patroni.hang(true);
    Frozen frozen(s.pg);
    during = scrape(exporter, kScrapeTimeout);
    frozen.thaw();
    s.patroni.hang(false);
    s.bouncer->start();
    restarted = true;
  }
  INFO("all failing: " << during.describe() << "\nexporter log:\n" << exporter.log_tail());
  report("all three sources failing: answered in " + std::to_string(during.seconds) + " s");
  CHECK(during.status == 200);
  CHECK(during.seconds <= kScrapeTimeoutSeconds + kLateness);
  CHECK(during.get("pg_up") == 0);
  CHECK(during.get("pgbouncer_up") == 0);
  CHECK(during.get("patroni_up") == 0);
  CHECK(during.get("pgscope_exporter_scrapes_total") >= 2);
  CHECK(during.get("process_open_fds") > 0);

  Scraped last;
  const double recovery = time_to_recover(exporter, last);
  report("all three back: every source up after " + std::to_string(recovery) + " s");
  INFO("after: " << last.describe());
  CHECK(recovery >= 0);
}

TEST_CASE("hundreds of fault cycles leave no threads, descriptors or connections behind",
          "[integration][faults]") {
  auto& s = sources();
  const int freeze_cycles = env_int("PGSCOPE_FREEZE_CYCLES", 200);
  const int restart_cycles = env_int("PGSCOPE_RESTART_CYCLES", 50);
  ExporterProcess exporter(s.exporter_args());
  for (int i = 0; i < 3; ++i) REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));

  // The baseline once the scrape threads have ended (they finish just after
  // the answer is sent).
  ProcessFigures before;
  eventually(
      [&] {
        auto a = figures_of(exporter.pid());
        std::this_thread::sleep_for(200ms);
        before = figures_of(exporter.pid());
        return a.threads == before.threads && a.fds == before.fds;
      },
      5s);
  const int connections_before = exporter_connections(s.pg);
  const long patroni_connections_before = s.patroni.open_connections();
  report("before the cycles: " + describe(before) + ", " + std::to_string(connections_before) +
         " PostgreSQL connections (databases: " + std::to_string(s.databases) + "), " +
         std::to_string(patroni_connections_before) + " to Patroni");
  CHECK(connections_before == s.databases);

  // Freeze/thaw: a short scrape timeout (0.2 s: 180 ms for the scrape) with
  // PostgreSQL frozen, every other cycle with Patroni hanging too, then a
  // scrape that must find both back.
  int frozen_wrong = 0, frozen_late = 0, first_not_up = 0, never_up = 0;
  double slowest_frozen = 0, slowest_recovery = 0;
  std::string example;
  const auto freeze_start = Clock::now();
  std::string rss_trend;  // RSS every 50 cycles: a leak grows steadily, warm-up levels off
  for (int cycle = 0; cycle < freeze_cycles; ++cycle) {
    if (cycle % 50 == 0) {
      rss_trend += (rss_trend.empty() ? "" : ", ") + std::to_string(cycle) + ": " +
                   std::to_string(figures_of(exporter.pid()).rss_kib) + " KiB";
    }
    const bool patroni_too = cycle % 2 == 0;
    Scraped during;
    {
      Frozen frozen(s.pg);
      if (patroni_too) s.patroni.hang(true);
      during = scrape(exporter, "0.2");
      s.patroni.hang(false);
    }
    slowest_frozen = std::max(slowest_frozen, during.seconds);
    if (during.seconds > 0.2 + kLateness) ++frozen_late;
    if (during.status != 200 || during.get("pg_up") != 0 || during.get("pgbouncer_up") != 1 ||
        during.get("patroni_up") != (patroni_too ? 0 : 1)) {
      if (frozen_wrong++ == 0) example = "cycle " + std::to_string(cycle) + " frozen: " + during.describe();
    }
    const auto thawed = Clock::now();
    Scraped after = scrape(exporter, "2");
    if (!all_up(after)) {
      ++first_not_up;
      if (example.empty()) example = "cycle " + std::to_string(cycle) + " thawed: " + after.describe();
      if (time_to_recover(exporter, after, 5s) < 0) ++never_up;
    }
    slowest_recovery = std::max(slowest_recovery, seconds_since(thawed));
  }
  const double freeze_seconds = seconds_since(freeze_start);
  report(std::to_string(freeze_cycles) + " freeze/thaw cycles in " + std::to_string(freeze_seconds) +
         " s: slowest frozen scrape " + std::to_string(slowest_frozen) + " s (timeout 0.2 s), " +
         std::to_string(frozen_late) + " late, " + std::to_string(frozen_wrong) +
         " wrong, slowest recovery " + std::to_string(slowest_recovery) + " s, " +
         std::to_string(first_not_up) + " first scrapes after a thaw not all up, " +
         std::to_string(never_up) + " never" + (example.empty() ? "" : "; first problem: " + example));
  const auto after_freezing = figures_of(exporter.pid());
  report("after the freeze/thaw cycles: " + describe(after_freezing) + ", " +
         std::to_string(exporter_connections(s.pg)) + " PostgreSQL connections; RSS by cycle: " + rss_trend);

  // Stop/start: PostgreSQL stopped (a scrape sees it down), started, and
  // restarted between two scrapes; pgBouncer too every fifth cycle.
  int down_wrong = 0, restart_first_not_up = 0, restart_never_up = 0;
  const auto restart_start = Clock::now();
  for (int cycle = 0; cycle < restart_cycles; ++cycle) {
    if (cycle % 2 == 0) {
      s.pg.stop();
      const auto down = scrape(exporter, "2");
      if (down.status != 200 || down.get("pg_up") != 0 || down.get("pgbouncer_up") != 1 || down.seconds > 1) {
        if (down_wrong++ == 0 && example.empty()) example = "stopped: " + down.describe();
      }
      s.pg.start();
    } else {
      s.pg.restart();
    }
    if (cycle % 5 == 0) {
      s.bouncer->stop();
      const auto down = scrape(exporter, "2");
      if (down.status != 200 || down.get("pgbouncer_up") != 0) ++down_wrong;
      s.bouncer->start();
    }
    Scraped after = scrape(exporter, "2");
    if (!all_up(after)) {
      if (restart_first_not_up++ == 0 && example.empty()) {
        example = "restart cycle " + std::to_string(cycle) + ": " + after.describe();
      }
      if (time_to_recover(exporter, after, 5s) < 0) ++restart_never_up;
    }
  }
  report(std::to_string(restart_cycles) + " stop/start cycles in " +
         std::to_string(seconds_since(restart_start)) + " s: " + std::to_string(down_wrong) +
         " wrong while down, " + std::to_string(restart_first_not_up) +
         " first scrapes after a start not all up, " + std::to_string(restart_never_up) + " never");

  // Back to the baseline once the last scrape's threads have ended and the
  // server has seen the abandoned sessions go.
  scrape(exporter, kScrapeTimeout);
  ProcessFigures after;
  int connections_after = -1;
  eventually(
      [&] {
        after = figures_of(exporter.pid());
        connections_after = exporter_connections(s.pg);
        return after.threads <= before.threads && after.fds <= before.fds &&
               connections_after <= connections_before;
      },
      20s);  // idle HTTP workers end after 10 s (worker_pool.hpp)
  report("after all cycles: " + describe(after) + ", " + std::to_string(connections_after) +
         " PostgreSQL connections, " + std::to_string(s.patroni.open_connections()) + " to Patroni (" +
         std::to_string(s.patroni.accepted()) + " accepted in all)");

  INFO("first problem: " << example << "\nexporter log:\n" << exporter.log_tail(60));
  CHECK(frozen_wrong == 0);
  CHECK(frozen_late == 0);
  CHECK(never_up == 0);
  CHECK(first_not_up == 0);
  CHECK(down_wrong == 0);
  CHECK(restart_never_up == 0);
  CHECK(restart_first_not_up == 0);
  CHECK(after.threads <= before.threads);
  CHECK(after.fds <= before.fds);
  CHECK(connections_after <= connections_before);
  CHECK(s.patroni.open_connections() <= std::max<long>(1, patroni_connections_before));
#if !defined(__SANITIZE_ADDRESS__)                    // ASan's quarantine holds freed memory back
  CHECK(after.rss_kib < before.rss_kib + 64 * 1024);  // generous: no growth per cycle
#endif
}

TEST_CASE("SIGTERM: exit 0 within a second, the server's sessions end at once", "[integration][faults]") {
  auto& s = sources();

  SECTION("idle, connections open") {
    ExporterProcess exporter(s.exporter_args());
    REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));
    REQUIRE(exporter_connections(s.pg) == s.databases);
    const auto log_offset = read_file(s.pg.log_path()).size();

    const auto start = Clock::now();
    int code = -1;
    const double exit_seconds = terminate(exporter, code);
    double gone_seconds = -1;
    if (eventually([&] { return exporter_connections(s.pg) == 0; }, 5s)) gone_seconds = seconds_since(start);
    // One "disconnection:" line per session, logged by the backend when it
    // reads our Terminate message: the sessions ended cleanly, not by a
    // broken connection ("unexpected EOF", "could not receive data").
    const auto log = read_file(s.pg.log_path()).substr(log_offset);
    int clean = 0, broken = 0;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("app=pgscope-exporter") == std::string::npos) continue;
      if (line.find("disconnection: session time") != std::string::npos) ++clean;
      if (line.find("unexpected EOF") != std::string::npos ||
          line.find("could not receive") != std::string::npos) {
        ++broken;
      }
    }
    report("SIGTERM, idle: exit " + std::to_string(code) + " after " + std::to_string(exit_seconds) +
           " s; the server's exporter sessions gone after " + std::to_string(gone_seconds) + " s; " +
           std::to_string(clean) + " clean disconnections in its log, " + std::to_string(broken) + " broken");
    INFO("server log since:\n" << log << "\nexporter log:\n" << exporter.log_tail());
    CHECK(code == 0);
    CHECK(exit_seconds < 1.0);
    CHECK(gone_seconds >= 0);
    CHECK(gone_seconds < 1.0);
    CHECK(clean == s.databases);
    CHECK(broken == 0);
    CHECK(exporter.log().find("stopped") != std::string::npos);
  }

  SECTION("in the middle of a scrape of a frozen PostgreSQL and a hanging Patroni") {
    ExporterProcess exporter(s.exporter_args());
    REQUIRE(all_up(scrape(exporter, kScrapeTimeout)));
    REQUIRE(exporter_connections(s.pg) == s.databases);

    Frozen frozen(s.pg);
    s.patroni.hang(true);
    Finally answer_again{[&] { s.patroni.hang(false); }};
    // Prometheus's default: 10 s to answer; the scrape waits for the frozen
    // server when the signal arrives.
    auto in_flight = std::async(std::launch::async, [&] { return scrape(exporter, "10"); });
    std::this_thread::sleep_for(500ms);
    const auto start = Clock::now();
    int code = -1;
    const double exit_seconds = terminate(exporter, code);
    const auto answered = in_flight.get();
    const double answered_seconds = seconds_since(start);
    frozen.thaw();
    s.patroni.hang(false);
    double gone_seconds = -1;
    const auto thawed = Clock::now();
    if (eventually([&] { return exporter_connections(s.pg) == 0; }, 5s)) gone_seconds = seconds_since(thawed);
    report("SIGTERM during a scrape of a frozen PostgreSQL: exit " + std::to_string(code) + " after " +
           std::to_string(exit_seconds) + " s; the scrape in flight ended after " +
           std::to_string(answered_seconds) + " s (" + answered.describe() +
           "); the server's exporter sessions gone " + std::to_string(gone_seconds) + " s after thawing");
    INFO("exporter log:\n" << exporter.log_tail());
    CHECK(code == 0);
    CHECK(exit_seconds < 1.0);
    CHECK(answered_seconds < 1.5);  // answered or cut, not left waiting for the deadline
    CHECK(gone_seconds >= 0);
    CHECK(gone_seconds < 1.0);
  }
}
