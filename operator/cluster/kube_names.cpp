#include "operator/cluster/kube_names.hpp"

#include <cstdio>

namespace pgscope::op {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// Name part of a label key, and non-empty label values.
bool is_qualified_name(const std::string& text) {
  if (text.empty() || text.size() > 63) return false;
  if (!is_alnum(text.front()) || !is_alnum(text.back())) return false;
  for (char c : text) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

bool is_dns_label(const std::string& text) {
  if (text.empty() || text.size() > 63) return false;
  if (!is_lower_alnum(text.front()) || !is_lower_alnum(text.back())) return false;
  for (char c : text) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_dns_subdomain(const std::string& text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = text.find('.', start);
    const auto part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!is_dns_label(part)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool is_label_key(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return is_qualified_name(text);
  return is_dns_subdomain(text.substr(0, slash)) && is_qualified_name(text.substr(slash + 1));
}

bool is_label_value(const std::string& text) { return text.empty() || is_qualified_name(text); }

bool is_prometheus_label_name(const std::string& text) {
  if (text.empty()) return false;
  const char first = text.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_')) return false;
  for (char c : text) {
    if (!is_alnum(c) && c != '_') return false;
  }
  return true;
}

std::string sanitize_label_name(const std::string& key) {
  std::string out = key;
  for (auto& c : out) {
    if (!is_alnum(c) && c != '_') c = '_';
  }
  return out;
}

std::string pod_label_meta(const std::string& key) {
  return "__meta_kubernetes_pod_label_" + sanitize_label_name(key);
}

std::uint64_t stable_hash(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string stable_hash_hex(const std::string& text) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(stable_hash(text)));
  return buffer;
}

std::string fit_dns_label(const std::string& name) {
  if (name.size() <= 63) return name;
  std::string head = name.substr(0, 54);
  while (!head.empty() && head.back() == '-') head.pop_back();
  return head + "-" + stable_hash_hex(name).substr(0, 8);
}

}  // namespace pgscope::op
