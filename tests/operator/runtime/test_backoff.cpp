#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "operator/runtime/backoff.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_backoff {

using pgscope::op::Backoff;
using pgscope::op::BackoffOptions;
using std::chrono::milliseconds;

TEST_CASE("backoff doubles up to its cap", "[backoff]") {
  BackoffOptions options;
  options.initial = milliseconds(800);
  options.max = milliseconds(5000);
  options.jitter = 0;
  Backoff backoff(options);
  CHECK(backoff.next() == milliseconds(800));
  CHECK(backoff.next() == milliseconds(1600));
  CHECK(backoff.next() == milliseconds(3200));
  CHECK(backoff.next() == milliseconds(5000));
  CHECK(backoff.next() == milliseconds(5000));
  backoff.reset();
  CHECK(backoff.next() == milliseconds(800));
}

TEST_CASE("backoff starts over after a quiet period", "[backoff]") {
  BackoffOptions options;
  options.initial = milliseconds(10);
  options.jitter = 0;
  options.reset_after = milliseconds(100);
  Backoff backoff(options);
  CHECK(backoff.next() == milliseconds(10));
  CHECK(backoff.next() == milliseconds(20));
  CHECK(backoff.next() == milliseconds(40));
  std::this_thread::sleep_for(milliseconds(150));
  CHECK(backoff.next() == milliseconds(10));
}

TEST_CASE("backoff jitter stays within [d, d x (1 + jitter)] and under the cap", "[backoff]") {
  BackoffOptions options;
  options.initial = milliseconds(100);
  options.max = milliseconds(1000);
  options.jitter = 1.0;
  Backoff backoff(options);
  bool varied = false;
  milliseconds first_seen{0};
  for (int round = 0; round < 20; ++round) {
    backoff.reset();
    auto first = backoff.next();
    CHECK(first >= milliseconds(100));
    CHECK(first <= milliseconds(200));
    if (round == 0) first_seen = first;
    varied |= first != first_seen;
    auto second = backoff.next();
    CHECK(second >= milliseconds(200));
    CHECK(second <= milliseconds(400));
    for (int i = 0; i < 5; ++i) CHECK(backoff.next() <= milliseconds(1000));
  }
  CHECK(varied);
  options.max = milliseconds(50);
  CHECK_THROWS_AS(Backoff(options), std::invalid_argument);
}

}  // namespace unity_file_runtime_test_backoff
