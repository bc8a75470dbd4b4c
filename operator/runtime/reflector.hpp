#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "operator/kube/client.hpp"
#include "operator/runtime/backoff.hpp"
#include "operator/runtime/store.hpp"

namespace pgscope::op {

struct ReflectorOptions {
  std::string label_selector;
  int page_size = 500;
  // Each watch asks the server to end it after a random time in this range
  // (client-go: 5-10 min), so connections are refreshed and reconnects spread out.
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::seconds watch_timeout_max{600};
  // A watch that ends this soon without a single event is treated as a
  // failure (client-go's "very short watch"), so a server that closes every
  // watch at once is retried with backoff, not in a hot loop.
  std::chrono::milliseconds short_watch{1000};
  BackoffOptions backoff;
  // Kinds not served (404) or forbidden (403) are retried with the same
  // backoff but capped here: a CRD or RBAC rule may appear at any time.
  std::chrono::milliseconds unserved_max_delay{30000};
};

// One kind of object in one namespace ("" = all), kept in a Store by LIST then
// WATCH, as client-go's Reflector:
// - LIST (all pages) replaces the store's scope; objects gone since the
//   previous list are reported as DELETED with their last known state, new and
//   changed ones as ADDED/MODIFIED;
// - WATCH from the list's resourceVersion with bookmarks; events update the
//   store and go to the handler (never BOOKMARK, which only moves the
//   resourceVersion);
// - a watch that ends normally is resumed from the last resourceVersion
//   without relisting; 410 Gone (HTTP or ERROR event) relists at once;
//   other failures wait for an exponential backoff (or Retry-After when the
//   server asks for longer) and then re-watch from the last resourceVersion,
//   or relist if the failure was the list's; 403/404 go to the error handler
//   and are retried (the CRD or RBAC rule may be added later).
//
// Handlers run on the reflector's thread, one call at a time, and should only
// enqueue work. Counters, synced() and resource_version() may be read from any
// thread. start()/stop() must be called from one owning thread.
class Reflector {
 public:
  using EventHandler = std::function<void(const std::string& type, const json& object)>;
  // A kind that is not served or is forbidden; retry_in is the wait before the next attempt.
  using ErrorHandler = std::function<void(const kube::ApiError& error, std::chrono::milliseconds retry_in)>;

  Reflector(kube::Client& client, const kube::ResourceType& type, std::string ns,
            std::shared_ptr<Store> store, EventHandler on_event, ErrorHandler on_error = {},
            ReflectorOptions options = {});
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Runs the loop on a thread of its own.
  void start();
  // Ends the loop; returns within about 0.5 s when it is watching or waiting
  // (a LIST in flight ends with its request timeout).
  void stop();
  // Runs the loop on the calling thread until stop() is called elsewhere.
  void run();

  const kube::ResourceType& type() const { return type_; }
  const std::string& scope() const { return namespace_; }
  Store& store() { return *store_; }
  std::shared_ptr<Store> shared_store() const { return store_; }

  // True once the first LIST has been stored (readiness).
  bool synced() const { return synced_.load(); }
  // The resourceVersion the next watch starts from.
  std::string resource_version() const;
  // LISTs after the first, watches resumed after a normal end, failed calls.
  std::uint64_t relists() const { return relists_.load(); }
  std::uint64_t watch_restarts() const { return watch_restarts_.load(); }
  std::uint64_t errors() const { return errors_.load(); }
  // The last failure, "" once a LIST or WATCH succeeds again (for readiness messages).
  std::string last_error() const;

 private:
  void list_and_replace();
  // Returns true when the watch ended normally, false for a "very short watch".
  bool watch_once();
  void deliver(const std::string& type, const json& object);
  void set_resource_version(const std::string& rv);
  void set_last_error(const std::string& error);
  void wait(std::chrono::milliseconds delay);
  int random_watch_timeout();

  kube::Client& client_;
  const kube::ResourceType type_;
  const std::string namespace_;
  std::shared_ptr<Store> store_;
  EventHandler on_event_;
  ErrorHandler on_error_;
  ReflectorOptions options_;

  std::atomic<bool> stop_{false};
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::thread thread_;

  std::atomic<bool> synced_{false};
  mutable std::mutex rv_mutex_;
  std::string resource_version_;
  std::string last_error_;
  std::atomic<std::uint64_t> relists_{0};
  std::atomic<std::uint64_t> watch_restarts_{0};
  std::atomic<std::uint64_t> errors_{0};
  // Watches started since the last LIST (only the reflector's thread uses it).
  int watches_since_list_ = 0;
};

}  // namespace pgscope::op
