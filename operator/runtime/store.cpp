#include "operator/runtime/store.hpp"

#include <mutex>
#include <stdexcept>

namespace pgscope::op {
namespace {

std::string text_at(const json& object, const char* field) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

bool in_scope(const std::string& key, const std::string& scope) {
  return scope.empty() || key.compare(0, scope.size() + 1, scope + "/") == 0;
}

// resourceVersions may only be compared for equality (research pitfall 1);
// without them, compare the content.
bool changed(const json& before, const json& after) {
  std::string rv_before = text_at(before, "resourceVersion");
  std::string rv_after = text_at(after, "resourceVersion");
  if (!rv_before.empty() && !rv_after.empty()) return rv_before != rv_after;
  return before != after;
}

}  // namespace

std::string Store::key(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string Store::key_of(const json& object) {
  std::string name = text_at(object, "name");
  if (name.empty()) {
    throw std::invalid_argument("object without metadata.name cannot be cached: " +
                                object.dump().substr(0, 200));
  }
  return key(text_at(object, "namespace"), name);
}

ObjectPtr Store::get(const std::string& ns, const std::string& name) const {
  std::shared_lock lock(mutex_);
  auto found = objects_.find(key(ns, name));
  return found == objects_.end() ? nullptr : found->second;
}

std::vector<ObjectPtr> Store::list(const std::string& ns) const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> result;
  for (const auto& [key, object] : objects_) {
    if (in_scope(key, ns)) result.push_back(object);
  }
  return result;
}

std::vector<ObjectPtr> Store::select(const std::function<bool(const json&)>& matches) const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> result;
  for (const auto& entry : objects_) {
    if (matches(*entry.second)) result.push_back(entry.second);
  }
  return result;
}

std::size_t Store::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

std::vector<std::string> Store::replace(const std::vector<json>& items, const std::string& scope) {
  std::vector<std::string> keys;
  for (const auto& object : replace_with_diff(items, scope).removed) keys.push_back(key_of(*object));
  return keys;
}

StoreDiff Store::replace_with_diff(const std::vector<json>& items, const std::string& scope) {
  // Build the new objects before taking the lock: the reflector's list may be large.
  std::map<std::string, ObjectPtr> incoming;
  for (const auto& item : items) {
    std::string item_key = key_of(item);
    if (!in_scope(item_key, scope)) {
      throw std::invalid_argument("object " + item_key + " is outside the replaced namespace " + scope);
    }
    incoming[item_key] = std::make_shared<const json>(item);
  }
  StoreDiff diff;
  std::unique_lock lock(mutex_);
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (in_scope(it->first, scope) && incoming.count(it->first) == 0) {
      diff.removed.push_back(it->second);
      it = objects_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [item_key, object] : incoming) {
    auto existing = objects_.find(item_key);
    if (existing == objects_.end()) {
      diff.added.push_back(object);
      objects_.emplace(item_key, object);
    } else {
      if (changed(*existing->second, *object)) diff.modified.push_back(object);
      existing->second = object;
    }
  }
  return diff;
}

void Store::apply_event(const std::string& type, const json& object) {
  if (type == "BOOKMARK") return;
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    throw std::invalid_argument("unknown watch event type \"" + type + "\"");
  }
  std::string object_key = key_of(object);
  auto stored = type == "DELETED" ? nullptr : std::make_shared<const json>(object);
  std::unique_lock lock(mutex_);
  if (type == "DELETED") {
    objects_.erase(object_key);
  } else {
    objects_[object_key] = std::move(stored);
  }
}

bool Store::apply_event_if_current(const std::string& type, const json& object, const ObjectPtr& expected) {
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    throw std::invalid_argument("unknown watch event type \"" + type + "\"");
  }
  std::string object_key = key_of(object);
  auto stored = type == "DELETED" ? nullptr : std::make_shared<const json>(object);
  std::unique_lock lock(mutex_);
  auto found = objects_.find(object_key);
  const ObjectPtr current = found == objects_.end() ? nullptr : found->second;
  if (current != expected) return false;
  if (type == "DELETED") {
    if (found != objects_.end()) objects_.erase(found);
  } else {
    objects_[object_key] = std::move(stored);
  }
  return true;
}

}  // namespace pgscope::op
