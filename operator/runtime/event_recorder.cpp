#include "operator/runtime/event_recorder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

#include "operator/runtime/timestamps.hpp"

namespace pgscope::op {
namespace {

using kube::json;

constexpr std::size_t kMaxReason = 128;
constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxBuckets = 4096;

std::string metadata_text(const json& object, const char* field) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

std::string top_text(const json& object, const char* field) {
  auto value = object.find(field);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "";
}

// Cuts at most limit bytes without splitting a UTF-8 sequence.
std::string cut_utf8(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

json object_reference(const json& object) {
  json reference = json::object();
  auto put = [&](const char* field, const std::string& value) {
    if (!value.empty()) reference[field] = value;
  };
  put("apiVersion", top_text(object, "apiVersion"));
  put("kind", top_text(object, "kind"));
  put("name", metadata_text(object, "name"));
  put("namespace", metadata_text(object, "namespace"));
  put("uid", metadata_text(object, "uid"));
  put("resourceVersion", metadata_text(object, "resourceVersion"));
  return reference;
}

}  // namespace

EventRecorder::EventRecorder(kube::Client& client, EventRecorderOptions options)
    : client_(client), options_(std::move(options)) {
  if (options_.component.empty()) throw std::invalid_argument("the event recorder needs a component name");
  if (options_.spam_burst < 1 || options_.spam_refill_interval.count() <= 0) {
    throw std::invalid_argument("the event spam filter needs a burst >= 1 and a positive refill interval");
  }
  thread_ = std::thread([this] { worker(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool EventRecorder::take_token(const std::string& object_key) {
  auto now = std::chrono::steady_clock::now();
  if (buckets_.size() >= kMaxBuckets) {
    // A bucket untouched for burst x interval is full again: forgetting it changes nothing.
    auto full_after = options_.spam_refill_interval * options_.spam_burst;
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = now - it->second.refilled >= full_after ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] =
      buckets_.try_emplace(object_key, Bucket{static_cast<double>(options_.spam_burst), now});
  Bucket& bucket = it->second;
  if (!inserted) {
    std::chrono::duration<double> elapsed = now - bucket.refilled;
    std::chrono::duration<double> interval = options_.spam_refill_interval;
    bucket.tokens = std::min<double>(options_.spam_burst, bucket.tokens + elapsed / interval);
    bucket.refilled = now;
  }
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void EventRecorder::record(const json& involved_object, Type type, const std::string& reason,
                           const std::string& message) {
  Pending event;
  event.reference = object_reference(involved_object);
  event.type = type == Type::kWarning ? "Warning" : "Normal";
  event.reason = cut_utf8(reason, kMaxReason);
  event.message = cut_utf8(message, kMaxMessage);
  event.time = std::chrono::system_clock::now();
  std::string name = top_text(event.reference, "name");
  if (name.empty() || event.reason.empty()) {
    spdlog::error("not recording event \"{}: {}\": {}", reason, message,
                  name.empty() ? "the involved object has no metadata.name" : "the reason is empty");
    return;
  }
  std::string object_key = top_text(event.reference, "kind") + "/" + top_text(event.reference, "namespace") +
                           "/" + name + "/" + top_text(event.reference, "uid");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (!take_token(object_key)) {
      ++stats_.filtered;
      spdlog::debug("event {} on {} dropped by the spam filter", event.reason, object_key);
      return;
    }
    if (queue_.size() >= options_.max_pending) {
      ++stats_.filtered;
      spdlog::warn("event {} on {} dropped: {} events are waiting for the API server", event.reason,
                   object_key, queue_.size());
      return;
    }
    queue_.push_back(std::move(event));
    ++enqueued_;
  }
  changed_.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  std::uint64_t target = enqueued_;
  changed_.wait(lock, [&] { return finished_ >= target; });
}

EventRecorder::Stats EventRecorder::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void EventRecorder::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Pending event = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    bool written = write(event);
    lock.lock();
    ++finished_;
    if (!written) {
      ++stats_.failed;
      if (stopping_) {
        // Shutting down with the API unreachable: do not hold the exit up.
        finished_ += queue_.size();
        queue_.clear();
      }
    }
    changed_.notify_all();
  }
}

std::string EventRecorder::next_event_name(const std::string& object_name) {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  // Unix nanoseconds as client-go uses, made strictly increasing so two
  // events in the same tick get different names.
  last_name_suffix_ = std::max<std::uint64_t>(static_cast<std::uint64_t>(nanos), last_name_suffix_ + 1);
  char suffix[17];
  std::snprintf(suffix, sizeof(suffix), "%016llx", static_cast<unsigned long long>(last_name_suffix_));
  return object_name + "." + suffix;
}

void EventRecorder::remember(const std::string& key, Recent entry) {
  auto existing = recent_.find(key);
  if (existing != recent_.end()) {
    lru_.erase(existing->second.lru_position);
    recent_.erase(existing);
  }
  lru_.push_front(key);
  entry.lru_position = lru_.begin();
  recent_.emplace(key, std::move(entry));
  while (recent_.size() > options_.dedup_cache_size && !lru_.empty()) {
    recent_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool EventRecorder::write(const Pending& event) {
  const json& reference = event.reference;
  std::string identity = top_text(reference, "uid");
  if (identity.empty()) {
    identity = top_text(reference, "kind") + "/" + top_text(reference, "namespace") + "/" +
               top_text(reference, "name");
  }
  std::string key = json::array({identity, event.type, event.reason, event.message}).dump();
  std::string timestamp = format_time(event.time);
  auto now = std::chrono::steady_clock::now();

  auto recent = recent_.find(key);
  if (recent != recent_.end() && now - recent->second.last_seen < options_.dedup_window) {
    Recent entry = recent->second;
    json patch = {{"count", entry.count + 1}, {"lastTimestamp", timestamp}};
    try {
      client_.merge_patch(kube::event_type(), entry.namespace_name, entry.event_name, patch);
      entry.count += 1;
      entry.last_seen = now;
      remember(key, entry);
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.updated;
      return true;
    } catch (const kube::ApiError& e) {
      if (!e.not_found()) {
        spdlog::warn("cannot update Event {}/{} ({}): {}", entry.namespace_name, entry.event_name,
                     event.reason, e.what());
        return false;
      }
      // Events expire (kube-apiserver --event-ttl, 1 h): write a new one.
    } catch (const std::exception& e) {
      spdlog::warn("cannot update Event {}/{} ({}): {}", entry.namespace_name, entry.event_name, event.reason,
                   e.what());
      return false;
    }
  }

  std::string event_namespace = top_text(reference, "namespace");
  if (event_namespace.empty()) event_namespace = "default";  // cluster-scoped objects, as client-go
  std::string name = next_event_name(top_text(reference, "name"));
  json body = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", name}, {"namespace", event_namespace}}},
               {"involvedObject", reference},
               {"type", event.type},
               {"reason", event.reason},
               {"message", event.message},
               {"source", {{"component", options_.component}}},
               {"firstTimestamp", timestamp},
               {"lastTimestamp", timestamp},
               {"count", 1},
               {"reportingComponent", options_.component},
               {"reportingInstance", options_.instance}};
  if (!options_.instance.empty()) body["source"]["host"] = options_.instance;
  try {
    client_.create(kube::event_type(), body);
  } catch (const std::exception& e) {
    spdlog::warn("cannot record Event {} on {}/{}: {}", event.reason, event_namespace,
                 top_text(reference, "name"), e.what());
    return false;
  }
  remember(key, Recent{event_namespace, name, 1, now, {}});
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.created;
  return true;
}

}  // namespace pgscope::op
