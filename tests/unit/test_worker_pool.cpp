#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "exporter/worker_pool.hpp"

using namespace std::chrono_literals;
using pgscope::WorkerPool;

namespace {

// Jobs that hold their thread until released, like keep-alive connections.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int waiting = 0;

  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    ++waiting;
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
  }
  bool wait_for_waiting(int count) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, 5s, [&] { return waiting >= count; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
    changed.notify_all();
  }
};

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

}  // namespace

TEST_CASE("the worker pool gives every held job a thread of its own up to its cap", "[worker_pool]") {
  WorkerPool pool(40, 10s);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 40; ++i) {
    pool.enqueue([&] {
      gate.wait();
      ++done;
    });
  }
  // More held jobs than the 32 threads httplib's own pool has: all run at once.
  CHECK(gate.wait_for_waiting(40));
  CHECK(pool.threads() == 40);
  gate.release();
  CHECK(eventually([&] { return done == 40; }, 5s));
}

TEST_CASE("past the cap, jobs wait for a free thread and none is lost", "[worker_pool]") {
  WorkerPool pool(3, 10s);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    pool.enqueue([&] {
      gate.wait();
      ++done;
    });
  }
  CHECK(gate.wait_for_waiting(3));
  std::this_thread::sleep_for(50ms);
  CHECK(pool.threads() == 3);
  CHECK(done == 0);
  gate.release();
  CHECK(eventually([&] { return done == 10; }, 5s));
  CHECK(pool.threads() == 3);
}

TEST_CASE("idle workers end after the idle timeout and new work starts new ones", "[worker_pool]") {
  WorkerPool pool(8, 100ms);
  std::atomic<int> done{0};
  for (int i = 0; i < 8; ++i) {
    pool.enqueue([&] {
      std::this_thread::sleep_for(20ms);
      ++done;
    });
  }
  CHECK(eventually([&] { return done == 8; }, 5s));
  CHECK(eventually([&] { return pool.threads() == 0; }, 5s));
  pool.enqueue([&] { ++done; });
  CHECK(eventually([&] { return done == 9; }, 5s));
}

TEST_CASE("shutdown runs queued jobs and joins every worker", "[worker_pool]") {
  std::atomic<int> done{0};
  {
    WorkerPool pool(2, 10s);
    for (int i = 0; i < 20; ++i) {
      pool.enqueue([&] {
        std::this_thread::sleep_for(1ms);
        ++done;
      });
    }
    pool.shutdown();
    CHECK(pool.threads() == 0);
  }
  CHECK(done == 20);
}
