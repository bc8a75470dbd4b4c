// Server-side apply and managedFields bookkeeping, after structured-merge-diff's
// Updater (Apply: merge, prune what the applier dropped, detect conflicts;
// Update: ownership follows what changed).
#include "support/kube_schema/ssa.hpp"

#include <algorithm>
#include <stdexcept>

#include "support/kube_schema/object_paths.hpp"

namespace pgscope::kubefake {
namespace {

struct ManagerEntry {
  std::string manager, operation, api_version, time, subresource;
  FieldSet fields;
  bool same_ownership(const ManagerEntry& other) const {
    return manager == other.manager && operation == other.operation && api_version == other.api_version &&
           subresource == other.subresource && fields == other.fields;
  }
};

// Fields the API server never tracks ownership of (fieldmanager's stripmeta).
bool untracked(const FieldPath& path) {
  if (path.empty()) return true;
  if (path[0] == "f:apiVersion" || path[0] == "f:kind") return true;
  if (path[0] != "f:metadata" || path.size() < 2) return false;
  static const std::set<std::string> system_fields = {"f:name",
                                                      "f:namespace",
                                                      "f:uid",
                                                      "f:resourceVersion",
                                                      "f:generation",
                                                      "f:creationTimestamp",
                                                      "f:selfLink",
                                                      "f:managedFields",
                                                      "f:deletionTimestamp",
                                                      "f:deletionGracePeriodSeconds"};
  return system_fields.count(path[1]) > 0;
}

FieldSet tracked_fields(const json& schema, const json& object) {
  FieldSet fields;
  if (object.is_null()) return fields;
  for (const FieldPath& path : fields_of(schema, object)) {
    if (!untracked(path)) fields.insert(path);
  }
  return fields;
}

FieldSet minus(const FieldSet& a, const FieldSet& b) {
  FieldSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

FieldSet plus(const FieldSet& a, const FieldSet& b) {
  FieldSet out = a;
  out.insert(b.begin(), b.end());
  return out;
}

std::vector<ManagerEntry> read_managed_fields(const json& object) {
  std::vector<ManagerEntry> entries;
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return entries;
  const json managed = object["metadata"].value("managedFields", json::array());
  if (!managed.is_array()) throw std::invalid_argument("metadata.managedFields must be a list");
  for (const json& raw : managed) {
    if (!raw.is_object()) throw std::invalid_argument("metadata.managedFields entries must be objects");
    ManagerEntry entry;
    entry.manager = raw.value("manager", "");
    entry.operation = raw.value("operation", "");
    entry.api_version = raw.value("apiVersion", "");
    entry.time = raw.value("time", "");
    entry.subresource = raw.value("subresource", "");
    entry.fields = decode_fields_v1(raw.value("fieldsV1", json::object()));
    entries.push_back(std::move(entry));
  }
  return entries;
}

// Ordered as the API server stores them: Apply before Update, then by time,
// then by manager.
json write_managed_fields(std::vector<ManagerEntry> entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const ManagerEntry& a, const ManagerEntry& b) {
    if (a.operation != b.operation) return a.operation < b.operation;
    if (a.time != b.time) return a.time < b.time;
    if (a.manager != b.manager) return a.manager < b.manager;
    return a.subresource < b.subresource;
  });
  json out = json::array();
  for (const ManagerEntry& entry : entries) {
    json raw = {{"manager", entry.manager},        {"operation", entry.operation},
                {"apiVersion", entry.api_version}, {"time", entry.time},
                {"fieldsType", "FieldsV1"},        {"fieldsV1", encode_fields_v1(entry.fields)}};
    if (!entry.subresource.empty()) raw["subresource"] = entry.subresource;
    out.push_back(std::move(raw));
  }
  return out;
}

json without_managed_fields(const json& object) {
  if (!object.is_object()) return object;
  json copy = object;
  if (copy.contains("metadata") && copy["metadata"].is_object()) {
    copy["metadata"].erase("managedFields");
    if (copy["metadata"].empty()) copy.erase("metadata");
  }
  return copy;
}

json without_nulls(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (auto entry = value.begin(); entry != value.end(); ++entry) {
      if (!entry.value().is_null()) out[entry.key()] = without_nulls(entry.value());
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value) out.push_back(without_nulls(item));
    return out;
  }
  return value;
}

// An applied configuration as the merge takes it: no nulls, and none of the
// metadata the server owns (an apply cannot set managedFields or uid).
json applied_configuration(const json& applied) {
  if (!applied.is_object()) throw std::invalid_argument("an applied configuration must be an object");
  json config = without_nulls(applied);
  if (config.contains("metadata") && config["metadata"].is_object()) {
    for (const char* field : {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                              "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
      config["metadata"].erase(field);
    }
  }
  return config;
}

struct Comparison {
  FieldSet added, modified, removed;
  bool same() const { return added.empty() && modified.empty() && removed.empty(); }
};

Comparison compare(const json& schema, const json& before, const json& after) {
  const FieldSet old_fields = tracked_fields(schema, before);
  const FieldSet new_fields = tracked_fields(schema, after);
  Comparison result;
  result.added = minus(new_fields, old_fields);
  result.removed = minus(old_fields, new_fields);
  for (const FieldPath& path : new_fields) {
    if (!old_fields.count(path)) continue;
    if (detail::has_descendant(old_fields, path) || detail::has_descendant(new_fields, path)) continue;
    const json* old_value = detail::value_at(schema, before, path);
    const json* new_value = detail::value_at(schema, after, path);
    if (old_value && new_value && *old_value != *new_value) result.modified.insert(path);
  }
  return result;
}

std::vector<ManagerEntry>::iterator find_entry(std::vector<ManagerEntry>& entries, const std::string& manager,
                                               const std::string& operation) {
  return std::find_if(entries.begin(), entries.end(), [&](const ManagerEntry& e) {
    return e.manager == manager && e.operation == operation && e.subresource.empty();
  });
}

void drop_empty(std::vector<ManagerEntry>& entries) {
  entries.erase(
      std::remove_if(entries.begin(), entries.end(), [](const ManagerEntry& e) { return e.fields.empty(); }),
      entries.end());
}

bool same_ownership(const std::vector<ManagerEntry>& a, const std::vector<ManagerEntry>& b) {
  if (a.size() != b.size()) return false;
  for (const ManagerEntry& entry : a) {
    const bool found = std::any_of(b.begin(), b.end(),
                                   [&](const ManagerEntry& other) { return entry.same_ownership(other); });
    if (!found) return false;
  }
  return true;
}

json with_managed_fields(json object, const std::vector<ManagerEntry>& entries) {
  if (entries.empty()) {
    if (object.contains("metadata") && object["metadata"].is_object())
      object["metadata"].erase("managedFields");
    return object;
  }
  object["metadata"]["managedFields"] = write_managed_fields(entries);
  return object;
}

}  // namespace

ApplyResult server_side_apply(const json& schema, const json& live, const json& applied,
                              const std::string& manager, bool force, const std::string& now) {
  if (manager.empty()) throw std::invalid_argument("fieldManager is required for apply");
  const json config = applied_configuration(applied);
  const std::vector<ManagerEntry> old_entries = read_managed_fields(live);
  const json live_body = without_managed_fields(live);
  json merged = detail::merge_applied(schema, live_body, config);

  std::vector<ManagerEntry> entries = old_entries;
  auto own = find_entry(entries, manager, "Apply");
  const FieldSet last_applied = own == entries.end() ? FieldSet{} : own->fields;
  const FieldSet applied_fields = tracked_fields(schema, config);

  // What this manager applied before and dropped now goes, unless another
  // manager (or this apply, through a parent) still owns it or something below it.
  FieldSet owned_after = applied_fields;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it != own) owned_after = plus(owned_after, it->fields);
  }
  for (const FieldPath& path : minus(last_applied, owned_after)) {
    if (!detail::has_descendant(owned_after, path)) detail::remove_at(schema, merged, path, owned_after);
  }

  const Comparison changes = compare(schema, live_body, merged);
  const FieldSet changed = plus(changes.modified, changes.added);
  ApplyResult result;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it == own) continue;
    for (const FieldPath& path : it->fields) {
      if (changed.count(path)) result.conflicts.push_back({it->manager, field_path_string(path)});
    }
  }
  if (!result.conflicts.empty() && !force) {
    result.object = live;
    return result;
  }
  result.conflicts.clear();  // forced: ownership moves below

  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it != own) it->fields = minus(minus(it->fields, changed), changes.removed);
  }
  if (own == entries.end()) {
    entries.push_back(ManagerEntry{manager, "Apply", "", "", "", {}});
    own = entries.end() - 1;
  }
  own->api_version = config.value("apiVersion", "");
  own->fields = applied_fields;
  drop_empty(entries);

  const bool object_changed = live_body != merged;
  if (!object_changed && same_ownership(entries, old_entries)) {
    result.object = live;
    return result;
  }
  for (ManagerEntry& entry : entries) {
    if (entry.manager == manager && entry.operation == "Apply" && entry.subresource.empty()) entry.time = now;
  }
  result.object = with_managed_fields(merged, entries);
  result.changed = true;
  return result;
}

json track_update(const json& schema, const json& before, const json& after, const std::string& manager,
                  const std::string& now) {
  if (!after.is_object()) throw std::invalid_argument("track_update: the written object must be an object");
  const json before_body = without_managed_fields(before);
  const json after_body = without_managed_fields(after);
  const std::vector<ManagerEntry> old_entries = read_managed_fields(before);
  const Comparison changes = compare(schema, before_body, after_body);
  if (changes.same()) return with_managed_fields(after_body, old_entries);

  std::vector<ManagerEntry> entries = old_entries;
  const FieldSet changed = plus(changes.modified, changes.added);
  auto own = find_entry(entries, manager, "Update");
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it != own) it->fields = minus(minus(it->fields, changed), changes.removed);
  }
  if (own == entries.end()) {
    entries.push_back(ManagerEntry{manager, "Update", "", "", "", {}});
    own = entries.end() - 1;
  }
  own->fields = plus(minus(own->fields, changes.removed), changed);
  own->api_version = after_body.value("apiVersion", "");
  own->time = now;
  drop_empty(entries);
  return with_managed_fields(after_body, entries);
}

}  // namespace pgscope::kubefake
