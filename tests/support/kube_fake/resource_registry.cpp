#include "support/kube_fake/resource_registry.hpp"

#include <algorithm>
#include <set>

namespace pgscope::kubefake {

std::pair<std::string, std::string> split_api_version(const std::string& api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string::npos) return {"", api_version};
  return {api_version.substr(0, slash), api_version.substr(slash + 1)};
}

std::string ResourceType::api_version(const std::string& version) const {
  return group.empty() ? version : group + "/" + version;
}

const json& ResourceType::schema(const std::string& version) const {
  auto it = schemas.find(version);
  if (it == schemas.end()) it = schemas.find(versions.front());
  return *it->second;
}

bool ResourceType::serves(const std::string& version) const {
  return std::find(versions.begin(), versions.end(), version) != versions.end();
}

namespace {

// Kinds the operator's tests need besides the schema library's core kinds, with
// permissive schemas: StatefulSets are what Zalando's operator runs a cluster
// as, so a stand-in for it can own its pods by one.
const char* const kExtraCoreKinds[] = {
    R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"statefulsets.apps"},
  "spec":{"group":"apps","scope":"Namespaced",
    "names":{"kind":"StatefulSet","plural":"statefulsets","singular":"statefulset","listKind":"StatefulSetList"},
    "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
      "schema":{"openAPIV3Schema":{"type":"object","properties":{
        "spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
        "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}]}})",
};

}  // namespace

ResourceRegistry::ResourceRegistry() {
  schemas_.add_core_kinds();
  std::set<std::string> seen;
  for (const auto& info : schemas_.kinds()) {
    if (seen.insert(info.group + "/" + info.kind).second) {
      auto type = make_type(info, false);
      served_[type->key()] = type;
    }
  }
  add_extra_core_kinds();
}

void ResourceRegistry::add_extra_core_kinds() {
  for (const char* text : kExtraCoreKinds) {
    json crd = json::parse(text);
    std::string group = crd["spec"]["group"];
    std::string plural = crd["spec"]["names"]["plural"];
    if (served_.count(group + "/" + plural) != 0) continue;  // the schema library has a real schema
    KindInfo info = schemas_.load_crd_text(crd.dump(), "fake API server extra kind " + plural);
    auto type = make_type(info, false);
    served_[type->key()] = type;
  }
}

ResourceTypePtr ResourceRegistry::make_type(const KindInfo& storage, bool crd) {
  auto type = std::make_shared<ResourceType>();
  type->group = storage.group;
  type->kind = storage.kind;
  type->plural = storage.plural;
  type->namespaced = storage.namespaced;
  type->status_subresource = storage.status_subresource;
  type->crd = crd;
  type->tracks_generation = crd || storage.group == "apps";
  type->versions.push_back(storage.version);
  for (const auto& info : schemas_.kinds()) {
    if (info.group == storage.group && info.kind == storage.kind && info.version != storage.version) {
      type->versions.push_back(info.version);
    }
  }
  for (const auto& version : type->versions) {
    const json* schema = schemas_.schema(type->api_version(version), type->kind);
    type->schemas[version] = std::make_shared<const json>(schema != nullptr ? *schema : json::object());
  }
  return type;
}

ResourceTypePtr ResourceRegistry::install_crd(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  KindInfo info = schemas_.load_crd(path);
  auto type = make_type(info, true);
  served_[type->key()] = type;
  return type;
}

ResourceTypePtr ResourceRegistry::uninstall_crd(const std::string& group, const std::string& plural) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = served_.find(group + "/" + plural);
  if (it == served_.end() || !it->second->crd) return nullptr;
  auto type = it->second;
  served_.erase(it);
  return type;
}

ResourceTypePtr ResourceRegistry::by_path(const std::string& group, const std::string& version,
                                          const std::string& plural) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = served_.find(group + "/" + plural);
  if (it == served_.end() || !it->second->serves(version)) return nullptr;
  return it->second;
}

ResourceTypePtr ResourceRegistry::by_kind(const std::string& api_version, const std::string& kind) const {
  auto [group, version] = split_api_version(api_version);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, type] : served_) {
    if (type->group == group && type->kind == kind && type->serves(version)) return type;
  }
  return nullptr;
}

ResourceTypePtr ResourceRegistry::by_key(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = served_.find(key);
  return it == served_.end() ? nullptr : it->second;
}

std::vector<ResourceTypePtr> ResourceRegistry::served() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ResourceTypePtr> types;
  for (const auto& [key, type] : served_) types.push_back(type);
  return types;
}

json ResourceRegistry::core_versions(const std::string& server_address) const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

std::optional<json> ResourceRegistry::resource_list(const std::string& group,
                                                    const std::string& version) const {
  json resources = json::array();
  for (const auto& type : served()) {
    if (type->group != group || !type->serves(version)) continue;
    std::string singular = type->kind;
    std::transform(singular.begin(), singular.end(), singular.begin(), ::tolower);
    resources.push_back({{"name", type->plural},
                         {"singularName", singular},
                         {"namespaced", type->namespaced},
                         {"kind", type->kind},
                         {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}});
    if (type->status_subresource) {
      resources.push_back({{"name", type->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", type->namespaced},
                           {"kind", type->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  if (resources.empty()) return std::nullopt;
  std::string group_version = group.empty() ? version : group + "/" + version;
  return json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", group_version},
              {"resources", std::move(resources)}};
}

namespace {

json group_document(const std::string& name, const std::vector<std::string>& versions) {
  json group = {{"name", name}, {"versions", json::array()}};
  for (const auto& version : versions) {
    group["versions"].push_back({{"groupVersion", name + "/" + version}, {"version", version}});
  }
  group["preferredVersion"] = group["versions"][0];
  return group;
}

}  // namespace

json ResourceRegistry::group_list() const {
  std::map<std::string, std::vector<std::string>> versions_by_group;
  for (const auto& type : served()) {
    if (type->group.empty()) continue;
    auto& versions = versions_by_group[type->group];
    for (const auto& version : type->versions) {
      if (std::find(versions.begin(), versions.end(), version) == versions.end()) versions.push_back(version);
    }
  }
  json groups = json::array();
  for (const auto& [name, versions] : versions_by_group) groups.push_back(group_document(name, versions));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json> ResourceRegistry::group(const std::string& name) const {
  const json groups = group_list();
  for (const auto& entry : groups["groups"]) {
    if (entry["name"] == name) {
      json document = entry;
      document["kind"] = "APIGroup";
      document["apiVersion"] = "v1";
      return document;
    }
  }
  return std::nullopt;
}

}  // namespace pgscope::kubefake
