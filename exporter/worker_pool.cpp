#include "exporter/worker_pool.hpp"

#include <algorithm>
#include <utility>

namespace pgscope {

WorkerPool::WorkerPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout)
    : max_threads_(std::max<std::size_t>(max_threads, 1)), idle_timeout_(idle_timeout) {}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::enqueue(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  reap_exited(lock);
  jobs_.push_back(std::move(job));
  // Threads already woken for earlier jobs are no longer idle, so each job
  // beyond the idle count gets a thread of its own while the cap allows.
  if (idle_ >= jobs_.size() || threads_.size() >= max_threads_) {
    wake_.notify_one();
    return;
  }
  threads_.emplace_back([this] { work(); });
}

void WorkerPool::shutdown() {
  std::list<std::thread> joining;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    joining.swap(threads_);
    exited_.clear();
  }
  wake_.notify_all();
  for (auto& thread : joining) thread.join();
}

std::size_t WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size() - exited_.size();
}

void WorkerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (jobs_.empty()) {
      if (stopping_) return;
      ++idle_;
      const bool woken = wake_.wait_for(lock, idle_timeout_, [this] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (!woken) {
        // Idle too long: end, and let the next enqueue() join this thread.
        // Under shutdown() the handle has moved out and is joined there.
        if (!stopping_) exited_.push_back(std::this_thread::get_id());
        return;
      }
      continue;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // a job's captures (a socket) are released before idling
    lock.lock();
  }
}

// Joins threads that ended on idle. They have left work() or are about to
// (past their last touch of the pool), so the joins are short.
void WorkerPool::reap_exited(std::unique_lock<std::mutex>& lock) {
  if (exited_.empty()) return;
  std::list<std::thread> done;
  for (auto it = threads_.begin(); it != threads_.end();) {
    auto next = std::next(it);
    if (std::find(exited_.begin(), exited_.end(), it->get_id()) != exited_.end()) {
      done.splice(done.end(), threads_, it);
    }
    it = next;
  }
  exited_.clear();
  lock.unlock();
  for (auto& thread : done) thread.join();
  lock.lock();
}

}  // namespace pgscope
