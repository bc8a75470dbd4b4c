// The world pgscope-operator runs in during the end-to-end tests: the fake
// API server with the real CRDs, Zalando's operator (ZalandoSim), a user with
// exactly the RBAC of operator/deploy, kubeconfig files, and the operator
// process itself; plus waiting for a condition over the fake's state with a
// failure message that shows what was there.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "operator_process.hpp"
#include "support/kube_fake/fake_apiserver.hpp"
#include "support/kube_schema/schema.hpp"
#include "support/temp_dir/temp_dir.hpp"
#include "zalando_sim.hpp"

namespace pgscope::e2e {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- Reference files (real CRDs, Zalando's examples) ----------------------
// $PGSCOPE_REFERENCE_DIR, else the directory found at configure time.
std::string reference_dir();
bool have_reference_dir();
std::string reference_file(const std::string& relative);
// The repository (operator/deploy, docs).
std::string source_dir();
// The pgscope-operator binary under test: $PGSCOPE_E2E_OPERATOR_BINARY (e.g. a
// sanitizer build), else the one built beside the tests.
std::string operator_binary();
// The prometheus-operator CRD files, relative to reference_dir().
const std::vector<std::string>& monitoring_crd_files();
// Every reference CRD plus the core kinds, for validating what the operator writes.
const kubefake::SchemaRegistry& schemas();

// Skips the test (a Catch2 WARN) when the reference files are not there.
#define E2E_REQUIRE_REFERENCE_FILES()                                                              \
  do {                                                                                             \
    if (!::pgscope::e2e::have_reference_dir()) {                                                   \
      WARN("reference directory " << ::pgscope::e2e::reference_dir()                               \
                                  << " does not exist (set PGSCOPE_REFERENCE_DIR): test skipped"); \
      return;                                                                                      \
    }                                                                                              \
  } while (false)

using pgscope::test::TempDir;

// The rules of operator/deploy/clusterrole.yaml (every namespace) and
// role.yaml (its namespace) as the fake's access rules. Throws
// std::runtime_error naming the file when a rule cannot be read.
std::vector<kubefake::AccessRule> shipped_rbac_rules();
// `rules` without `verbs` on group/resource (for the "forbidden" tests).
std::vector<kubefake::AccessRule> without_verbs(std::vector<kubefake::AccessRule> rules,
                                                const std::string& group, const std::string& resource,
                                                const std::set<std::string>& verbs);

double seconds_since(Clock::time_point start);

// Polls `condition` every 25 ms; on timeout a Catch2 FAIL naming `what`, the
// time waited and `dump()`. Returns the seconds it took.
double await(const std::string& what, const std::function<bool()>& condition,
             std::chrono::milliseconds timeout, const std::function<std::string()>& dump);

// Polls `condition` like await, but only reports: false on timeout (for a
// CHECK that lets the test go on to its next step).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// One kind the operator writes.
struct KindRef {
  std::string api_version;
  std::string kind;
};
const std::vector<KindRef>& operator_kinds();
// "ServiceMonitor ns/name".
std::string object_id(const json& object);

// One object the operator should (or should no longer) have written.
struct ObjectRef {
  std::string api_version, kind, ns, name;
};
std::string describe(const ObjectRef& ref);

// What pgscope-operator creates per cluster, by the names its docs give:
// <c>-pgscope monitor (+ Service with ServiceMonitors), PrometheusRule
// <c>-pgscope, per pooler <pooler>-pgscope monitor (+ Service), and while a
// pooler runs the exporter Deployment, Service and ConfigMap <c>-pgscope-pooler.
struct ExpectedParts {
  bool pod_monitor = false;
  bool rules = true;
  bool master_pooler = false;
  bool replica_pooler = false;
};
std::vector<ObjectRef> cluster_objects(const std::string& ns, const std::string& cluster,
                                       const ExpectedParts& parts);
// Every object a cluster may have had, whatever its pooler and monitor kind.
std::vector<ObjectRef> all_possible_cluster_objects(const std::string& ns, const std::string& cluster);

struct EnvironmentOptions {
  bool tls = false;
  bool monitoring_crds = true;
  kubefake::FakeApiServer::Options server;
};

class E2eEnvironment {
 public:
  static constexpr const char* kUser = "pgscope-operator";
  static constexpr const char* kOperatorNamespace = "pgscope";

  explicit E2eEnvironment(EnvironmentOptions options = {});
  ~E2eEnvironment();
  E2eEnvironment(const E2eEnvironment&) = delete;
  E2eEnvironment& operator=(const E2eEnvironment&) = delete;

  kubefake::FakeApiServer& api() { return *api_; }
  const kubefake::FakeApiServer& api() const { return *api_; }
  ZalandoSim& zalando() { return *zalando_; }
  const TempDir& dir() const { return dir_; }

  void install_monitoring_crds();
  void uninstall_monitoring_crds();

  // A user with the shipped RBAC and a kubeconfig for it (token inline, or
  // read from `token_file` when given). Returns the kubeconfig's path.
  std::string add_operator_user(const std::string& user, const std::string& token_file = "");
  std::string kubeconfig(const std::string& user) const;
  std::string token(const std::string& user) const;

  // Starts the operator as `user` with --kubeconfig, --listen-address on a
  // free port, --log.level=debug, --resync-period=2s and a short CRD
  // re-check (when the binary has that flag) before `flags` (which win).
  // Waits for /readyz unless told not to.
  std::unique_ptr<OperatorProcess> start_operator(const std::vector<std::string>& flags = {},
                                                  const std::string& user = kUser,
                                                  const std::map<std::string, std::string>& env = {},
                                                  bool wait_ready = true);

  // The first postgresql document of a Zalando example manifest
  // (relative to reference_dir()/zalando), renamed and placed in ns, then `edit`ed.
  static json cluster_manifest(const std::string& example, const std::string& ns, const std::string& name,
                               const std::function<void(json&)>& edit = {});
  json create_cluster(const std::string& example, const std::string& ns, const std::string& name,
                      const std::function<void(json&)>& edit = {});
  json cluster(const std::string& ns, const std::string& name) const;  // throws when absent
  json patch_cluster(const std::string& ns, const std::string& name, const json& merge_patch);
  void delete_cluster(const std::string& ns, const std::string& name);

  // Objects labelled app.kubernetes.io/managed-by=pgscope-operator, of every
  // kind the operator writes that is served now ("" = all namespaces).
  std::vector<json> managed_objects(const std::string& ns = "") const;
  std::optional<json> get(const std::string& api_version, const std::string& kind, const std::string& ns,
                          const std::string& name) const;
  bool all_present(const std::vector<ObjectRef>& refs) const;
  bool none_present(const std::vector<ObjectRef>& refs) const;
  // Dashboard ConfigMaps (pgscope.io/shared=dashboards) in ns.
  std::vector<json> dashboards(const std::string& ns) const;

  // Events whose involvedObject is the named postgresql.
  std::vector<json> cluster_events(const std::string& ns, const std::string& cluster) const;
  bool has_event(const std::string& ns, const std::string& cluster, const std::string& type,
                 const std::string& reason, const std::string& message_part = "") const;
  // Database and pooler pods of a cluster, as the sim made them.
  std::vector<json> pods(const std::string& ns, const std::string& cluster,
                         const std::string& application) const;

  // What is there, for failure messages: postgresqls, managed objects,
  // recent Events, and the tail of each operator's log.
  std::string describe(const std::vector<const OperatorProcess*>& operators = {}) const;
  std::function<std::string()> dumper(const std::vector<const OperatorProcess*>& operators = {}) const;

  // Waits until the operator's writes stop for `quiet` (its convergence),
  // returns the writes counted by then.
  std::size_t await_quiet(const std::string& user, std::chrono::milliseconds quiet,
                          std::chrono::milliseconds timeout,
                          const std::vector<const OperatorProcess*>& operators);

 private:
  void write_kubeconfig(const std::string& user, const std::string& token_file);

  EnvironmentOptions options_;
  TempDir dir_;
  std::unique_ptr<kubefake::FakeApiServer> api_;
  std::unique_ptr<ZalandoSim> zalando_;
  std::map<std::string, std::string> tokens_;
  int operators_started_ = 0;
};

}  // namespace pgscope::e2e
