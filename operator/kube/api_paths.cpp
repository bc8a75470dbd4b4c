#include "operator/kube/api_paths.hpp"

#include <stdexcept>

namespace pgscope::kube {

std::string percent_encode(const std::string& text) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    }
  }
  return out;
}

std::string group_version_path(const std::string& group, const std::string& version) {
  if (group.empty()) return "/api/" + percent_encode(version);
  return "/apis/" + percent_encode(group) + "/" + percent_encode(version);
}

std::string collection_path(const ResourceType& type, const std::string& ns) {
  std::string path = group_version_path(type.group, type.version);
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + percent_encode(ns);
  return path + "/" + percent_encode(type.plural);
}

std::string object_path(const ResourceType& type, const std::string& ns, const std::string& name) {
  if (name.empty()) throw std::invalid_argument(type.plural + ": the object has no name");
  if (type.namespaced && ns.empty()) {
    throw std::invalid_argument(type.plural + " \"" + name + "\" is namespaced, but no namespace was given");
  }
  return collection_path(type, ns) + "/" + percent_encode(name);
}

Query& Query::add(const std::string& key, const std::string& value) {
  if (!value.empty()) params_.emplace_back(key, value);
  return *this;
}

Query& Query::add(const std::string& key, long long value) {
  if (value != 0) params_.emplace_back(key, std::to_string(value));
  return *this;
}

std::string Query::str() const {
  std::string out;
  for (const auto& [key, value] : params_) {
    out += out.empty() ? '?' : '&';
    out += percent_encode(key) + "=" + percent_encode(value);
  }
  return out;
}

}  // namespace pgscope::kube
