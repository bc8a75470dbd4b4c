// The garbage collector of kube-controller-manager, run after every committed
// change and periodically: dependents whose owners are all gone are deleted,
// dangling references beside a live owner are removed, Foreground owners wait
// for their blocking dependents, Orphan owners release theirs. An owner counts
// as present only if an object of its kind and name with its uid exists in the
// dependent's namespace (or cluster scope): a cross-namespace reference is
// absent, and the dependent gets an OwnerRefInvalidNamespace Warning Event.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

namespace {

const char* const kManager = "generic-garbage-collector";

struct Node {
  ResourceTypePtr type;
  std::shared_ptr<const json> object;
  std::string ns() const { return (*object)["metadata"].value("namespace", ""); }
  std::string name() const { return (*object)["metadata"].value("name", ""); }
  std::string uid() const { return (*object)["metadata"].value("uid", ""); }
  bool deleting() const { return (*object)["metadata"].contains("deletionTimestamp"); }
  bool has_finalizer(const std::string& finalizer) const {
    const json& finalizers = (*object)["metadata"].value("finalizers", json::array());
    return std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end();
  }
  json owner_references() const { return (*object)["metadata"].value("ownerReferences", json::array()); }
};

enum class OwnerState { kPresent, kAbsent, kAbsentOtherNamespace, kUnverifiable };

std::string hex_nanos() {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::ostringstream text;
  text << std::hex << nanos;
  return text.str();
}

}  // namespace

void FakeApiServer::Impl::collect_garbage() {
  // A hook that writes from inside a collector pass must not start another.
  thread_local bool collecting = false;
  if (collecting) return;
  struct Reentry {
    bool& flag;
    explicit Reentry(bool& f) : flag(f) { flag = true; }
    ~Reentry() { flag = false; }
  } reentry(collecting);
  std::lock_guard<std::mutex> pass_lock(gc_mutex);

  auto target_of = [](const Node& node) {
    WriteTarget target;
    target.type = node.type;
    target.version = node.type->versions.front();
    target.ns = node.ns();
    target.name = node.name();
    target.manager = kManager;
    return target;
  };

  for (int pass = 0; pass < 100; ++pass) {
    std::vector<Node> nodes;
    {
      std::lock_guard<std::mutex> lock(store.mutex);
      for (const auto& type : registry.served()) {
        for (const auto& [key, object] : store.objects(type->key())) nodes.push_back({type, object});
      }
    }
    std::map<std::string, const Node*> by_uid;
    for (const auto& node : nodes) by_uid[node.uid()] = &node;

    auto owner_state = [&](const Node& dependent, const json& reference) {
      auto owner_type = registry.by_kind(reference.value("apiVersion", ""), reference.value("kind", ""));
      if (!owner_type) return OwnerState::kUnverifiable;  // kind not served: the real GC retries forever
      if (owner_type->namespaced && !dependent.type->namespaced) return OwnerState::kUnverifiable;
      std::string uid = reference.value("uid", "");
      auto owner = by_uid.find(uid);
      std::string owner_ns = owner_type->namespaced ? dependent.ns() : "";
      if (owner != by_uid.end() && owner->second->type == owner_type &&
          owner->second->name() == reference.value("name", "") && owner->second->ns() == owner_ns) {
        return OwnerState::kPresent;
      }
      if (owner != by_uid.end() && owner->second->ns() != owner_ns) return OwnerState::kAbsentOtherNamespace;
      return OwnerState::kAbsent;
    };
    auto dependents_of = [&](const Node& owner) {
      std::vector<std::pair<const Node*, json>> dependents;
      for (const auto& node : nodes) {
        if (owner.type->namespaced && node.ns() != owner.ns()) continue;
        for (const auto& reference : node.owner_references()) {
          if (reference.value("uid", "") == owner.uid()) dependents.push_back({&node, reference});
        }
      }
      return dependents;
    };

    bool changed = false;
    auto attempt = [&](auto&& action) {
      try {
        if (action().changed) changed = true;
      } catch (const ApiError&) {
        // Gone or changed meanwhile: the next pass sees the new state.
      }
    };

    for (const auto& node : nodes) {
      if (node.deleting() && node.has_finalizer("foregroundDeletion")) {
        bool blocked = false;
        for (const auto& entry : dependents_of(node)) {
          const Node* dependent = entry.first;
          if (entry.second.value("blockOwnerDeletion", false)) blocked = true;
          if (!dependent->deleting()) {
            DeleteOptions foreground;
            foreground.propagation = "Foreground";
            attempt([&] { return delete_object(target_of(*dependent), foreground); });
          }
        }
        if (!blocked) {
          attempt([&] {
            return mutate_object(target_of(node), [](json& object) {
              json& finalizers = object["metadata"]["finalizers"];
              finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), "foregroundDeletion"),
                               finalizers.end());
              return true;
            });
          });
        }
        continue;
      }
      if (node.deleting() && node.has_finalizer("orphan")) {
        std::string owner_uid = node.uid();
        for (const auto& entry : dependents_of(node)) {
          const Node* dependent = entry.first;
          attempt([&] {
            return mutate_object(target_of(*dependent), [&](json& object) {
              json& references = object["metadata"]["ownerReferences"];
              references.erase(
                  std::remove_if(references.begin(), references.end(),
                                 [&](const json& ref) { return ref.value("uid", "") == owner_uid; }),
                  references.end());
              if (references.empty()) object["metadata"].erase("ownerReferences");
              return true;
            });
          });
        }
        attempt([&] {
          return mutate_object(target_of(node), [](json& object) {
            json& finalizers = object["metadata"]["finalizers"];
            finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), "orphan"), finalizers.end());
            return true;
          });
        });
        continue;
      }
      json references = node.owner_references();
      if (references.empty() || node.deleting()) continue;
      std::vector<std::string> dangling;
      std::vector<json> other_namespace;
      bool solid = false;
      for (const auto& reference : references) {
        switch (owner_state(node, reference)) {
          case OwnerState::kPresent:
          case OwnerState::kUnverifiable:
            solid = true;
            break;
          case OwnerState::kAbsentOtherNamespace:
            other_namespace.push_back(reference);
            dangling.push_back(reference.value("uid", ""));
            break;
          case OwnerState::kAbsent:
            dangling.push_back(reference.value("uid", ""));
            break;
        }
      }
      if (dangling.empty()) continue;
      for (const auto& reference : other_namespace) {
        auto event_type = registry.by_kind("v1", "Event");
        if (!event_type) break;
        json event = {{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", node.name() + "." + hex_nanos()}, {"namespace", node.ns()}}},
                      {"involvedObject",
                       {{"apiVersion", node.type->api_version(node.type->versions.front())},
                        {"kind", node.type->kind},
                        {"name", node.name()},
                        {"namespace", node.ns()},
                        {"uid", node.uid()}}},
                      {"reason", "OwnerRefInvalidNamespace"},
                      {"message", "ownerRef [" + reference.value("apiVersion", "") + "/" +
                                      reference.value("kind", "") + ", namespace: " + node.ns() + ", name: " +
                                      reference.value("name", "") + ", uid: " + reference.value("uid", "") +
                                      "] does not exist in namespace \"" + node.ns() + "\""},
                      {"type", "Warning"},
                      {"source", {{"component", "garbage-collector-controller"}}},
                      {"firstTimestamp", now_rfc3339()},
                      {"lastTimestamp", now_rfc3339()},
                      {"count", 1}};
        WriteTarget event_target;
        event_target.type = event_type;
        event_target.version = "v1";
        event_target.ns = node.ns();
        event_target.manager = kManager;
        attempt([&] { return create_object(event_target, event); });
      }
      if (!solid) {
        attempt([&] { return delete_object(target_of(node), DeleteOptions{}); });
      } else {
        attempt([&] {
          return mutate_object(target_of(node), [&](json& object) {
            json& refs = object["metadata"]["ownerReferences"];
            refs.erase(std::remove_if(refs.begin(), refs.end(),
                                      [&](const json& ref) {
                                        return std::find(dangling.begin(), dangling.end(),
                                                         ref.value("uid", "")) != dangling.end();
                                      }),
                       refs.end());
            return true;
          });
        });
      }
    }
    if (!changed) break;
  }
}

void FakeApiServer::Impl::gc_loop() {
  std::unique_lock<std::mutex> lock(gc_wait_mutex);
  while (!gc_stop) {
    gc_wake.wait_for(lock, options.gc_interval);
    if (gc_stop) break;
    lock.unlock();
    collect_garbage();
    lock.lock();
  }
}

}  // namespace pgscope::kubefake
