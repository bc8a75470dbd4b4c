#pragma once

#include <algorithm>
#include <chrono>

namespace pgscope {

using Clock = std::chrono::steady_clock;

// The point in time by which a scrape must have answered. Every blocking call
// a collector makes (connect, query, HTTP request) is bounded by it.
class Deadline {
 public:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline after(std::chrono::milliseconds budget) { return Deadline(Clock::now() + budget); }

  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

 private:
  Clock::time_point at_;
};

}  // namespace pgscope
