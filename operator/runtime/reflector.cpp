#include "operator/runtime/reflector.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <random>
#include <utility>

namespace pgscope::op {
namespace {

std::string describe(const kube::ResourceType& type, const std::string& ns) {
  return type.plural + (ns.empty() ? "" : " in " + ns);
}

std::string resource_version_of(const json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : "";
}

// Items of a core list carry no kind/apiVersion; handlers (Event recorder,
// owner mapping) need them on every object.
json with_type_meta(json object, const kube::ResourceType& type) {
  if (object.is_object()) {
    if (!object.contains("kind")) object["kind"] = type.kind;
    if (!object.contains("apiVersion")) object["apiVersion"] = type.api_version();
  }
  return object;
}

}  // namespace

Reflector::Reflector(kube::Client& client, const kube::ResourceType& type, std::string ns,
                     std::shared_ptr<Store> store, EventHandler on_event, ErrorHandler on_error,
                     ReflectorOptions options)
    : client_(client),
      type_(type),
      namespace_(std::move(ns)),
      store_(store ? std::move(store) : std::make_shared<Store>()),
      on_event_(std::move(on_event)),
      on_error_(std::move(on_error)),
      options_(std::move(options)) {
  if (options_.watch_timeout_min.count() <= 0 || options_.watch_timeout_max < options_.watch_timeout_min) {
    throw std::invalid_argument("reflector watch timeouts need 0 < min <= max");
  }
  if (options_.unserved_max_delay.count() <= 0) {
    throw std::invalid_argument("reflector unserved_max_delay must be positive");
  }
  Backoff check(options_.backoff);  // throws on bad backoff options now, not on the thread
}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard<std::mutex> lock(wait_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string Reflector::resource_version() const {
  std::lock_guard<std::mutex> lock(rv_mutex_);
  return resource_version_;
}

void Reflector::set_resource_version(const std::string& rv) {
  if (rv.empty()) return;
  std::lock_guard<std::mutex> lock(rv_mutex_);
  resource_version_ = rv;
}

std::string Reflector::last_error() const {
  std::lock_guard<std::mutex> lock(rv_mutex_);
  return last_error_;
}

void Reflector::set_last_error(const std::string& error) {
  std::lock_guard<std::mutex> lock(rv_mutex_);
  last_error_ = error;
}

void Reflector::wait(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(wait_mutex_);
  wake_.wait_for(lock, delay, [this] { return stop_.load(); });
}

int Reflector::random_watch_timeout() {
  thread_local std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<long long> seconds(options_.watch_timeout_min.count(),
                                                   options_.watch_timeout_max.count());
  return static_cast<int>(seconds(random));
}

void Reflector::deliver(const std::string& type, const json& object) {
  if (!on_event_) return;
  try {
    on_event_(type, object);
  } catch (const std::exception& e) {
    spdlog::error("{} event handler failed on {}: {}", describe(type_, namespace_), type, e.what());
  }
}

void Reflector::run() {
  const std::string what = describe(type_, namespace_);
  Backoff backoff(options_.backoff);
  BackoffOptions unserved_options = options_.backoff;
  unserved_options.max = options_.unserved_max_delay;
  unserved_options.initial = std::min(unserved_options.initial, unserved_options.max);
  Backoff unserved(unserved_options);

  bool need_list = true;
  while (!stop_) {
    bool listing = need_list;
    try {
      if (need_list) {
        list_and_replace();
        need_list = false;
        listing = false;
        unserved.reset();
      }
      if (watch_once() || stop_) {
        set_last_error("");
        continue;
      }
      ++errors_;
      set_last_error("the watch ended at once without events");
      auto delay = backoff.next();
      spdlog::warn("watch of {} ended at once without events; retrying in {} ms", what, delay.count());
      wait(delay);
    } catch (const kube::ApiError& e) {
      if (stop_) break;
      if (e.expired() && !listing) {
        // Not a failure: the resourceVersion left the server's history window (~5 min).
        spdlog::info("watch of {} expired ({}); relisting", what, e.what());
        need_list = true;
        continue;
      }
      ++errors_;
      set_last_error(e.what());
      if (e.forbidden() || e.not_found()) {
        auto delay = unserved.next();
        spdlog::warn("cannot {} {}: {}; retrying in {} ms", listing ? "list" : "watch", what, e.what(),
                     delay.count());
        if (on_error_) {
          try {
            on_error_(e, delay);
          } catch (const std::exception& handler_error) {
            spdlog::error("{} error handler failed: {}", what, handler_error.what());
          }
        }
        need_list = true;  // the kind may be served by then, with nothing cached yet
        wait(delay);
        continue;
      }
      auto delay =
          std::max(backoff.next(), std::chrono::duration_cast<std::chrono::milliseconds>(e.retry_after()));
      spdlog::warn("{} {} failed: {}; retrying in {} ms", listing ? "list of" : "watch of", what, e.what(),
                   delay.count());
      wait(delay);
    } catch (const std::exception& e) {
      if (stop_) break;
      ++errors_;
      set_last_error(e.what());
      auto delay = backoff.next();
      spdlog::error("{} {} failed: {}; retrying in {} ms", listing ? "list of" : "watch of", what, e.what(),
                    delay.count());
      wait(delay);
    }
  }
}

void Reflector::list_and_replace() {
  kube::ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  kube::ListResult result = client_.list_all(type_, namespace_, list_options, options_.page_size);
  std::vector<json> items;
  items.reserve(result.items.size());
  for (auto& item : result.items) items.push_back(with_type_meta(std::move(item), type_));
  StoreDiff diff = store_->replace_with_diff(items, namespace_);
  set_resource_version(result.resource_version);
  bool first = !synced_.load();
  if (!first) ++relists_;
  spdlog::debug("listed {}: {} objects at resourceVersion {} ({} gone, {} new, {} changed)",
                describe(type_, namespace_), items.size(), result.resource_version, diff.removed.size(),
                diff.added.size(), diff.modified.size());
  for (const auto& object : diff.removed) deliver("DELETED", *object);
  for (const auto& object : diff.added) deliver("ADDED", *object);
  for (const auto& object : diff.modified) deliver("MODIFIED", *object);
  set_last_error("");
  synced_ = true;
  watches_since_list_ = 0;
}

bool Reflector::watch_once() {
  if (watches_since_list_++ > 0) ++watch_restarts_;
  kube::WatchOptions watch_options;
  watch_options.label_selector = options_.label_selector;
  watch_options.resource_version = resource_version();
  watch_options.allow_bookmarks = true;
  watch_options.timeout_seconds = random_watch_timeout();

  auto started = std::chrono::steady_clock::now();
  std::size_t events = 0;
  // Nothing may be thrown back into the client's stream reader: a bad event
  // is logged and skipped, a failing handler is contained in deliver().
  auto on_event = [&](const kube::WatchEvent& event) {
    ++events;
    try {
      if (event.type == "BOOKMARK") {
        set_resource_version(resource_version_of(event.object));
      } else {
        json object = with_type_meta(event.object, type_);
        store_->apply_event(event.type, object);
        set_resource_version(resource_version_of(object));
        deliver(event.type, object);
      }
    } catch (const std::exception& e) {
      set_resource_version(resource_version_of(event.object));
      spdlog::error("skipping a bad {} event in the watch of {}: {}", event.type, describe(type_, namespace_),
                    e.what());
    }
    return !stop_.load();
  };
  client_.watch(type_, namespace_, watch_options, on_event, &stop_);
  return events > 0 || std::chrono::steady_clock::now() - started >= options_.short_watch;
}

}  // namespace pgscope::op
