// What an API server does to an object before storing it, besides validation:
// pruning of unknown fields, defaulting, and JSON merge patches.
#include "support/kube_schema/schema.hpp"
#include "support/kube_schema/schema_node.hpp"

namespace pgscope::kubefake {
namespace {

json prune_value(const json& schema, const json& value) {
  if (value.is_object()) {
    json pruned = json::object();
    for (auto entry = value.begin(); entry != value.end(); ++entry) {
      const json* field = detail::field_schema(schema, entry.key());
      if (field == nullptr) continue;
      // Nulls of non-nullable fields are dropped before defaulting
      // (CRD docs, "Defaulting and Nullable"); untyped data keeps them.
      if (entry.value().is_null() && !detail::is_nullable(*field) && field != &detail::untyped_schema())
        continue;
      pruned[entry.key()] = prune_value(*field, entry.value());
    }
    return pruned;
  }
  if (value.is_array()) {
    const json& items = detail::items_schema(schema);
    json pruned = json::array();
    for (const json& item : value) pruned.push_back(prune_value(items, item));
    return pruned;
  }
  return value;
}

void default_value(const json& schema, json& value) {
  if (value.is_object()) {
    if (auto properties = schema.find("properties"); properties != schema.end() && properties->is_object()) {
      for (auto property = properties->begin(); property != properties->end(); ++property) {
        if (!value.contains(property.key()) && property->is_object() && property->contains("default")) {
          value[property.key()] = (*property)["default"];
        }
      }
    }
    for (auto entry = value.begin(); entry != value.end(); ++entry) {
      const json* field = detail::field_schema(schema, entry.key());
      if (field != nullptr) default_value(*field, entry.value());
    }
  } else if (value.is_array()) {
    const json& items = detail::items_schema(schema);
    for (json& item : value) default_value(items, item);
  }
}

}  // namespace

json prune_unknown(const json& schema, const json& object) { return prune_value(schema, object); }

json apply_defaults(const json& schema, const json& object) {
  json defaulted = object;
  default_value(schema, defaulted);
  return defaulted;
}

json merge_patch(const json& target, const json& patch) {
  // nlohmann's merge_patch is RFC 7386's algorithm, applied in place.
  json result = target;
  result.merge_patch(patch);
  return result;
}

}  // namespace pgscope::kubefake
