// A Kubernetes API server for the operator's tests: the part of the API that
// pgscope-operator uses, with the real semantics (resourceVersions from one
// global revision, list paging with snapshot continue tokens, chunked watch
// streams with bookmarks and 410 Expired, optimistic concurrency, server-side
// apply, schema validation, ownerReference garbage collection, finalizers,
// bearer-token authentication and RBAC-like authorization) and injectable
// faults. It runs on 127.0.0.1 inside the test process; the operator binary
// talks to it over HTTP or HTTPS like to a real cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgscope::kubefake {

using json = nlohmann::json;

// What a user may do, as an RBAC rule: "*" matches any verb/group/resource;
// ns "" = every namespace (and cluster scope). Verbs: get list watch create
// update patch delete. group "" is the core group. A subresource is named
// "<plural>/<sub>" (e.g. "postgresqls/status"); "*" covers it too.
// resource_names, as RBAC's resourceNames: when not empty, only requests for
// one of these objects match, so never a list, a watch or a create (whose
// object has no name in the request's path).
struct AccessRule {
  std::set<std::string> verbs;
  std::string group;
  std::string resource;
  std::string ns;
  std::set<std::string> resource_names;
};

struct FaultRule {
  std::string method;         // "" = any
  std::string path_contains;  // "" = any; matched against path?query
  int status = 0;             // answer with this Status code (500, 503, 429, 403...) instead of serving
  int retry_after_seconds = 0;
  std::chrono::milliseconds delay{0};  // wait before serving
  // Serve (a write commits and reaches watchers at once), then wait this long
  // before answering: a client's view of its own write arrives late.
  std::chrono::milliseconds delay_answer{0};
  bool reset = false;               // close the connection without an answer
  int watch_events_then_drop = -1;  // for watches: close the stream after N events (abruptly)
  int times = 1;                    // how many requests it hits (-1 = until cleared)
};

struct RequestRecord {
  std::string method, path, query, content_type, user, field_manager;
  int status;            // 0 when the connection was reset by a fault
  bool changed = false;  // a write that committed a change
};

// A failed request of the admin API below: `status` is the Status object the
// HTTP API would have answered with.
class ApiError : public std::runtime_error {
 public:
  explicit ApiError(json status);
  int code() const;
  std::string reason() const;
  const json& status() const { return status_; }

 private:
  json status_;
};

class FakeApiServer {
 public:
  struct Options {
    bool tls = false;
    std::size_t history_limit = 10000;  // watch events kept for replay; older RVs get 410 Expired
    std::chrono::milliseconds bookmark_interval{1000};
    // 410 for an old watch RV as a 200 stream with an ERROR event (as the
    // watch cache answers), else as an HTTP 410 Status.
    bool expired_as_event = true;
    std::chrono::milliseconds gc_interval{500};  // periodic garbage-collector pass
  };

  // (Two constructors rather than `Options options = {}`: GCC cannot use a
  // nested struct's member initializers in a default argument of its class.)
  FakeApiServer();
  explicit FakeApiServer(Options options);
  ~FakeApiServer();  // stops
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Listens on 127.0.0.1 (a free port; after a stop, start again reuses the
  // same port so clients can reconnect). The stored objects survive a restart.
  void start();
  void stop();
  std::string url() const;  // http(s)://127.0.0.1:PORT
  int port() const;
  std::string ca_pem() const;  // with tls: the CA that signed the server certificate

  // Kinds: the core kinds (SchemaRegistry::add_core_kinds)
  // are always served; CRD kinds only while installed (else 404, and absent
  // from discovery). Uninstalling deletes the CRD's objects, as the real server does.
  void install_crd(const std::string& crd_yaml_path);
  void uninstall_crd(const std::string& group, const std::string& plural);

  // Auth: every request needs a bearer token; unknown/revoked → 401 Status.
  std::string add_user(const std::string& name, std::vector<AccessRule> rules);  // returns a token
  std::string rotate_token(const std::string& name);  // new token; the old one works until revoke_token
  void revoke_token(const std::string& token);
  void set_rules(const std::string& name, std::vector<AccessRule> rules);

  // Admin access through the same write path (revisions, watch events,
  // validation, GC, managedFields with manager "test"). Failures throw ApiError.
  json create(const json& object);
  json update(const json& object);         // PUT semantics incl. resourceVersion precondition when set
  json update_status(const json& object);  // PUT on the status subresource
  json merge_patch(const std::string& api_version, const std::string& kind, const std::string& ns,
                   const std::string& name, const json& patch);
  // Server-side apply as `manager` (creates when absent).
  json apply(const json& object, const std::string& manager, bool force = false);
  std::optional<json> get(const std::string& api_version, const std::string& kind, const std::string& ns,
                          const std::string& name) const;
  std::vector<json> list(const std::string& api_version, const std::string& kind,
                         const std::string& ns = "") const;
  void remove(const std::string& api_version, const std::string& kind, const std::string& ns,
              const std::string& name, const std::string& propagation = "Background");

  // Observation.
  std::vector<RequestRecord> requests() const;
  void clear_requests();
  // Successful create/update/patch/delete requests by that user that changed something.
  std::size_t writes_by(const std::string& user) const;
  std::uint64_t revision() const;
  std::size_t open_watches() const;

  // Faults.
  void add_fault(FaultRule rule);
  void clear_faults();
  // Forget the event history: every resourceVersion handed out so far is too old for a new watch or an
  // exact list (410 Expired), continue tokens expire; established watches go on. The revision moves on by
  // one (as a real cluster's unrelated writes would move it), so a fresh list's RV is watchable again.
  void compact();
  void drop_watches();  // end every open watch stream now (abruptly)

  // Called after every committed change (type ADDED/MODIFIED/DELETED, the
  // object), from the writing thread, outside locks: lets test helpers act as
  // controllers (e.g. Zalando's operator creating pods). May call the admin API.
  void on_change(std::function<void(const std::string& type, const json& object)> hook);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgscope::kubefake
