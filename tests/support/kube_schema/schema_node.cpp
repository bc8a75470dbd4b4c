#include "support/kube_schema/schema_node.hpp"

namespace pgscope::kubefake::detail {

const json& untyped_schema() {
  static const json schema = {{"x-kubernetes-preserve-unknown-fields", true}};
  return schema;
}

namespace {

bool flag(const json& schema, const char* name) {
  if (!schema.is_object()) return false;
  auto it = schema.find(name);
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

bool preserves_unknown(const json& schema) { return flag(schema, "x-kubernetes-preserve-unknown-fields"); }
bool is_int_or_string(const json& schema) { return flag(schema, "x-kubernetes-int-or-string"); }
bool is_nullable(const json& schema) { return flag(schema, "nullable"); }

bool is_declared_property(const json& schema, const std::string& key) {
  if (!schema.is_object()) return false;
  auto properties = schema.find("properties");
  return properties != schema.end() && properties->is_object() && properties->contains(key);
}

const json* field_schema(const json& schema, const std::string& key) {
  if (!schema.is_object()) return &untyped_schema();
  auto properties = schema.find("properties");
  if (properties != schema.end() && properties->is_object()) {
    auto field = properties->find(key);
    if (field != properties->end()) return &*field;
  }
  auto additional = schema.find("additionalProperties");
  if (additional != schema.end()) {
    if (additional->is_object()) return &*additional;
    if (additional->is_boolean() && additional->get<bool>()) return &untyped_schema();
  }
  if (preserves_unknown(schema)) return &untyped_schema();
  return nullptr;
}

const json& items_schema(const json& schema) {
  if (schema.is_object()) {
    auto items = schema.find("items");
    if (items != schema.end() && items->is_object()) return *items;
  }
  return untyped_schema();
}

ListType list_type(const json& schema) {
  if (!schema.is_object()) return ListType::kAtomic;
  auto type = schema.find("x-kubernetes-list-type");
  if (type == schema.end() || !type->is_string()) return ListType::kAtomic;
  if (*type == "set") return ListType::kSet;
  if (*type == "map") return ListType::kMap;
  return ListType::kAtomic;
}

std::vector<std::string> list_map_keys(const json& schema) {
  std::vector<std::string> keys;
  if (!schema.is_object()) return keys;
  auto it = schema.find("x-kubernetes-list-map-keys");
  if (it == schema.end() || !it->is_array()) return keys;
  for (const json& key : *it) {
    if (key.is_string()) keys.push_back(key.get<std::string>());
  }
  return keys;
}

bool is_atomic_map(const json& schema) {
  if (!schema.is_object()) return false;
  auto it = schema.find("x-kubernetes-map-type");
  return it != schema.end() && *it == "atomic";
}

std::optional<json> list_map_key(const json& list_schema, const json& item, std::string* missing) {
  if (!item.is_object()) {
    if (missing) *missing = "(item is not an object)";
    return std::nullopt;
  }
  const json& element = items_schema(list_schema);
  json key = json::object();
  for (const std::string& name : list_map_keys(list_schema)) {
    auto value = item.find(name);
    if (value != item.end() && !value->is_null()) {
      key[name] = *value;
      continue;
    }
    const json* field = field_schema(element, name);
    if (field && field->is_object() && field->contains("default")) {
      key[name] = (*field)["default"];
      continue;
    }
    if (missing) *missing = name;
    return std::nullopt;
  }
  return key;
}

std::string key_path_text(const json& key) {
  std::string text = "[";
  bool first = true;
  for (auto it = key.begin(); it != key.end(); ++it) {
    if (!first) text += ",";
    first = false;
    text += it.key() + "=" + it.value().dump();
  }
  return text + "]";
}

}  // namespace pgscope::kubefake::detail
