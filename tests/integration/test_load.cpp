// One exporter on a real PostgreSQL under many Prometheus-like scrapers:
// each keeps one keep-alive connection (httplib::Client reused, as
// Prometheus reuses its connection to a target), sends
// X-Prometheus-Scrape-Timeout-Seconds and gives up after that timeout, as
// Prometheus does. Every scrape must answer 200 with an exposition that
// parses, in time; the server must never see more than one collection at a
// time (connections and active queries from the exporter, sampled every
// 100 ms); memory must stay bounded.
//
// A scraper waits for its answer before it sends the next request (as
// Prometheus does), so 10/s is what it offers at most: every scrape gets a
// fresh collection (or joins the one in flight), which takes about 60 ms on
// an idle machine and a few times that under this load, and bounds the rate.
// What must hold is that every scraper is served, each in time.
//
// PGSCOPE_LOAD_SCRAPERS (50), PGSCOPE_LOAD_RATE (scrapes/s each, 10) and
// PGSCOPE_LOAD_SECONDS (60) change the load.
#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/process_figures.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void report(const std::string& line) { std::cout << "[load] " << line << std::endl; }

// One connection of the test's own (no application_name: not counted as the
// exporter's), for sampling pg_stat_activity without adding sessions.
class Sampler {
 public:
  explicit Sampler(const std::string& dsn) : connection_(PQconnectdb(dsn.c_str()), &PQfinish) {
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      throw std::runtime_error(std::string("sampler: ") + PQerrorMessage(connection_.get()));
    }
  }
  // The exporter's sessions, and those of them running a query now.
  std::pair<int, int> exporter_sessions() {
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexec(connection_.get(),
               "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
               "WHERE application_name = 'pgscope-exporter'"),
        &PQclear);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) return {-1, -1};
    return {std::atoi(PQgetvalue(result.get(), 0, 0)), std::atoi(PQgetvalue(result.get(), 0, 1))};
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection_;
};

struct ScraperStats {
  long requests = 0;
  long ok = 0;
  long late = 0;  // answered 200, but after the scrape timeout Prometheus would have given up at
  std::map<std::string, long> errors;  // by kind: transport error, HTTP status, unparsable
  std::vector<double> latencies_ms;
  double longest_silence = 0;  // seconds without a good answer (a scraper's `up` 0 for that long)
  std::string first_error;
};

// The kernel's count of connections dropped because a listen queue was full
// (TcpExt ListenOverflows, all sockets of this network namespace).
long listen_overflows() {
  std::istringstream netstat(read_file("/proc/net/netstat"));
  std::string names, values;
  while (std::getline(netstat, names) && std::getline(netstat, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    for (std::string name, value; n >> name && v >> value;) {
      if (name == "ListenOverflows") return std::stol(value);
    }
  }
  return -1;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

TEST_CASE(
    "many keep-alive scrapers against one exporter: no errors, one collection at a time, bounded memory",
    "[integration][load]") {
  const int scrapers = env_int("PGSCOPE_LOAD_SCRAPERS", 50);
  const int rate = std::max(1, env_int("PGSCOPE_LOAD_RATE", 10));
  const int seconds = env_int("PGSCOPE_LOAD_SECONDS", 60);
  const std::string timeout_header = "3";  // Prometheus's scrape timeout, sent and kept by the scrapers
  const auto timeout = 3s;

  TestPostgres pg;
  pg.exec("CREATE DATABASE app_one");
  pg.exec("CREATE DATABASE app_two");
  for (const char* db : {"app_one", "app_two"}) {
    pg.exec(
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric); CREATE TABLE items (id int, sku text);"
        "INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g; CREATE INDEX ON items (sku)",
        db);
  }
  const int databases =
      std::stoi(pg.query_value("SELECT count(*) FROM pg_database WHERE datallowconn AND NOT datistemplate"));
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--scrape.timeout=10s"});
  const auto warm = scrape_metrics(exporter);
  REQUIRE(warm.value("pg_up") == 1.0);
  const auto sample_body = exporter.scrape().body;
  std::this_thread::sleep_for(300ms);
  const auto before = figures_of(exporter.pid());
  report("exposition: " + std::to_string(sample_body.size()) + " bytes, " +
         std::to_string(warm.samples.size()) + " samples; " + std::to_string(databases) + " databases");
  report("before: " + std::to_string(before.threads) + " threads, " + std::to_string(before.fds) +
         " fds, RSS " + mib(before.rss_kib) + " (peak " + mib(before.hwm_kib) + ")");

  const double exporter_cpu_before = cpu_seconds_of(exporter.pid());
  const long overflows_before = listen_overflows();
  const double own_cpu_before = own_cpu_seconds();
  std::atomic<bool> stopping{false};
  std::vector<ScraperStats> stats(static_cast<std::size_t>(scrapers));
  const auto period = std::chrono::microseconds(1000000 / rate);
  const auto started = Clock::now();
  const auto end = started + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int index = 0; index < scrapers; ++index) {
    threads.emplace_back([&, index] {
      auto& mine = stats[static_cast<std::size_t>(index)];
      httplib::Client client("127.0.0.1", exporter.port());
      client.set_keep_alive(true);
      client.set_connection_timeout(timeout);
      client.set_read_timeout(timeout);
      client.set_write_timeout(timeout);
      const httplib::Headers headers{{"X-Prometheus-Scrape-Timeout-Seconds", timeout_header},
                                     {"Accept-Encoding", "gzip"}};
      // Spread over the period, as independent scrapers would be.
      auto next = started + period * index / scrapers;
      auto last_answer = started;
      while (!stopping && next < end) {
        std::this_thread::sleep_until(next);
        const auto sent = Clock::now();
        auto response = client.Get("/metrics", headers);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        ++mine.requests;
        mine.latencies_ms.push_back(ms);
        std::string error;
        if (!response) {
          error = "transport: " + httplib::to_string(response.error());
        } else if (response->status != 200) {
          error = "HTTP " + std::to_string(response->status);
        } else {
          try {
            const auto parsed = parse_prom_text(response->body);
            if (!parsed.value("pg_up")) error = "no pg_up";
          } catch (const std::exception& e) {
            error = "unparsable";
            if (mine.first_error.empty()) mine.first_error = e.what();
          }
        }
        if (error.empty()) {
          ++mine.ok;
          mine.longest_silence = std::max(mine.longest_silence,
                                          std::chrono::duration<double>(Clock::now() - last_answer).count());
          last_answer = Clock::now();
          if (ms > std::chrono::duration<double, std::milli>(timeout).count()) ++mine.late;
        } else {
          ++mine.errors[error];
          if (mine.first_error.empty()) {
            std::ostringstream what;
            what << "scraper " << index << " at " << seconds_since(started) << " s: " << error << " after "
                 << ms << " ms";
            mine.first_error = what.str();
          }
        }
        // A fixed rate; a scrape that took longer than the period is not
        // made up for with a burst.
        next += period;
        if (next < Clock::now()) next = Clock::now();
      }
      mine.longest_silence =
          std::max(mine.longest_silence, std::chrono::duration<double>(Clock::now() - last_answer).count());
    });
  }

  // Sampling every 100 ms: the exporter's sessions on the server and its memory.
  Sampler sampler(pg.dsn());
  int peak_sessions = 0, peak_active = 0, samples = 0;
  long peak_rss = before.rss_kib;
  int peak_threads = before.threads, peak_fds = before.fds;
  while (Clock::now() < end) {
    const auto [sessions, active] = sampler.exporter_sessions();
    peak_sessions = std::max(peak_sessions, sessions);
    peak_active = std::max(peak_active, active);
    const auto now = figures_of(exporter.pid());
    peak_rss = std::max(peak_rss, now.rss_kib);
    peak_threads = std::max(peak_threads, now.threads);
    peak_fds = std::max(peak_fds, now.fds);
    ++samples;
    std::this_thread::sleep_for(100ms);
  }
  stopping = true;
  for (auto& thread : threads) thread.join();
  const double elapsed = seconds_since(started);
  const double exporter_cpu = cpu_seconds_of(exporter.pid()) - exporter_cpu_before;
  const double own_cpu = own_cpu_seconds() - own_cpu_before;
  const long overflows = listen_overflows() - overflows_before;

  ScraperStats total;
  std::string first_error;
  for (const auto& mine : stats) {
    total.requests += mine.requests;
    total.ok += mine.ok;
    total.late += mine.late;
    for (const auto& [kind, count] : mine.errors) total.errors[kind] += count;
    total.latencies_ms.insert(total.latencies_ms.end(), mine.latencies_ms.begin(), mine.latencies_ms.end());
    if (first_error.empty()) first_error = mine.first_error;
  }
  long errors = 0;
  std::string error_kinds;
  for (const auto& [kind, count] : total.errors) {
    errors += count;
    error_kinds += (error_kinds.empty() ? "" : ", ") + kind + ": " + std::to_string(count);
  }
  long slower_than_1s = 0;
  for (double ms : total.latencies_ms) slower_than_1s += ms > 1000 ? 1 : 0;
  // Served per scraper: a scraper whose connection waits for a free HTTP
  // worker gets no answer for as long as that lasts.
  std::vector<double> served, silences;
  for (const auto& mine : stats) {
    served.push_back(static_cast<double>(mine.ok));
    silences.push_back(mine.longest_silence);
  }
  const auto silent = std::count_if(silences.begin(), silences.end(), [&](double s) {
    return s > std::chrono::duration<double>(timeout).count();
  });

  // How many collections ran for all those scrapes: pg_stat_database runs
  // once per collection (cluster-wide, not cached).
  const auto final_metrics = scrape_metrics(exporter);
  const double scrapes_total = final_metrics.value("pgscope_exporter_scrapes_total").value_or(-1);
  const double collections =
      final_metrics.value("pgscope_exporter_query_executions_total", {{"query", "pg_stat_database"}})
          .value_or(-1);
  std::this_thread::sleep_for(300ms);
  const auto after = figures_of(exporter.pid());

  std::ostringstream summary;
  summary << std::fixed << std::setprecision(1) << scrapers << " scrapers x " << rate << "/s for " << elapsed
          << " s: " << total.requests << " requests (" << total.requests / elapsed << "/s), " << total.ok
          << " ok, " << errors << " errors" << (error_kinds.empty() ? "" : " (" + error_kinds + ")") << ", "
          << total.late << " ok but later than the " << timeout_header << " s timeout; latency p50 "
          << percentile(total.latencies_ms, 0.5) << " ms, p99 " << percentile(total.latencies_ms, 0.99)
          << " ms, max " << percentile(total.latencies_ms, 1.0) << " ms, " << slower_than_1s << " over 1 s; "
          << "answers per scraper: min " << percentile(served, 0) << ", median " << percentile(served, 0.5)
          << ", max " << percentile(served, 1.0)
          << "; longest time a scraper went without an answer: " << percentile(silences, 1.0) << " s, "
          << silent << " scrapers went longer than the timeout; " << overflows
          << " connections dropped by full listen queues (system-wide); CPU: "
          << "exporter " << exporter_cpu << " s, test scrapers and sampler " << own_cpu << " s";
  report(summary.str());
  report("collections: " + std::to_string(static_cast<long>(collections)) + " for " +
         std::to_string(static_cast<long>(scrapes_total)) +
         " scrapes; exporter sessions on the server: peak " + std::to_string(peak_sessions) + " (" +
         std::to_string(peak_active) + " active at once) in " + std::to_string(samples) + " samples, " +
         std::to_string(databases) + " databases");
  report("memory: RSS before " + mib(before.rss_kib) + ", after " + mib(after.rss_kib) + ", peak sampled " +
         mib(peak_rss) + ", VmHWM " + mib(after.hwm_kib) + "; threads " + std::to_string(before.threads) +
         " -> " + std::to_string(after.threads) + " (peak " + std::to_string(peak_threads) + "), fds " +
         std::to_string(before.fds) + " -> " + std::to_string(after.fds) + " (peak " +
         std::to_string(peak_fds) + ")");

  INFO(summary.str() << "\nfirst error: " << first_error << "\nexporter log:\n" << exporter.log_tail(30));
  CHECK(total.requests > 0);
  CHECK(errors == 0);
  CHECK(total.late == 0);
  CHECK(silent == 0);
  // One collection at a time: never more sessions than databases, never
  // more of them busy than databases, and far fewer collections than scrapes.
  CHECK(peak_sessions <= databases);
  CHECK(peak_active <= databases);
  CHECK(collections > 0);
  CHECK(collections < scrapes_total / 2);
  // Generous: what holds tens of thousands of expositions in flight would not.
  // AddressSanitizer's quarantine holds freed memory back, so there RSS says
  // nothing about the exporter.
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(after.hwm_kib < 512 * 1024);
  CHECK(after.rss_kib < before.rss_kib + 128 * 1024);
#endif
}

TEST_CASE("idle keep-alive connections and bursts of new ones do not keep a scraper waiting",
          "[integration][load]") {
  TestPostgres pg;
  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--scrape.timeout=10s"});
  REQUIRE(scrape_metrics(exporter).value("pg_up") == 1.0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(exporter.port()));
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  // 1. Clients that send one request over a keep-alive connection and then
  // stay idle, as a Prometheus between two scrapes or a parked HTTP client.
  // One at a time: the next connects once the previous one is answered, or
  // after 0.2 s without an answer, so that all are open well within the
  // server's keep-alive timeout (5 s) and never arrive in a burst.
  const int parked = 40;
  std::vector<int> sockets;
  int answered = 0;
  for (int i = 0; i < parked; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    sockets.push_back(fd);
    pollfd answer{fd, POLLIN, 0};
    if (::poll(&answer, 1, 200) > 0) ++answered;
  }
  // None of that may delay a scraper, or a liveness probe, that comes next.
  const auto healthz = exporter.scrape("/healthz", {}, true, 15s);
  const auto metrics = exporter.scrape("/metrics", {{"X-Prometheus-Scrape-Timeout-Seconds", "3"}}, true, 15s);
  for (int fd : sockets) ::close(fd);
  report(std::to_string(parked) + " idle keep-alive connections, opened one by one: " +
         std::to_string(answered) + " requests answered at once (within 0.2 s); then /healthz answered " +
         std::to_string(healthz.status) + " after " + std::to_string(healthz.elapsed_ms) + " ms, /metrics " +
         std::to_string(metrics.status) + " after " + std::to_string(metrics.elapsed_ms) + " ms");
  {
    INFO("/healthz: " << healthz.status << " " << healthz.error << " in " << healthz.elapsed_ms
                      << " ms; /metrics: " << metrics.status << " " << metrics.error << " in "
                      << metrics.elapsed_ms << " ms");
    CHECK(answered == parked);
    CHECK(healthz.status == 200);
    CHECK(healthz.elapsed_ms < 1000);  // Kubernetes' default liveness probe timeout: 1 s
    CHECK(metrics.status == 200);
    CHECK(metrics.elapsed_ms < 3000);
  }

  // 2. A burst: 50 clients connecting at once, as scrapers whose keep-alive
  // connections were closed together reconnect. Each must be let in at
  // once: a connection the listen queue has no room for is dropped by the
  // kernel and retried by the client after a second (then 3 s, 7 s).
  std::this_thread::sleep_for(500ms);  // the workers see the parked connections closed
  const int burst = 50;
  std::vector<double> connect_seconds(burst, -1), answer_seconds(burst, -1);
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < burst; ++i) {
    clients.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      const auto dialled = Clock::now();
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        connect_seconds[i] = seconds_since(dialled);
        const std::string once = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (::send(fd, once.data(), once.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(once.size())) {
          pollfd answer{fd, POLLIN, 0};
          if (::poll(&answer, 1, 10000) > 0) answer_seconds[i] = seconds_since(dialled);
        }
      }
      ::close(fd);
    });
  }
  go = true;
  for (auto& client : clients) client.join();
  const auto slow =
      std::count_if(connect_seconds.begin(), connect_seconds.end(), [](double s) { return s >= 0.9; });
  const auto failed = std::count(answer_seconds.begin(), answer_seconds.end(), -1.0);
  report("a burst of " + std::to_string(burst) + " connections: " + std::to_string(slow) +
         " took a second or more to connect (dropped from the listen queue, SYN retried), slowest connect " +
         std::to_string(percentile(connect_seconds, 1.0)) + " s, slowest answer " +
         std::to_string(percentile(answer_seconds, 1.0)) + " s, " + std::to_string(failed) + " unanswered");
  CHECK(failed == 0);
  CHECK(slow == 0);
}
