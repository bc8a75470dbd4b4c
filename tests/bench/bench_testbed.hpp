#pragma once
// A testbed of pgscope-bench's own: scripts/testbed in a state directory under
// /tmp, apart from the one the tests use.
#include <sys/types.h>

#include <string>

#include "support/testbed.hpp"

namespace pgscope::bench {

// `scripts/testbed up` in /tmp/pgscope-bench-testbed-<pid>; `down` when this
// goes out of scope (an exception included) or on SIGINT, SIGTERM or SIGHUP,
// after which the benchmark dies of that signal. Sets PGSCOPE_TESTBED_DIR.
class BenchTestbed {
 public:
  BenchTestbed();
  ~BenchTestbed();
  BenchTestbed(const BenchTestbed&) = delete;
  BenchTestbed& operator=(const BenchTestbed&) = delete;

  // The pid in a pid file of the state directory ("etcd.pid"), when that
  // process is alive and its command line names the directory; -1 otherwise.
  pid_t pid_from(const std::string& relative) const;
  // Patroni agents running on this machine that are not this testbed's.
  int other_patroni_agents() const;

  test::Testbed bed;

 private:
  void down();
  std::string dir_;
};

}  // namespace pgscope::bench
