#pragma once
// Pieces of the postgres suite (bench_exporters.cpp) that the big suite
// (bench_big.cpp) reuses: the peer exporter's binary and queries file, one
// measured scrape, and the summary of many.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace pgscope::bench {

class PeerExporter;

extern const char* const kPeerBinary;   // Debian's prometheus-postgres-exporter
extern const char* const kPeerQueries;  // its example queries.yaml

// Long enough for the postmaster to reap the backends a scrape closed and for
// an exporter's garbage collector to finish, so both land in this window.
constexpr auto kSettle = std::chrono::milliseconds(100);

struct Measurement {
  long long exporter_ticks = 0, server_ticks = 0;
  double wall_ms = 0;
  std::size_t bytes = 0, series = 0;
};

struct Target {
  std::string name;
  pid_t pid;
  int port;
  std::vector<Measurement> plain, gzip;
  std::string last_body;
  bool gzip_honoured = true;
  double statements_per_scrape = -1;
  double rss_after_warmup = 0;
};

// One scrape of t: its wall time, and the CPU clock ticks of the exporter and
// of the PostgreSQL server (server_ticks) from just before it to kSettle
// after it. A plain (not gzip) scrape counts the series and keeps the body in
// t.last_body. Throws std::runtime_error when the scrape fails.
Measurement measure(Target& t, pid_t postmaster, bool gzip);

struct Summary {
  double exporter_cpu = 0, server_cpu = 0, wall_median = 0, wall_p90 = 0, bytes = 0, series = 0;
  double total_cpu() const { return exporter_cpu + server_cpu; }
};

// CPU per scrape in ms (summed over all scrapes, then divided), wall median
// and p90, mean bytes, and the series of the last scrape.
Summary summarize(const std::vector<Measurement>& ms);

// Debian's postgres_exporter on a free port, reading every database of the
// PostgreSQL on `postgres_port` (--auto-discover-databases) with
// `queries_path`, once it answers; throws std::runtime_error with its log
// when it exits instead.
struct PeerRun {
  std::unique_ptr<PeerExporter> process;
  int port = 0;
  std::string command;  // a shell line, DATA_SOURCE_NAME included
};
PeerRun start_peer(int postgres_port, const std::string& queries_path);

// kPeerQueries corrected for PostgreSQL 15 and --auto-discover-databases; the
// corrections made are appended to `changes`.
std::string corrected_peer_queries(std::vector<std::string>& changes);

}  // namespace pgscope::bench
