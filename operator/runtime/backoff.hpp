#pragma once

#include <chrono>
#include <random>

namespace pgscope::op {

struct BackoffOptions {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds max{30000};
  double factor = 2.0;
  // Each delay d becomes a random value in [d, d * (1 + jitter)], capped at
  // max, so reflectors restarted together do not retry in lockstep.
  double jitter = 1.0;
  // A failure this long after the previous one starts again from initial.
  std::chrono::milliseconds reset_after{120000};
};

// client-go's exponential backoff manager (reflector defaults: 0.8 s x 2 up
// to 30 s, jitter 1.0, reset after 2 min without failures).
// Not thread-safe: one per retry loop.
class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {});

  // The delay before the next attempt after a failure now.
  std::chrono::milliseconds next();
  void reset();

 private:
  BackoffOptions options_;
  std::chrono::milliseconds current_;
  std::chrono::steady_clock::time_point last_failure_;
  bool failed_before_ = false;
  std::mt19937 random_;
};

}  // namespace pgscope::op
