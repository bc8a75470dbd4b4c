#pragma once
// The big suite of pgscope-bench (cost control): a PostgreSQL with 20
// databases x 2000 tables, scraped alternately by pgscope-exporter as built
// (TTL caching on), pgscope-exporter with every cache_seconds removed from its
// catalog, and Debian's prometheus-postgres-exporter with
// --auto-discover-databases. Opt-in (not part of --suite=all): creating the
// server takes minutes.
#include <string>

namespace pgscope::bench {

struct BigSettings {
  int warmup = 2;        // scrapes of each variant before measuring
  int scrapes = 10;      // measured scrapes of each variant
  std::string save_dir;  // the last bodies of the three variants, when set
};

// 0 when it ran; throws std::runtime_error when something could not run.
int run_big(const BigSettings& settings);

}  // namespace pgscope::bench
