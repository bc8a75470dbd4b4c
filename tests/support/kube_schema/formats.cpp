#include "support/kube_schema/formats.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>

namespace pgscope::kubefake::detail {
namespace {

using json = nlohmann::json;

const char kDns1123LabelText[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char kQualifiedNameText[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

const std::regex& anchored(const std::string& body) {
  static std::mutex mutex;
  static std::map<std::string, std::regex> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(body);
  if (it == cache.end()) it = cache.emplace(body, std::regex("^(" + body + ")$")).first;
  return it->second;
}

bool is_dns1123_subdomain(const std::string& value) {
  const std::string label = kDns1123LabelText;
  return !value.empty() && value.size() <= 253 &&
         std::regex_match(value, anchored(label + "(\\." + label + ")*"));
}

// Messages as k8s.io/apimachinery/pkg/util/validation words them.
std::string dns1123_subdomain_error(const std::string& value) {
  if (is_dns1123_subdomain(value)) return "";
  if (value.size() > 253) return "must be no more than 253 characters";
  return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
         "must start and end with an alphanumeric character";
}

std::string dns1123_label_error(const std::string& value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (value.empty() || !std::regex_match(value, anchored(kDns1123LabelText))) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
           "start and end with an alphanumeric character";
  }
  return "";
}

std::string dns1035_label_error(const std::string& value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (value.empty() || !std::regex_match(value, anchored("[a-z]([-a-z0-9]*[a-z0-9])?"))) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
           "alphabetic character, and end with an alphanumeric character";
  }
  return "";
}

std::string label_value_error(const std::string& value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (!value.empty() && !std::regex_match(value, anchored(kQualifiedNameText))) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
           "and "
           "must start and end with an alphanumeric character";
  }
  return "";
}

std::string qualified_name_error(const std::string& key) {
  std::string name = key;
  const auto slash = key.find('/');
  if (slash != std::string::npos) {
    const std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return "prefix part must be non-empty";
    const std::string prefix_error = dns1123_subdomain_error(prefix);
    if (!prefix_error.empty()) return "prefix part " + prefix_error;
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > 63) return "name part must be no more than 63 characters";
  if (!std::regex_match(name, anchored(kQualifiedNameText))) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
           "an "
           "alphanumeric character";
  }
  return "";
}

bool is_integral(const json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  const double number = value.get<double>();
  return std::isfinite(number) && std::floor(number) == number;
}

std::string integer_range_error(const json& value, double low, double high, const char* format) {
  if (!is_integral(value)) return "";  // the type check reports it
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(high))
      return std::string("must fit in ") + format;
    return "";
  }
  const double number = value.get<double>();
  if (number < low || number > high) return std::string("must fit in ") + format;
  return "";
}

}  // namespace

std::shared_ptr<const std::regex> compiled_pattern(const std::string& pattern) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::regex>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  std::string body = pattern;
  auto flags = std::regex::ECMAScript;
  // "^(?i)..." and "(?i)..." both make the whole expression case-insensitive in RE2.
  for (const std::string& prefix : {std::string("(?i)"), std::string("^(?i)")}) {
    if (body.compare(0, prefix.size(), prefix) == 0) {
      body = (prefix[0] == '^' ? "^" : "") + body.substr(prefix.size());
      flags |= std::regex::icase;
    }
  }
  auto compiled = std::make_shared<const std::regex>(body, flags);
  cache.emplace(pattern, compiled);
  return compiled;
}

bool matches_pattern(const std::string& pattern, const std::string& value) {
  return std::regex_search(value, *compiled_pattern(pattern));
}

std::string format_error(const std::string& format, const json& value) {
  if (format == "int32") {
    return integer_range_error(value, std::numeric_limits<std::int32_t>::min(),
                               std::numeric_limits<std::int32_t>::max(), "int32");
  }
  if (format == "int64") {
    return integer_range_error(value, static_cast<double>(std::numeric_limits<std::int64_t>::min()),
                               static_cast<double>(std::numeric_limits<std::int64_t>::max()), "int64");
  }
  if (!value.is_string()) return "";
  const std::string& text = value.get_ref<const std::string&>();
  if (format == "date-time") {
    static const std::regex rfc3339(
        R"(^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$)");
    return std::regex_match(text, rfc3339) ? "" : "must be an RFC 3339 date-time (2006-01-02T15:04:05Z)";
  }
  if (format == "byte") {
    static const std::regex base64(R"(^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$)");
    return std::regex_match(text, base64) ? "" : "must be base64-encoded (standard alphabet, padded)";
  }
  if (format == "uuid") {
    static const std::regex uuid(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    return std::regex_match(text, uuid) ? "" : "must be a UUID";
  }
  if (format == "dns-1123-subdomain") return dns1123_subdomain_error(text);
  if (format == "dns-1123-label") return dns1123_label_error(text);
  if (format == "dns-1035-label") return dns1035_label_error(text);
  if (format == "label-value") return label_value_error(text);
  return "";
}

std::string key_format_error(const std::string& format, const std::string& key) {
  if (format == "qualified-name") return qualified_name_error(key);
  if (format == "config-key") {
    // ConfigMap and Secret keys (IsConfigMapKey).
    if (key.size() > 253) return "must be no more than 253 characters";
    if (key == "." || key == ".." || !std::regex_match(key, anchored("[-._a-zA-Z0-9]+"))) {
      return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
    }
  }
  return "";
}

std::size_t code_points(const std::string& utf8) {
  std::size_t count = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

}  // namespace pgscope::kubefake::detail
