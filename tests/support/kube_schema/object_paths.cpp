#include "support/kube_schema/object_paths.hpp"

#include <map>
#include <stdexcept>

#include "support/kube_schema/schema_node.hpp"

namespace pgscope::kubefake::detail {
namespace {

// The index of the item of `list` that path element `element` names, or -1.
long find_item(const json& list_schema, const json& list, const std::string& element) {
  if (!list.is_array() || element.size() < 2) return -1;
  const std::string body = element.substr(2);
  if (element[0] == 'i') {
    const long index = std::stol(body);
    return index >= 0 && static_cast<std::size_t>(index) < list.size() ? index : -1;
  }
  const json wanted = json::parse(body);
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (element[0] == 'v' && list[i] == wanted) return static_cast<long>(i);
    if (element[0] == 'k') {
      const std::optional<json> key = list_map_key(list_schema, list[i], nullptr);
      if (key && *key == wanted) return static_cast<long>(i);
    }
  }
  return -1;
}

// One step down: the child's slot and schema, or nullptr when absent.
template <typename Json>
Json* child_of(const json& schema, Json& node, const std::string& element, const json** child_schema) {
  if (element.rfind("f:", 0) == 0) {
    if (!node.is_object()) return nullptr;
    auto it = node.find(element.substr(2));
    if (it == node.end()) return nullptr;
    const json* field = field_schema(schema, element.substr(2));
    *child_schema = field ? field : &untyped_schema();
    return &*it;
  }
  const long index = find_item(schema, node, element);
  if (index < 0) return nullptr;
  *child_schema = &items_schema(schema);
  return &node[static_cast<std::size_t>(index)];
}

void erase_child(json& node, const std::string& element, const json& schema) {
  if (element.rfind("f:", 0) == 0) {
    node.erase(element.substr(2));
    return;
  }
  const long index = find_item(schema, node, element);
  if (index >= 0) node.erase(static_cast<std::size_t>(index));
}

// Returns true when `node` became empty through this removal.
bool remove_below(const json& schema, json& node, const FieldPath& path, std::size_t depth,
                  const FieldSet& keep) {
  const json* child_schema = nullptr;
  json* child = child_of(schema, node, path[depth], &child_schema);
  if (child == nullptr) return false;
  if (depth + 1 == path.size()) {
    erase_child(node, path[depth], schema);
  } else {
    const bool emptied = remove_below(*child_schema, *child, path, depth + 1, keep);
    const FieldPath child_path(path.begin(), path.begin() + static_cast<long>(depth) + 1);
    if (!emptied || keep.count(child_path)) return false;
    erase_child(node, path[depth], schema);
  }
  return node.empty();
}

std::vector<std::string> item_elements(const json& schema, const json& list, const std::string& where) {
  std::vector<std::string> elements;
  for (const json& item : list) elements.push_back(list_item_element(schema, item, where));
  return elements;
}

std::map<std::string, std::size_t> index_of(const std::vector<std::string>& elements,
                                            const std::string& where) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (!index.emplace(elements[i], i).second) {
      throw std::invalid_argument(where + ": duplicate entries for " + elements[i]);
    }
  }
  return index;
}

// Associative list merge. Items in both keep the applied order; live-only
// items keep their place between them; applied-only items come where the
// applied list has them.
json merge_lists(const json& schema, const json& live, const json& applied) {
  const json& items = items_schema(schema);
  const std::vector<std::string> left = item_elements(schema, live, "live list");
  const std::vector<std::string> right = item_elements(schema, applied, "applied list");
  std::map<std::string, std::size_t> left_index;
  for (std::size_t i = 0; i < left.size(); ++i) left_index.emplace(left[i], i);  // live may hold duplicates
  const std::map<std::string, std::size_t> right_index = index_of(right, "applied list");

  std::vector<std::string> shared;  // in applied order
  for (const std::string& element : right) {
    if (left_index.count(element)) shared.push_back(element);
  }
  std::size_t next_shared = 0;
  std::map<std::string, bool> emitted;
  json out = json::array();
  auto emit_right = [&](std::size_t r) {
    const std::string& element = right[r];
    emitted[element] = true;
    auto l = left_index.find(element);
    out.push_back(l == left_index.end() ? applied[r] : merge_applied(items, live[l->second], applied[r]));
    if (next_shared < shared.size() && shared[next_shared] == element) ++next_shared;
  };
  std::size_t l = 0, r = 0;
  while (l < left.size() || r < right.size()) {
    if (l < left.size() && r < right.size() && left[l] == right[r]) {
      emit_right(r);
      ++l;
      ++r;
      continue;
    }
    if (l < left.size()) {
      const bool in_applied = right_index.count(left[l]) > 0;
      if (!in_applied) {
        out.push_back(live[l++]);
        continue;
      }
      if (emitted.count(left[l]) || (next_shared < shared.size() && shared[next_shared] != left[l])) {
        ++l;  // already merged, or due later in the applied order
        continue;
      }
    }
    if (r < right.size()) {
      emit_right(r++);
      continue;
    }
    ++l;  // a shared live item whose applied twin was emitted already
  }
  return out;
}

}  // namespace

std::string list_item_element(const json& list_schema, const json& item, const std::string& where) {
  if (list_type(list_schema) == ListType::kSet) return "v:" + item.dump();
  std::string missing;
  const std::optional<json> key = list_map_key(list_schema, item, &missing);
  if (!key) {
    throw std::invalid_argument(
        where + ": associative list with keys has an element that omits key field \"" + missing + "\"");
  }
  return "k:" + key->dump();
}

const json* value_at(const json& schema, const json& object, const FieldPath& path) {
  const json* node = &object;
  const json* node_schema = &schema;
  for (const std::string& element : path) {
    const json* child_schema = nullptr;
    node = child_of(*node_schema, *node, element, &child_schema);
    if (node == nullptr) return nullptr;
    node_schema = child_schema;
  }
  return node;
}

void remove_at(const json& schema, json& object, const FieldPath& path, const FieldSet& keep) {
  if (!path.empty()) remove_below(schema, object, path, 0, keep);
}

json merge_applied(const json& schema, const json& live, const json& applied) {
  if (live.is_null()) return applied;
  if (applied.is_object() && live.is_object() && !is_atomic_map(schema)) {
    json out = live;
    for (auto entry = applied.begin(); entry != applied.end(); ++entry) {
      const json* field = field_schema(schema, entry.key());
      auto existing = live.find(entry.key());
      out[entry.key()] = existing == live.end()
                             ? entry.value()
                             : merge_applied(field ? *field : untyped_schema(), *existing, entry.value());
    }
    return out;
  }
  if (applied.is_array() && live.is_array() && list_type(schema) != ListType::kAtomic) {
    return merge_lists(schema, live, applied);
  }
  return applied;
}

bool has_descendant(const FieldSet& set, const FieldPath& path) {
  auto it = set.upper_bound(path);
  if (it == set.end() || it->size() <= path.size()) return false;
  return std::equal(path.begin(), path.end(), it->begin());
}

}  // namespace pgscope::kubefake::detail
