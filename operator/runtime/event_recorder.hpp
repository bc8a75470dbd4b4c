#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "operator/kube/client.hpp"

namespace pgscope::op {

struct EventRecorderOptions {
  std::string component = "pgscope-operator";  // source.component and reportingComponent
  std::string instance;                        // reportingInstance and source.host: the pod name
  // An identical Event (same object uid, type, reason, message) within this
  // window bumps count/lastTimestamp of the existing one instead of adding one.
  std::chrono::seconds dedup_window{std::chrono::minutes(10)};
  std::size_t dedup_cache_size = 4096;  // least recently used entries are forgotten
  // Token bucket per involved object (client-go: burst 25, 1 token per 5 min).
  int spam_burst = 25;
  std::chrono::seconds spam_refill_interval{std::chrono::minutes(5)};
  std::size_t max_pending = 1000;  // events waiting for the API; more are dropped
};

// Writes core/v1 Events about objects (normally the postgresql object) the
// way client-go's legacy recorder does: the Event lives in the object's
// namespace and is named <object name>.<16 hex digits>; reason is cut to 128
// and message to 1024 bytes; repeats update count and lastTimestamp (merge
// patch); a per-object token bucket drops floods.
//
// Thread-safe. record() only queues: a background thread talks to the API, so
// reconciles never wait for it. Failures are logged (spdlog), never thrown.
class EventRecorder {
 public:
  enum class Type { kNormal, kWarning };

  struct Stats {
    std::uint64_t created = 0;   // new Event objects
    std::uint64_t updated = 0;   // count bumps on an existing Event
    std::uint64_t filtered = 0;  // dropped by the spam filter or a full queue
    std::uint64_t failed = 0;    // API calls that failed
  };

  EventRecorder(kube::Client& client, EventRecorderOptions options);
  // Sends what is still queued (giving up on the rest after the first failure) and stops.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // involved_object is the object as read from the API (apiVersion, kind and
  // metadata name, namespace, uid, resourceVersion are used).
  void record(const kube::json& involved_object, Type type, const std::string& reason,
              const std::string& message);
  void normal(const kube::json& involved_object, const std::string& reason, const std::string& message) {
    record(involved_object, Type::kNormal, reason, message);
  }
  void warning(const kube::json& involved_object, const std::string& reason, const std::string& message) {
    record(involved_object, Type::kWarning, reason, message);
  }

  // Blocks until every event recorded before the call has been written or given up on.
  void flush();
  Stats stats() const;

 private:
  struct Pending {
    kube::json reference;  // involvedObject
    std::string type;
    std::string reason;
    std::string message;
    std::chrono::system_clock::time_point time;
  };
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point refilled;
  };
  struct Recent {
    std::string namespace_name;  // of the Event
    std::string event_name;
    long long count;
    std::chrono::steady_clock::time_point last_seen;
    std::list<std::string>::iterator lru_position;
  };

  bool take_token(const std::string& object_key);
  void worker();
  // Returns false when the API call failed.
  bool write(const Pending& event);
  std::string next_event_name(const std::string& object_name);
  void remember(const std::string& key, Recent entry);

  kube::Client& client_;
  EventRecorderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Pending> queue_;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  bool stopping_ = false;
  Stats stats_;
  std::map<std::string, Bucket> buckets_;

  // Only the worker thread touches these.
  std::unordered_map<std::string, Recent> recent_;
  std::list<std::string> lru_;  // most recent first
  std::uint64_t last_name_suffix_ = 0;

  std::thread thread_;
};

}  // namespace pgscope::op
