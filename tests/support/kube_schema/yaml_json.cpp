#include "support/kube_schema/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace pgscope::kubefake {
namespace {

using json = nlohmann::json;

// YAML 1.2 core schema: https://yaml.org/spec/1.2.2/#1023-core-schema
const std::regex& int_decimal() {
  static const std::regex re("^[-+]?[0-9]+$");
  return re;
}
const std::regex& int_octal() {
  static const std::regex re("^0o[0-7]+$");
  return re;
}
const std::regex& int_hex() {
  static const std::regex re("^0x[0-9a-fA-F]+$");
  return re;
}
const std::regex& float_number() {
  static const std::regex re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  return re;
}

std::string where(const YAML::Node& node, const std::string& origin) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return origin;
  return origin + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

json integer_from(const std::string& text, int base) {
  errno = 0;
  const std::string digits = base == 10 ? text : text.substr(2);
  char* end = nullptr;
  if (base == 10 && !digits.empty() && digits[0] != '-') {
    const unsigned long long value = std::strtoull(digits.c_str(), &end, base);
    if (errno == 0) {
      if (value <= static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(value);
      }
      return value;
    }
  } else {
    const long long value = std::strtoll(digits.c_str(), &end, base);
    if (errno == 0) return static_cast<std::int64_t>(value);
  }
  // Out of every integer range: keep the number, as a float, like encoding/json does.
  return std::strtod(text.c_str(), nullptr);
}

json plain_scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, int_decimal())) return integer_from(text, 10);
  if (std::regex_match(text, int_octal())) return integer_from(text, 8);
  if (std::regex_match(text, int_hex())) return integer_from(text, 16);
  if (std::regex_match(text, float_number())) return std::strtod(text.c_str(), nullptr);
  static const std::set<std::string> infinities = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  if (infinities.count(text)) return std::numeric_limits<double>::infinity();
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return -std::numeric_limits<double>::infinity();
  return text;  // .nan and the like stay strings: JSON has no NaN.
}

json scalar_to_json(const YAML::Node& node, const std::string& origin) {
  const std::string& tag = node.Tag();
  const std::string& text = node.Scalar();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;  // quoted, or explicitly a string
  if (tag == "?" || tag.empty()) return plain_scalar(text);
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
      tag == "tag:yaml.org,2002:null") {
    json value = plain_scalar(text);
    if (value.is_string())
      throw std::runtime_error(where(node, origin) + ": \"" + text + "\" is not a " + tag);
    return value;
  }
  throw std::runtime_error(where(node, origin) + ": unsupported YAML tag " + tag);
}

json node_to_json(const YAML::Node& node, const std::string& origin) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node, origin);
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const YAML::Node& item : node) array.push_back(node_to_json(item, origin));
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          throw std::runtime_error(where(entry.first, origin) + ": mapping keys must be scalars");
        }
        const std::string key = entry.first.Scalar();
        if (object.contains(key)) {
          throw std::runtime_error(where(entry.first, origin) + ": duplicate mapping key \"" + key + "\"");
        }
        object[key] = node_to_json(entry.second, origin);
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<json> parse_yaml_documents(const std::string& text, const std::string& origin) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(origin + ": invalid YAML: " + e.what());
  }
  std::vector<json> documents;
  for (const YAML::Node& node : nodes) {
    json document = node_to_json(node, origin);
    if (!document.is_null()) documents.push_back(std::move(document));
  }
  return documents;
}

std::vector<json> read_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_yaml_documents(text.str(), path);
}

}  // namespace pgscope::kubefake
