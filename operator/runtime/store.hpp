#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <vector>

namespace pgscope::op {

using json = nlohmann::json;
using ObjectPtr = std::shared_ptr<const json>;

// What a Store::replace changed, for a reflector to turn into events: after a
// relist nothing tells it about objects deleted while it was not watching
// (research pitfall 3), only this diff does.
struct StoreDiff {
  std::vector<ObjectPtr> removed;   // last known state of the keys that vanished
  std::vector<ObjectPtr> added;     // keys that were not there before
  std::vector<ObjectPtr> modified;  // keys whose resourceVersion (or content) changed
};

// The cache of one kind of object, keyed "namespace/name" ("name" for
// cluster-scoped objects), as client-go's cache.Store.
//
// Thread-safe: any number of readers and writers. Objects are immutable once
// stored and handed out as shared pointers, so a reader keeps a consistent
// object while the reflector replaces it.
class Store {
 public:
  static std::string key(const std::string& ns, const std::string& name);
  // The key of an object from its metadata; throws std::invalid_argument when
  // metadata.name is missing (a BOOKMARK object, say).
  static std::string key_of(const json& object);

  ObjectPtr get(const std::string& ns, const std::string& name) const;
  // Objects in namespace ns ("" = all), sorted by key.
  std::vector<ObjectPtr> list(const std::string& ns = "") const;
  // Objects for which matches returns true, sorted by key.
  std::vector<ObjectPtr> select(const std::function<bool(const json&)>& matches) const;
  std::size_t size() const;

  // Makes the objects of scope ("" = every namespace) exactly items; returns
  // the keys that vanished. Objects of other namespaces stay, so reflectors
  // for different namespaces may share one store.
  std::vector<std::string> replace(const std::vector<json>& items, const std::string& scope = "");
  StoreDiff replace_with_diff(const std::vector<json>& items, const std::string& scope = "");

  // ADDED/MODIFIED store the object, DELETED removes it, BOOKMARK is ignored
  // (it carries no object). Any other type throws std::invalid_argument.
  void apply_event(const std::string& type, const json& object);
  // apply_event, but only while the object's key still holds expected
  // (nullptr: no object). For a controller's own write: its answer can come
  // after the watch already delivered a newer state (someone's edit right
  // after the write), which the older answer must not overwrite, or the
  // cache would hide that edit until the next resync. Returns whether it
  // applied.
  bool apply_event_if_current(const std::string& type, const json& object, const ObjectPtr& expected);

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, ObjectPtr> objects_;
};

}  // namespace pgscope::op
