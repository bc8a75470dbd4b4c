// The Patroni and pgBouncer suites of pgscope-bench: pgscope-exporter with
// only --patroni.url against Patroni's own GET /metrics, and with only
// --pgbouncer.dsn against Debian's prometheus-pgbouncer-exporter, on a
// testbed of their own. Scrapes alternate, as in the PostgreSQL suite.
//
// A scrape also costs the source CPU: Patroni answers from a thread of its
// agent (and asks PostgreSQL and etcd), pgBouncer from its one process. Those
// processes also work when nobody scrapes (Patroni's HA loop, etcd's ticks),
// so each pair of scrapes is followed by an idle window as long as the two,
// and the idle CPU rate times a scrape's window is subtracted from it.
#include "bench/bench_sources.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "bench/bench_support.hpp"
#include "bench/bench_testbed.hpp"
#include "support/exporter_process.hpp"

namespace pgscope::bench {
namespace {

using pgscope::test::ExporterProcess;
using Clock = std::chrono::steady_clock;

constexpr const char* kBouncerPeer = "/usr/bin/prometheus-pgbouncer-exporter";
constexpr auto kSettle = std::chrono::milliseconds(100);  // as the PostgreSQL suite

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- Measuring ----------------------------------------------------------------

// Cumulative CPU of a process (or group), in ms, from its CPU clock: exact,
// and counting threads that have exited (pgscope runs each collection in a
// new thread, Patroni answers each connection in one). `ticks` reads
// utime+stime (10 ms ticks), to check the clock against over the whole run.
struct Cpu {
  std::string name;
  std::function<double()> ms;
  std::function<double()> ticks;
};

Cpu process_cpu(const std::string& name, pid_t pid) {
  return {name, [pid] { return static_cast<double>(process_ns(pid)) / 1e6; },
          [pid] { return static_cast<double>(process_ticks(pid)) * kMsPerTick; }};
}

struct Window {
  int scrapes = 0;     // 0: an idle window
  double seconds = 0;  // from the first CPU reading to the last
  double exporter = 0;
  std::vector<double> watched;
  std::vector<double> walls;  // ms, one per scrape
};

struct Side {
  std::string name;
  Cpu cpu;  // the exporter's; no ms when the endpoint is served by a watched process
  pid_t pid = -1;
  int port = 0;
  std::vector<Window> windows;
  std::string body;  // of the last scrape
  double rss_warm = 0;
};

std::vector<double> read_all(const std::vector<Cpu>& cpus) {
  std::vector<double> ms;
  for (const auto& c : cpus) ms.push_back(c.ms());
  return ms;
}

// `batch` scrapes of `side` kGap apart, then the settle time; with no side,
// an idle window of `idle` seconds.
constexpr auto kGap = std::chrono::milliseconds(20);

Window window(const std::vector<Cpu>& watched, Side* side, int batch, double idle = 0) {
  Window w;
  const auto start = Clock::now();
  const bool exporter = side && side->cpu.ms;
  const double e0 = exporter ? side->cpu.ms() : 0;
  const auto w0 = read_all(watched);
  for (int i = 0; side && i < batch; ++i) {
    if (i) std::this_thread::sleep_for(kGap);
    Fetch f = fetch(side->port, false);
    if (f.status != 200) {
      throw std::runtime_error(side->name + " scrape failed: status " + std::to_string(f.status) + " " +
                               f.error + " " + f.body.substr(0, 400));
    }
    w.walls.push_back(f.wall_ms);
    side->body = std::move(f.body);
    ++w.scrapes;
  }
  std::this_thread::sleep_for(side ? std::chrono::duration<double>(kSettle)
                                   : std::chrono::duration<double>(idle));
  w.exporter = exporter ? side->cpu.ms() - e0 : 0;
  const auto w1 = read_all(watched);
  for (std::size_t i = 0; i < w0.size(); ++i) w.watched.push_back(w1[i] - w0[i]);
  w.seconds = seconds_since(start);
  return w;
}

// Warm-up, then rounds of one batch each (the order swapped every round) and
// an idle window as long as both. Returns the idle CPU rates, ms per second.
std::vector<double> run_rounds(Side& a, Side& b, const std::vector<Cpu>& watched, int warmup, int scrapes,
                               int batch) {
  for (int i = 0; i < warmup; ++i) {
    window(watched, &a, 1);
    window(watched, &b, 1);
  }
  for (Side* s : {&a, &b}) s->rss_warm = s->pid > 0 ? status_mib(s->pid, "VmRSS") : 0;
  std::vector<Cpu> checked = watched;
  for (const Side* s : {&a, &b}) {
    if (s->cpu.ms) checked.push_back(s->cpu);
  }
  std::vector<std::pair<double, double>> check0;
  for (const auto& c : checked) check0.emplace_back(c.ms(), c.ticks());

  std::vector<double> idle_ms(watched.size());
  double idle_seconds = 0;
  const auto start = Clock::now();
  for (int i = 0; i * batch < scrapes; ++i) {
    const int n = std::min(batch, scrapes - i * batch);
    Side& first = i % 2 ? b : a;
    Side& second = i % 2 ? a : b;
    first.windows.push_back(window(watched, &first, n));
    second.windows.push_back(window(watched, &second, n));
    const Window idle =
        window(watched, nullptr, 0, first.windows.back().seconds + second.windows.back().seconds);
    for (std::size_t k = 0; k < watched.size(); ++k) idle_ms[k] += idle.watched[k];
    idle_seconds += idle.seconds;
  }
  std::printf("Run: %.1f s, %.1f s of it idle windows; idle CPU:", seconds_since(start), idle_seconds);
  std::vector<double> rates;
  for (std::size_t k = 0; k < watched.size(); ++k) {
    rates.push_back(idle_ms[k] / idle_seconds);
    std::printf("%s %s %.2f ms/s", k ? "," : "", watched[k].name.c_str(), rates.back());
  }
  std::printf("\nCheck, CPU over the run by the CPU clock vs utime+stime (10 ms ticks):");
  for (std::size_t k = 0; k < checked.size(); ++k) {
    std::printf("%s %s %.1f vs %.0f ms", k ? "," : "", checked[k].name.c_str(),
                checked[k].ms() - check0[k].first, checked[k].ticks() - check0[k].second);
  }
  std::printf("\n");
  return rates;
}

// Per scrape, in ms: CPU summed over the windows before dividing.
struct Summary {
  double exporter = 0;
  std::vector<double> gross, baseline, error;  // error: standard error of the net, from the windows' spread
  double wall_median = 0, wall_p90 = 0;
  double net(std::size_t k) const { return gross[k] - baseline[k]; }
};

Summary summarize(const Side& side, const std::vector<double>& idle_rates) {
  Summary s;
  double n = 0, seconds = 0;
  std::vector<double> watched(idle_rates.size()), walls;
  for (const auto& w : side.windows) {
    n += w.scrapes;
    s.exporter += w.exporter;
    seconds += w.seconds;
    walls.insert(walls.end(), w.walls.begin(), w.walls.end());
    for (std::size_t k = 0; k < watched.size(); ++k) watched[k] += w.watched[k];
  }
  s.exporter /= n;
  const auto windows = static_cast<double>(side.windows.size());
  for (std::size_t k = 0; k < watched.size(); ++k) {
    s.gross.push_back(watched[k] / n);
    s.baseline.push_back(idle_rates[k] * seconds / n);
    double squares = 0;
    for (const auto& w : side.windows) {
      squares += std::pow((w.watched[k] - idle_rates[k] * w.seconds) / w.scrapes - s.net(k), 2);
    }
    s.error.push_back(windows > 1 ? std::sqrt(squares / (windows - 1) / windows) : 0);
  }
  s.wall_median = percentile(walls, 0.5);
  s.wall_p90 = percentile(walls, 0.9);
  return s;
}

// ---- Reporting ----------------------------------------------------------------

void header(const std::string& title, const std::string& peer) {
  std::printf("\n%s\n%-44s %12s %20s %9s\n", title.c_str(), "metric", "pgscope", peer.c_str(), "ratio");
}

void row(const std::string& metric, double ours, double peer, int decimals = 1, bool with_ratio = true) {
  const std::string ratio =
      with_ratio && peer > 0 && ours >= 0 ? std::to_string(ours / peer).substr(0, 5) + "x" : "";
  std::printf("%-44s %12.*f %20.*f %9s\n", metric.c_str(), decimals, ours, decimals, peer, ratio.c_str());
}

std::size_t series_with_prefix(const std::string& body, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& [name, count] : series_by_name(body)) n += name.rfind(prefix, 0) == 0 ? count : 0;
  return n;
}

void print_common(const Side& a, const Side& b, const Summary& sa, const Summary& sb,
                  const std::string& prefix) {
  row("wall ms/scrape (median)", sa.wall_median, sb.wall_median);
  row("wall ms/scrape (p90)", sa.wall_p90, sb.wall_p90);
  row("series (" + prefix + "*)", static_cast<double>(series_with_prefix(a.body, prefix)),
      static_cast<double>(series_with_prefix(b.body, prefix)), 0);
  row("series (all)", static_cast<double>(series_with_prefix(a.body, "")),
      static_cast<double>(series_with_prefix(b.body, "")), 0);
  row("bytes/scrape", static_cast<double>(a.body.size()), static_cast<double>(b.body.size()), 0);
}

// Where pgscope should have a peer's sample: its name, the labels it must
// carry (it may have more), and the factor from the peer's value to pgscope's.
struct Counterpart {
  std::string name;
  std::map<std::string, std::string> labels;
  double scale = 1;
};

// Values of the two last scrapes side by side (taken ~0.1 s apart: counters
// and timestamps may have moved), what the peer has that pgscope lacks, and
// the names of pgscope's own families that the peer has no counterpart for.
void cross_check(const Side& ours, const Side& peer, const std::string& prefix,
                 const std::function<Counterpart(const Sample&)>& counterpart) {
  const auto our_samples = parse_samples(ours.body);
  std::set<std::string> missing, matched_names;
  std::vector<std::string> differ;
  int compared = 0, equal = 0;
  for (const auto& p : parse_samples(peer.body)) {
    if (p.name.rfind(prefix, 0) != 0) continue;  // the peer's runtime (python_*, process_*)
    const Counterpart c = counterpart(p);
    const Sample* found = nullptr;
    for (const auto& o : our_samples) {
      bool fits = o.name == c.name;
      for (const auto& [k, v] : c.labels) fits = fits && o.labels.count(k) && o.labels.at(k) == v;
      if (fits) found = &o;
    }
    if (!found) {
      missing.insert(p.name + (c.name == p.name ? "" : " (as " + c.name + ")"));
      continue;
    }
    ++compared;
    matched_names.insert(c.name);
    const double expected = p.value * c.scale;
    if (std::fabs(found->value - expected) <= 1e-9 * std::max(1.0, std::fabs(expected))) {
      ++equal;
    } else {
      char line[400];
      std::snprintf(line, sizeof line, "    %-70s %s %.10g, pgscope %.10g", describe(p).c_str(),
                    peer.name.c_str(), p.value, found->value);
      differ.push_back(line);
    }
  }
  std::printf("\nValues, last scrape of each (~0.1 s apart; counters and timestamps may move):\n");
  std::printf("  %d %s series found in pgscope, %d with the same value; differing:%s\n", compared,
              peer.name.c_str(), equal, differ.empty() ? " none" : "");
  for (const auto& line : differ) std::printf("%s\n", line.c_str());
  std::printf("  %s series without a counterpart in pgscope:%s", peer.name.c_str(),
              missing.empty() ? " none" : "");
  for (const auto& name : missing) std::printf("\n    %s", name.c_str());
  std::set<std::string> only_ours;
  for (const auto& o : our_samples) {
    if (o.name.rfind(prefix, 0) == 0 && !matched_names.count(o.name)) only_ours.insert(o.name);
  }
  std::printf("\n  pgscope %s* names the peer has no counterpart for (%zu):", prefix.c_str(),
              only_ours.size());
  for (const auto& name : only_ours) std::printf(" %s", name.c_str());
  std::printf("\n");
}

// pgscope's complaints during the run: a collector that logs warnings on a
// healthy testbed is worth a look.
void print_log_complaints(const ExporterProcess& ours) {
  std::istringstream log(ours.log());
  int shown = 0;
  for (std::string line; std::getline(log, line) && shown < 5;) {
    if (line.find("level=warn") != std::string::npos || line.find("level=error") != std::string::npos) {
      std::cout << "  pgscope log: " << line.substr(0, 300) << "\n";
      ++shown;
    }
  }
  if (!shown) std::cout << "  pgscope log: no warnings or errors\n";
}

void save(const SourcesSettings& settings, const std::string& file, const std::string& body) {
  if (!settings.save_dir.empty()) std::ofstream(settings.save_dir + "/" + file) << body;
}

// ---- Patroni ------------------------------------------------------------------

// Patroni's HA loop (a few ms every 2 s) falls in some windows and not in
// others, and the idle baseline takes it out on average only; /metrics costs
// well under a ms. More scrapes, and less settle time per scrape (5 to a
// window), make it weigh less.
constexpr int kPatroniBatch = 5;

void patroni_suite(const BenchTestbed& testbed, const SourcesSettings& settings) {
  const int scrapes = 3 * settings.scrapes;
  const auto& member = testbed.bed.members.at(0);
  const pid_t patroni = testbed.bed.patroni_pid(member), postmaster = testbed.bed.postmaster_pid(member);
  const pid_t etcd = testbed.pid_from("etcd.pid");
  if (patroni <= 0 || postmaster <= 0 || etcd <= 0) throw std::runtime_error("testbed processes not found");
  const auto status = nlohmann::json::parse(testbed.bed.api_get(member, "/patroni").body, nullptr, false);
  const std::string version =
      status.is_object() ? status.value("patroni", nlohmann::json::object()).value("version", "?") : "?";
  const std::vector<Cpu> watched{
      process_cpu("Patroni agent", patroni),
      {"PostgreSQL", [=] { return static_cast<double>(server_ns(postmaster)) / 1e6; },
       [=] { return static_cast<double>(server_ticks(postmaster)) * kMsPerTick; }},
      process_cpu("etcd", etcd),
  };

  ExporterProcess ours({"--patroni.url=" + member.api_url()});
  std::cout << "\n==== Patroni suite (" << member.name << ", " << status.value("role", "?") << ", "
            << testbed.other_patroni_agents() << " other Patroni agents on this machine, " << load_average()
            << ")\n"
            << "  pgscope: " << command_line({PGSCOPE_EXPORTER_BINARY, "--patroni.url=" + member.api_url()})
            << "\n           (GET /patroni, /cluster, /history per scrape, one after the other)\n"
            << "  peer:    GET " << member.api_url() << "/metrics: Patroni " << version
            << "'s own endpoint, served by a thread of the Patroni agent (Python, pid " << patroni
            << "),\n           which also runs its HA loop every 2 s: its CPU is net of an idle baseline\n"
            << "Warm-up: " << settings.warmup << " scrapes each; then " << scrapes
            << " scrapes each (3x --scrapes)"
            << " in alternating batches of " << kPatroniBatch << " (" << kGap.count()
            << " ms apart), an idle window after each pair" << std::endl;
  Side a{"pgscope", process_cpu("pgscope", ours.pid()), ours.pid(), ours.port(), {}, {}, 0};
  Side b{"Patroni", {}, -1, member.api_port, {}, {}, 0};
  const auto rates = run_rounds(a, b, watched, settings.warmup, scrapes, kPatroniBatch);
  const Summary sa = summarize(a, rates), sb = summarize(b, rates);

  header("Per scrape, " + std::to_string(scrapes) + " each:", "Patroni /metrics");
  row("CPU ms, exporter process", sa.exporter, 0);
  row("CPU ms, Patroni agent (gross)", sa.gross[0], sb.gross[0]);
  row("CPU ms, Patroni agent (idle, same wall time)", sa.baseline[0], sb.baseline[0]);
  row("CPU ms, Patroni agent (net)", sa.net(0), sb.net(0));
  row("  standard error of that", sa.error[0], sb.error[0], 1, false);
  row("CPU ms, exporter + Patroni net", sa.exporter + sa.net(0), sb.net(0));
  row("CPU ms, member's PostgreSQL (net)", sa.net(1), sb.net(1), 2);
  row("CPU ms, etcd (net)", sa.net(2), sb.net(2));
  row("  standard error of that", sa.error[2], sb.error[2], 1, false);
  row("CPU ms, all of the above (net)", sa.exporter + sa.net(0) + sa.net(1) + sa.net(2),
      sb.net(0) + sb.net(1) + sb.net(2));
  print_common(a, b, sa, sb, "patroni_");
  row("RSS MiB, exporter vs the whole Patroni agent", status_mib(a.pid, "VmRSS"),
      status_mib(patroni, "VmRSS"));
  std::printf("(informational: Patroni's RSS is the agent's, HA loop and DCS client included; %s)\n",
              load_average().c_str());
  save(settings, "pgscope-patroni.prom", a.body);
  save(settings, "patroni.prom", b.body);
  cross_check(a, b, "patroni_", [](const Sample& s) { return Counterpart{s.name, s.labels, 1}; });
  print_log_complaints(ours);
}

// ---- pgBouncer ----------------------------------------------------------------

// The Debian exporter's names for what pgscope calls otherwise (ours = peer * scale).
Counterpart bouncer_counterpart(const Sample& s) {
  static const std::map<std::string, std::pair<std::string, double>> renamed{
      {"pgbouncer_pool_size", {"pgbouncer_databases_pool_size", 1}},
      {"pgbouncer_reserve_pool", {"pgbouncer_databases_reserve_pool", 1}},
      {"pgbouncer_active_clients", {"pgbouncer_pools_client_active_connections", 1}},
      {"pgbouncer_waiting_clients", {"pgbouncer_pools_client_waiting_connections", 1}},
      {"pgbouncer_requests_total", {"pgbouncer_stats_queries_pooled_total", 1}},
      {"pgbouncer_received_bytes_total", {"pgbouncer_stats_received_bytes_total", 1}},
      {"pgbouncer_sent_bytes_total", {"pgbouncer_stats_sent_bytes_total", 1}},
      {"pgbouncer_query_microseconds_total", {"pgbouncer_stats_queries_duration_seconds_total", 1e-6}},
      {"pgbouncer_dns_names", {"pgbouncer_cached_dns_names", 1}},
      {"pgbouncer_dns_zones", {"pgbouncer_cached_dns_zones", 1}},
      {"pgbouncer_dns_queries", {"pgbouncer_in_flight_dns_queries", 1}},
  };
  Counterpart c{s.name, s.labels, 1};
  if (auto it = renamed.find(s.name); it != renamed.end()) std::tie(c.name, c.scale) = it->second;
  if (c.name.rfind("pgbouncer_databases_", 0) == 0 && c.labels.count("database")) {
    c.labels = {{"name", s.labels.at("database")}};  // SHOW DATABASES' name column
  }
  return c;
}

bool wait_ready(PeerExporter& peer, int port) {
  for (int i = 0; i < 200 && peer.running(); ++i) {
    if (fetch(port, false, "/").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "(no output)";
  auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start));
}

void pgbouncer_suite(const BenchTestbed& testbed, const SourcesSettings& settings) {
  const auto& bed = testbed.bed;
  const pid_t bouncer = testbed.pid_from("pgbouncer/pgbouncer.pid");
  if (bouncer <= 0) throw std::runtime_error("the testbed's pgBouncer is not running");
  const std::vector<Cpu> watched{process_cpu("pgBouncer", bouncer)};
  const std::string port = std::to_string(bed.pgbouncer_port);
  const std::string dsn = "host=127.0.0.1 port=" + port + " user=" + bed.pgbouncer_admin_user +
                          " password=" + bed.pgbouncer_admin_password + " dbname=pgbouncer sslmode=disable";
  ExporterProcess ours({"--pgbouncer.dsn=" + dsn});

  // It takes no DSN: host, port and user as flags, the password from libpq's PGPASSWORD.
  const int peer_port = test::free_tcp_port();
  const std::vector<std::string> args{
      "--host",    "127.0.0.1",        "--port", std::to_string(peer_port), "--pgbouncer-host",
      "127.0.0.1", "--pgbouncer-port", port,     "--pgbouncer-user",        bed.pgbouncer_admin_user};
  const std::map<std::string, std::string> env{{"PGPASSWORD", bed.pgbouncer_admin_password}};
  std::vector<std::string> argv{kBouncerPeer};
  argv.insert(argv.end(), args.begin(), args.end());
  auto peer = std::make_unique<PeerExporter>(argv, env);
  std::string as_shipped = "ran as shipped";
  if (!wait_ready(*peer, peer_port)) {
    // Its StatsCollector reads SHOW STATS' total_requests, which pgBouncer
    // 1.8 renamed total_query_count: it dies registering its collectors.
    as_shipped = "as shipped it fails at start-up (" + last_line(peer->log()) +
                 "); run with total_requests read from total_query_count (pgBouncer 1.8+)";
    peer.reset();
    argv = {"/usr/bin/python3", "-c",
            "import sys\n"
            "from prometheus_pgbouncer_exporter import cli, collectors\n"
            "m = collectors.StatsCollector.metrics\n"
            "m['total_query_count'] = m.pop('total_requests')\n"
            "sys.argv[0] = 'prometheus-pgbouncer-exporter'\n"
            "sys.exit(cli.main())\n"};
    argv.insert(argv.end(), args.begin(), args.end());
    peer = std::make_unique<PeerExporter>(argv, env);
    if (!wait_ready(*peer, peer_port)) throw std::runtime_error("pgbouncer exporter failed:\n" + peer->log());
  }
  const std::string shown_dsn = dsn.substr(0, dsn.find("password=")) + "password=xxxxx dbname=pgbouncer";
  std::cout << "\n==== pgBouncer suite (pgBouncer " << bed.pgbouncer_port << ", pid " << bouncer << ", "
            << load_average()
            << ")\n  pgscope: " << command_line({PGSCOPE_EXPORTER_BINARY, "--pgbouncer.dsn=" + shown_dsn})
            << "\n  peer:    PGPASSWORD=xxxxx " << command_line({kBouncerPeer}) << " " << command_line(args)
            << "\n           Debian's prometheus-pgbouncer-exporter 1.7 (Python, psycopg2, one connection)"
            << "\n           " << as_shipped << "\nWarm-up: " << settings.warmup << " scrapes each; then "
            << settings.scrapes << " alternating scrapes each, an idle window after each pair" << std::endl;
  Side a{"pgscope", process_cpu("pgscope", ours.pid()), ours.pid(), ours.port(), {}, {}, 0};
  Side b{"Debian", process_cpu("Debian exporter", peer->pid()), peer->pid(), peer_port, {}, {}, 0};
  const auto rates = run_rounds(a, b, watched, settings.warmup, settings.scrapes, 1);
  const Summary sa = summarize(a, rates), sb = summarize(b, rates);

  header("Per scrape, " + std::to_string(settings.scrapes) + " each:", "Debian exporter");
  row("CPU ms, exporter process", sa.exporter, sb.exporter);
  row("CPU ms, pgBouncer (gross)", sa.gross[0], sb.gross[0], 2);
  row("CPU ms, pgBouncer (idle, same wall time)", sa.baseline[0], sb.baseline[0], 2);
  row("CPU ms, pgBouncer (net)", sa.net(0), sb.net(0), 2);
  row("  standard error of that", sa.error[0], sb.error[0], 2, false);
  row("CPU ms, exporter + pgBouncer net", sa.exporter + sa.net(0), sb.exporter + sb.net(0), 2);
  print_common(a, b, sa, sb, "pgbouncer_");
  row("RSS MiB (after warm-up)", a.rss_warm, b.rss_warm);
  row("RSS MiB (after the run)", status_mib(a.pid, "VmRSS"), status_mib(b.pid, "VmRSS"));
  row("peak RSS MiB", status_mib(a.pid, "VmHWM"), status_mib(b.pid, "VmHWM"));
  std::printf("(%s)\n", load_average().c_str());
  save(settings, "pgscope-pgbouncer.prom", a.body);
  save(settings, "debian-pgbouncer.prom", b.body);
  cross_check(a, b, "pgbouncer_", bouncer_counterpart);
  print_log_complaints(ours);
}

}  // namespace

int run_sources(const SourcesSettings& settings) {
  bool pgbouncer = settings.pgbouncer;
  if (pgbouncer && access(kBouncerPeer, X_OK) != 0) {
    std::cout << "pgBouncer suite skipped: " << kBouncerPeer
              << " is not installed. To run it: apt-get install prometheus-pgbouncer-exporter\n";
    pgbouncer = false;
  }
  if (!settings.patroni && !pgbouncer) return 0;
  std::printf(
      "(CPU: each process's CPU clock (clock_getcpuclockid), all threads, per scrape window incl. %lld ms\n"
      " settle; %ld CPUs)\n",
      static_cast<long long>(kSettle.count()), sysconf(_SC_NPROCESSORS_ONLN));
  BenchTestbed testbed;
  if (settings.patroni) patroni_suite(testbed, settings);
  if (pgbouncer) pgbouncer_suite(testbed, settings);
  return 0;
}

}  // namespace pgscope::bench
