#include "support/kube_fake/object_store.hpp"

#include <algorithm>

#include "support/kube_fake/api_status.hpp"

namespace pgscope::kubefake {

std::string object_key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string object_key(const json& object) {
  const json& metadata = object.at("metadata");
  return object_key(metadata.value("namespace", ""), metadata.value("name", ""));
}

std::shared_ptr<const json> ObjectStore::find(const std::string& resource, const std::string& key) const {
  auto objects = objects_.find(resource);
  if (objects == objects_.end()) return nullptr;
  auto it = objects->second.find(key);
  return it == objects->second.end() ? nullptr : it->second;
}

const ObjectMap& ObjectStore::objects(const std::string& resource) const {
  static const ObjectMap none;
  auto it = objects_.find(resource);
  return it == objects_.end() ? none : it->second;
}

std::vector<std::string> ObjectStore::resources() const {
  std::vector<std::string> names;
  for (const auto& [name, objects] : objects_) {
    if (!objects.empty()) names.push_back(name);
  }
  return names;
}

std::shared_ptr<const json> ObjectStore::commit(const std::string& type, const std::string& resource,
                                                json object) {
  ++revision_;
  object["metadata"]["resourceVersion"] = std::to_string(revision_);
  auto stored = std::make_shared<const json>(std::move(object));
  std::string key = object_key(*stored);
  ObjectMap& objects = objects_[resource];
  StoredEvent event;
  event.revision = revision_;
  event.type = type;
  event.resource = resource;
  event.ns = (*stored)["metadata"].value("namespace", "");
  event.object = stored;
  auto existing = objects.find(key);
  if (existing != objects.end()) event.previous = existing->second;
  if (type == "DELETED") {
    objects.erase(key);
  } else {
    objects[key] = stored;
  }
  history_.push_back(std::move(event));
  while (history_.size() > history_limit_) {
    trimmed_ = history_.front().revision;
    oldest_replayable_ = std::max(oldest_replayable_, trimmed_);
    history_.pop_front();
  }
  changed.notify_all();
  return stored;
}

ObjectMap ObjectStore::state_at(const std::string& resource, std::uint64_t revision) const {
  if (revision < oldest_replayable_) {
    throw expired("too old resource version: " + std::to_string(revision) + " (" +
                  std::to_string(oldest_replayable_) + ")");
  }
  ObjectMap state = objects(resource);
  // Undo, newest first, every change made after `revision`.
  for (auto it = history_.rbegin(); it != history_.rend() && it->revision > revision; ++it) {
    if (it->resource != resource) continue;
    std::string key = object_key(*it->object);
    if (it->previous) {
      state[key] = it->previous;
    } else {
      state.erase(key);
    }
  }
  return state;
}

std::vector<StoredEvent> ObjectStore::events_after(std::uint64_t after, const std::string& resource) const {
  auto first =
      std::upper_bound(history_.begin(), history_.end(), after,
                       [](std::uint64_t rev, const StoredEvent& event) { return rev < event.revision; });
  std::vector<StoredEvent> events;
  for (auto it = first; it != history_.end(); ++it) {
    if (resource.empty() || it->resource == resource) events.push_back(*it);
  }
  return events;
}

void ObjectStore::compact() {
  // Moved on by one, as a real cluster's unrelated writes would: every
  // resourceVersion handed out before is now too old.
  ++revision_;
  oldest_replayable_ = revision_;
  changed.notify_all();
}

}  // namespace pgscope::kubefake
