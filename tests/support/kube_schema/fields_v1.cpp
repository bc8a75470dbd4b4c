// FieldsV1, the managedFields encoding of field sets, and the field set of an
// object under its schema.
#include <stdexcept>

#include "support/kube_schema/object_paths.hpp"
#include "support/kube_schema/schema_node.hpp"
#include "support/kube_schema/ssa.hpp"

namespace pgscope::kubefake {
namespace {

// Mirrors structured-merge-diff's ToFieldSet: scalars, atomic lists and maps
// are leaves; list items are members with their children; map entries that are
// not declared struct fields are members too. An empty object or list counts
// as a leaf so that applying `emptyDir: {}` owns it.
void collect(const json& schema, const json& value, FieldPath& path, FieldSet& out) {
  if (value.is_object()) {
    if ((detail::is_atomic_map(schema) || value.empty()) && !path.empty()) {
      out.insert(path);
      return;
    }
    for (auto entry = value.begin(); entry != value.end(); ++entry) {
      if (entry.value().is_null()) continue;
      const json* field = detail::field_schema(schema, entry.key());
      path.push_back("f:" + entry.key());
      collect(field ? *field : detail::untyped_schema(), entry.value(), path, out);
      if (!detail::is_declared_property(schema, entry.key())) out.insert(path);
      path.pop_back();
    }
    return;
  }
  if (value.is_array()) {
    if (detail::list_type(schema) == detail::ListType::kAtomic || value.empty()) {
      out.insert(path);
      return;
    }
    const json& items = detail::items_schema(schema);
    for (std::size_t i = 0; i < value.size(); ++i) {
      path.push_back(detail::list_item_element(schema, value[i], field_path_string(path)));
      collect(items, value[i], path, out);
      out.insert(path);
      path.pop_back();
    }
    return;
  }
  if (!value.is_null() && !path.empty()) out.insert(path);
}

void check_element(const std::string& element) {
  if (element.size() < 2 || element[1] != ':')
    throw std::invalid_argument("FieldsV1: bad path element " + element);
  const std::string body = element.substr(2);
  switch (element[0]) {
    case 'f':
      return;
    case 'k':
      if (!json::accept(body) || !json::parse(body).is_object()) {
        throw std::invalid_argument("FieldsV1: key element is not a JSON object: " + element);
      }
      return;
    case 'v':
      if (!json::accept(body)) throw std::invalid_argument("FieldsV1: value element is not JSON: " + element);
      return;
    case 'i':
      if (body.empty() || body.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("FieldsV1: index element is not a number: " + element);
      }
      return;
    default:
      throw std::invalid_argument("FieldsV1: unknown path element prefix in " + element);
  }
}

// k: and v: elements are JSON; re-dumping them makes equal keys equal strings.
std::string canonical(const std::string& element) {
  if (element[0] == 'k' || element[0] == 'v')
    return element.substr(0, 2) + json::parse(element.substr(2)).dump();
  return element;
}

void decode(const json& node, FieldPath& path, FieldSet& out) {
  if (!node.is_object()) throw std::invalid_argument("FieldsV1: every trie node must be an object");
  if (node.empty() && !path.empty()) out.insert(path);
  for (auto entry = node.begin(); entry != node.end(); ++entry) {
    if (entry.key() == ".") {
      if (path.empty()) throw std::invalid_argument("FieldsV1: \".\" at the root");
      if (!entry.value().is_object() || !entry.value().empty()) {
        throw std::invalid_argument("FieldsV1: \".\" must map to {}");
      }
      out.insert(path);
      continue;
    }
    check_element(entry.key());
    path.push_back(canonical(entry.key()));
    decode(entry.value(), path, out);
    path.pop_back();
  }
}

}  // namespace

json encode_fields_v1(const FieldSet& fields) {
  json root = json::object();
  for (const FieldPath& path : fields) {
    json* node = &root;
    for (const std::string& element : path) node = &(*node)[element];
    if (node->is_null()) *node = json::object();
  }
  // A member with children of its own gets ".": {} (sorted sets visit a
  // parent before its children, so mark after all are in).
  for (const FieldPath& path : fields) {
    json* node = &root;
    for (const std::string& element : path) node = &(*node)[element];
    if (!node->empty() && !node->contains(".")) (*node)["."] = json::object();
  }
  return root;
}

FieldSet decode_fields_v1(const json& fields_v1) {
  FieldSet fields;
  FieldPath path;
  decode(fields_v1, path, fields);
  return fields;
}

std::string field_path_string(const FieldPath& path) {
  std::string text;
  for (const std::string& element : path) {
    const std::string body = element.size() >= 2 ? element.substr(2) : element;
    switch (element.empty() ? '?' : element[0]) {
      case 'f':
        text += "." + body;
        break;
      case 'k':
        text += detail::key_path_text(json::parse(body));
        break;
      case 'v':
        text += "[=" + body + "]";
        break;
      default:
        text += "[" + body + "]";
    }
  }
  return text;
}

FieldSet fields_of(const json& schema, const json& object) {
  FieldSet fields;
  FieldPath path;
  collect(schema, object, path, fields);
  return fields;
}

}  // namespace pgscope::kubefake
