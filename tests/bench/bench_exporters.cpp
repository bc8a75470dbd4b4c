// Benchmark, not a test: pgscope-exporter against its peers, scraped
// alternately so that drift of the machine (other load, caches, autovacuum)
// hits both alike. It prints figures and verdicts and asserts nothing: exit 1
// only when something could not run. This file: main() and the postgres
// suite, against Debian's prometheus-postgres-exporter on the same PostgreSQL
// (5 databases, 2000 tables); bench_sources.cpp: the patroni and pgbouncer
// suites; bench_big.cpp: the big suite (20 databases, 40 000 tables), opt-in.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_big.hpp"
#include "bench/bench_postgres.hpp"
#include "bench/bench_sources.hpp"
#include "bench/bench_support.hpp"
#include "support/exporter_process.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;
using namespace pgscope::bench;
using Clock = std::chrono::steady_clock;

// ---- Shared with the big suite (bench_postgres.hpp) ----------------------------

namespace pgscope::bench {

const char* const kPeerBinary = "/usr/bin/prometheus-postgres-exporter";
const char* const kPeerQueries = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml";

Measurement measure(Target& t, pid_t postmaster, bool gzip) {
  Measurement m;
  long long e0 = process_ticks(t.pid), s0 = server_ticks(postmaster);
  Fetch f = fetch(t.port, gzip);
  std::this_thread::sleep_for(kSettle);
  m.exporter_ticks = process_ticks(t.pid) - e0;
  m.server_ticks = server_ticks(postmaster) - s0;
  if (f.status != 200) {
    throw std::runtime_error(t.name + " scrape failed: status " + std::to_string(f.status) + " " + f.error +
                             " " + f.body.substr(0, 600));
  }
  m.wall_ms = f.wall_ms;
  m.bytes = f.body.size();
  if (gzip) {
    t.gzip_honoured = t.gzip_honoured && f.encoding == "gzip";
  } else {
    for (const auto& entry : series_by_name(f.body)) m.series += entry.second;
    t.last_body = std::move(f.body);
  }
  return m;
}

// The Debian example predates PostgreSQL 13, which renamed pg_stat_statements'
// *_time columns to *_exec_time; on 15 that whole query fails and its series
// would be missing. A corrected copy keeps the peer's coverage honest.
std::string corrected_peer_queries(std::vector<std::string>& changes) {
  std::string yaml = slurp(kPeerQueries);
  if (yaml.empty()) throw std::runtime_error(std::string("cannot read ") + kPeerQueries);
  for (const char* column : {"total", "min", "max", "mean", "stddev"}) {
    const std::string from = std::string(column) + "_time / 1000";
    const std::string to = std::string(column) + "_exec_time / 1000";
    for (auto pos = yaml.find(from); pos != std::string::npos; pos = yaml.find(from, pos + to.size())) {
      yaml.replace(pos, from.size(), to);
      changes.push_back(from + " -> " + to);
    }
  }
  // pg_process_idle reads pg_stat_activity, which is server-wide, but lacks
  // master: true, so --auto-discover-databases runs it in every database and
  // the duplicate series make every scrape fail with HTTP 500.
  const std::string idle = "pg_process_idle:\n";
  if (auto pos = yaml.find(idle); pos != std::string::npos) {
    yaml.insert(pos + idle.size(), "  master: true\n");
    changes.push_back("pg_process_idle: added master: true");
  }
  return yaml;
}

// CPU is summed over all scrapes before dividing: one reading is only good to
// a clock tick (10 ms), the sum of many is good to a tick in all.
Summary summarize(const std::vector<Measurement>& ms) {
  Summary s;
  if (ms.empty()) return s;
  std::vector<double> walls;
  long long et = 0, st = 0;
  for (const auto& m : ms) {
    et += m.exporter_ticks;
    st += m.server_ticks;
    walls.push_back(m.wall_ms);
    s.bytes += static_cast<double>(m.bytes);
  }
  const auto n = static_cast<double>(ms.size());
  s.exporter_cpu = static_cast<double>(et) * kMsPerTick / n;
  s.server_cpu = static_cast<double>(st) * kMsPerTick / n;
  s.wall_median = percentile(walls, 0.5);
  s.wall_p90 = percentile(walls, 0.9);
  s.bytes /= n;
  s.series = static_cast<double>(ms.back().series);
  return s;
}

PeerRun start_peer(int postgres_port, const std::string& queries_path) {
  const std::string dsn =
      "postgresql://postgres@127.0.0.1:" + std::to_string(postgres_port) + "/postgres?sslmode=disable";
  PeerRun run;
  run.port = test::free_tcp_port();
  const std::vector<std::string> argv{kPeerBinary,
                                      "--web.listen-address=127.0.0.1:" + std::to_string(run.port),
                                      "--auto-discover-databases", "--extend.query-path=" + queries_path};
  run.process =
      std::make_unique<PeerExporter>(argv, std::map<std::string, std::string>{{"DATA_SOURCE_NAME", dsn}});
  run.command = "DATA_SOURCE_NAME=" + shell_quote(dsn) + " " + command_line(argv);
  for (int i = 0; i < 200 && run.process->running() && fetch(run.port, false, "/").status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!run.process->running()) throw std::runtime_error("postgres_exporter exited:\n" + run.process->log());
  return run;
}

}  // namespace pgscope::bench

namespace {

constexpr int kDatabases = 5;
constexpr int kTablesPerDatabase = 400;

struct Settings {
  int warmup = 2;
  int scrapes = 30;
  int gzip_scrapes = 10;
  int statement_scrapes = 3;
  std::string save_dir;  // --save=DIR: the last plain bodies, for a closer look
};

// ---- Setup --------------------------------------------------------------------

void populate(TestPostgres& pg) {
  pg.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  for (int d = 1; d <= kDatabases; ++d) {
    const std::string db = "bench" + std::to_string(d);
    pg.exec("CREATE DATABASE " + db);
    // One round trip per database. COMMIT every 100 tables keeps the lock
    // table small (each table brings a TOAST table and two indexes); it is
    // allowed because the DO block is the only statement of its exec.
    pg.exec("DO $$ BEGIN FOR i IN 1.." + std::to_string(kTablesPerDatabase) +
                " LOOP"
                " EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY, payload text NOT NULL)', i);"
                " EXECUTE format('INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, %s) g',"
                "                i, 2 + i % 50);"
                " IF i % 100 = 0 THEN COMMIT; END IF;"
                " END LOOP; END $$",
            db);
    pg.exec("VACUUM ANALYZE", db);
    // After VACUUM, so that scans, updates and dead rows show in the statistics.
    pg.exec("SET enable_seqscan = off; DO $$ BEGIN FOR i IN 1.." + std::to_string(kTablesPerDatabase) +
                " LOOP"
                " EXECUTE format('SELECT count(*) FROM t%s WHERE id = 1', i);"
                " EXECUTE format('UPDATE t%s SET payload = payload || ''x'' WHERE id = 1', i);"
                " EXECUTE format('DELETE FROM t%s WHERE id = 2', i);"
                " END LOOP; END $$; RESET enable_seqscan",
            db);
    pg.exec("SELECT count(*) FROM t1; SELECT count(*) FROM t2", db);  // a few sequential scans
  }
}

// Statements one scrape runs, from pg_stat_statements (top-level statements,
// utility ones included). The probe's comment keeps its own calls out.
long long statement_calls(const TestPostgres& pg) {
  return std::stoll(pg.query_value(
      "/* pgscope_bench_probe */ SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements"
      " WHERE query NOT LIKE '%pgscope_bench_probe%'"));
}

// ---- Report -------------------------------------------------------------------

void row(const std::string& metric, double ours, double peer, int decimals) {
  std::string ratio = peer > 0 ? std::to_string(ours / peer).substr(0, 5) + "x" : "n/a";
  std::printf("%-32s %14.*f %18.*f %9s\n", metric.c_str(), decimals, ours, decimals, peer, ratio.c_str());
}

void verdict(const std::string& goal, double ratio, bool met) {
  std::printf("  %-48s ratio %.3f: %s\n", goal.c_str(), ratio, met ? "met" : "NOT met");
}

void print_table(const std::string& title, const Summary& a, const Summary& b, bool with_series) {
  std::printf("\n%s\n%-32s %14s %18s %9s\n", title.c_str(), "metric", "pgscope", "postgres_exporter",
              "ratio");
  row("CPU ms/scrape (exporter)", a.exporter_cpu, b.exporter_cpu, 1);
  row("CPU ms/scrape (server)", a.server_cpu, b.server_cpu, 1);
  row("CPU ms/scrape (total)", a.total_cpu(), b.total_cpu(), 1);
  row("wall ms (median)", a.wall_median, b.wall_median, 1);
  row("wall ms (p90)", a.wall_p90, b.wall_p90, 1);
  if (with_series) row("series", a.series, b.series, 0);
  row("bytes", a.bytes, b.bytes, 0);
}

// Names the peer exports and we do not: compatibility gaps to look at. Go
// runtime metrics (go_*) are left out, a C++ program has no such thing.
void print_missing(const std::map<std::string, std::size_t>& ours,
                   const std::map<std::string, std::size_t>& peer) {
  std::vector<std::pair<std::string, std::size_t>> missing;
  std::size_t missing_series = 0, only_ours = 0, go_names = 0;
  for (const auto& [name, n] : peer) {
    if (ours.count(name)) continue;
    if (name.rfind("go_", 0) == 0) {
      ++go_names;
      continue;
    }
    missing.emplace_back(name, n);
    missing_series += n;
  }
  for (const auto& entry : ours) only_ours += peer.count(entry.first) ? 0 : 1;
  std::cout << "\npostgres_exporter metric names absent from pgscope: " << missing.size() << " names, "
            << missing_series << " series (not counting " << go_names << " go_* names; pgscope has "
            << only_ours << " names the peer lacks). First 30 by name, with series counts:\n";
  for (std::size_t i = 0; i < missing.size() && i < 30; ++i) {
    std::printf("  %-60s %6zu\n", missing[i].first.c_str(), missing[i].second);
  }
}

int run(const Settings& settings) {
  if (access(kPeerBinary, X_OK) != 0) throw std::runtime_error(std::string(kPeerBinary) + " not found");
  std::cout << "Starting PostgreSQL and creating " << kDatabases << " databases x " << kTablesPerDatabase
            << " tables..." << std::endl;
  const auto setup_start = Clock::now();
  TestPostgres pg;
  populate(pg);
  std::cout << "  done in "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - setup_start).count() << " s ("
            << pg.query_value("SELECT version()") << ")" << std::endl;

  std::vector<std::string> changes;
  const std::string queries_path = "/tmp/pgscope-bench-queries-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(queries_path) << corrected_peer_queries(changes);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove_queries{queries_path};
  std::cout << "Peer queries: " << kPeerQueries << " corrected for PostgreSQL 15 and auto-discovery into "
            << queries_path << ":\n";
  for (const auto& c : changes) std::cout << "  " << c << "\n";

  // Same coverage as the peer's queries.yaml: every table (default: top 200
  // per database), every pg_stat_statements entry (pg_stat_statements.max),
  // and the stat_statements and postmaster collectors, which are off by default.
  const std::vector<std::string> ours_args{"--postgres.dsn=" + pg.dsn(), "--postgres.table-limit=400",
                                           "--postgres.statement-limit=5000", "--collector.stat_statements",
                                           "--collector.postmaster"};
  ExporterProcess ours(ours_args);
  std::vector<std::string> ours_argv{PGSCOPE_EXPORTER_BINARY,
                                     "--web.listen-address=127.0.0.1:" + std::to_string(ours.port())};
  ours_argv.insert(ours_argv.end(), ours_args.begin(), ours_args.end());

  auto peer_run = start_peer(pg.port(), queries_path);
  PeerExporter& peer = *peer_run.process;
  const int peer_port = peer_run.port;

  std::cout << "\nCommand lines:\n  pgscope:           " << command_line(ours_argv)
            << "\n  postgres_exporter: " << peer_run.command << "\n";

  Target a{"pgscope", ours.pid(), ours.port(), {}, {}, {}, true, -1, 0};
  Target b{"postgres_exporter", peer.pid(), peer_port, {}, {}, {}, true, -1, 0};
  const pid_t postmaster = pg.postmaster_pid();
  std::cout << "\nWarm-up: " << settings.warmup << " scrapes each; then " << settings.scrapes
            << " alternating scrapes each (identity), " << settings.gzip_scrapes << " each with gzip."
            << std::endl;
  for (int i = 0; i < settings.warmup; ++i) {
    measure(a, postmaster, false);
    measure(b, postmaster, false);
  }
  for (Target* t : {&a, &b}) t->rss_after_warmup = status_mib(t->pid, "VmRSS");
  // The peer reports a failing query only in its log; say so, as it would
  // shrink its series and its cost.
  std::istringstream peer_log(peer.log());
  int shown = 0;
  for (std::string line; std::getline(peer_log, line) && shown < 5;) {
    if (line.find("level=error") != std::string::npos || line.find("level=warn") != std::string::npos) {
      std::cout << "  postgres_exporter log: " << line.substr(0, 300) << "\n";
      ++shown;
    }
  }

  for (int i = 0; i < settings.scrapes; ++i) {
    a.plain.push_back(measure(a, postmaster, false));
    b.plain.push_back(measure(b, postmaster, false));
  }
  for (int i = 0; i < settings.gzip_scrapes; ++i) {
    a.gzip.push_back(measure(a, postmaster, true));
    b.gzip.push_back(measure(b, postmaster, true));
  }
  for (Target* t : {&a, &b}) {
    long long before = statement_calls(pg);
    for (int i = 0; i < settings.statement_scrapes; ++i) measure(*t, postmaster, false);
    t->statements_per_scrape =
        static_cast<double>(statement_calls(pg) - before) / static_cast<double>(settings.statement_scrapes);
  }

  const Summary sa = summarize(a.plain), sb = summarize(b.plain);
  print_table("Plain scrapes (no compression), " + std::to_string(settings.scrapes) + " each:", sa, sb, true);
  row("RSS MiB (after warm-up)", a.rss_after_warmup, b.rss_after_warmup, 1);
  row("RSS MiB (after the run)", status_mib(a.pid, "VmRSS"), status_mib(b.pid, "VmRSS"), 1);
  row("peak RSS MiB", status_mib(a.pid, "VmHWM"), status_mib(b.pid, "VmHWM"), 1);
  row("SQL statements/scrape", a.statements_per_scrape, b.statements_per_scrape, 1);
  const Summary ga = summarize(a.gzip), gb = summarize(b.gzip);
  if (!a.gzip.empty()) {
    print_table("Accept-Encoding: gzip, " + std::to_string(settings.gzip_scrapes) + " each:", ga, gb, false);
    if (!a.gzip_honoured || !b.gzip_honoured) {
      std::cout << "  note: gzip not sent by" << (a.gzip_honoured ? "" : " pgscope")
                << (b.gzip_honoured ? "" : " postgres_exporter") << "\n";
    }
  }
  // Both share this machine with whatever else runs on it: say how busy it was.
  std::printf(
      "(CPU: /proc utime+stime, %.0f ms ticks, per scrape window incl. %lld ms settle; server = postmaster\n"
      " and all its children; series: sample lines of the last scrape; %ld CPUs, load average %s)\n",
      kMsPerTick, static_cast<long long>(kSettle.count()), sysconf(_SC_NPROCESSORS_ONLN),
      slurp("/proc/loadavg").substr(0, 14).c_str());

  std::cout << "\nGoals (pgscope / postgres_exporter, plain scrapes):\n";
  const double cpu = sa.exporter_cpu / sb.exporter_cpu, wall = sa.wall_median / sb.wall_median;
  const double series = sa.series / sb.series;
  verdict("CPU per scrape, exporter <= 0.5x", cpu, cpu <= 0.5);
  verdict("CPU per scrape, exporter+server <= 0.5x (info)", sa.total_cpu() / sb.total_cpu(),
          sa.total_cpu() / sb.total_cpu() <= 0.5);
  verdict("wall time per scrape (median) <= 1.0x", wall, wall <= 1.0);
  verdict("series >= 1.0x", series, series >= 1.0);

  if (!settings.save_dir.empty()) {
    std::ofstream(settings.save_dir + "/pgscope.prom") << a.last_body;
    std::ofstream(settings.save_dir + "/postgres_exporter.prom") << b.last_body;
  }
  print_missing(series_by_name(a.last_body), series_by_name(b.last_body));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  int scrapes = 0;  // 0: the suite's default (30; big: 10)
  std::string suite = "all";
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.rfind("--scrapes=", 0) == 0) {
        scrapes = std::max(1, std::stoi(arg.substr(10)));
      } else if (arg.rfind("--gzip-scrapes=", 0) == 0) {
        settings.gzip_scrapes = std::stoi(arg.substr(15));
      } else if (arg.rfind("--save=", 0) == 0) {
        settings.save_dir = arg.substr(7);
      } else if (arg.rfind("--suite=", 0) == 0 &&
                 std::string("|postgres|patroni|pgbouncer|big|all|").find("|" + arg.substr(8) + "|") !=
                     std::string::npos) {
        suite = arg.substr(8);
      } else {
        std::cerr
            << "usage: pgscope-bench [--suite=postgres|patroni|pgbouncer|big|all (all)]\n"
               "                     [--scrapes=N (30; big: 10)] [--save=DIR]\n"
               "                     [--gzip-scrapes=N (10; 0 skips; postgres only)]\n"
               "  all runs postgres, patroni and pgbouncer. big is opt-in (about 3 minutes on 2 cores,\n"
               "  1.2 GiB under /tmp): pgscope with and without TTL caching against postgres_exporter\n"
               "  on a server with 20 databases x 2000 tables.\n";
        return arg == "--help" || arg == "-h" ? 0 : 2;
      }
    }
    if (scrapes > 0) settings.scrapes = scrapes;
    if (suite == "big") {
      BigSettings big;
      big.warmup = settings.warmup;
      if (scrapes > 0) big.scrapes = scrapes;
      big.save_dir = settings.save_dir;
      return run_big(big);
    }
    int status = 0;
    if (suite == "postgres" || suite == "all") status = run(settings);
    if (suite != "postgres" && status == 0) {
      SourcesSettings sources;
      sources.patroni = suite == "patroni" || suite == "all";
      sources.pgbouncer = suite == "pgbouncer" || suite == "all";
      sources.scrapes = settings.scrapes;
      sources.warmup = settings.warmup;
      sources.save_dir = settings.save_dir;
      status = run_sources(sources);
    }
    return status;
  } catch (const std::exception& e) {
    std::cerr << "pgscope-bench: " << e.what() << "\n";
    return 1;
  }
}
