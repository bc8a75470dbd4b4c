#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace pgscope::op {

// metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits,
// "2024-05-01T12:00:00.123456Z" (Lease acquireTime/renewTime).
std::string format_micro_time(std::chrono::system_clock::time_point time);

// metav1.Time: RFC 3339 in UTC to the second, "2024-05-01T12:00:00Z"
// (Event firstTimestamp/lastTimestamp).
std::string format_time(std::chrono::system_clock::time_point time);

// Sleeps for duration, waking early when *stop becomes true (checked every
// 20 ms). Returns false when stopped. Lets loops that own no condition
// variable (they are stopped by a flag the caller owns) still end promptly.
bool sleep_unless_stopped(const std::atomic<bool>& stop, std::chrono::steady_clock::duration duration);

}  // namespace pgscope::op
