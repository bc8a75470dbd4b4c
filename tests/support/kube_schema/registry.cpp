// The schema registry: CRDs loaded from their YAML files and the built-in core kinds.
#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>

#include "support/kube_schema/core_schemas.hpp"
#include "support/kube_schema/formats.hpp"
#include "support/kube_schema/schema.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::kubefake {
namespace {

std::string registry_key(const std::string& api_version, const std::string& kind) {
  return api_version + "|" + kind;
}

// The whole object's schema: the body plus apiVersion and kind pinned to this
// kind, and ObjectMeta (a CRD's own schema says only `metadata: {type: object}`;
// the API server validates and prunes metadata as ObjectMeta).
json object_schema(const std::string& api_version, const std::string& kind, json body,
                   const std::string& name_format) {
  body["type"] = "object";
  json& properties = body["properties"];
  if (!properties.is_object()) properties = json::object();
  properties["apiVersion"] = {{"type", "string"}, {"enum", {api_version}}};
  properties["kind"] = {{"type", "string"}, {"enum", {kind}}};
  properties["metadata"] = detail::object_meta_schema(name_format);
  json required = body.value("required", json::array());
  for (const char* name : {"apiVersion", "kind", "metadata"}) {
    if (std::find(required.begin(), required.end(), name) == required.end()) required.push_back(name);
  }
  body["required"] = required;
  return body;
}

[[noreturn]] void bad_crd(const std::string& origin, const std::string& what) {
  throw std::runtime_error(origin + ": not a usable CustomResourceDefinition: " + what);
}

std::string string_at(const json& object, const char* key, const std::string& origin,
                      const std::string& where) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string() ||
      object[key].get<std::string>().empty()) {
    bad_crd(origin, where + "." + key + " is missing or not a string");
  }
  return object[key].get<std::string>();
}

// Structural-schema sanity: what validation and apply rely on. Patterns must
// compile here rather than fail on the first object that uses them.
void check_schema(const json& schema, const std::string& origin, const std::string& path) {
  if (!schema.is_object()) bad_crd(origin, path + " is not a schema object");
  static const std::set<std::string> types = {"object", "array", "string", "integer", "number", "boolean"};
  if (schema.contains("type") &&
      (!schema["type"].is_string() || !types.count(schema["type"].get<std::string>()))) {
    bad_crd(origin, path + ".type " + schema["type"].dump() + " is not a structural type");
  }
  if (schema.contains("pattern")) {
    try {
      detail::compiled_pattern(schema["pattern"].get<std::string>());
    } catch (const std::exception& e) {
      bad_crd(origin, path + ".pattern " + schema["pattern"].dump() + " does not compile: " + e.what());
    }
  }
  if (schema.value("x-kubernetes-list-type", "") == "map" &&
      (!schema.contains("x-kubernetes-list-map-keys") || schema["x-kubernetes-list-map-keys"].empty())) {
    bad_crd(origin, path + " is a list-type map without x-kubernetes-list-map-keys");
  }
  if (schema.contains("properties")) {
    if (!schema["properties"].is_object()) bad_crd(origin, path + ".properties is not an object");
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      check_schema(it.value(), origin, path + ".properties." + it.key());
    }
  }
  if (schema.contains("items")) check_schema(schema["items"], origin, path + ".items");
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
    check_schema(schema["additionalProperties"], origin, path + ".additionalProperties");
  }
  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    if (!schema.contains(combinator)) continue;
    if (!schema[combinator].is_array()) bad_crd(origin, path + "." + combinator + " is not a list");
    for (std::size_t i = 0; i < schema[combinator].size(); ++i) {
      check_schema(schema[combinator][i], origin, path + "." + combinator + "[" + std::to_string(i) + "]");
    }
  }
  if (schema.contains("not")) check_schema(schema["not"], origin, path + ".not");
}

}  // namespace

std::string api_version_of(const KindInfo& info) {
  return info.group.empty() ? info.version : info.group + "/" + info.version;
}

void SchemaRegistry::add(KindInfo info, json schema) {
  const std::string key = registry_key(api_version_of(info), info.kind);
  by_api_version_kind_[key] = Entry{std::move(info), std::move(schema)};
}

KindInfo SchemaRegistry::load_crd(const std::string& path) {
  std::vector<json> documents = read_yaml_file(path);
  if (documents.size() != 1)
    bad_crd(path, "expected one YAML document, found " + std::to_string(documents.size()));
  return load_crd_document(documents.front(), path);
}

KindInfo SchemaRegistry::load_crd_text(const std::string& yaml_text, const std::string& origin) {
  std::vector<json> documents = parse_yaml_documents(yaml_text, origin);
  if (documents.size() != 1)
    bad_crd(origin, "expected one YAML document, found " + std::to_string(documents.size()));
  return load_crd_document(documents.front(), origin);
}

KindInfo SchemaRegistry::load_crd_document(const json& crd, const std::string& origin) {
  if (!crd.is_object()) bad_crd(origin, "the document is not a mapping");
  if (crd.value("apiVersion", "") != "apiextensions.k8s.io/v1" ||
      crd.value("kind", "") != "CustomResourceDefinition") {
    bad_crd(origin, "apiVersion/kind must be apiextensions.k8s.io/v1 CustomResourceDefinition, not " +
                        crd.value("apiVersion", json("")).dump() + " " + crd.value("kind", json("")).dump());
  }
  const json spec = crd.value("spec", json::object());
  const std::string group = string_at(spec, "group", origin, "spec");
  const json names = spec.value("names", json::object());
  const std::string kind = string_at(names, "kind", origin, "spec.names");
  const std::string plural = string_at(names, "plural", origin, "spec.names");
  const std::string scope = string_at(spec, "scope", origin, "spec");
  if (scope != "Namespaced" && scope != "Cluster")
    bad_crd(origin, "spec.scope must be Namespaced or Cluster");
  const json versions = spec.value("versions", json::array());
  if (!versions.is_array() || versions.empty()) bad_crd(origin, "spec.versions is empty");

  std::vector<std::pair<KindInfo, json>> served;
  std::optional<KindInfo> storage;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const json& version = versions[i];
    const std::string where = "spec.versions[" + std::to_string(i) + "]";
    KindInfo info;
    info.group = group;
    info.version = string_at(version, "name", origin, where);
    info.kind = kind;
    info.plural = plural;
    info.namespaced = scope == "Namespaced";
    info.status_subresource = version.value("subresources", json::object()).contains("status");
    const json schema = version.value("schema", json::object()).value("openAPIV3Schema", json());
    check_schema(schema, origin, where + ".schema.openAPIV3Schema");
    if (version.value("storage", false)) {
      if (storage) bad_crd(origin, "more than one storage version");
      storage = info;
    }
    if (version.value("served", false)) {
      served.emplace_back(info, object_schema(api_version_of(info), kind, schema, "dns-1123-subdomain"));
    }
  }
  if (!storage) bad_crd(origin, "no storage version");
  for (auto& [info, schema] : served) add(std::move(info), std::move(schema));
  return *storage;
}

void SchemaRegistry::add_core_kinds() {
  for (detail::CoreKind& core : detail::core_kinds()) {
    json schema =
        object_schema(api_version_of(core.info), core.info.kind, std::move(core.body), core.name_format);
    add(core.info, std::move(schema));
  }
}

const KindInfo* SchemaRegistry::kind(const std::string& api_version, const std::string& kind) const {
  auto it = by_api_version_kind_.find(registry_key(api_version, kind));
  return it == by_api_version_kind_.end() ? nullptr : &it->second.info;
}

const KindInfo* SchemaRegistry::kind_by_plural(const std::string& group, const std::string& version,
                                               const std::string& plural) const {
  for (const auto& [key, entry] : by_api_version_kind_) {
    if (entry.info.group == group && entry.info.version == version && entry.info.plural == plural)
      return &entry.info;
  }
  return nullptr;
}

const json* SchemaRegistry::schema(const std::string& api_version, const std::string& kind) const {
  auto it = by_api_version_kind_.find(registry_key(api_version, kind));
  return it == by_api_version_kind_.end() ? nullptr : &it->second.schema;
}

std::vector<KindInfo> SchemaRegistry::kinds() const {
  std::vector<KindInfo> all;
  for (const auto& [key, entry] : by_api_version_kind_) all.push_back(entry.info);
  return all;
}

}  // namespace pgscope::kubefake
