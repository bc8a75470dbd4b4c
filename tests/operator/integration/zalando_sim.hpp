// A stand-in for Zalando's postgres-operator inside the fake API server: it
// reacts to acid.zalan.do/v1 postgresql objects the way the real operator
// does as far as pgscope-operator can see it. Per cluster <c> it keeps
//   - the database pods <c>-0..N-1 (N = spec.numberOfInstances) with
//     application=spilo, cluster-name, team and spilo-role (master on -0,
//     replica on the others), their containers postgres + spec.sidecars;
//   - Zalando's Services <c> (no selector) and <c>-repl (replicas);
//   - the credentials Secrets (postgres, standby, every spec.users key, the
//     pooler user while a pooler runs);
//   - per enabled pooler (<c>-pooler, <c>-pooler-repl): a Deployment, a
//     Service selecting connection-pooler=<name> and two pods labelled
//     application=db-connection-pooler, connection-pooler, cluster-name, team,
//     spilo-role (the role it serves);
//   - status.PostgresClusterStatus = Running (a status write, as Zalando's,
//     which the monitoring operator must treat as a no-op).
// Everything carries an ownerReference to the postgresql object, so the fake's
// garbage collector removes it with the cluster.
//
// A change of spec.sidecars, compared as Zalando compares the containers of
// its StatefulSet, is a rolling restart: counted, and the database pods are
// replaced (new uids) as the real rollout would.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::e2e {

using json = nlohmann::json;

class ZalandoSim {
 public:
  // Hooks into api.on_change. The hook holds shared state only, so it stays
  // harmless if the server outlives this object.
  explicit ZalandoSim(kubefake::FakeApiServer& api);
  ~ZalandoSim();
  ZalandoSim(const ZalandoSim&) = delete;
  ZalandoSim& operator=(const ZalandoSim&) = delete;

  // Rolling restarts of the cluster since the sim first saw it (by name: a
  // re-created cluster of the same name starts again from 0).
  int rolling_restarts(const std::string& ns, const std::string& name) const;
  // Total over all clusters.
  int total_rolling_restarts() const;

  // Zalando's pooler master needs enableConnectionPooler, or a
  // connectionPooler section with enableConnectionPooler unset; the replica
  // pooler needs enableReplicaConnectionPooler.
  static bool master_pooler_enabled(const json& spec);
  static bool replica_pooler_enabled(const json& spec);

  // The sidecars as Zalando's StatefulSet comparison sees them: the fields a
  // per-cluster sidecar has, without nulls and empty lists.
  static json comparable_sidecars(const json& sidecars);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Pod label selectors as Kubernetes evaluates them.
bool labels_match(const json& match_labels, const json& labels);
// A LabelSelector ({matchLabels, matchExpressions}) against an object's labels.
bool selector_matches(const json& selector, const json& object);

}  // namespace pgscope::e2e
