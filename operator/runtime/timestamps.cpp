#include "operator/runtime/timestamps.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <thread>

namespace pgscope::op {
namespace {

std::string utc_seconds(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  // to_time_t may round to the nearest second; the fraction is computed from
  // the truncated value, so truncate here too.
  if (std::chrono::system_clock::from_time_t(seconds) > time) --seconds;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &parts);
  return text;
}

}  // namespace

std::string format_micro_time(std::chrono::system_clock::time_point time) {
  auto since_epoch = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
  auto whole =
      std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::seconds>(since_epoch));
  if (whole > time) whole -= std::chrono::seconds(1);
  long long micros = std::chrono::duration_cast<std::chrono::microseconds>(time - whole).count() % 1000000;
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06lldZ", micros);
  return utc_seconds(whole) + fraction;
}

std::string format_time(std::chrono::system_clock::time_point time) { return utc_seconds(time) + "Z"; }

bool sleep_unless_stopped(const std::atomic<bool>& stop, std::chrono::steady_clock::duration duration) {
  constexpr std::chrono::milliseconds kSlice{20};
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (!stop.load()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(deadline - now, kSlice));
  }
  return false;
}

}  // namespace pgscope::op
