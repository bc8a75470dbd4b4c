#include "zalando_sim.hpp"

#include <algorithm>
#include <iostream>
#include <set>

namespace pgscope::e2e {

namespace {

constexpr const char* kApiVersion = "acid.zalan.do/v1";
constexpr const char* kSpiloImage = "ghcr.io/zalando/spilo-17:4.0-p3";
constexpr const char* kPgbouncerImage = "registry.opensource.zalan.do/acid/pgbouncer:master-32";
constexpr int kPoolerInstances = 2;  // Zalando's connection_pooler_number_of_instances default

// Set while this thread runs a sync: the DELETED events of our own pod
// replacements must not start another sync of the same cluster.
thread_local bool t_in_sync = false;

std::string base64(const std::string& text) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (i + 1 == text.size()) {
    const unsigned n = static_cast<unsigned char>(text[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == text.size()) {
    const unsigned n =
        (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += "=";
  }
  return out;
}

json strip_empty(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, item] : value.items()) {
      json cleaned = strip_empty(item);
      if (cleaned.is_null() || ((cleaned.is_array() || cleaned.is_object()) && cleaned.empty())) continue;
      out[key] = std::move(cleaned);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& item : value) out.push_back(strip_empty(item));
    return out;
  }
  return value;
}

std::string owner_uid(const json& object) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("kind", "") == "postgresql") return ref.value("uid", "");
  }
  return "";
}

std::string owner_name(const json& object) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("kind", "") == "postgresql") return ref.value("name", "");
  }
  return "";
}

}  // namespace

struct ZalandoSim::State {
  kubefake::FakeApiServer* api = nullptr;
  mutable std::recursive_mutex mutex;
  bool active = true;
  struct Seen {
    std::string uid;
    json sidecars;
    int restarts = 0;
  };
  std::map<std::string, Seen> clusters;  // by ns/name

  void on_change(const std::string& type, const json& object);
  void sync(const std::string& ns, const std::string& name);
  void sync_locked(const json& postgresql);
  void ensure(const json& desired, bool replace_on_change);
  void remove_unwanted(const std::string& api_version, const std::string& kind, const json& postgresql,
                       const std::set<std::string>& wanted, const std::string& application);
};

namespace {

json owner_reference(const json& postgresql) {
  return json::array({json{{"apiVersion", kApiVersion},
                           {"kind", "postgresql"},
                           {"name", postgresql["metadata"]["name"]},
                           {"uid", postgresql["metadata"]["uid"]},
                           {"controller", true},
                           {"blockOwnerDeletion", true}}});
}

json metadata_for(const json& postgresql, const std::string& name, json labels) {
  return json{{"name", name},
              {"namespace", postgresql["metadata"]["namespace"]},
              {"labels", std::move(labels)},
              {"ownerReferences", owner_reference(postgresql)}};
}

std::string team_of(const json& postgresql) { return postgresql["spec"].value("teamId", ""); }

json spilo_labels(const json& postgresql) {
  return json{{"application", "spilo"},
              {"cluster-name", postgresql["metadata"]["name"]},
              {"team", team_of(postgresql)}};
}

// Zalando's secret names keep the user name, "_" turned into "-".
std::string secret_name(const std::string& user, const std::string& cluster) {
  std::string safe = user;
  std::replace(safe.begin(), safe.end(), '_', '-');
  return safe + "." + cluster + ".credentials.postgresql.acid.zalan.do";
}

json database_pod(const json& postgresql, int index) {
  const std::string cluster = postgresql["metadata"]["name"];
  auto labels = spilo_labels(postgresql);
  labels["spilo-role"] = index == 0 ? "master" : "replica";
  json postgres{{"name", "postgres"},
                {"image", kSpiloImage},
                {"ports", json::array({json{{"containerPort", 8008}, {"protocol", "TCP"}},
                                       json{{"containerPort", 5432}, {"protocol", "TCP"}},
                                       json{{"containerPort", 8080}, {"protocol", "TCP"}}})}};
  json containers = json::array({postgres});
  for (const auto& sidecar : ZalandoSim::comparable_sidecars(postgresql["spec"].value("sidecars", json()))) {
    containers.push_back(sidecar);
  }
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", metadata_for(postgresql, cluster + "-" + std::to_string(index), labels)},
              {"spec", {{"containers", containers}}}};
}

json credentials_secret(const json& postgresql, const std::string& user) {
  const std::string cluster = postgresql["metadata"]["name"];
  return json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", metadata_for(postgresql, secret_name(user, cluster), spilo_labels(postgresql))},
              {"type", "Opaque"},
              {"data", {{"username", base64(user)}, {"password", base64("pw-" + user + "-" + cluster)}}}};
}

json zalando_service(const json& postgresql, bool replica) {
  const std::string cluster = postgresql["metadata"]["name"];
  auto labels = spilo_labels(postgresql);
  labels["spilo-role"] = replica ? "replica" : "master";
  json spec{{"ports", json::array({json{{"name", "postgresql"}, {"port", 5432}, {"targetPort", 5432}}})}};
  // The primary's Service has no selector: Patroni writes its Endpoints.
  if (replica)
    spec["selector"] = json{{"application", "spilo"}, {"cluster-name", cluster}, {"spilo-role", "replica"}};
  return json{{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", metadata_for(postgresql, replica ? cluster + "-repl" : cluster, labels)},
              {"spec", spec}};
}

json pooler_labels(const json& postgresql, const std::string& pooler, bool replica) {
  return json{{"application", "db-connection-pooler"},
              {"connection-pooler", pooler},
              {"cluster-name", postgresql["metadata"]["name"]},
              {"team", team_of(postgresql)},
              {"spilo-role", replica ? "replica" : "master"}};
}

std::vector<json> pooler_objects(const json& postgresql, bool replica) {
  const std::string cluster = postgresql["metadata"]["name"];
  const std::string pooler = cluster + (replica ? "-pooler-repl" : "-pooler");
  const auto labels = pooler_labels(postgresql, pooler, replica);
  const json container{{"name", "connection-pooler"},
                       {"image", kPgbouncerImage},
                       {"ports", json::array({json{{"containerPort", 5432}, {"protocol", "TCP"}}})}};
  std::vector<json> out;
  out.push_back(
      json{{"apiVersion", "apps/v1"},
           {"kind", "Deployment"},
           {"metadata", metadata_for(postgresql, pooler, labels)},
           {"spec",
            {{"replicas", kPoolerInstances},
             {"selector", {{"matchLabels", {{"connection-pooler", pooler}}}}},
             {"template",
              {{"metadata", {{"labels", labels}}}, {"spec", {{"containers", json::array({container})}}}}}}}});
  out.push_back(
      json{{"apiVersion", "v1"},
           {"kind", "Service"},
           {"metadata", metadata_for(postgresql, pooler, labels)},
           {"spec",
            {{"selector", {{"connection-pooler", pooler}}},
             {"ports", json::array({json{{"name", "postgresql"}, {"port", 5432}, {"targetPort", 5432}}})}}}});
  for (int i = 0; i < kPoolerInstances; ++i) {
    out.push_back(json{{"apiVersion", "v1"},
                       {"kind", "Pod"},
                       {"metadata", metadata_for(postgresql, pooler + "-sim-" + std::to_string(i), labels)},
                       {"spec", {{"containers", json::array({container})}}}});
  }
  return out;
}

// The part of an object the sim decides (the server adds the rest).
bool same_content(const json& live, const json& desired) {
  const auto& live_meta = live["metadata"];
  const auto& want_meta = desired["metadata"];
  if (live_meta.value("labels", json::object()) != want_meta["labels"]) return false;
  if (owner_uid(live) != owner_uid(desired)) return false;
  for (const char* field : {"spec", "data"}) {
    if (!desired.contains(field)) continue;
    if (!live.contains(field)) return false;
    // The server may default fields: compare only what the sim sets.
    const json patch = json::diff(live[field], desired[field]);
    for (const auto& op : patch) {
      if (op.value("op", "") != "remove") return false;
    }
  }
  return true;
}

}  // namespace

bool ZalandoSim::master_pooler_enabled(const json& spec) {
  const auto flag = spec.find("enableConnectionPooler");
  if (flag != spec.end() && flag->is_boolean()) return flag->get<bool>();
  const auto section = spec.find("connectionPooler");
  return section != spec.end() && section->is_object();
}

bool ZalandoSim::replica_pooler_enabled(const json& spec) {
  return spec.value("enableReplicaConnectionPooler", false);
}

json ZalandoSim::comparable_sidecars(const json& sidecars) {
  json out = json::array();
  if (!sidecars.is_array()) return out;
  for (const auto& sidecar : sidecars) {
    json kept = json::object();
    for (const char* field : {"name", "image", "ports", "env", "resources", "command"}) {
      if (sidecar.contains(field)) kept[field] = sidecar[field];
    }
    out.push_back(strip_empty(kept));
  }
  return out;
}

void ZalandoSim::State::ensure(const json& desired, bool replace_on_change) {
  const auto& meta = desired["metadata"];
  const auto live = api->get(desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"]);
  if (!live) {
    api->create(desired);
    return;
  }
  if (same_content(*live, desired)) return;
  if (replace_on_change) {
    api->remove(desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"]);
    api->create(desired);
    return;
  }
  json updated = desired;
  updated["metadata"]["resourceVersion"] = (*live)["metadata"]["resourceVersion"];
  api->update(updated);
}

void ZalandoSim::State::remove_unwanted(const std::string& api_version, const std::string& kind,
                                        const json& postgresql, const std::set<std::string>& wanted,
                                        const std::string& application) {
  const std::string ns = postgresql["metadata"]["namespace"];
  const std::string cluster = postgresql["metadata"]["name"];
  for (const auto& object : api->list(api_version, kind, ns)) {
    const auto labels = object["metadata"].value("labels", json::object());
    if (labels.value("cluster-name", "") != cluster || labels.value("application", "") != application)
      continue;
    if (owner_name(object) != cluster) continue;
    const std::string name = object["metadata"]["name"];
    if (!wanted.count(name)) api->remove(api_version, kind, ns, name);
  }
}

void ZalandoSim::State::sync_locked(const json& postgresql) {
  const auto& metadata = postgresql["metadata"];
  if (metadata.contains("deletionTimestamp")) return;
  const std::string ns = metadata["namespace"];
  const std::string name = metadata["name"];
  const std::string uid = metadata["uid"];
  const json& spec = postgresql["spec"];

  // Rolling restarts: Zalando rolls the StatefulSet when its pod template's
  // containers differ, the sidecars among them.
  const json sidecars = comparable_sidecars(spec.value("sidecars", json()));
  auto& seen = clusters[ns + "/" + name];
  if (seen.uid != uid) {
    seen = Seen{uid, sidecars, 0};
  } else if (seen.sidecars != sidecars) {
    ++seen.restarts;
    seen.sidecars = sidecars;
    std::cout << "zalando sim: rolling restart " << seen.restarts << " of " << ns << "/" << name << std::endl;
  }

  const int instances = spec.value("numberOfInstances", 1);
  std::set<std::string> pods;
  for (int i = 0; i < instances; ++i) {
    auto pod = database_pod(postgresql, i);
    pods.insert(pod["metadata"]["name"]);
    ensure(pod, true);
  }
  remove_unwanted("v1", "Pod", postgresql, pods, "spilo");
  ensure(zalando_service(postgresql, false), false);
  ensure(zalando_service(postgresql, true), false);

  std::vector<std::string> users{"postgres", "standby"};
  const json spec_users = spec.value("users", json::object());
  for (const auto& [user, flags] : spec_users.items()) {
    (void)flags;
    users.push_back(user);
  }
  const bool master_pooler = ZalandoSim::master_pooler_enabled(spec);
  const bool replica_pooler = ZalandoSim::replica_pooler_enabled(spec);
  if (master_pooler || replica_pooler) {
    users.push_back(spec.value("connectionPooler", json::object()).value("user", "pooler"));
  }
  for (const auto& user : users) ensure(credentials_secret(postgresql, user), false);

  std::set<std::string> pooler_pods, pooler_others;
  for (const bool replica : {false, true}) {
    if (!(replica ? replica_pooler : master_pooler)) continue;
    for (const auto& object : pooler_objects(postgresql, replica)) {
      ensure(object, object["kind"] == "Pod");
      (object["kind"] == "Pod" ? pooler_pods : pooler_others).insert(object["metadata"]["name"]);
    }
  }
  remove_unwanted("v1", "Pod", postgresql, pooler_pods, "db-connection-pooler");
  remove_unwanted("v1", "Service", postgresql, pooler_others, "db-connection-pooler");
  remove_unwanted("apps/v1", "Deployment", postgresql, pooler_others, "db-connection-pooler");

  if (postgresql.value("status", json::object()).value("PostgresClusterStatus", "") != "Running") {
    json with_status = postgresql;
    with_status["status"] = {{"PostgresClusterStatus", "Running"}};
    try {
      api->update_status(with_status);
    } catch (const kubefake::ApiError& error) {
      // A newer version exists: its own change event brings us back.
      if (error.code() != 409) throw;
    }
  }
}

void ZalandoSim::State::sync(const std::string& ns, const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mutex);
  if (!active) return;
  // The newest version, not the event's: two writers' hooks may arrive out of order.
  const auto postgresql = api->get(kApiVersion, "postgresql", ns, name);
  if (!postgresql) return;
  const bool outer = !t_in_sync;
  t_in_sync = true;
  try {
    sync_locked(*postgresql);
  } catch (...) {
    if (outer) t_in_sync = false;
    throw;
  }
  if (outer) t_in_sync = false;
}

void ZalandoSim::State::on_change(const std::string& type, const json& object) {
  const std::string kind = object.value("kind", "");
  const auto& metadata = object["metadata"];
  const std::string ns = metadata.value("namespace", "");
  if (kind == "postgresql") {
    if (type == "DELETED") {
      std::lock_guard<std::recursive_mutex> lock(mutex);
      const auto found = clusters.find(ns + "/" + metadata.value("name", ""));
      if (found != clusters.end() && found->second.uid == metadata.value("uid", "")) clusters.erase(found);
      return;
    }
    sync(ns, metadata.value("name", ""));
    return;
  }
  // Like a StatefulSet or ReplicaSet controller: a pod removed by someone
  // else (the garbage collector of an older owner, a test) comes back.
  if (type == "DELETED" && kind == "Pod" && !t_in_sync) {
    const std::string cluster = owner_name(object);
    if (!cluster.empty()) sync(ns, cluster);
  }
}

ZalandoSim::ZalandoSim(kubefake::FakeApiServer& api) : state_(std::make_shared<State>()) {
  state_->api = &api;
  std::weak_ptr<State> weak = state_;
  api.on_change([weak](const std::string& type, const json& object) {
    if (auto state = weak.lock()) state->on_change(type, object);
  });
}

ZalandoSim::~ZalandoSim() {
  std::lock_guard<std::recursive_mutex> lock(state_->mutex);
  state_->active = false;
}

int ZalandoSim::rolling_restarts(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(state_->mutex);
  const auto found = state_->clusters.find(ns + "/" + name);
  return found == state_->clusters.end() ? 0 : found->second.restarts;
}

int ZalandoSim::total_rolling_restarts() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mutex);
  int total = 0;
  for (const auto& [key, seen] : state_->clusters) total += seen.restarts;
  return total;
}

bool labels_match(const json& match_labels, const json& labels) {
  if (!match_labels.is_object()) return true;
  for (const auto& [key, value] : match_labels.items()) {
    const auto found = labels.find(key);
    if (found == labels.end() || *found != value) return false;
  }
  return true;
}

bool selector_matches(const json& selector, const json& object) {
  const json labels = object["metadata"].value("labels", json::object());
  if (!labels_match(selector.value("matchLabels", json::object()), labels)) return false;
  for (const auto& expression : selector.value("matchExpressions", json::array())) {
    const std::string key = expression.value("key", "");
    const std::string op = expression.value("operator", "");
    const json values = expression.value("values", json::array());
    const bool has = labels.contains(key);
    const bool listed = has && std::find(values.begin(), values.end(), labels[key]) != values.end();
    if ((op == "In" && !listed) || (op == "NotIn" && listed) || (op == "Exists" && !has) ||
        (op == "DoesNotExist" && has)) {
      return false;
    }
  }
  return true;
}

}  // namespace pgscope::e2e
