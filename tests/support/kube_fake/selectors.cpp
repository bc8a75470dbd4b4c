#include "support/kube_fake/selectors.hpp"

#include <algorithm>
#include <regex>

#include "support/kube_fake/api_status.hpp"

namespace pgscope::kubefake {

namespace {

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// Commas inside `in (a,b)` belong to the value set, not to the requirement list.
std::vector<std::string> split_requirements(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(trim(current));
  return parts;
}

// Label keys and values: an optional DNS prefix and a name of [A-Za-z0-9._-].
bool valid_key(const std::string& key) {
  static const std::regex pattern(
      R"(^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$)");
  return key.size() <= 317 && std::regex_match(key, pattern);
}

bool valid_value(const std::string& value) {
  static const std::regex pattern(R"(^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$)");
  return value.size() <= 63 && std::regex_match(value, pattern);
}

[[noreturn]] void malformed(const std::string& what, const std::string& text) {
  throw bad_request("unable to parse requirement: " + what + " in selector \"" + text + "\"");
}

const json* label_map(const json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto labels = metadata->find("labels");
  if (labels == metadata->end() || !labels->is_object()) return nullptr;
  return &*labels;
}

}  // namespace

LabelSelector LabelSelector::parse(const std::string& text) {
  LabelSelector selector;
  if (trim(text).empty()) return selector;
  static const std::regex set_form(R"(^(\S+?)\s+(in|notin)\s*\((.*)\)$)");
  for (const auto& part : split_requirements(text)) {
    if (part.empty()) malformed("empty requirement", text);
    Requirement requirement;
    std::smatch match;
    if (std::regex_match(part, match, set_form)) {
      requirement.key = match[1];
      requirement.op = match[2] == "in" ? Op::kIn : Op::kNotIn;
      for (const auto& value : split_requirements(match[3])) {
        if (!valid_value(value)) malformed("invalid label value \"" + value + "\"", text);
        requirement.values.push_back(value);
      }
      if (requirement.values.empty()) malformed("empty value set", text);
    } else if (part[0] == '!') {
      requirement.key = trim(part.substr(1));
      requirement.op = Op::kDoesNotExist;
    } else if (auto pos = part.find("!="); pos != std::string::npos) {
      requirement.key = trim(part.substr(0, pos));
      requirement.op = Op::kNotEquals;
      requirement.values = {trim(part.substr(pos + 2))};
    } else if (auto pos2 = part.find("=="); pos2 != std::string::npos) {
      requirement.key = trim(part.substr(0, pos2));
      requirement.op = Op::kEquals;
      requirement.values = {trim(part.substr(pos2 + 2))};
    } else if (auto pos3 = part.find('='); pos3 != std::string::npos) {
      requirement.key = trim(part.substr(0, pos3));
      requirement.op = Op::kEquals;
      requirement.values = {trim(part.substr(pos3 + 1))};
    } else {
      requirement.key = part;
      requirement.op = Op::kExists;
    }
    if (!valid_key(requirement.key)) malformed("invalid label key \"" + requirement.key + "\"", text);
    for (const auto& value : requirement.values) {
      if (!valid_value(value)) malformed("invalid label value \"" + value + "\"", text);
    }
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool LabelSelector::matches(const json& object) const {
  const json* labels = label_map(object);
  for (const auto& requirement : requirements_) {
    const json* value = nullptr;
    if (labels != nullptr) {
      auto it = labels->find(requirement.key);
      if (it != labels->end() && it->is_string()) value = &*it;
    }
    auto in_values = [&] {
      return value != nullptr && std::find(requirement.values.begin(), requirement.values.end(),
                                           value->get<std::string>()) != requirement.values.end();
    };
    switch (requirement.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        // A missing label satisfies `!=` and `notin`, as in kube.
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (value == nullptr) return false;
        break;
      case Op::kDoesNotExist:
        if (value != nullptr) return false;
        break;
    }
  }
  return true;
}

namespace {

const std::vector<std::string>& supported_fields(const std::string& kind) {
  static const std::vector<std::string> common = {"metadata.name", "metadata.namespace"};
  static const std::vector<std::string> event = {"metadata.name",
                                                 "metadata.namespace",
                                                 "involvedObject.kind",
                                                 "involvedObject.namespace",
                                                 "involvedObject.name",
                                                 "involvedObject.uid",
                                                 "involvedObject.apiVersion",
                                                 "involvedObject.resourceVersion",
                                                 "involvedObject.fieldPath",
                                                 "reason",
                                                 "reportingComponent",
                                                 "source",
                                                 "type"};
  return kind == "Event" ? event : common;
}

std::string field_value(const json& object, const std::string& field) {
  if (field == "source") {
    auto source = object.find("source");
    if (source != object.end() && source->is_object()) return source->value("component", "");
    return "";
  }
  const json* node = &object;
  size_t start = 0;
  while (start <= field.size()) {
    size_t dot = field.find('.', start);
    std::string step = field.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return "";
    auto it = node->find(step);
    if (it == node->end()) return "";
    node = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_null()) return "";
  return node->dump();
}

}  // namespace

FieldSelector FieldSelector::parse(const std::string& text, const std::string& kind) {
  FieldSelector selector;
  if (trim(text).empty()) return selector;
  const auto& fields = supported_fields(kind);
  for (const auto& part : split_requirements(text)) {
    Requirement requirement;
    size_t pos;
    size_t op_length;
    if ((pos = part.find("!=")) != std::string::npos) {
      requirement.equals = false;
      op_length = 2;
    } else if ((pos = part.find("==")) != std::string::npos) {
      requirement.equals = true;
      op_length = 2;
    } else if ((pos = part.find('=')) != std::string::npos) {
      requirement.equals = true;
      op_length = 1;
    } else {
      throw bad_request("invalid field selector: \"" + part + "\": no operator");
    }
    requirement.field = trim(part.substr(0, pos));
    requirement.value = trim(part.substr(pos + op_length));
    if (std::find(fields.begin(), fields.end(), requirement.field) == fields.end()) {
      throw bad_request("field label not supported: " + requirement.field);
    }
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool FieldSelector::matches(const json& object) const {
  for (const auto& requirement : requirements_) {
    bool equal = field_value(object, requirement.field) == requirement.value;
    if (equal != requirement.equals) return false;
  }
  return true;
}

std::string FieldSelector::pinned_name() const {
  for (const auto& requirement : requirements_) {
    if (requirement.field == "metadata.name" && requirement.equals) return requirement.value;
  }
  return "";
}

}  // namespace pgscope::kubefake
