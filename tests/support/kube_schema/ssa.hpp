// Server-side apply and managedFields bookkeeping for the fake Kubernetes API
// server, following the schema's list and map types as the real one does.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "support/kube_schema/schema.hpp"

namespace pgscope::kubefake {

// field as Kubernetes prints it: .spec.endpoints, .metadata.labels.release,
// .spec.ports[port=9187,protocol="TCP"].name
struct ApplyConflict {
  std::string manager;
  std::string field;
};

struct ApplyResult {
  json object;
  std::vector<ApplyConflict> conflicts;
  bool changed = false;
};

// Server-side apply of `applied` by manager onto live (null = create). Sets
// metadata.managedFields (entries {manager, operation:"Apply", apiVersion,
// time: now, fieldsType:"FieldsV1", fieldsV1}). Merging by the schema's list
// types (atomic default for CRD lists without x-kubernetes-list-type; map
// lists merge items by keys; maps granular unless x-kubernetes-map-type
// atomic). Fields this manager applied before and omits now are removed unless
// another manager owns them. Conflicts when another manager owns a field and
// the value differs, unless force (then ownership moves). Equal values: shared
// ownership, no conflict. changed=false when the object (except managedFields
// time) would not change, and then managedFields time stays as it was.
// With conflicts (and no force), `object` is `live` unchanged and `conflicts`
// lists them in managedFields order; a forced apply reports none.
// Nulls in `applied` are ignored; server-owned metadata in it (uid,
// resourceVersion, managedFields...) is ignored too. The caller strips
// `status` first for kinds with a status subresource, as the API server does.
// Throws std::invalid_argument for a list-map item that lacks a key field (and
// has no default), duplicate keys in the applied lists, or malformed
// managedFields in `live`.
ApplyResult server_side_apply(const json& schema, const json& live, const json& applied,
                              const std::string& manager, bool force, const std::string& now);

// Bookkeeping for non-apply writes (POST, PUT, merge patch): the fields that
// changed between before and after become owned by manager with operation
// "Update" and are removed from other managers' sets. Returns `after` with
// metadata.managedFields set (before = null for a create); managedFields sent
// in `after` are ignored. When nothing changed, before's managedFields stay
// as they were (time included).
json track_update(const json& schema, const json& before, const json& after, const std::string& manager,
                  const std::string& now);

// A path in an object, one element per step, in FieldsV1 form without the
// prefix's trie nesting: "f:spec", "k:{\"name\":\"x\"}", "v:\"a\"", "i:0".
using FieldPath = std::vector<std::string>;
using FieldSet = std::set<FieldPath>;

// Kubernetes's FieldsV1 encoding (f:, k:{...}, v:, i:, ".": {}) of a set of
// paths, and its parsing. A path to an element that has children owned too is
// marked with ".": {} at that element.
json encode_fields_v1(const FieldSet& fields);
// Throws std::invalid_argument on a malformed trie.
FieldSet decode_fields_v1(const json& fields_v1);
// The path printed as Kubernetes prints conflicts: .spec.ports[port=9187,protocol="TCP"].name
std::string field_path_string(const FieldPath& path);

// The leaf fields (and list-map items / set items / atomic values) of `object`
// as the schema decides what a field is; what an applier owns after applying it.
FieldSet fields_of(const json& schema, const json& object);

}  // namespace pgscope::kubefake
