#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace pgscope::op {

struct WorkQueueOptions {
  // add_rate_limited waits base_delay * 2^(failures so far), at most max_delay
  // (client-go's ItemExponentialFailureRateLimiter: 5 ms, capped).
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{std::chrono::minutes(5)};
};

// client-go's rate-limited work queue of keys ("namespace/name"):
// - a key is queued at most once, however often it is added;
// - a key added while a worker processes it is marked dirty and queued again
//   when that worker calls done(), so two workers never hold the same key and
//   no change is lost;
// - add_after delays an add (an earlier pending time wins); add_rate_limited
//   delays by the key's exponential failure backoff, forget resets it.
//
// Thread-safe: any number of producers and workers. Every key obtained from
// get() must be handed back with done().
class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  void add_rate_limited(const std::string& key);
  // The key succeeded: its next failure starts again from base_delay.
  void forget(const std::string& key);
  // Failures since the last forget (the number of add_rate_limited calls).
  int num_requeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out; returns false once the
  // queue is shut down (keys still queued are dropped: the operator is leaving).
  bool get(std::string& key);
  void done(const std::string& key);

  // Wakes every blocked get(); later adds are ignored.
  void shutdown();
  bool shutting_down() const;

  // Keys ready to be handed out (not counting delayed or in-process keys).
  std::size_t depth() const;
  // Keys waiting for their add_after/add_rate_limited time.
  std::size_t delayed() const;

 private:
  using Clock = std::chrono::steady_clock;
  void add_locked(const std::string& key);
  void promote_due_locked(Clock::time_point now);

  WorkQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;                       // needs processing (queued, or re-queued after done)
  std::set<std::string> processing_;                  // handed out, not yet done
  std::map<std::string, Clock::time_point> waiting_;  // delayed key -> when it becomes ready
  std::set<std::pair<Clock::time_point, std::string>> timers_;  // the same, ordered by time
  std::map<std::string, int> failures_;
  bool shutting_down_ = false;
};

}  // namespace pgscope::op
