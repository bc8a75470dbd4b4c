#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "operator/kube/config.hpp"

namespace pgscope::kube {

using json = nlohmann::json;

// One kind of object the operator reads or writes: enough to build its URL.
struct ResourceType {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string kind;     // "ServiceMonitor"
  std::string plural;   // "servicemonitors"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

// The kinds pgscope-operator uses.
const ResourceType& postgresql_type();       // acid.zalan.do/v1 postgresqls
const ResourceType& service_monitor_type();  // monitoring.coreos.com/v1 servicemonitors
const ResourceType& pod_monitor_type();      // monitoring.coreos.com/v1 podmonitors
const ResourceType& prometheus_rule_type();  // monitoring.coreos.com/v1 prometheusrules
const ResourceType& service_type();          // v1 services
const ResourceType& config_map_type();       // v1 configmaps
const ResourceType& secret_type();           // v1 secrets
const ResourceType& pod_type();              // v1 pods
const ResourceType& event_type();            // v1 events
const ResourceType& deployment_type();       // apps/v1 deployments
const ResourceType& lease_type();            // coordination.k8s.io/v1 leases
// The type for an object's apiVersion and kind; throws std::invalid_argument if unknown.
const ResourceType& type_of(const json& object);

// A failed API call. http_status 0 means the server was not reached or the
// connection broke (reason "Transport"); otherwise the fields come from the
// Status body (or the HTTP status when the body is not a Status).
class ApiError : public std::runtime_error {
 public:
  ApiError(int http_status, std::string reason, std::string message, json causes = json::array(),
           std::chrono::seconds retry_after = std::chrono::seconds(0));
  int http_status() const { return http_status_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const json& causes() const { return causes_; }
  std::chrono::seconds retry_after() const { return retry_after_; }

  bool not_found() const { return http_status_ == 404; }
  bool conflict() const { return http_status_ == 409; }
  bool forbidden() const { return http_status_ == 403; }
  bool unauthorized() const { return http_status_ == 401; }
  // 410 Gone, or reason Expired/Gone: the resourceVersion or continue token is too old.
  bool expired() const;
  // Worth retrying as is: transport errors, 429, 5xx.
  bool transient() const;

 private:
  int http_status_;
  std::string reason_;
  std::string message_;
  json causes_;
  std::chrono::seconds retry_after_;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;        // "" = most recent
  std::string resource_version_match;  // "", "Exact" or "NotOlderThan"
  int limit = 0;                       // 0 = no chunking
  std::string continue_token;
};

struct ListResult {
  std::vector<json> items;
  std::string resource_version;  // the list's (snapshot) resourceVersion
  std::string continue_token;    // "" on the last chunk
};

struct WatchOptions {
  std::string label_selector;
  std::string resource_version;  // "" = synthetic ADDED for everything, then changes
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // 0 = server's choice
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK (ERROR events are thrown as ApiError)
  json object;
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::string precondition_uid;
  std::string precondition_resource_version;
};

// A thin, untyped Kubernetes API client over libcurl: JSON in, JSON out.
// Thread-safe: every call may come from any thread. Every non-2xx answer
// becomes an ApiError. A 401 makes the client re-read a token file once and
// retry, so rotated service-account tokens are picked up.
class Client {
 public:
  explicit Client(Config config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const;

  // ns "" on a namespaced type means all namespaces (list, watch only).
  json get(const ResourceType& type, const std::string& ns, const std::string& name);
  ListResult list(const ResourceType& type, const std::string& ns, const ListOptions& options = {});
  // Every page of a chunked list (limit per page), as one snapshot.
  ListResult list_all(const ResourceType& type, const std::string& ns, const ListOptions& options = {},
                      int page_size = 500);
  json create(const ResourceType& type, const json& object);
  // PUT; carries the object's metadata.resourceVersion, so a stale one is a 409.
  json replace(const ResourceType& type, const json& object);
  // application/merge-patch+json (RFC 7386).
  json merge_patch(const ResourceType& type, const std::string& ns, const std::string& name,
                   const json& patch);
  // Server-side apply: PATCH application/apply-patch+yaml with fieldManager (and force).
  json apply(const ResourceType& type, const json& object, const std::string& field_manager, bool force);
  void remove(const ResourceType& type, const std::string& ns, const std::string& name,
              const DeleteOptions& options = {});

  // Streams the events of a watch to on_event until the server ends the
  // stream (returns normally), on_event returns false, or *stop becomes true
  // (checked at least every 200 ms). Throws ApiError when the watch cannot
  // start, breaks, or sends an ERROR event (410 Expired arrives so, too).
  void watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
             const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>* stop = nullptr);

  // Discovery: the plural resource names served under group/version
  // (GET /apis/G/V, or /api/v1 for the core group); empty when the group
  // version is not served (404).
  std::vector<std::string> discover(const std::string& group, const std::string& version);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgscope::kube
