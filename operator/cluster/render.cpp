#include "operator/cluster/render.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "operator/cluster/yaml_scalar.hpp"

namespace pgscope::op {

namespace {

// ---- writing ----

enum class Place { Root, RootMetadata, ListItem, Other };

// Keys in output order: some first (by place), the rest sorted (nlohmann's
// objects already iterate sorted).
std::vector<std::string> ordered_keys(const json& object, Place place) {
  static const std::vector<std::string> root_first{"apiVersion", "kind", "metadata"};
  static const std::vector<std::string> metadata_first{"name", "namespace"};
  static const std::vector<std::string> item_first{"name"};
  static const std::vector<std::string> none;
  const auto& first = place == Place::Root           ? root_first
                      : place == Place::RootMetadata ? metadata_first
                      : place == Place::ListItem     ? item_first
                                                     : none;
  std::vector<std::string> keys;
  for (const auto& key : first) {
    if (object.contains(key)) keys.push_back(key);
  }
  for (const auto& item : object.items()) {
    if (std::find(first.begin(), first.end(), item.key()) == first.end()) keys.push_back(item.key());
  }
  return keys;
}

bool is_block(const json& value) { return (value.is_object() || value.is_array()) && !value.empty(); }

std::string indent_of(int n) { return std::string(static_cast<std::size_t>(n), ' '); }

// A scalar (or empty container) after "key: " or "- ". A literal block adds
// its lines at `content_indent`.
void emit_scalar(const json& value, int content_indent, std::string& out) {
  if (value.is_object()) {
    out += "{}\n";
  } else if (value.is_array()) {
    out += "[]\n";
  } else if (!value.is_string()) {
    out += yaml_scalar::inline_non_string(value) + "\n";
  } else if (const auto& text = value.get_ref<const std::string&>(); !yaml_scalar::literal_block_ok(text)) {
    out += yaml_scalar::inline_string(text) + "\n";
  } else {
    std::size_t trailing = 0;
    while (trailing < text.size() && text[text.size() - 1 - trailing] == '\n') ++trailing;
    out += trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n";
    std::size_t start = 0;
    const std::size_t stop = text.size() - (trailing > 0 ? 1 : 0);
    while (start <= stop && start < text.size()) {
      const auto end = std::min(text.find('\n', start), text.size());
      const auto line = text.substr(start, end - start);
      out += line.empty() ? "\n" : indent_of(content_indent) + line + "\n";
      start = end + 1;
    }
  }
}

void emit_block(const json& value, int indent, Place place, std::string& out);

void emit_entry_value(const json& value, int indent, Place child_place, std::string& out) {
  if (value.is_object() && !value.empty()) {
    out += "\n";
    emit_block(value, indent + 2, child_place, out);
  } else if (value.is_array() && !value.empty()) {
    out += "\n";
    emit_block(value, indent, Place::Other, out);  // "- " at the key's column, as kubectl writes
  } else {
    out += " ";
    emit_scalar(value, indent + 2, out);
  }
}

// A non-empty object or array whose lines start at column `indent`.
void emit_block(const json& value, int indent, Place place, std::string& out) {
  if (value.is_object()) {
    for (const auto& key : ordered_keys(value, place)) {
      out += indent_of(indent) + yaml_scalar::inline_string(key) + ":";
      const Place child = place == Place::Root && key == "metadata" ? Place::RootMetadata : Place::Other;
      emit_entry_value(value[key], indent, child, out);
    }
    return;
  }
  for (const auto& item : value) {
    if (!is_block(item)) {
      out += indent_of(indent) + "- ";
      emit_scalar(item, indent + 2, out);
      continue;
    }
    // The item as a block two columns in, its first line's indentation
    // replaced by the dash.
    std::string nested;
    emit_block(item, indent + 2, Place::ListItem, nested);
    out += indent_of(indent) + "- " + nested.substr(static_cast<std::size_t>(indent) + 2);
  }
}

// ---- reading ----

std::string where(const std::string& source, const YAML::Mark& mark) {
  return source + ":" + std::to_string(mark.line + 1);
}

json to_json(const YAML::Node& node, const std::string& source) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const auto& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return yaml_scalar::resolve_plain(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) array.push_back(to_json(item, source));
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          throw ManifestError(where(source, entry.first.Mark()) + ": a mapping key must be a plain string");
        }
        const auto& key = entry.first.Scalar();
        if (object.contains(key)) {
          throw ManifestError(where(source, entry.first.Mark()) + ": duplicate key \"" + key + "\"");
        }
        object[key] = to_json(entry.second, source);
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace

std::string to_yaml_document(const json& value) {
  std::string out;
  if (is_block(value)) {
    emit_block(value, 0, Place::Root, out);
  } else {
    emit_scalar(value, 2, out);
  }
  return out;
}

std::string to_yaml(const std::vector<json>& objects) {
  std::string out;
  for (const auto& object : objects) out += "---\n" + to_yaml_document(object);
  return out;
}

std::vector<json> read_manifests(const std::string& yaml_text, const std::string& source_name) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml_text);
  } catch (const YAML::ParserException& error) {
    throw ManifestError(source_name + ":" + std::to_string(error.mark.line + 1) + ":" +
                        std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  std::vector<json> manifests;
  for (const auto& document : documents) {
    if (document.IsNull() || !document.IsDefined()) continue;  // empty, or comments only
    if (!document.IsMap()) {
      throw ManifestError(where(source_name, document.Mark()) +
                          ": a manifest must be a mapping (apiVersion, kind, metadata, ...)");
    }
    json manifest = to_json(document, source_name);
    const auto kind = manifest.value("kind", std::string());
    if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && manifest.contains("items")) {
      if (!manifest["items"].is_array()) {
        throw ManifestError(where(source_name, document["items"].Mark()) + ": items of a " + kind +
                            " must be a list");
      }
      for (auto& item : manifest["items"]) {
        if (!item.is_object()) {
          throw ManifestError(where(source_name, document["items"].Mark()) + ": every item of a " + kind +
                              " must be a mapping");
        }
        manifests.push_back(std::move(item));
      }
      continue;
    }
    manifests.push_back(std::move(manifest));
  }
  return manifests;
}

}  // namespace pgscope::op
