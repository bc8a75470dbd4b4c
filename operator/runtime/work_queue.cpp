#include "operator/runtime/work_queue.hpp"

#include <stdexcept>

namespace pgscope::op {

WorkQueue::WorkQueue(WorkQueueOptions options) : options_(options) {
  if (options_.base_delay.count() <= 0 || options_.max_delay < options_.base_delay) {
    throw std::invalid_argument("work queue rate limit needs 0 < base_delay <= max_delay");
  }
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  add_locked(key);
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key) != 0) return;
  dirty_.insert(key);
  if (processing_.count(key) != 0) return;  // done() queues it again
  queue_.push_back(key);
  ready_.notify_one();
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) {
    add(key);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (shutting_down_) return;
  auto when = Clock::now() + delay;
  auto existing = waiting_.find(key);
  if (existing != waiting_.end()) {
    if (existing->second <= when) return;
    timers_.erase({existing->second, key});
    existing->second = when;
  } else {
    waiting_.emplace(key, when);
  }
  timers_.emplace(when, key);
  // A getter may be sleeping until a later timer.
  ready_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    int exponent = failures_[key]++;
    delay = options_.max_delay;
    // Doubling base_delay past 2^40 overflows long before it matters.
    if (exponent < 40) {
      auto grown = options_.base_delay * (1LL << exponent);
      if (grown < options_.max_delay) delay = grown;
    }
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::num_requeues(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    std::string key = timers_.begin()->second;
    timers_.erase(timers_.begin());
    waiting_.erase(key);
    add_locked(key);
  }
}

bool WorkQueue::get(std::string& key) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (shutting_down_) return false;
    promote_due_locked(Clock::now());
    if (!queue_.empty()) break;
    if (timers_.empty()) {
      ready_.wait(lock);
    } else {
      // A copy: wait_until reads its deadline again after every wake-up,
      // when another thread may have erased that timer from the set.
      const Clock::time_point next_due = timers_.begin()->first;
      ready_.wait_until(lock, next_due);
    }
  }
  key = queue_.front();
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return true;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) != 0 && !shutting_down_) {
    queue_.push_back(key);
    ready_.notify_one();
  }
}

void WorkQueue::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  shutting_down_ = true;
  ready_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shutting_down_;
}

std::size_t WorkQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Timers that are due count as queued even if no getter has woken up yet.
  std::size_t due = 0;
  auto now = Clock::now();
  for (const auto& [when, key] : timers_) {
    if (when > now) break;
    if (dirty_.count(key) == 0 && processing_.count(key) == 0) ++due;
  }
  return queue_.size() + due;
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

}  // namespace pgscope::op
