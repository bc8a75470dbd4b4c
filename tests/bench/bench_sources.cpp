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

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
#include "support/exporter_process.hpp"
#include "support/testbed.hpp"

namespace pgscope::bench {
namespace {

using pgscope::test::ExporterProcess;
using pgscope::test::Testbed;
using Clock = std::chrono::steady_clock;

constexpr const char* kBouncerPeer = "/usr/bin/prometheus-pgbouncer-exporter";
constexpr auto kSettle = std::chrono::milliseconds(100);  // as the PostgreSQL suite

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string load_line() { return "load average " + slurp("/proc/loadavg").substr(0, 14); }

// ---- The testbed ----------------------------------------------------------------

std::vector<std::string> g_down_strings;  // bash scripts/testbed down, for the signal handler
std::vector<char*> g_down_argv;

// Takes the testbed down (fork and execve are async-signal-safe), then dies
// of the signal as it would have. Our exporters die with us (PDEATHSIG).
extern "C" void down_and_die(int sig) {
  const pid_t pid = fork();
  if (pid == 0) {
    execve(g_down_argv[0], g_down_argv.data(), environ);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
  signal(sig, SIG_DFL);
  raise(sig);
}

// scripts/testbed up in /tmp/pgscope-bench-testbed-<pid>, not the directory
// the tests use; down when this goes out of scope (an exception included).
class OwnTestbed {
 public:
  OwnTestbed() : dir_("/tmp/pgscope-bench-testbed-" + std::to_string(getpid())) {
    setenv("PGSCOPE_TESTBED_DIR", dir_.c_str(), 1);  // for Testbed::load() and the signal handler
    g_down_strings = {"/bin/bash", script(), "down"};
    for (auto& s : g_down_strings) g_down_argv.push_back(s.data());
    g_down_argv.push_back(nullptr);
    struct sigaction action {};
    action.sa_handler = down_and_die;
    sigfillset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

    std::cout << "Starting a testbed (etcd, 3 Patroni members, pgBouncer) in " << dir_ << "..." << std::endl;
    const auto start = Clock::now();
    auto up = test::run_process({"bash", script(), "up"}, {}, "", std::chrono::seconds(240));
    if (up.exit_code != 0) {
      down();
      throw std::runtime_error("scripts/testbed up failed (exit " + std::to_string(up.exit_code) + "):\n" +
                               up.err.substr(up.err.size() > 3000 ? up.err.size() - 3000 : 0));
    }
    try {
      bed = Testbed::load();
    } catch (...) {
      down();
      throw;
    }
    std::printf("  up in %.1f s (%s)\n", seconds_since(start), load_line().c_str());
  }
  ~OwnTestbed() { down(); }
  OwnTestbed(const OwnTestbed&) = delete;
  OwnTestbed& operator=(const OwnTestbed&) = delete;

  // The pid in a pid file of the state directory, when alive and ours.
  pid_t pid_from(const std::string& relative) const {
    std::ifstream in(dir_ + "/" + relative);
    long pid = -1;
    if (!(in >> pid) || pid <= 0 || kill(static_cast<pid_t>(pid), 0) != 0) return -1;
    return slurp("/proc/" + std::to_string(pid) + "/cmdline").find(dir_ + "/") == std::string::npos
               ? -1
               : static_cast<pid_t>(pid);
  }

  Testbed bed;

 private:
  static std::string script() { return std::string(PGSCOPE_SOURCE_DIR) + "/scripts/testbed"; }
  void down() {
    const auto start = Clock::now();
    auto result = test::run_process({"bash", script(), "down"}, {}, "", std::chrono::seconds(120));
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_DFL);
    if (result.exit_code == 0) {
      std::printf("\nTestbed down in %.1f s.\n", seconds_since(start));
    } else {
      std::cerr << "\nscripts/testbed down failed (exit " << result.exit_code << "):\n" << result.err << "\n";
    }
  }
  std::string dir_;
};

// Patroni agents running that are not this testbed's: other testbeds share the CPUs.
int other_patroni_agents(const std::string& dir) {
  int n = 0;
  auto listing = test::run_process({"pgrep", "-f", "bin/patroni "});
  std::istringstream pids(listing.out);
  for (std::string pid; pids >> pid;) {
    n += slurp("/proc/" + pid + "/cmdline").find(dir + "/") == std::string::npos ? 1 : 0;
  }
  return n;
}

// ---- Measuring ----------------------------------------------------------------

// A process (or group) whose CPU a scrape may cost besides the exporter's.
struct Watched {
  std::string name;
  std::function<long long()> ticks;
};

struct Window {
  double seconds = 0;      // from the first CPU reading to the last
  long long exporter = 0;  // ticks
  std::vector<long long> watched;
  double wall_ms = 0;
};

struct Side {
  std::string name;
  pid_t pid = -1;  // the exporter; -1 when the endpoint is served by a watched process
  int port = 0;
  std::vector<Window> windows;
  std::string body;  // of the last scrape
  double rss_warm = 0;
};

std::vector<long long> read_ticks(const std::vector<Watched>& watched) {
  std::vector<long long> ticks;
  for (const auto& w : watched) ticks.push_back(w.ticks());
  return ticks;
}

// One scrape of `side` and the settle time after it; with no side, an idle
// window of `idle` seconds.
Window window(const std::vector<Watched>& watched, Side* side, double idle = 0) {
  Window w;
  const auto start = Clock::now();
  const long long e0 = side && side->pid > 0 ? process_ticks(side->pid) : 0;
  const auto w0 = read_ticks(watched);
  if (side) {
    Fetch f = fetch(side->port, false);
    if (f.status != 200) {
      throw std::runtime_error(side->name + " scrape failed: status " + std::to_string(f.status) + " " +
                               f.error + " " + f.body.substr(0, 400));
    }
    w.wall_ms = f.wall_ms;
    side->body = std::move(f.body);
    std::this_thread::sleep_for(kSettle);
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(idle));
  }
  w.exporter = side && side->pid > 0 ? process_ticks(side->pid) - e0 : 0;
  const auto w1 = read_ticks(watched);
  for (std::size_t i = 0; i < w0.size(); ++i) w.watched.push_back(w1[i] - w0[i]);
  w.seconds = seconds_since(start);
  return w;
}

// Warm-up, then rounds of one scrape each (the order swapped every round) and
// an idle window as long as both. Returns the idle CPU rates, ms per second.
std::vector<double> run_rounds(Side& a, Side& b, const std::vector<Watched>& watched, int warmup,
                               int scrapes) {
  for (int i = 0; i < warmup; ++i) {
    window(watched, &a);
    window(watched, &b);
  }
  for (Side* s : {&a, &b}) s->rss_warm = s->pid > 0 ? status_mib(s->pid, "VmRSS") : 0;
  std::vector<long long> idle_ticks(watched.size());
  double idle_seconds = 0;
  for (int i = 0; i < scrapes; ++i) {
    Side& first = i % 2 ? b : a;
    Side& second = i % 2 ? a : b;
    first.windows.push_back(window(watched, &first));
    second.windows.push_back(window(watched, &second));
    const Window idle =
        window(watched, nullptr, first.windows.back().seconds + second.windows.back().seconds);
    for (std::size_t k = 0; k < watched.size(); ++k) idle_ticks[k] += idle.watched[k];
    idle_seconds += idle.seconds;
  }
  std::vector<double> rates;
  for (long long t : idle_ticks) rates.push_back(static_cast<double>(t) * kMsPerTick / idle_seconds);
  std::printf("Idle windows: %.1f s in all; idle CPU of", idle_seconds);
  for (std::size_t k = 0; k < watched.size(); ++k) {
    std::printf("%s %s %.2f ms/s", k ? "," : "", watched[k].name.c_str(), rates[k]);
  }
  std::printf("\n");
  return rates;
}

// Per scrape, in ms: CPU summed over all windows before dividing (one
// reading is good to a 10 ms tick, the sum to a tick in all).
struct Summary {
  double exporter = 0;
  std::vector<double> gross, baseline;
  double wall_median = 0, wall_p90 = 0;
  double net(std::size_t k) const { return gross[k] - baseline[k]; }
};

Summary summarize(const Side& side, const std::vector<double>& idle_rates) {
  Summary s;
  const auto n = static_cast<double>(side.windows.size());
  long long exporter = 0;
  double seconds = 0;
  std::vector<long long> watched(idle_rates.size());
  std::vector<double> walls;
  for (const auto& w : side.windows) {
    exporter += w.exporter;
    seconds += w.seconds;
    walls.push_back(w.wall_ms);
    for (std::size_t k = 0; k < watched.size(); ++k) watched[k] += w.watched[k];
  }
  s.exporter = static_cast<double>(exporter) * kMsPerTick / n;
  for (std::size_t k = 0; k < watched.size(); ++k) {
    s.gross.push_back(static_cast<double>(watched[k]) * kMsPerTick / n);
    s.baseline.push_back(idle_rates[k] * seconds / n);
  }
  s.wall_median = percentile(walls, 0.5);
  s.wall_p90 = percentile(walls, 0.9);
  return s;
}

// ---- Reporting ----------------------------------------------------------------

void header(const std::string& title, const std::string& peer) {
  std::printf("\n%s\n%-44s %12s %20s %9s\n", title.c_str(), "metric", "pgscope", peer.c_str(), "ratio");
}

void row(const std::string& metric, double ours, double peer, int decimals = 1) {
  const std::string ratio = peer > 0 && ours >= 0 ? std::to_string(ours / peer).substr(0, 5) + "x" : "n/a";
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

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // those with a value: an empty one is no label
  double value = 0;
};

// Tolerant of `name {labels}`, which Patroni 3.0 writes for one family.
std::vector<Sample> parse_samples(const std::string& body) {
  std::vector<Sample> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size() && line[i] == '{') {
      while (++i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size()) break;
        std::string key = line.substr(i, eq - i), value;
        for (i = eq + 2; i < line.size() && line[i] != '"'; ++i)
          value += line[i] == '\\' ? line[++i] : line[i];
        if (!value.empty()) s.labels[key] = value;
        if (i + 1 < line.size() && line[i + 1] == ',') ++i;
      }
      ++i;
    }
    s.value = std::strtod(line.c_str() + std::min(i, line.size()), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::string describe(const std::string& name, const std::map<std::string, std::string>& labels) {
  std::string text = name + "{";
  for (const auto& [k, v] : labels) text += (text.back() == '{' ? "" : ",") + k + "=\"" + v + "\"";
  return text + "}";
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
      std::snprintf(line, sizeof line, "    %-70s %s %.10g, pgscope %.10g",
                    describe(p.name, p.labels).c_str(), peer.name.c_str(), p.value, found->value);
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

void patroni_suite(const OwnTestbed& testbed, const SourcesSettings& settings) {
  const auto& member = testbed.bed.members.at(0);
  const pid_t patroni = testbed.bed.patroni_pid(member), postmaster = testbed.bed.postmaster_pid(member);
  const pid_t etcd = testbed.pid_from("etcd.pid");
  if (patroni <= 0 || postmaster <= 0 || etcd <= 0) throw std::runtime_error("testbed processes not found");
  const auto status = nlohmann::json::parse(testbed.bed.api_get(member, "/patroni").body, nullptr, false);
  const std::string version =
      status.is_object() ? status.value("patroni", nlohmann::json::object()).value("version", "?") : "?";
  const std::vector<Watched> watched{
      {"Patroni agent", [=] { return process_ticks(patroni); }},
      {"PostgreSQL", [=] { return server_ticks(postmaster); }},
      {"etcd", [=] { return process_ticks(etcd); }},
  };

  ExporterProcess ours({"--patroni.url=" + member.api_url()});
  std::cout << "\n==== Patroni suite (" << member.name << ", " << status.value("role", "?") << ", "
            << other_patroni_agents(testbed.bed.dir) << " other Patroni agents on this machine, "
            << load_line() << ")\n"
            << "  pgscope: " << command_line({PGSCOPE_EXPORTER_BINARY, "--patroni.url=" + member.api_url()})
            << "\n           (GET /patroni, /cluster, /history per scrape on one keep-alive connection)\n"
            << "  peer:    GET " << member.api_url() << "/metrics: Patroni " << version
            << "'s own endpoint, served by a thread of the Patroni agent (Python, pid " << patroni
            << "),\n           which also runs its HA loop every 2 s: its CPU is net of an idle baseline\n"
            << "Warm-up: " << settings.warmup << " scrapes each; then " << settings.scrapes
            << " alternating scrapes each, an idle window after each pair." << std::endl;
  Side a{"pgscope", ours.pid(), ours.port(), {}, {}, 0};
  Side b{"Patroni", -1, member.api_port, {}, {}, 0};
  const auto rates = run_rounds(a, b, watched, settings.warmup, settings.scrapes);
  const Summary sa = summarize(a, rates), sb = summarize(b, rates);

  header("Per scrape, " + std::to_string(settings.scrapes) + " each:", "Patroni /metrics");
  row("CPU ms, exporter process", sa.exporter, 0);
  row("CPU ms, Patroni agent (gross)", sa.gross[0], sb.gross[0]);
  row("CPU ms, Patroni agent (idle, same wall time)", sa.baseline[0], sb.baseline[0]);
  row("CPU ms, Patroni agent (net)", sa.net(0), sb.net(0));
  row("CPU ms, exporter + Patroni net", sa.exporter + sa.net(0), sb.net(0));
  row("CPU ms, member's PostgreSQL (net)", sa.net(1), sb.net(1));
  row("CPU ms, etcd (net)", sa.net(2), sb.net(2));
  row("CPU ms, all of the above (net)", sa.exporter + sa.net(0) + sa.net(1) + sa.net(2),
      sb.net(0) + sb.net(1) + sb.net(2));
  print_common(a, b, sa, sb, "patroni_");
  row("RSS MiB, exporter vs the whole Patroni agent", status_mib(a.pid, "VmRSS"),
      status_mib(patroni, "VmRSS"));
  std::printf("(informational: Patroni's RSS is the agent's, HA loop and DCS client included; %s)\n",
              load_line().c_str());
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

void pgbouncer_suite(const OwnTestbed& testbed, const SourcesSettings& settings) {
  const auto& bed = testbed.bed;
  const pid_t bouncer = testbed.pid_from("pgbouncer/pgbouncer.pid");
  if (bouncer <= 0) throw std::runtime_error("the testbed's pgBouncer is not running");
  const std::vector<Watched> watched{{"pgBouncer", [=] { return process_ticks(bouncer); }}};
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
            << load_line()
            << ")\n  pgscope: " << command_line({PGSCOPE_EXPORTER_BINARY, "--pgbouncer.dsn=" + shown_dsn})
            << "\n  peer:    PGPASSWORD=xxxxx " << command_line({kBouncerPeer}) << " " << command_line(args)
            << "\n           Debian's prometheus-pgbouncer-exporter 1.7 (Python, psycopg2, one connection)"
            << "\n           " << as_shipped << "\nWarm-up: " << settings.warmup << " scrapes each; then "
            << settings.scrapes << " alternating scrapes each, an idle window after each pair." << std::endl;
  Side a{"pgscope", ours.pid(), ours.port(), {}, {}, 0};
  Side b{"Debian", peer->pid(), peer_port, {}, {}, 0};
  const auto rates = run_rounds(a, b, watched, settings.warmup, settings.scrapes);
  const Summary sa = summarize(a, rates), sb = summarize(b, rates);

  header("Per scrape, " + std::to_string(settings.scrapes) + " each:", "Debian exporter");
  row("CPU ms, exporter process", sa.exporter, sb.exporter);
  row("CPU ms, pgBouncer (gross)", sa.gross[0], sb.gross[0]);
  row("CPU ms, pgBouncer (idle, same wall time)", sa.baseline[0], sb.baseline[0]);
  row("CPU ms, pgBouncer (net)", sa.net(0), sb.net(0));
  row("CPU ms, exporter + pgBouncer net", sa.exporter + sa.net(0), sb.exporter + sb.net(0));
  print_common(a, b, sa, sb, "pgbouncer_");
  row("RSS MiB (after warm-up)", a.rss_warm, b.rss_warm);
  row("RSS MiB (after the run)", status_mib(a.pid, "VmRSS"), status_mib(b.pid, "VmRSS"));
  row("peak RSS MiB", status_mib(a.pid, "VmHWM"), status_mib(b.pid, "VmHWM"));
  std::printf("(%s)\n", load_line().c_str());
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
  std::printf("(CPU: /proc utime+stime, %.0f ms ticks, per scrape window incl. %lld ms settle; %ld CPUs)\n",
              kMsPerTick, static_cast<long long>(kSettle.count()), sysconf(_SC_NPROCESSORS_ONLN));
  OwnTestbed testbed;
  if (settings.patroni) patroni_suite(testbed, settings);
  if (pgbouncer) pgbouncer_suite(testbed, settings);
  return 0;
}

}  // namespace pgscope::bench
