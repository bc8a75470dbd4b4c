#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace pgscope {

// httplib runs each connection on a pool thread for as long as the client
// keeps it alive, and its own ThreadPool has a fixed size: 50 Prometheus-like
// scrapers with keep-alive connections held every one of 32 threads, and the
// next connection (a probe, /healthz) waited seconds for one. This pool
// starts a thread whenever a connection finds none idle, up to
// `max_threads`, and lets a thread end after `idle_timeout` without work, so
// a burst of clients leaves no threads behind. Written here because
// httplib's TaskQueue interface is the only hook and no packaged library
// offers such a pool.
class WorkerPool : public httplib::TaskQueue {
 public:
  WorkerPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `job` on an idle thread, on a new one while fewer than max_threads
  // exist, or else when a thread becomes free.
  void enqueue(std::function<void()> job) override;
  // Runs what is queued, then joins every thread.
  void shutdown() override;

  std::size_t threads() const;  // live threads, for tests

 private:
  void work();
  void reap_exited(std::unique_lock<std::mutex>& lock);

  const std::size_t max_threads_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> threads_;
  std::vector<std::thread::id> exited_;  // ended on idle, not yet joined
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace pgscope
