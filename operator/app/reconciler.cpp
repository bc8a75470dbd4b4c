#include "operator/app/reconciler.hpp"

#include <spdlog/spdlog.h>

#include "operator/app/object_writer.hpp"
#include "operator/cluster/cluster.hpp"
#include "operator/cluster/desired.hpp"
#include "operator/cluster/sidecar.hpp"

namespace pgscope::op {

namespace {

// How soon a cluster whose monitoring CRDs are missing is tried again.
constexpr std::chrono::minutes kMissingKindRetry{1};

std::string label_of(const nlohmann::json& object, const std::string& key) {
  const auto& labels = object["metadata"].value("labels", nlohmann::json::object());
  const auto found = labels.find(key);
  return found != labels.end() && found->is_string() ? found->get<std::string>() : "";
}

bool being_deleted(const nlohmann::json& object) { return object["metadata"].contains("deletionTimestamp"); }

std::string object_id(const nlohmann::json& object) {
  return object.value("kind", "") + "/" + object["metadata"].value("namespace", "") + "/" +
         object["metadata"].value("name", "");
}

// Why a write failed, for a Warning Event a user can act on.
std::pair<std::string, std::string> explain(const kube::ApiError& error, const std::string& what) {
  if (error.forbidden()) {
    return {"Forbidden", "cannot write " + what + ": " + error.message() +
                             " (grant it in pgscope-operator's ClusterRole, see operator/deploy)"};
  }
  if (error.http_status() == 422)
    return {"InvalidObject", "the API server refused " + what + ": " + error.message()};
  return {"WriteFailed", "writing " + what + " failed: " + error.message() + "; retrying"};
}

}  // namespace

std::string cluster_key(const std::string& ns, const std::string& name) {
  return "cluster:" + ns + "/" + name;
}
std::string dashboards_key(const std::string& ns) { return "dashboards:" + ns; }

std::string owner_key(const nlohmann::json& owned_object) {
  if (label_of(owned_object, kSharedLabel) == "dashboards") {
    return dashboards_key(owned_object["metadata"].value("namespace", ""));
  }
  const std::string cluster = label_of(owned_object, kClusterLabel);
  const std::string ns = label_of(owned_object, kClusterNamespaceLabel);
  if (cluster.empty() || ns.empty()) return "";
  return cluster_key(ns, cluster);
}

std::string dashboards_namespace_of(const nlohmann::json& postgresql, const OperatorSettings& settings) {
  if (!settings.dashboards_namespace.empty()) return settings.dashboards_namespace;
  return postgresql["metadata"].value("namespace", "");
}

Reconciler::Reconciler(kube::Client& client, EventRecorder& events, const OperatorSettings& settings,
                       const ClusterMixin& mixin, Caches caches)
    : client_(client), events_(events), settings_(settings), mixin_(mixin), caches_(std::move(caches)) {}

Store& Reconciler::store_for(const std::string& kind) { return *caches_.owned.at(kind); }

ReconcileOutcome Reconciler::reconcile(const std::string& key) {
  if (key.rfind("cluster:", 0) == 0) {
    const std::string rest = key.substr(8);
    const auto slash = rest.find('/');
    return reconcile_cluster(rest.substr(0, slash), rest.substr(slash + 1));
  }
  if (key.rfind("dashboards:", 0) == 0) return reconcile_dashboards(key.substr(11));
  spdlog::error("reconcile: unknown key {}", key);
  return {};
}

ReconcileOutcome Reconciler::reconcile_cluster(const std::string& ns, const std::string& name) {
  const std::map<std::string, std::string> selector{
      {kManagedByLabel, kManagedByValue}, {kClusterLabel, name}, {kClusterNamespaceLabel, ns}};
  const auto postgresql = caches_.postgresqls->get(ns, name);
  if (!postgresql || being_deleted(*postgresql)) {
    // Gone: what Kubernetes's garbage collector does not remove (nothing,
    // normally: every per-cluster object has an ownerReference) goes now, so
    // a cluster deleted while the operator was down leaves nothing behind.
    if (!prune(nullptr, selector, {}, {}, "")) return {ReconcileResult::kError, {}};
    spdlog::info("cluster {}/{}: gone, its objects removed", ns, name);
    return {};
  }
  const auto& object = *postgresql;

  ClusterInfo info;
  try {
    info = read_cluster(object, settings_);
  } catch (const InvalidCluster& error) {
    events_.warning(object, "InvalidCluster", error.what());
    spdlog::warn("cluster {}/{}: {}", ns, name, error.what());
    // Nothing to retry until the object changes (which wakes us).
    return {ReconcileResult::kError, {}};
  }

  MixinOutput mixin_output;
  bool rules_usable = true;
  if (settings_.rules) {
    try {
      const auto overrides = mixin_.threshold_overrides(info.annotations, {kInjectAnnotation});
      mixin_output.rule_groups = mixin_.rule_groups(ns, name, overrides);
    } catch (const InvalidThreshold& error) {
      // Keep the rules in place as they are: alerts with the last good
      // thresholds beat no alerts at all.
      rules_usable = false;
      events_.warning(object, "InvalidThreshold",
                      std::string(error.what()) + "; the cluster's PrometheusRule is left as it is");
      spdlog::warn("cluster {}/{}: {}", ns, name, error.what());
    }
  }
  if (settings_.dashboards) mixin_output.dashboards = mixin_.dashboards();

  std::vector<nlohmann::json> desired;
  try {
    desired = desired_objects(info, settings_, mixin_output);
  } catch (const std::exception& error) {
    events_.warning(object, "InvalidCluster", error.what());
    return {ReconcileResult::kError, {}};
  }

  std::set<std::string> keep;
  std::set<std::string> skip_kinds;
  std::vector<std::string> missing_kinds;
  std::map<std::string, std::string> unsynced_problems;
  bool unsynced = false;
  if (!rules_usable) skip_kinds.insert("PrometheusRule");
  bool failed = false;
  for (const auto& candidate : desired) {
    if (label_of(candidate, kSharedLabel) == "dashboards") continue;  // reconciled per namespace
    const std::string kind = candidate.value("kind", "");
    if (!rules_usable && kind == "PrometheusRule") continue;
    if (!caches_.served(kind)) {
      if (std::find(missing_kinds.begin(), missing_kinds.end(), kind) == missing_kinds.end()) {
        missing_kinds.push_back(kind);
      }
      skip_kinds.insert(kind);
      continue;
    }
    if (!caches_.synced(kind)) {
      // Without a full cache the operator cannot tell "unchanged" from
      // "missing": writing blind would write on every resync. That kind
      // waits; the others go ahead.
      skip_kinds.insert(kind);
      const std::string problem = caches_.sync_problem ? caches_.sync_problem(kind) : "";
      if (!problem.empty()) unsynced_problems[kind] = problem;
      unsynced = true;
      continue;
    }
    const auto applied = with_applied_digest(candidate);
    keep.insert(object_id(applied));
    try {
      const auto outcome = ensure_object(client_, store_for(kind), applied);
      if (outcome == WriteOutcome::kCreated) {
        events_.normal(object, "Created", "created " + describe_object(applied));
      } else if (outcome == WriteOutcome::kUpdated) {
        events_.normal(object, "Updated", "updated " + describe_object(applied) + " to the desired state");
      }
    } catch (const kube::ApiError& error) {
      const auto [reason, message] = explain(error, describe_object(applied));
      events_.warning(object, reason, message);
      spdlog::warn("cluster {}/{}: {}", ns, name, message);
      failed = true;
    }
  }

  if (!missing_kinds.empty()) {
    std::string kinds;
    for (const auto& kind : missing_kinds) kinds += (kinds.empty() ? "" : ", ") + kind;
    events_.warning(object, "MonitoringCRDsMissing",
                    "the API server does not serve " + kinds +
                        " (monitoring.coreos.com/v1): install prometheus-operator's CRDs; pgscope-operator "
                        "creates them as soon as they are served");
  }

  for (const auto& [kind, problem] : unsynced_problems) {
    events_.warning(object, "CacheNotSynced",
                    "cannot read the operator's " + kind + " objects, so none are written: " + problem +
                        " (a 403 means pgscope-operator's ClusterRole lacks list or watch on them)");
  }

  for (const auto& [kind, store] : caches_.owned) {
    if (caches_.served(kind) && !caches_.synced(kind) && !skip_kinds.count(kind)) {
      skip_kinds.insert(kind);
      unsynced = true;
    }
  }
  if (!prune(&object, selector, keep, skip_kinds, "")) failed = true;

  try {
    inject_sidecar(postgresql,
                   desired_sidecars(object["spec"].value("sidecars", nlohmann::json()), info, settings_));
  } catch (const kube::ApiError& error) {
    if (error.conflict()) return {ReconcileResult::kRequeue, std::chrono::milliseconds(100)};
    const auto [reason, message] = explain(error, "the exporter sidecar of postgresql " + ns + "/" + name);
    events_.warning(object, reason, message);
    failed = true;
  }

  if (failed) return {ReconcileResult::kError, {}};
  if (!unsynced_problems.empty()) return {ReconcileResult::kRequeue, std::chrono::seconds(5)};
  if (unsynced) return {ReconcileResult::kRequeue, std::chrono::seconds(1)};
  if (!missing_kinds.empty()) return {ReconcileResult::kRequeue, kMissingKindRetry};
  return {ReconcileResult::kSuccess, settings_.resync_period};
}

void Reconciler::inject_sidecar(const ObjectPtr& cached, const nlohmann::json& sidecars) {
  const auto& postgresql = *cached;
  const auto& spec = postgresql["spec"];
  const nlohmann::json current = spec.value("sidecars", nlohmann::json::array());
  const nlohmann::json wanted = sidecars.is_null() ? nlohmann::json::array() : sidecars;
  if (current == wanted) return;
  // Zalando's CRD leaves spec.sidecars an atomic list: a server-side apply
  // would take the whole list, the user's sidecars included, away from its
  // manager. A merge patch of the list with the resourceVersion read is a
  // compare-and-swap instead: a concurrent edit makes it fail with 409 and
  // the cluster is reconciled again from the new state.
  nlohmann::json patch;
  patch["metadata"]["resourceVersion"] = postgresql["metadata"].value("resourceVersion", "");
  patch["spec"]["sidecars"] = wanted.empty() ? nlohmann::json(nullptr) : wanted;
  const auto& metadata = postgresql["metadata"];
  const auto answer = client_.merge_patch(kube::postgresql_type(), metadata.value("namespace", ""),
                                          metadata.value("name", ""), patch);
  caches_.postgresqls->apply_event_if_current("MODIFIED", answer, cached);
  auto has_ours = [](const nlohmann::json& list) {
    for (const auto& item : list) {
      if (item.value("name", "") == "pgscope-exporter") return true;
    }
    return false;
  };
  const bool added = has_ours(wanted) && !has_ours(current);
  const bool removed = !has_ours(wanted) && has_ours(current);
  const std::string reason = added ? "SidecarInjected" : removed ? "SidecarRemoved" : "SidecarUpdated";
  events_.normal(postgresql, reason,
                 std::string(added     ? "added the pgscope-exporter sidecar"
                             : removed ? "removed the pgscope-exporter sidecar"
                                       : "updated the pgscope-exporter sidecar") +
                     "; Zalando's operator now restarts every database pod of the cluster, replicas first");
  spdlog::info("cluster {}/{}: {}", metadata.value("namespace", ""), metadata.value("name", ""), reason);
}

bool Reconciler::prune(const nlohmann::json* event_object, const std::map<std::string, std::string>& selector,
                       const std::set<std::string>& keep, const std::set<std::string>& skip_kinds,
                       const std::string& only_namespace) {
  bool complete = true;
  for (const auto& [kind, store] : caches_.owned) {
    if (skip_kinds.count(kind) || !caches_.served(kind)) continue;
    if (!caches_.synced(kind)) {
      complete = false;
      continue;
    }
    const auto stale = store->select([&](const nlohmann::json& object) {
      if (!only_namespace.empty() && object["metadata"].value("namespace", "") != only_namespace)
        return false;
      for (const auto& [key, value] : selector) {
        if (label_of(object, key) != value) return false;
      }
      return !keep.count(object_id(object));
    });
    for (const auto& object : stale) {
      const auto& metadata = (*object)["metadata"];
      try {
        kube::DeleteOptions options;
        options.precondition_uid = metadata.value("uid", "");
        options.propagation_policy = "Background";
        client_.remove(kube::type_of(*object), metadata.value("namespace", ""), metadata.value("name", ""),
                       options);
        store->apply_event_if_current("DELETED", *object, object);
        if (event_object)
          events_.normal(*event_object, "Deleted",
                         "deleted " + describe_object(*object) + ", no longer needed");
        spdlog::info("deleted {}", describe_object(*object));
      } catch (const kube::ApiError& error) {
        if (error.not_found()) {
          store->apply_event_if_current("DELETED", *object, object);
          continue;
        }
        const auto [reason, message] = explain(error, describe_object(*object));
        if (event_object) events_.warning(*event_object, reason, message);
        spdlog::warn("{}", message);
        complete = false;
      }
    }
  }
  return complete;
}

ReconcileOutcome Reconciler::reconcile_dashboards(const std::string& ns) {
  const std::map<std::string, std::string> selector{{kManagedByLabel, kManagedByValue},
                                                    {kSharedLabel, "dashboards"}};
  // Any cluster whose dashboards go to ns keeps them there; the first one
  // (by namespace/name, so every run picks the same) is their reference.
  nlohmann::json wanted_by;
  bool wanted_by_invalid_only = false;
  if (settings_.dashboards) {
    for (const auto& postgresql : caches_.postgresqls->list()) {
      if (being_deleted(*postgresql) || dashboards_namespace_of(*postgresql, settings_) != ns) continue;
      try {
        (void)read_cluster(*postgresql, settings_);
      } catch (const InvalidCluster&) {
        // Still a cluster that needs its dashboards: a bad annotation must
        // not take them away. Without a valid cluster to compute them from,
        // they stay as they are.
        wanted_by_invalid_only = true;
        continue;
      }
      wanted_by = *postgresql;
      break;
    }
  }
  if (wanted_by.is_null() && wanted_by_invalid_only) return {};
  std::set<std::string> keep;
  bool failed = false;
  if (!wanted_by.is_null()) {
    if (!caches_.synced("ConfigMap")) return {ReconcileResult::kRequeue, std::chrono::seconds(1)};
    MixinOutput output;
    output.dashboards = mixin_.dashboards();
    const auto info = read_cluster(wanted_by, settings_);
    for (const auto& candidate : desired_objects(info, settings_, output)) {
      if (label_of(candidate, kSharedLabel) != "dashboards") continue;
      const auto applied = with_applied_digest(candidate);
      keep.insert(object_id(applied));
      try {
        const auto outcome = ensure_object(client_, store_for("ConfigMap"), applied);
        if (outcome != WriteOutcome::kUnchanged) {
          spdlog::info("{} {}", outcome == WriteOutcome::kCreated ? "created" : "updated",
                       describe_object(applied));
        }
      } catch (const kube::ApiError& error) {
        const auto [reason, message] = explain(error, describe_object(applied));
        events_.warning(wanted_by, reason, message);
        spdlog::warn("{}", message);
        failed = true;
      }
    }
  }
  const bool pruned = prune(nullptr, selector, keep, {}, ns);
  if (failed || !pruned) return {ReconcileResult::kError, {}};
  return {ReconcileResult::kSuccess,
          wanted_by.is_null() ? std::chrono::milliseconds(0) : settings_.resync_period};
}

}  // namespace pgscope::op
