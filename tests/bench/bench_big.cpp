// The big suite of pgscope-bench (issue "cost control"): what a scrape costs
// on a server with many databases and tables, and what pgscope's TTL caching
// (cache_seconds in the catalog) saves. Three variants are scraped in turn,
// with the postgres suite's method (measure(): exporter and server CPU ticks
// per scrape window, wall time, series of the body):
//   (a) pgscope-exporter with its built-in catalog as is (caching on),
//   (b) pgscope-exporter with that catalog minus every cache_seconds: line,
//       from --dump-catalog, given back with --extend.query-path (a custom
//       entry named like a built-in one replaces it),
//   (c) Debian's prometheus-postgres-exporter with --auto-discover-databases
//       and the postgres suite's corrected queries.yaml.
// Both pgscope variants keep the exporter's defaults (--postgres.table-limit
// 200, --postgres.max-series 200000) but get --scrape.timeout=60s.
#include "bench/bench_big.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_postgres.hpp"
#include "bench/bench_support.hpp"
#include "support/exporter_process.hpp"
#include "support/test_postgres.hpp"

namespace pgscope::bench {
namespace {

using pgscope::test::ExporterProcess;
using pgscope::test::TestPostgres;
using Clock = std::chrono::steady_clock;

constexpr int kDatabases = 20;
constexpr int kTablesPerDatabase = 2000;
constexpr const char* kScrapeTimeout = "60s";  // pgscope's default, 10 s, is too short here

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string database_name(int d) { return "big" + std::to_string(d); }

// ---- Setup --------------------------------------------------------------------

// One DO block per database creates its tables (COMMIT every 100 keeps the
// lock table small: each table brings a TOAST table and two indexes); every
// tenth table gets 1 to 97 rows, so that the tables differ in size and the
// --postgres.table-limit ranking has something to rank. The databases are
// filled by a few sessions in parallel (TestPostgres::exec opens a connection
// per call).
void populate(const TestPostgres& pg) {
  auto step = Clock::now();
  pg.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  for (int d = 1; d <= kDatabases; ++d) pg.exec("CREATE DATABASE " + database_name(d));
  std::printf("  %d databases created in %.1f s\n", kDatabases, seconds_since(step));
  std::fflush(stdout);

  step = Clock::now();
  const std::string fill =
      "DO $$ BEGIN FOR i IN 1.." + std::to_string(kTablesPerDatabase) +
      " LOOP"
      " EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY, payload text NOT NULL)', i);"
      " IF i % 10 = 0 THEN"
      "   EXECUTE format('INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, %s) g',"
      "                  i, 1 + i % 97);"
      " END IF;"
      " IF i % 100 = 0 THEN COMMIT; END IF;"
      " END LOOP; END $$";
  std::atomic<int> next{1};
  std::mutex mutex;
  std::string error;
  int done = 0;
  auto worker = [&] {
    for (int d = next++; d <= kDatabases; d = next++) {
      try {
        pg.exec(fill, database_name(d));
        pg.exec("ANALYZE", database_name(d));
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        if (error.empty()) error = database_name(d) + ": " + e.what();
        next = kDatabases + 1;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (++done % 5 == 0) {
        std::printf("  %d/%d databases filled and analyzed, %.0f s\n", done, kDatabases, seconds_since(step));
        std::fflush(stdout);
      }
    }
  };
  const unsigned sessions = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < sessions; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error("populating " + error);
  std::printf("  %d tables (%u sessions in parallel) created, filled and analyzed in %.1f s\n",
              kDatabases * kTablesPerDatabase, sessions, seconds_since(step));
}

// pgscope's effective catalog (--dump-catalog) without its cache_seconds:
// lines. `entries` gets the names of the entries that had one.
std::string catalog_without_cache(std::vector<std::string>& entries, std::size_t& lines) {
  auto dump = pgscope::test::run_exporter_once({"--dump-catalog"});
  if (dump.exit_code != 0 || dump.out.empty()) {
    throw std::runtime_error("pgscope-exporter --dump-catalog failed (" + std::to_string(dump.exit_code) +
                             "): " + dump.err);
  }
  std::istringstream in(dump.out);
  std::string out, entry;
  lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    if (!line.empty() && line[0] != ' ' && line[0] != '#' && line.back() == ':')
      entry = line.substr(0, line.size() - 1);
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, 14, "cache_seconds:") == 0) {
      entries.push_back(entry + " (" + line.substr(first) + ")");
      continue;
    }
    out += line + "\n";
  }
  return out;
}

// ---- Report -------------------------------------------------------------------

std::string ratio(double x, double y) {
  if (y <= 0) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", x / y);
  return text;
}

void row(const std::string& metric, double a, double b, double c, int decimals) {
  std::printf("%-28s %12.*f %12.*f %12.*f %8s %8s %8s\n", metric.c_str(), decimals, a, decimals, b, decimals,
              c, ratio(a, c).c_str(), ratio(b, c).c_str(), ratio(a, b).c_str());
}

double sum_of(const std::vector<Sample>& samples, const std::string& name) {
  double total = 0;
  for (const auto& s : samples) total += s.name == name ? s.value : 0;
  return total;
}

// Sample lines with this name whose value is (or is not) zero.
std::vector<const Sample*> where(const std::vector<Sample>& samples, const std::string& name, bool zero) {
  std::vector<const Sample*> out;
  for (const auto& s : samples) {
    if (s.name == name && (s.value == 0) == zero) out.push_back(&s);
  }
  return out;
}

void print_largest_families(const std::string& who, const std::string& body) {
  std::vector<std::pair<std::size_t, std::string>> families;
  for (const auto& [name, n] : series_by_name(body)) families.emplace_back(n, name);
  std::sort(families.rbegin(), families.rend());
  std::cout << "  " << who << ":";
  for (std::size_t i = 0; i < families.size() && i < 4; ++i) {
    std::cout << (i ? ", " : " ") << families[i].second << " " << families[i].first;
  }
  std::cout << "\n";
}

// Lines of an exporter log at level warn or error (logfmt, both exporters).
void print_log_problems(const std::string& who, const std::string& log) {
  std::istringstream in(log);
  int count = 0;
  std::vector<std::string> first;
  for (std::string line; std::getline(in, line);) {
    if (line.find("level=error") == std::string::npos && line.find("level=warn") == std::string::npos)
      continue;
    if (++count <= 5) first.push_back(line.substr(0, 300));
  }
  std::cout << "  " << who << ": " << count << " warn/error lines" << (count ? ", first:" : "") << "\n";
  for (const auto& line : first) std::cout << "    " << line << "\n";
}

// pgscope's own metrics about its queries, from a body after the run.
struct SelfMetrics {
  double executions = 0, cache_hits = 0;
};

SelfMetrics self_metrics(const std::string& body) {
  const auto samples = parse_samples(body);
  return {sum_of(samples, "pgscope_exporter_query_executions_total"),
          sum_of(samples, "pgscope_exporter_query_cache_hits_total")};
}

void print_self(const std::string& who, const std::string& body, const SelfMetrics& warm, int scrapes) {
  const auto samples = parse_samples(body);
  const SelfMetrics end = self_metrics(body);
  std::printf(
      "  %s: query_executions_total %.0f, query_cache_hits_total %.0f (during the measured scrapes: %.1f and "
      "%.1f per scrape)\n",
      who.c_str(), end.executions, end.cache_hits, (end.executions - warm.executions) / scrapes,
      (end.cache_hits - warm.cache_hits) / scrapes);
  std::string hits;
  for (const Sample* s : where(samples, "pgscope_exporter_query_cache_hits_total", false)) {
    hits += " " + s->labels.at("query") + "=" + std::to_string(static_cast<long long>(s->value));
  }
  if (!hits.empty()) std::cout << "    cache hits by query:" << hits << "\n";
  const auto dropped = where(samples, "pgscope_exporter_query_series_dropped", false);
  std::cout << "    query_series_dropped > 0: " << (dropped.empty() ? "none" : "");
  for (const Sample* s : dropped) {
    std::cout << " " << s->labels.at("query") << "=" << static_cast<long long>(s->value);
  }
  std::cout << "\n";
  std::string failed;
  for (const auto* name : {"pgscope_exporter_query_success", "pgscope_exporter_collector_success"}) {
    for (const Sample* s : where(samples, name, true)) failed += " " + describe(*s);
  }
  std::cout << "    failed queries/collectors in the last scrape:" << (failed.empty() ? " none" : failed)
            << "\n";
  std::vector<std::pair<double, std::string>> slow;
  for (const auto& s : samples) {
    if (s.name == "pgscope_exporter_query_duration_seconds") slow.emplace_back(s.value, s.labels.at("query"));
  }
  std::sort(slow.rbegin(), slow.rend());
  std::cout << "    slowest queries in the last scrape (s, summed over databases):";
  for (std::size_t i = 0; i < slow.size() && i < 4; ++i) {
    std::printf(" %s %.3f", slow[i].second.c_str(), slow[i].first);
  }
  std::printf(
      "\n    tables left out by --postgres.table-limit (pg_table_limit_omitted_tables, summed): %.0f\n",
      sum_of(samples, "pg_table_limit_omitted_tables"));
}

// The suite. When it returns or throws, its destructors remove the server's
// directory and the temporary files.
void run(const BigSettings& settings, Clock::time_point setup_start) {
  if (access(kPeerBinary, X_OK) != 0) throw std::runtime_error(std::string(kPeerBinary) + " not found");
  std::cout << "Starting PostgreSQL and creating " << kDatabases << " databases x " << kTablesPerDatabase
            << " tables (each with a primary key; every tenth with 1 to 97 rows)..." << std::endl;
  TestPostgres pg;
  std::printf("  server started in %.1f s\n", seconds_since(setup_start));
  populate(pg);
  std::printf("  setup done in %.0f s (%s)\n", seconds_since(setup_start),
              pg.query_value("SELECT version()").c_str());
  std::printf(
      "  %s relations in pg_class of %s; all databases: %s MiB\n",
      pg.query_value("SELECT count(*) FROM pg_class", database_name(1)).c_str(), database_name(1).c_str(),
      pg.query_value("SELECT (sum(pg_database_size(oid)) / 1048576)::bigint FROM pg_database").c_str());
  std::fflush(stdout);

  // Temporary files, removed on the way out (an exception included).
  struct Remove {
    std::vector<std::string> paths;
    ~Remove() {
      for (const auto& p : paths) std::remove(p.c_str());
    }
  } remove;
  const std::string tag = std::to_string(getpid());
  const std::string queries_path = "/tmp/pgscope-bench-queries-" + tag + ".yaml";
  const std::string nocache_path = "/tmp/pgscope-bench-nocache-" + tag + ".yaml";
  remove.paths = {queries_path, nocache_path};

  std::vector<std::string> changes;
  std::ofstream(queries_path) << corrected_peer_queries(changes);
  std::cout << "Peer queries: " << kPeerQueries << " corrected as in the postgres suite (" << changes.size()
            << " changes) into " << queries_path << "\n";
  std::vector<std::string> cached_entries;
  std::size_t dump_lines = 0;
  std::ofstream(nocache_path) << catalog_without_cache(cached_entries, dump_lines);
  std::cout << "No-cache catalog: pgscope-exporter --dump-catalog (" << dump_lines << " lines) minus "
            << cached_entries.size() << " cache_seconds lines into " << nocache_path << ":";
  for (const auto& e : cached_entries) std::cout << " " << e;
  std::cout << "\n";
  if (cached_entries.empty())
    std::cout << "  note: the catalog has no cache_seconds: (a) and (b) are alike\n";

  const std::vector<std::string> a_args{"--postgres.dsn=" + pg.dsn(),
                                        std::string("--scrape.timeout=") + kScrapeTimeout};
  std::vector<std::string> b_args = a_args;
  b_args.push_back("--extend.query-path=" + nocache_path);
  ExporterProcess a_proc(a_args), b_proc(b_args);

  // (b) only measures what it should when its file replaced the cached entries.
  std::string replace_line;
  {
    std::istringstream log(b_proc.log());
    for (std::string line; std::getline(log, line);) {
      if (line.find("replace") != std::string::npos)
        replace_line += (replace_line.empty() ? "" : " | ") + line;
    }
  }
  for (const auto& e : cached_entries) {
    const std::string name = e.substr(0, e.find(' '));
    if (replace_line.find(name) == std::string::npos) {
      throw std::runtime_error("(b)'s log does not say that " + name + " was replaced:\n" +
                               b_proc.log_tail());
    }
  }
  std::cout << "(b)'s log names the cached entries as replaced: "
            << (replace_line.size() > 120
                    ? replace_line.substr(0, 120) + "... (" + std::to_string(replace_line.size()) + " chars)"
                    : replace_line)
            << "\n";

  auto peer_run = start_peer(pg.port(), queries_path);
  PeerExporter& peer = *peer_run.process;
  const int peer_port = peer_run.port;

  auto pgscope_line = [](int port, const std::vector<std::string>& args) {
    std::vector<std::string> argv{PGSCOPE_EXPORTER_BINARY,
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    return command_line(argv);
  };
  std::cout << "\nCommand lines:\n  (a) pgscope, cached:   " << pgscope_line(a_proc.port(), a_args)
            << "\n  (b) pgscope, no cache: " << pgscope_line(b_proc.port(), b_args)
            << "\n  (c) postgres_exporter: " << peer_run.command << "\n";

  Target a{"(a) pgscope cached", a_proc.pid(), a_proc.port(), {}, {}, {}, true, -1, 0};
  Target b{"(b) pgscope no cache", b_proc.pid(), b_proc.port(), {}, {}, {}, true, -1, 0};
  Target c{"(c) postgres_exporter", peer.pid(), peer_port, {}, {}, {}, true, -1, 0};
  const std::vector<Target*> targets{&a, &b, &c};
  const pid_t postmaster = pg.postmaster_pid();

  std::cout << "\nWarm-up: " << settings.warmup << " scrapes each; then " << settings.scrapes
            << " rounds of one scrape each of (a), (b), (c) (identity encoding)." << std::endl;
  const auto run_start = Clock::now();
  for (int i = 0; i < settings.warmup; ++i) {
    for (Target* t : targets) {
      const Measurement m = measure(*t, postmaster, false);
      std::printf("  warm-up %d %-22s %9.0f ms wall, %8zu series\n", i + 1, t->name.c_str(), m.wall_ms,
                  m.series);
      std::fflush(stdout);
    }
  }
  for (Target* t : targets) t->rss_after_warmup = status_mib(t->pid, "VmRSS");
  const SelfMetrics a_warm = self_metrics(a.last_body), b_warm = self_metrics(b.last_body);

  for (int i = 0; i < settings.scrapes; ++i) {
    std::printf("  round %2d/%d, wall ms:", i + 1, settings.scrapes);
    for (Target* t : targets) {
      t->plain.push_back(measure(*t, postmaster, false));
      std::printf(" %s %.0f", t->name.substr(0, 3).c_str(), t->plain.back().wall_ms);
      std::fflush(stdout);
    }
    std::printf("  (%.0f s)\n", seconds_since(run_start));
  }

  const Summary sa = summarize(a.plain), sb = summarize(b.plain), sc = summarize(c.plain);
  std::printf("\nPlain scrapes, %d each, alternating:\n%-28s %12s %12s %12s %8s %8s %8s\n", settings.scrapes,
              "metric", "(a) cached", "(b) no cache", "(c) pg_exp", "a/c", "b/c", "a/b");
  row("CPU ms/scrape (exporter)", sa.exporter_cpu, sb.exporter_cpu, sc.exporter_cpu, 1);
  row("CPU ms/scrape (server)", sa.server_cpu, sb.server_cpu, sc.server_cpu, 1);
  row("CPU ms/scrape (total)", sa.total_cpu(), sb.total_cpu(), sc.total_cpu(), 1);
  row("wall ms (median)", sa.wall_median, sb.wall_median, sc.wall_median, 1);
  row("wall ms (p90)", sa.wall_p90, sb.wall_p90, sc.wall_p90, 1);
  row("series", sa.series, sb.series, sc.series, 0);
  row("bytes", sa.bytes, sb.bytes, sc.bytes, 0);
  row("RSS MiB (after warm-up)", a.rss_after_warmup, b.rss_after_warmup, c.rss_after_warmup, 1);
  row("RSS MiB (after the run)", status_mib(a.pid, "VmRSS"), status_mib(b.pid, "VmRSS"),
      status_mib(c.pid, "VmRSS"), 1);
  row("peak RSS MiB", status_mib(a.pid, "VmHWM"), status_mib(b.pid, "VmHWM"), status_mib(c.pid, "VmHWM"), 1);
  std::printf(
      "(CPU: /proc utime+stime, %.0f ms ticks, per scrape window incl. %lld ms settle; server = postmaster\n"
      " and all its children; series: sample lines of the last scrape; %ld CPUs, %s)\n",
      kMsPerTick, static_cast<long long>(kSettle.count()), sysconf(_SC_NPROCESSORS_ONLN),
      load_average().c_str());

  std::cout << "\nLargest metric families (series) of the last scrape:\n";
  print_largest_families("(a)", a.last_body);
  print_largest_families("(b)", b.last_body);
  print_largest_families("(c)", c.last_body);

  std::cout << "\npgscope's own query metrics after " << settings.warmup + settings.scrapes
            << " scrapes each (sums over queries):\n";
  print_self("(a) cached", a.last_body, a_warm, settings.scrapes);
  print_self("(b) no cache", b.last_body, b_warm, settings.scrapes);

  std::cout << "\nExporter logs:\n";
  print_log_problems("(a)", a_proc.log());
  print_log_problems("(b)", b_proc.log());
  print_log_problems("(c)", peer.log());

  if (!settings.save_dir.empty()) {
    std::ofstream(settings.save_dir + "/big-pgscope-cached.prom") << a.last_body;
    std::ofstream(settings.save_dir + "/big-pgscope-nocache.prom") << b.last_body;
    std::ofstream(settings.save_dir + "/big-postgres_exporter.prom") << c.last_body;
  }

  std::printf("\nMeasured in %.0f s; stopping the exporters and PostgreSQL...\n", seconds_since(run_start));
  std::fflush(stdout);
  peer.stop();
  a_proc.stop();
  b_proc.stop();
  pg.stop();
}

}  // namespace

int run_big(const BigSettings& settings) {
  const auto start = Clock::now();
  run(settings, start);
  // Only now, after the destructors: the server's directory (over 1 GiB) is gone.
  std::printf("Stopped; server directory and temporary files removed. Whole suite: %.0f s.\n",
              seconds_since(start));
  return 0;
}

}  // namespace pgscope::bench
