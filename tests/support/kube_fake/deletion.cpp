// DELETE: preconditions, propagation policies and finalizers. An object with
// finalizers is only marked (deletionTimestamp, a MODIFIED event) and goes
// away when its last finalizer is removed (commit_update_locked); Foreground
// and Orphan deletion add the finalizers the garbage collector acts on.
#include <algorithm>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

namespace {

bool add_finalizer(json& metadata, const std::string& finalizer) {
  json& finalizers = metadata["finalizers"];
  if (!finalizers.is_array()) finalizers = json::array();
  if (std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end()) return false;
  finalizers.push_back(finalizer);
  return true;
}

}  // namespace

WriteResult FakeApiServer::Impl::delete_object(const WriteTarget& target, const DeleteOptions& options) {
  const ResourceType& type = *target.type;
  if (options.propagation != "Background" && options.propagation != "Foreground" &&
      options.propagation != "Orphan") {
    throw invalid("DeleteOptions", {"meta.k8s.io", "", ""},
                  {{"FieldValueNotSupported",
                    "Unsupported value: \"" + options.propagation +
                        "\": supported values: \"Background\", \"Foreground\", \"Orphan\"",
                    "propagationPolicy"}});
  }
  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    auto live = store.find(type.key(), object_key(target.ns, target.name));
    if (!live) throw not_found(type.name_of(target.name));
    const json& live_metadata = (*live)["metadata"];
    std::string uid = live_metadata.value("uid", "");
    std::string resource_version = live_metadata.value("resourceVersion", "");
    if (options.uid && *options.uid != uid) {
      throw conflict(type.name_of(target.name), "Precondition failed: UID in precondition: " + *options.uid +
                                                    ", UID in object meta: " + uid);
    }
    if (options.resource_version && *options.resource_version != resource_version) {
      throw conflict(type.name_of(target.name),
                     "Precondition failed: ResourceVersion in precondition: " + *options.resource_version +
                         ", ResourceVersion in object meta: " + resource_version);
    }
    json candidate = *live;
    json& metadata = candidate["metadata"];
    bool marked = metadata.contains("deletionTimestamp");
    bool finalizers_added = false;
    if (options.propagation == "Foreground") finalizers_added = add_finalizer(metadata, "foregroundDeletion");
    if (options.propagation == "Orphan") finalizers_added = add_finalizer(metadata, "orphan");
    bool has_finalizers = metadata.contains("finalizers") && !metadata["finalizers"].empty();
    if (!has_finalizers) {
      auto stored = store.commit("DELETED", type.key(), std::move(candidate));
      json details = {{"name", target.name}, {"kind", type.plural}, {"uid", uid}};
      if (!type.group.empty()) details["group"] = type.group;
      result.object = {{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"metadata", json::object()},
                       {"status", "Success"},
                       {"details", details}};
      result.changed = true;
      result.changes.push_back({"DELETED", *stored});
    } else if (marked && !finalizers_added) {
      result.object = as_version(type, target.version, *live);
      result.code = 202;
    } else {
      if (!marked) {
        metadata["deletionTimestamp"] = now_rfc3339();
        metadata["deletionGracePeriodSeconds"] = 0;
        // As the registry does on graceful deletion: the desired state changed.
        if (metadata.contains("generation"))
          metadata["generation"] = metadata["generation"].get<long long>() + 1;
      }
      auto stored = store.commit("MODIFIED", type.key(), std::move(candidate));
      result.object = as_version(type, target.version, *stored);
      result.code = 202;
      result.changed = true;
      result.changes.push_back({"MODIFIED", *stored});
    }
  }
  publish(result.changes);
  return result;
}

}  // namespace pgscope::kubefake
