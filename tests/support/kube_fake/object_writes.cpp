// Create, replace (PUT), merge/JSON patch and server-side apply: the request
// body checks of each, then one common tail (commit_update_locked) with the
// rules kube-apiserver applies to every update.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>

#include "support/kube_fake/server_impl.hpp"
#include "support/kube_schema/ssa.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::kubefake {

namespace {

// Set by the server, never taken from a request body.
const char* const kSystemMetadata[] = {
    "uid",           "resourceVersion",   "creationTimestamp",          "generation",
    "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"};

json without_system_metadata(json object) {
  if (object.contains("metadata") && object["metadata"].is_object()) {
    for (const char* field : kSystemMetadata) object["metadata"].erase(field);
  }
  return object;
}

void copy_system_metadata(const json& from, json& to) {
  json& metadata = to["metadata"];
  for (const char* field : kSystemMetadata) {
    if (from["metadata"].contains(field)) {
      metadata[field] = from["metadata"][field];
    } else {
      metadata.erase(field);
    }
  }
}

// What a no-op write leaves equal.
json comparable(json object) {
  object["metadata"].erase("resourceVersion");
  object["metadata"].erase("managedFields");
  return object;
}

// What metadata.generation counts changes of.
json generation_part(const ResourceType& type, json object) {
  object.erase("metadata");
  if (type.status_subresource) object.erase("status");
  return object;
}

std::string cause_reason(const std::string& message) {
  if (message.rfind("Required value", 0) == 0) return "FieldValueRequired";
  if (message.rfind("Unsupported value", 0) == 0) return "FieldValueNotSupported";
  if (message.rfind("Duplicate value", 0) == 0) return "FieldValueDuplicate";
  if (message.rfind("Forbidden", 0) == 0) return "FieldValueForbidden";
  return "FieldValueInvalid";
}

std::string random_suffix(std::size_t length) {
  // k8s.io/apimachinery/pkg/util/rand's alphabet: no vowels, no confusable digits.
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  static std::mt19937_64 random{std::random_device{}()};
  static std::mutex random_mutex;
  std::lock_guard<std::mutex> lock(random_mutex);
  std::uniform_int_distribution<int> pick(0, sizeof(alphabet) - 2);
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += alphabet[pick(random)];
  return text;
}

std::string random_uid() {
  static std::mt19937_64 random{std::random_device{}()};
  static std::mutex random_mutex;
  std::lock_guard<std::mutex> lock(random_mutex);
  static const char hex[] = "0123456789abcdef";
  std::string uid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uid += '-';
    int digit = static_cast<int>(random() & 15);
    if (i == 12) digit = 4;                // version 4
    if (i == 16) digit = 8 | (digit & 3);  // variant 10xx
    uid += hex[digit];
  }
  return uid;
}

std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

json parse_body(const std::string& body, bool allow_yaml) {
  try {
    return json::parse(body);
  } catch (const json::exception& json_error) {
    if (allow_yaml) {
      try {
        auto documents = parse_yaml_documents(body, "request body");
        if (documents.size() == 1) return documents.front();
        throw bad_request("the apply body must be one YAML or JSON document, found " +
                          std::to_string(documents.size()));
      } catch (const std::runtime_error& yaml_error) {
        if (dynamic_cast<const ApiError*>(&yaml_error) != nullptr) throw;
        throw bad_request(std::string("error decoding YAML: ") + yaml_error.what());
      }
    }
    throw bad_request(std::string("couldn't get version/kind; json parse error: ") + json_error.what());
  }
}

ApiError precondition_failed(const WriteTarget& target, const std::string& what, const std::string& expected,
                             const std::string& actual) {
  return conflict(target.type->name_of(target.name), "Precondition failed: " + what +
                                                         " in precondition: " + expected + ", " + what +
                                                         " in object meta: " + actual);
}

// Fills apiVersion/kind/namespace from the URL and rejects a body that names another.
void check_identity(const WriteTarget& target, json& body, bool name_required) {
  if (!body.is_object()) throw bad_request("the request body is not a JSON object");
  const ResourceType& type = *target.type;
  std::string api_version = type.api_version(target.version);
  if (!body.contains("apiVersion")) body["apiVersion"] = api_version;
  if (!body.contains("kind")) body["kind"] = type.kind;
  if (body["apiVersion"] != api_version) {
    throw bad_request("the API version in the data (" + body["apiVersion"].dump() +
                      ") does not match the expected API version (" + api_version + ")");
  }
  if (body["kind"] != type.kind) {
    throw bad_request("the kind in the data (" + body["kind"].dump() +
                      ") does not match the expected kind (" + type.kind + ")");
  }
  json& metadata = body["metadata"];
  if (metadata.is_null()) metadata = json::object();
  if (!metadata.is_object()) throw bad_request("metadata must be an object");
  if (type.namespaced) {
    std::string ns = metadata.value("namespace", "");
    if (ns.empty()) {
      metadata["namespace"] = target.ns;
    } else if (ns != target.ns) {
      throw bad_request(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
  } else {
    metadata.erase("namespace");
  }
  if (name_required) {
    std::string name = metadata.value("name", "");
    if (name.empty()) {
      throw invalid(type.kind, type.name_of(""),
                    {{"FieldValueRequired", "Required value: name is required", "metadata.name"}});
    }
    if (name != target.name) {
      throw bad_request("the name of the object (" + name + ") does not match the name on the URL (" +
                        target.name + ")");
    }
  }
}

void check_resource_version_precondition(const WriteTarget& target, const json& body, const json& live) {
  const json& metadata = body.value("metadata", json::object());
  if (metadata.contains("resourceVersion") && metadata["resourceVersion"].is_string() &&
      !metadata["resourceVersion"].get<std::string>().empty() &&
      metadata["resourceVersion"] != live["metadata"]["resourceVersion"]) {
    throw conflict_modified(target.type->name_of(target.name));
  }
  if (metadata.contains("uid") && metadata["uid"].is_string() &&
      !metadata["uid"].get<std::string>().empty() && metadata["uid"] != live["metadata"]["uid"]) {
    throw precondition_failed(target, "UID", metadata["uid"].get<std::string>(),
                              live["metadata"]["uid"].get<std::string>());
  }
}

std::string conflict_message(const std::vector<ApplyConflict>& conflicts, const std::string& api_version) {
  std::map<std::string, std::vector<std::string>> fields_by_manager;
  for (const auto& conflict : conflicts) fields_by_manager[conflict.manager].push_back(conflict.field);
  std::string message = "Apply failed with " + std::to_string(conflicts.size()) +
                        (conflicts.size() == 1 ? " conflict: " : " conflicts: ");
  bool first = true;
  for (const auto& [manager, fields] : fields_by_manager) {
    if (!first) message += "\n";
    first = false;
    if (fields.size() == 1) {
      message += "conflict with \"" + manager + "\" using " + api_version + ": " + fields.front();
    } else {
      message += "conflicts with \"" + manager + "\" using " + api_version + ":";
      for (const auto& field : fields) message += "\n- " + field;
    }
  }
  return message;
}

}  // namespace

std::string now_rfc3339() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string now_rfc3339_micros() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06lldZ", static_cast<long long>(micros));
  return std::string(text) + fraction;
}

json as_version(const ResourceType& type, const std::string& version, json object) {
  object["apiVersion"] = type.api_version(version);
  object["kind"] = type.kind;
  return object;
}

json FakeApiServer::Impl::validated(const WriteTarget& target, json object, const json* live) const {
  const ResourceType& type = *target.type;
  const json& schema = type.schema(target.version);
  json system = json::object();
  for (const char* field : kSystemMetadata) {
    if (object["metadata"].contains(field)) system[field] = object["metadata"][field];
  }
  json bare = without_system_metadata(std::move(object));
  json pruned = prune_unknown(schema, bare);
  std::string name = bare["metadata"].value("name", "");
  if (target.strict_fields && pruned != bare) {
    json diff = json::diff(pruned, bare);
    std::string field = diff.empty() ? "" : diff.front().value("path", "");
    throw bad_request(type.kind + " in version \"" + target.version + "\" cannot be handled as a " +
                      type.kind + ": strict decoding error: unknown field \"" + field + "\"");
  }
  std::vector<StatusCause> causes;
  for (const auto& violation : validate(schema, pruned)) {
    std::string field = violation.field;
    if (!field.empty() && field.front() == '.') field.erase(0, 1);
    causes.push_back({cause_reason(violation.message), violation.message, field});
  }
  // Checks of ObjectMeta and core/v1 Event that kube-apiserver makes beyond the schema.
  int controllers = 0;
  for (const auto& reference : pruned["metadata"].value("ownerReferences", json::array())) {
    if (reference.value("controller", false)) ++controllers;
  }
  if (controllers > 1) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: only one reference can have Controller set to true",
                      "metadata.ownerReferences"});
  }
  if (type.group.empty() && type.kind == "Event") {
    std::string involved_ns = pruned.value("involvedObject", json::object()).value("namespace", "");
    if (!involved_ns.empty() && involved_ns != pruned["metadata"].value("namespace", "")) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: \"" + involved_ns + "\": does not match event.namespace",
                        "involvedObject.namespace"});
    }
  }
  if (live != nullptr && (*live)["metadata"].contains("deletionTimestamp")) {
    json old_finalizers = (*live)["metadata"].value("finalizers", json::array());
    for (const auto& finalizer : pruned["metadata"].value("finalizers", json::array())) {
      if (std::find(old_finalizers.begin(), old_finalizers.end(), finalizer) == old_finalizers.end()) {
        causes.push_back(
            {"FieldValueForbidden",
             "Forbidden: no new finalizers can be added if the object is being deleted, found new "
             "finalizers []string{" +
                 finalizer.dump() + "}",
             "metadata.finalizers"});
      }
    }
  }
  if (!causes.empty()) throw invalid(type.kind, type.name_of(name), causes);
  for (auto it = system.begin(); it != system.end(); ++it) pruned["metadata"][it.key()] = it.value();
  return pruned;
}

WriteResult FakeApiServer::Impl::commit_update_locked(const WriteTarget& target,
                                                      const std::shared_ptr<const json>& live, json candidate,
                                                      std::optional<json> managed_fields) {
  const ResourceType& type = *target.type;
  if (target.subresource == "status") {
    json status_only = *live;
    if (candidate.contains("status")) {
      status_only["status"] = candidate["status"];
    } else {
      status_only.erase("status");
    }
    candidate = std::move(status_only);
  } else if (type.status_subresource) {
    if (live->contains("status")) {
      candidate["status"] = (*live)["status"];
    } else {
      candidate.erase("status");
    }
  }
  copy_system_metadata(*live, candidate);
  candidate["metadata"]["name"] = (*live)["metadata"]["name"];
  if (type.namespaced) candidate["metadata"]["namespace"] = (*live)["metadata"]["namespace"];
  if (managed_fields) candidate["metadata"]["managedFields"] = *managed_fields;
  candidate = validated(target, std::move(candidate), live.get());

  WriteResult result;
  bool fields_changed =
      managed_fields && *managed_fields != (*live)["metadata"].value("managedFields", json());
  if (comparable(candidate) == comparable(*live) && !fields_changed) {
    result.object = as_version(type, target.version, *live);
    return result;
  }
  if (type.tracks_generation && generation_part(type, candidate) != generation_part(type, *live)) {
    candidate["metadata"]["generation"] = (*live)["metadata"].value("generation", 0) + 1;
  }
  if (!managed_fields) {
    candidate = track_update(type.schema(target.version), *live, candidate, target.manager, now_rfc3339());
  }
  const json& metadata = candidate["metadata"];
  bool finalized = metadata.contains("deletionTimestamp") &&
                   (!metadata.contains("finalizers") || metadata["finalizers"].empty());
  std::string event = finalized ? "DELETED" : "MODIFIED";
  auto stored = store.commit(event, type.key(), std::move(candidate));
  result.object = as_version(type, target.version, *stored);
  result.changed = true;
  result.changes.push_back({event, *stored});
  return result;
}

WriteResult FakeApiServer::Impl::create_object(const WriteTarget& target, json body) {
  const ResourceType& type = *target.type;
  check_identity(target, body, false);
  json& metadata = body["metadata"];
  if (metadata.value("name", "").empty() && metadata.value("generateName", "").empty()) {
    throw invalid(
        type.kind, type.name_of(""),
        {{"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"}});
  }
  body = without_system_metadata(std::move(body));
  if (type.status_subresource) body.erase("status");
  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    json& meta = body["metadata"];
    if (meta.value("name", "").empty()) {
      std::string name;
      do {
        name = meta["generateName"].get<std::string>() + random_suffix(5);
      } while (store.find(type.key(), object_key(meta.value("namespace", ""), name)));
      meta["name"] = name;
    }
    std::string name = meta["name"];
    if (store.find(type.key(), object_key(meta.value("namespace", ""), name))) {
      throw already_exists(type.name_of(name));
    }
    WriteTarget named = target;
    named.name = name;
    json object = validated(named, std::move(body), nullptr);
    object["metadata"]["uid"] = random_uid();
    object["metadata"]["creationTimestamp"] = now_rfc3339();
    if (type.tracks_generation) object["metadata"]["generation"] = 1;
    object = track_update(type.schema(target.version), json(nullptr), object, target.manager, now_rfc3339());
    auto stored = store.commit("ADDED", type.key(), std::move(object));
    result.object = as_version(type, target.version, *stored);
    result.code = 201;
    result.changed = true;
    result.changes.push_back({"ADDED", *stored});
  }
  publish(result.changes);
  return result;
}

WriteResult FakeApiServer::Impl::replace_object(const WriteTarget& target, json body) {
  check_identity(target, body, true);
  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    auto live = store.find(target.type->key(), object_key(target.ns, target.name));
    if (!live) throw not_found(target.type->name_of(target.name));
    check_resource_version_precondition(target, body, *live);
    result = commit_update_locked(target, live, std::move(body), std::nullopt);
  }
  publish(result.changes);
  return result;
}

WriteResult FakeApiServer::Impl::mutate_object(const WriteTarget& target,
                                               const std::function<bool(json&)>& mutate) {
  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    auto live = store.find(target.type->key(), object_key(target.ns, target.name));
    if (!live) throw not_found(target.type->name_of(target.name));
    json candidate = *live;
    if (!mutate(candidate)) {
      result.object = as_version(*target.type, target.version, *live);
      return result;
    }
    result = commit_update_locked(target, live, std::move(candidate), std::nullopt);
  }
  publish(result.changes);
  return result;
}

WriteResult FakeApiServer::Impl::patch_object(const WriteTarget& target, const std::string& content_type,
                                              const std::string& body, bool force) {
  const std::string type_name = media_type(content_type);
  if (type_name == "application/apply-patch+yaml") return apply_object(target, parse_body(body, true), force);
  if (force) {
    throw invalid("PatchOptions", {"meta.k8s.io", "", ""},
                  {{"FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force"}});
  }
  if (type_name == "application/strategic-merge-patch+json" && !target.type->crd) {
    throw ApiError(status_failure(415, "UnsupportedMediaType",
                                  "strategic merge patch is not implemented by the fake API server; use "
                                  "application/merge-patch+json, application/json-patch+json or apply"));
  }
  if (type_name != "application/merge-patch+json" && type_name != "application/json-patch+json") {
    throw unsupported_media_type(content_type);
  }
  json patch = parse_body(body, false);
  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    auto live = store.find(target.type->key(), object_key(target.ns, target.name));
    if (!live) throw not_found(target.type->name_of(target.name));
    json candidate;
    if (type_name == "application/merge-patch+json") {
      if (!patch.is_object()) throw bad_request("a merge patch must be a JSON object");
      check_resource_version_precondition(target, patch, *live);
      candidate = kubefake::merge_patch(*live, patch);
    } else {
      if (!patch.is_array()) throw bad_request("a JSON patch must be a JSON array of operations");
      try {
        candidate = live->patch(patch);
      } catch (const json::exception& e) {
        throw ApiError(status_failure(
            422, "Invalid",
            std::string("the server rejected our request due to an error in our request: ") + e.what()));
      }
    }
    if (!candidate.is_object() || !candidate["metadata"].is_object()) {
      throw bad_request("the patch removes the object's metadata");
    }
    result = commit_update_locked(target, live, std::move(candidate), std::nullopt);
  }
  publish(result.changes);
  return result;
}

WriteResult FakeApiServer::Impl::apply_object(const WriteTarget& target, json applied, bool force) {
  const ResourceType& type = *target.type;
  if (target.manager.empty()) {
    throw bad_request(
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply "
        "patch");
  }
  if (!applied.is_object() || !applied.contains("apiVersion") || !applied.contains("kind")) {
    throw bad_request("apply patches must have apiVersion and kind set");
  }
  check_identity(target, applied, true);
  if (applied["metadata"].contains("managedFields")) throw bad_request("metadata.managedFields must be nil");
  json precondition = applied;
  applied = without_system_metadata(std::move(applied));
  if (target.subresource == "status") {
    json status_only = {{"apiVersion", applied["apiVersion"]},
                        {"kind", applied["kind"]},
                        {"metadata", {{"name", target.name}}}};
    if (type.namespaced) status_only["metadata"]["namespace"] = target.ns;
    if (applied.contains("status")) status_only["status"] = applied["status"];
    applied = std::move(status_only);
  } else if (type.status_subresource) {
    applied.erase("status");
  }
  const json& schema = type.schema(target.version);
  json pruned = prune_unknown(schema, applied);
  if (target.strict_fields && pruned != applied)
    validated(target, applied, nullptr);  // throws the strict error

  WriteResult result;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    auto live = store.find(type.key(), object_key(target.ns, target.name));
    if (live) check_resource_version_precondition(target, precondition, *live);
    if (!live && target.subresource == "status") throw not_found(type.name_of(target.name));
    ApplyResult applied_result =
        server_side_apply(schema, live ? *live : json(nullptr), pruned, target.manager, force, now_rfc3339());
    if (!applied_result.conflicts.empty()) {
      json details = {{"name", target.name}, {"kind", type.plural}, {"causes", json::array()}};
      if (!type.group.empty()) details["group"] = type.group;
      std::string api_version = type.api_version(target.version);
      for (const auto& conflict : applied_result.conflicts) {
        details["causes"].push_back(
            {{"reason", "FieldManagerConflict"},
             {"message", "conflict with \"" + conflict.manager + "\" using " + api_version},
             {"field", conflict.field}});
      }
      throw ApiError(status_failure(409, "Conflict", conflict_message(applied_result.conflicts, api_version),
                                    std::move(details)));
    }
    json candidate = std::move(applied_result.object);
    if (live) {
      if (!applied_result.changed) {
        result.object = as_version(type, target.version, *live);
        return result;
      }
      json managed = candidate["metadata"].value("managedFields", json::array());
      result = commit_update_locked(target, live, std::move(candidate), managed);
    } else {
      if (type.namespaced) candidate["metadata"]["namespace"] = target.ns;
      json object = validated(target, std::move(candidate), nullptr);
      object["metadata"]["uid"] = random_uid();
      object["metadata"]["creationTimestamp"] = now_rfc3339();
      if (type.tracks_generation) object["metadata"]["generation"] = 1;
      auto stored = store.commit("ADDED", type.key(), std::move(object));
      result.object = as_version(type, target.version, *stored);
      result.code = 201;
      result.changed = true;
      result.changes.push_back({"ADDED", *stored});
    }
  }
  publish(result.changes);
  return result;
}

}  // namespace pgscope::kubefake
