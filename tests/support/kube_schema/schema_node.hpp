// How a node of a structural schema shapes values, for validation, pruning and
// server-side apply alike (internal to pgscope_kube_schema).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pgscope::kubefake::detail {

using json = nlohmann::json;

// A schema with no constraints at all: what an unknown field under
// x-kubernetes-preserve-unknown-fields is.
const json& untyped_schema();

bool preserves_unknown(const json& schema);
bool is_int_or_string(const json& schema);
bool is_nullable(const json& schema);

// The schema of field `key` of an object: a declared property, else the
// additionalProperties schema, else the untyped schema under
// preserve-unknown-fields; nullptr for a field the schema does not know.
const json* field_schema(const json& schema, const std::string& key);
// Whether `key` is a declared property (a struct field) rather than a map entry.
bool is_declared_property(const json& schema, const std::string& key);
const json& items_schema(const json& schema);

enum class ListType { kAtomic, kSet, kMap };
// CRD lists without x-kubernetes-list-type are atomic, as are lists of an
// untyped schema.
ListType list_type(const json& schema);
std::vector<std::string> list_map_keys(const json& schema);
// x-kubernetes-map-type: atomic (on maps and structs alike).
bool is_atomic_map(const json& schema);

// The key of a list-map item: an object with the key fields, taking a key
// field's schema default when the item omits it (as structured-merge-diff does
// for ports' protocol). nullopt, with `missing` set, when a key has neither.
std::optional<json> list_map_key(const json& list_schema, const json& item, std::string* missing);

// Path segment texts shared by validation messages and FieldsV1.
std::string key_path_text(const json& key);  // [port=9187,protocol="TCP"]

}  // namespace pgscope::kubefake::detail
