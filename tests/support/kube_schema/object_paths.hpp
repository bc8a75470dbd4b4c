// Objects seen through field paths, as structured-merge-diff sees them
// (internal to pgscope_kube_schema): path elements of list items, navigation,
// removal, and the schema-aware merge of an applied configuration.
#pragma once

#include <string>

#include "support/kube_schema/ssa.hpp"

namespace pgscope::kubefake::detail {

// "k:{...}" for a list-map item, "v:<json>" for a set item; throws
// std::invalid_argument (naming `where`) for a list-map item missing a key.
std::string list_item_element(const json& list_schema, const json& item, const std::string& where);

// The value at `path`, or nullptr when the object has nothing there.
const json* value_at(const json& schema, const json& object, const FieldPath& path);

// Removes the value at `path`; containers that this leaves empty go too,
// unless a path in `keep` names them (someone owns them, empty as they are).
void remove_at(const json& schema, json& object, const FieldPath& path, const FieldSet& keep);

// `applied` merged into `live` by the schema: granular maps and structs merge
// per field, list-maps and sets per item (ordered as structured-merge-diff
// orders them: shared items in the applied order, live-only items keep their
// place), everything else is replaced.
json merge_applied(const json& schema, const json& live, const json& applied);

// True when some path in `set` lies strictly below `path`.
bool has_descendant(const FieldSet& set, const FieldPath& path);

}  // namespace pgscope::kubefake::detail
