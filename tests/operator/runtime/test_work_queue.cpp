#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "operator/runtime/work_queue.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_work_queue {

using pgscope::op::WorkQueue;
using pgscope::op::WorkQueueOptions;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string take(WorkQueue& queue) {
  std::string key;
  REQUIRE(queue.get(key));
  return key;
}

long long elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

}  // namespace

TEST_CASE("a key is queued once however often it is added, in first-added order", "[work_queue]") {
  WorkQueue queue;
  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/a");
  queue.add("ns/a");
  CHECK(queue.depth() == 2);
  CHECK(take(queue) == "ns/a");
  CHECK(take(queue) == "ns/b");
  CHECK(queue.depth() == 0);
}

TEST_CASE("a key added while it is processed is queued again only when done", "[work_queue]") {
  WorkQueue queue;
  queue.add("ns/a");
  std::string key = take(queue);
  queue.add("ns/a");
  queue.add("ns/a");
  CHECK(queue.depth() == 0);  // not handed to a second worker meanwhile
  queue.done(key);
  CHECK(queue.depth() == 1);
  CHECK(take(queue) == "ns/a");
  queue.done("ns/a");
  CHECK(queue.depth() == 0);  // processed once more, not once per add
}

TEST_CASE("four workers never hold the same key and every change is processed after it was made",
          "[work_queue]") {
  WorkQueue queue;
  const std::vector<std::string> keys = {"ns/a", "ns/b", "ns/c", "ns/d", "ns/e"};
  std::mutex mutex;
  std::set<std::string> active;
  std::map<std::string, int> version_added;      // bumped before each add
  std::map<std::string, int> version_processed;  // version seen when processing started
  std::atomic<int> overlaps{0};

  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      std::string key;
      std::mt19937 random(std::random_device{}());
      while (queue.get(key)) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (!active.insert(key).second) ++overlaps;
          version_processed[key] = version_added[key];
        }
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 500));
        {
          std::lock_guard<std::mutex> lock(mutex);
          active.erase(key);
        }
        queue.done(key);
      }
    });
  }
  std::mt19937 random(42);
  for (int i = 0; i < 3000; ++i) {
    const std::string& key = keys[random() % keys.size()];
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++version_added[key];
    }
    queue.add(key);
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  bool settled = false;
  for (int i = 0; i < 500 && !settled; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    std::lock_guard<std::mutex> lock(mutex);
    settled = queue.depth() == 0 && active.empty() && version_processed == version_added;
  }
  queue.shutdown();
  for (auto& worker : workers) worker.join();
  CHECK(overlaps == 0);
  CHECK(settled);
  CHECK(version_processed == version_added);
}

TEST_CASE("add_after hands keys out in time order, not before their time", "[work_queue]") {
  WorkQueue queue;
  auto start = Clock::now();
  queue.add_after("ns/c", milliseconds(240));
  queue.add_after("ns/b", milliseconds(160));
  queue.add_after("ns/a", milliseconds(80));
  queue.add_after("ns/a", milliseconds(400));  // a later time for a waiting key changes nothing
  CHECK(queue.depth() == 0);
  CHECK(queue.delayed() == 3);
  CHECK(take(queue) == "ns/a");
  CHECK(elapsed_ms(start) >= 80);
  CHECK(take(queue) == "ns/b");
  CHECK(elapsed_ms(start) >= 160);
  CHECK(take(queue) == "ns/c");
  auto last = elapsed_ms(start);
  CHECK(last >= 240);
  CHECK(last < 1000);

  SECTION("an earlier time for a waiting key wins") {
    auto again = Clock::now();
    queue.add_after("ns/x", milliseconds(2000));
    queue.add_after("ns/x", milliseconds(50));
    CHECK(take(queue) == "ns/x");
    CHECK(elapsed_ms(again) < 1000);
  }
}

TEST_CASE("rate-limited adds back off exponentially per key until forgotten", "[work_queue]") {
  WorkQueueOptions options;
  options.base_delay = milliseconds(40);
  options.max_delay = milliseconds(200);
  WorkQueue queue(options);

  auto delay_of_next_retry = [&](const std::string& key) {
    auto start = Clock::now();
    queue.add_rate_limited(key);
    std::string got = take(queue);
    queue.done(got);
    CHECK(got == key);
    return elapsed_ms(start);
  };
  auto first = delay_of_next_retry("ns/a");
  auto second = delay_of_next_retry("ns/a");
  auto third = delay_of_next_retry("ns/a");
  CHECK(queue.num_requeues("ns/a") == 3);
  CHECK(first >= 40);
  CHECK(second >= 80);
  CHECK(third >= 160);
  auto capped = delay_of_next_retry("ns/a");  // 320 ms uncapped
  CHECK(capped >= 200);
  CHECK(capped < 300);
  CHECK(queue.num_requeues("ns/b") == 0);  // per key

  queue.forget("ns/a");
  CHECK(queue.num_requeues("ns/a") == 0);
  auto after_forget = delay_of_next_retry("ns/a");
  CHECK(after_forget >= 40);
  CHECK(after_forget < 80);
}

TEST_CASE("shutdown wakes every blocked get and stops accepting keys", "[work_queue]") {
  WorkQueue queue;
  queue.add_after("ns/later", milliseconds(10000));  // a getter waiting on a timer wakes too
  std::atomic<int> returned_false{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 3; ++i) {
    getters.emplace_back([&] {
      std::string key;
      if (!queue.get(key)) ++returned_false;
    });
  }
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(returned_false == 0);
  auto start = Clock::now();
  queue.shutdown();
  for (auto& getter : getters) getter.join();
  CHECK(elapsed_ms(start) < 200);
  CHECK(returned_false == 3);
  queue.add("ns/a");
  CHECK(queue.depth() == 0);
  std::string key;
  CHECK_FALSE(queue.get(key));
  CHECK(queue.shutting_down());
}

}  // namespace unity_file_runtime_test_work_queue
