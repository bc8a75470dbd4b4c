#pragma once
// The Patroni and pgBouncer suites of pgscope-bench, on a testbed of their own
// (scripts/testbed in a state directory under /tmp, up at the start and down
// at the end, also on an error or SIGINT/SIGTERM).
#include <string>

namespace pgscope::bench {

struct SourcesSettings {
  bool patroni = true;
  bool pgbouncer = true;
  int warmup = 2;
  int scrapes = 30;
  std::string save_dir;  // the last bodies of both sides, when set
};

// 0 when every selected suite ran or was skipped with a message (a peer not
// installed); throws std::runtime_error when something could not run.
int run_sources(const SourcesSettings& settings);

}  // namespace pgscope::bench
