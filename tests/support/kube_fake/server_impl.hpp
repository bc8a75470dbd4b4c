// The parts of FakeApiServer and how they meet (internal to pgscope_kube_fake).
// Locking: store.mutex guards objects, history and revision, and is held for
// the whole read-check-commit of a write, so concurrent writers serialise and
// a stale resourceVersion loses with 409. Hooks and garbage collection run
// after the commit, with no lock held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/kube_fake/access_control.hpp"
#include "support/kube_fake/api_status.hpp"
#include "support/kube_fake/fake_apiserver.hpp"
#include "support/kube_fake/faults.hpp"
#include "support/kube_fake/object_store.hpp"
#include "support/kube_fake/resource_registry.hpp"
#include "support/kube_fake/selectors.hpp"
#include "support/kube_fake/tls_material.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace pgscope::kubefake {

struct Change {
  std::string type;  // ADDED, MODIFIED, DELETED
  json object;
};

// Where a write goes and on whose behalf.
struct WriteTarget {
  ResourceTypePtr type;
  std::string version;
  std::string ns;
  std::string name;            // from the URL; empty for POST
  std::string subresource;     // "" or "status"
  std::string manager;         // managedFields manager
  bool strict_fields = false;  // fieldValidation=Strict: unknown fields are an error, not dropped
};

struct WriteResult {
  json object;  // the answer: the object, or a Status for an immediate delete
  int code = 200;
  bool changed = false;
  std::vector<Change> changes;  // committed, in order
};

struct DeleteOptions {
  std::string propagation = "Background";
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
};

// The query of a list or watch request.
struct ReadQuery {
  LabelSelector labels;
  FieldSelector fields;
  std::optional<std::string> resource_version;
  std::string resource_version_match;
  std::size_t limit = 0;
  std::string continue_token;
  bool bookmarks = false;
  bool send_initial_events = false;
  std::optional<int> timeout_seconds;
};

std::string now_rfc3339();
std::string now_rfc3339_micros();

struct FakeApiServer::Impl {
  explicit Impl(Options options);
  ~Impl();

  Options options;
  ResourceRegistry registry;
  ObjectStore store;
  AccessControl access;
  FaultList faults;

  mutable std::mutex log_mutex;
  std::vector<RequestRecord> log;
  std::map<std::string, std::size_t> writes_by_user;

  std::mutex hooks_mutex;
  std::vector<std::function<void(const std::string&, const json&)>> hooks;

  // HTTP(S) serving.
  std::unique_ptr<httplib::Server> http;
  std::thread listener;
  int port = 0;
  TlsMaterial tls;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> watch_epoch{0};  // drop_watches() bumps it
  std::atomic<std::size_t> open_watches{0};

  // Periodic garbage collection.
  std::thread gc_thread;
  std::mutex gc_mutex;  // one collector pass at a time
  std::mutex gc_wait_mutex;
  std::condition_variable gc_wake;
  bool gc_stop = false;

  // object_writes.cpp: create, replace, patch, apply.
  WriteResult create_object(const WriteTarget& target, json body);
  WriteResult replace_object(const WriteTarget& target, json body);
  WriteResult patch_object(const WriteTarget& target, const std::string& content_type,
                           const std::string& body, bool force);
  WriteResult apply_object(const WriteTarget& target, json applied, bool force);
  // Read-modify-write of a live object under the lock; `mutate` returns false
  // to leave it alone. Used by the garbage collector and the admin merge patch.
  WriteResult mutate_object(const WriteTarget& target, const std::function<bool(json&)>& mutate);
  // The common tail of every update (store.mutex held): status and system
  // metadata rules, validation, no-op detection, generation, managedFields,
  // finalizer-completed deletion, commit.
  WriteResult commit_update_locked(const WriteTarget& target, const std::shared_ptr<const json>& live,
                                   json candidate, std::optional<json> managed_fields);
  // Prunes unknown fields and validates against the schema (system metadata
  // set aside); throws ApiError 422 (or 400 for strict unknown fields).
  json validated(const WriteTarget& target, json object, const json* live) const;

  // deletion.cpp
  WriteResult delete_object(const WriteTarget& target, const DeleteOptions& options);

  // garbage_collector.cpp
  void collect_garbage();
  void gc_loop();

  // Hooks, then garbage collection, for committed changes.
  void publish(const std::vector<Change>& changes);

  // list_watch.cpp
  json list_objects(const ResourceType& type, const std::string& version, const std::string& ns,
                    const ReadQuery& query);
  json get_object(const ResourceType& type, const std::string& version, const std::string& ns,
                  const std::string& name);
  // watch_stream.cpp: answers the request with a chunked event stream (or a 410).
  void serve_watch(const ResourceTypePtr& type, const std::string& version, const std::string& ns,
                   const ReadQuery& query, int drop_after_events, const httplib::Request& request,
                   httplib::Response& response);

  // http_router.cpp
  void serve(const httplib::Request& request, httplib::Response& response);
  // After faults: authentication, URL parsing, authorization, dispatch.
  void route(const httplib::Request& request, httplib::Response& response, RequestRecord& entry,
             int drop_after);
  void record(RequestRecord record);

  // Admin helpers (fake_apiserver.cpp).
  WriteTarget admin_target(const std::string& api_version, const std::string& kind, const std::string& ns,
                           const std::string& name) const;
  void start_http();
  void stop_http();
};

// The object as the client asked for it: apiVersion of the requested version.
json as_version(const ResourceType& type, const std::string& version, json object);

}  // namespace pgscope::kubefake
