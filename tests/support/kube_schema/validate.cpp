// Validation of a value against an OpenAPI v3 structural schema, with the
// Kubernetes extensions, reporting every violation with its field path.
#include <cmath>
#include <regex>
#include <set>

#include "support/kube_schema/formats.hpp"
#include "support/kube_schema/schema.hpp"
#include "support/kube_schema/schema_node.hpp"

namespace pgscope::kubefake {
namespace {

using detail::field_schema;
using detail::is_declared_property;

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_float: {
      const double number = value.get<double>();
      return std::isfinite(number) && std::floor(number) == number ? "integer" : "number";
    }
    default:
      return "integer";
  }
}

bool has_type(const json& value, const std::string& type) {
  const std::string actual = type_name(value);
  return actual == type || (type == "number" && actual == "integer");
}

bool is_identifier(const std::string& key) {
  static const std::regex identifier("^[A-Za-z_][A-Za-z0-9_]*$");
  return std::regex_match(key, identifier);
}

std::string child_path(const std::string& parent, const json& schema, const std::string& key) {
  if (is_declared_property(schema, key) || is_identifier(key)) return parent + "." + key;
  return parent + "[" + key + "]";
}

std::string quoted_list(const json& values) {
  std::string text;
  for (const json& value : values) text += (text.empty() ? "" : ", ") + value.dump();
  return text;
}

// A short description of a combinator branch for messages.
std::string describe_branch(const json& branch) {
  std::string text;
  if (branch.contains("type")) text = "of type " + branch["type"].get<std::string>();
  if (branch.contains("required")) {
    text += std::string(text.empty() ? "" : ", ") + "with " + quoted_list(branch["required"]);
  }
  return text.empty() ? branch.dump() : text;
}

std::string number_text(const json& number) { return number.dump(); }

class Validator {
 public:
  explicit Validator(bool check_unknown) : check_unknown_(check_unknown) {}

  void value(const json& schema, const json& value, const std::string& path) {
    if (value.is_null()) {
      if (!is_nullable(schema) && !accepts_anything(schema)) {
        add(path, "must not be null (the field is not nullable)");
      }
      return;
    }
    if (!type_ok(schema, value, path)) return;
    scalar_constraints(schema, value, path);
    combinators(schema, value, path);
    if (value.is_object()) object(schema, value, path);
    if (value.is_array()) array(schema, value, path);
  }

  std::vector<SchemaViolation> take() { return std::move(violations_); }
  bool clean() const { return violations_.empty(); }
  const std::vector<SchemaViolation>& violations() const { return violations_; }

 private:
  static bool is_nullable(const json& schema) { return detail::is_nullable(schema); }
  static bool accepts_anything(const json& schema) {
    return !schema.contains("type") && !detail::is_int_or_string(schema) && detail::preserves_unknown(schema);
  }

  void add(const std::string& path, std::string message) {
    violations_.push_back({path.empty() ? "." : path, std::move(message)});
  }

  bool type_ok(const json& schema, const json& value, const std::string& path) {
    if (detail::is_int_or_string(schema)) {
      if (value.is_string() || type_name(value) == "integer") return true;
      add(path, "must be an integer or a string, not " + type_name(value));
      return false;
    }
    auto type = schema.find("type");
    if (type == schema.end() || !type->is_string()) return true;
    if (has_type(value, type->get<std::string>())) return true;
    add(path, "must be of type " + type->get<std::string>() + ", not " + type_name(value));
    return false;
  }

  void scalar_constraints(const json& schema, const json& value, const std::string& path) {
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
      bool found = false;
      for (const json& allowed : *it) found = found || allowed == value;
      if (!found) add(path, "Unsupported value: " + value.dump() + ": supported values: " + quoted_list(*it));
    }
    if (auto it = schema.find("format"); it != schema.end() && it->is_string()) {
      const std::string error = detail::format_error(it->get<std::string>(), value);
      if (!error.empty()) add(path, "Invalid value: " + value.dump() + ": " + error);
    }
    if (value.is_string()) string_constraints(schema, value.get_ref<const std::string&>(), path);
    if (value.is_number()) number_constraints(schema, value, path);
  }

  void string_constraints(const json& schema, const std::string& text, const std::string& path) {
    if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
      if (!detail::matches_pattern(it->get<std::string>(), text)) {
        add(path, "Invalid value: " + json(text).dump() + ": should match '" + it->get<std::string>() + "'");
      }
    }
    const std::size_t length = detail::code_points(text);
    if (auto it = schema.find("maxLength");
        it != schema.end() && it->is_number() && length > it->get<double>()) {
      add(path, "Too long: may not be longer than " + number_text(*it));
    }
    if (auto it = schema.find("minLength");
        it != schema.end() && it->is_number() && length < it->get<double>()) {
      add(path,
          "Invalid value: " + json(text).dump() + ": should be at least " + number_text(*it) + " chars long");
    }
  }

  void number_constraints(const json& schema, const json& value, const std::string& path) {
    const double number = value.get<double>();
    if (auto it = schema.find("minimum"); it != schema.end() && it->is_number()) {
      const bool exclusive = schema.value("exclusiveMinimum", false);
      if (exclusive ? number <= it->get<double>() : number < it->get<double>()) {
        add(path, "Invalid value: " + value.dump() + ": should be greater than " +
                      (exclusive ? "" : "or equal to ") + number_text(*it));
      }
    }
    if (auto it = schema.find("maximum"); it != schema.end() && it->is_number()) {
      const bool exclusive = schema.value("exclusiveMaximum", false);
      if (exclusive ? number >= it->get<double>() : number > it->get<double>()) {
        add(path, "Invalid value: " + value.dump() + ": should be less than " +
                      (exclusive ? "" : "or equal to ") + number_text(*it));
      }
    }
    if (auto it = schema.find("multipleOf");
        it != schema.end() && it->is_number() && it->get<double>() != 0) {
      const double quotient = number / it->get<double>();
      if (std::floor(quotient) != quotient) add(path, "should be a multiple of " + number_text(*it));
    }
  }

  // allOf/anyOf/oneOf/not carry value validations only (structural schemas
  // keep types and properties outside them), so unknown fields are not theirs
  // to report.
  bool branch_clean(const json& branch, const json& value, const std::string& path) {
    Validator nested(false);
    nested.value(branch, value, path);
    return nested.clean();
  }

  void combinators(const json& schema, const json& value, const std::string& path) {
    if (auto it = schema.find("allOf"); it != schema.end() && it->is_array()) {
      for (const json& branch : *it) {
        Validator nested(false);
        nested.value(branch, value, path);
        for (const SchemaViolation& v : nested.violations()) violations_.push_back(v);
      }
    }
    if (auto it = schema.find("anyOf"); it != schema.end() && it->is_array() && !it->empty()) {
      bool any = false;
      std::string alternatives;
      for (const json& branch : *it) {
        any = any || branch_clean(branch, value, path);
        alternatives += (alternatives.empty() ? "" : "; ") + describe_branch(branch);
      }
      if (!any) add(path, "must match at least one of: " + alternatives);
    }
    if (auto it = schema.find("oneOf"); it != schema.end() && it->is_array() && !it->empty()) {
      int matching = 0;
      std::string alternatives;
      for (const json& branch : *it) {
        matching += branch_clean(branch, value, path) ? 1 : 0;
        alternatives += (alternatives.empty() ? "" : "; ") + describe_branch(branch);
      }
      if (matching != 1) add(path, "must match exactly one of: " + alternatives);
    }
    if (auto it = schema.find("not"); it != schema.end() && it->is_object()) {
      if (branch_clean(*it, value, path)) add(path, "must not be " + describe_branch(*it));
    }
  }

  void object(const json& schema, const json& value, const std::string& path) {
    if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
      for (const json& name : *it) {
        if (name.is_string() && !value.contains(name.get<std::string>())) {
          add(path + "." + name.get<std::string>(), "Required value");
        }
      }
    }
    if (auto it = schema.find("maxProperties");
        it != schema.end() && it->is_number() && value.size() > it->get<double>()) {
      add(path, "must have at most " + number_text(*it) + " properties");
    }
    if (auto it = schema.find("minProperties");
        it != schema.end() && it->is_number() && value.size() < it->get<double>()) {
      add(path, "must have at least " + number_text(*it) + " properties");
    }
    const std::string key_format = schema.value("x-pgscope-key-format", "");
    for (auto entry = value.begin(); entry != value.end(); ++entry) {
      const std::string child = child_path(path, schema, entry.key());
      if (!key_format.empty()) {
        const std::string error = detail::key_format_error(key_format, entry.key());
        if (!error.empty()) add(child, "Invalid value: " + json(entry.key()).dump() + ": " + error);
      }
      const json* field = field_schema(schema, entry.key());
      if (field == nullptr) {
        if (check_unknown_) add(child, "unknown field \"" + entry.key() + "\"");
        continue;
      }
      this->value(*field, entry.value(), child);
    }
  }

  void array(const json& schema, const json& value, const std::string& path) {
    if (auto it = schema.find("maxItems");
        it != schema.end() && it->is_number() && value.size() > it->get<double>()) {
      add(path,
          "Too many: " + std::to_string(value.size()) + ": must have at most " + number_text(*it) + " items");
    }
    if (auto it = schema.find("minItems");
        it != schema.end() && it->is_number() && value.size() < it->get<double>()) {
      add(path, "must have at least " + number_text(*it) + " items");
    }
    const json& items = detail::items_schema(schema);
    for (std::size_t i = 0; i < value.size(); ++i) {
      this->value(items, value[i], path + "[" + std::to_string(i) + "]");
    }
    switch (detail::list_type(schema)) {
      case detail::ListType::kSet:
        unique_items(value, path, [](const json& item) -> std::optional<json> { return item; });
        break;
      case detail::ListType::kMap:
        unique_items(value, path, [&](const json& item) -> std::optional<json> {
          return detail::list_map_key(schema, item, nullptr);
        });
        missing_keys(schema, value, path);
        break;
      case detail::ListType::kAtomic:
        break;
    }
  }

  template <typename KeyOf>
  void unique_items(const json& value, const std::string& path, KeyOf key_of) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::optional<json> key = key_of(value[i]);
      if (!key) continue;
      if (!seen.insert(key->dump()).second) {
        add(path + "[" + std::to_string(i) + "]", "Duplicate value: " + key->dump());
      }
    }
  }

  void missing_keys(const json& schema, const json& value, const std::string& path) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      std::string missing;
      if (value[i].is_object() && !detail::list_map_key(schema, value[i], &missing) &&
          !is_required(detail::items_schema(schema), missing)) {
        add(path + "[" + std::to_string(i) + "]." + missing, "Required value: list-map key field");
      }
    }
  }

  // A missing key that the item schema requires is reported as Required already.
  static bool is_required(const json& schema, const std::string& name) {
    auto it = schema.find("required");
    if (it == schema.end() || !it->is_array()) return false;
    for (const json& required : *it) {
      if (required == name) return true;
    }
    return false;
  }

  bool check_unknown_;
  std::vector<SchemaViolation> violations_;
};

// The object at `key`, or an empty object when it is absent or not an object.
json object_at(const json& parent, const char* key) {
  if (!parent.is_object()) return json::object();
  auto it = parent.find(key);
  return it != parent.end() && it->is_object() ? *it : json::object();
}

json array_at(const json& parent, const char* key) {
  if (!parent.is_object()) return json::array();
  auto it = parent.find(key);
  return it != parent.end() && it->is_array() ? *it : json::array();
}

// Checks of whole objects that a schema cannot express, named by the root's
// x-pgscope-rules; each mirrors an API server validation.
void semantic_rules(const json& schema, const json& object, std::vector<SchemaViolation>& out) {
  auto rules = schema.find("x-pgscope-rules");
  if (rules == schema.end() || !rules->is_array() || !object.is_object()) return;
  const json spec = object_at(object, "spec");
  for (const json& rule : *rules) {
    if (rule == "deployment-selector-matches-template") {
      // apps/v1 ValidateDeploymentSpec: the selector must select the template's labels.
      const json match_labels = object_at(object_at(spec, "selector"), "matchLabels");
      const json labels = object_at(object_at(object_at(spec, "template"), "metadata"), "labels");
      if (match_labels.empty() && array_at(object_at(spec, "selector"), "matchExpressions").empty()) {
        out.push_back({".spec.selector", "Invalid value: {}: empty selector is invalid for deployment"});
      }
      for (auto it = match_labels.begin(); it != match_labels.end(); ++it) {
        if (!labels.contains(it.key()) || labels[it.key()] != it.value()) {
          out.push_back(
              {".spec.template.metadata.labels",
               "Invalid value: " + labels.dump() + ": `selector` does not match template `labels`"});
          break;
        }
      }
    } else if (rule == "service-port-names") {
      // core/v1 ValidateService: with several ports every port needs a distinct name.
      const json ports = array_at(spec, "ports");
      if (ports.size() < 2) continue;
      std::set<std::string> names;
      for (std::size_t i = 0; i < ports.size(); ++i) {
        const std::string path = ".spec.ports[" + std::to_string(i) + "].name";
        if (!ports[i].is_object() || !ports[i].contains("name") || ports[i]["name"] == "") {
          out.push_back({path, "Required value"});
        } else if (ports[i]["name"].is_string() &&
                   !names.insert(ports[i]["name"].get<std::string>()).second) {
          out.push_back({path, "Duplicate value: " + ports[i]["name"].dump()});
        }
      }
    }
  }
}

}  // namespace

std::vector<SchemaViolation> validate(const json& schema, const json& object) {
  Validator validator(true);
  validator.value(schema, object, "");
  std::vector<SchemaViolation> violations = validator.take();
  semantic_rules(schema, object, violations);
  return violations;
}

std::string describe(const std::vector<SchemaViolation>& violations) {
  std::string text;
  for (const SchemaViolation& v : violations) text += v.field + ": " + v.message + "\n";
  return text;
}

}  // namespace pgscope::kubefake
