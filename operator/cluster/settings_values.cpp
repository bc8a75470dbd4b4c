#include "operator/cluster/settings_values.hpp"

#include <chrono>
#include <regex>

#include "operator/cluster/kube_names.hpp"
#include "operator/cluster/settings.hpp"

namespace pgscope::op {

namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::vector<std::string> split_commas(const std::string& value) {
  std::vector<std::string> parts;
  if (trim(value).empty()) return parts;
  std::size_t start = 0;
  while (true) {
    const auto comma = value.find(',', start);
    parts.push_back(
        trim(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

std::pair<std::string, std::string> label_pair(const std::string& item, const std::string& where,
                                               const std::string& expected) {
  const auto equals = item.find('=');
  if (equals == std::string::npos) {
    throw UsageError(where + ": expected " + expected + ", got " + quote_for_message(item) + " (no \"=\")");
  }
  std::string key = trim(item.substr(0, equals));
  std::string value = trim(item.substr(equals + 1));
  if (!is_label_key(key)) {
    throw UsageError(
        where + ": " + quote_for_message(key) +
        " is not a Kubernetes label key (at most 63 of [A-Za-z0-9-_.], optional DNS prefix and /)");
  }
  if (!is_label_value(value)) {
    throw UsageError(
        where + ": " + quote_for_message(value) + " (label " + key +
        ") is not a Kubernetes label value (at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends)");
  }
  return {key, value};
}

}  // namespace

std::string quote_for_message(const std::string& text) { return "\"" + text + "\""; }

bool parse_bool_value(const std::string& value, const std::string& where) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw UsageError(where + ": expected true or false, got " + quote_for_message(value));
}

int parse_int_value(const std::string& value, const std::string& where, int min, int max) {
  static const std::regex digits("[0-9]{1,9}");
  if (!std::regex_match(value, digits) || std::stoi(value) < min || std::stoi(value) > max) {
    throw UsageError(where + ": expected a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got " + quote_for_message(value));
  }
  return std::stoi(value);
}

std::map<std::string, std::string> parse_label_list(const std::string& value, const std::string& where) {
  std::map<std::string, std::string> labels;
  for (const auto& item : split_commas(value)) {
    if (item.empty())
      throw UsageError(where + ": empty entry in " + quote_for_message(value) + " (expected k=v,k2=v2)");
    auto pair = label_pair(item, where, "k=v,k2=v2");
    if (!labels.emplace(pair.first, pair.second).second) {
      throw UsageError(where + ": label " + pair.first + " is given twice");
    }
  }
  return labels;
}

std::pair<std::string, std::string> parse_label_pair(const std::string& value, const std::string& where) {
  return label_pair(value, where, "KEY=VALUE");
}

std::vector<std::string> parse_namespace_list(const std::string& value, const std::string& where) {
  auto names = split_commas(value);
  for (const auto& name : names) {
    if (!is_dns_label(name)) {
      throw UsageError(where + ": " + quote_for_message(name) +
                       " is not a namespace name (at most 63 of [a-z0-9-]); expected a comma-separated list");
    }
  }
  return names;
}

std::string parse_scrape_duration(const std::string& value, const std::string& where) {
  // The pattern of the monitors' interval and scrapeTimeout fields.
  static const std::regex prometheus_duration(
      "(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?");
  if (value.empty() || !std::regex_match(value, prometheus_duration)) {
    throw UsageError(where +
                     ": expected a Prometheus duration such as 30s, 1m or 1m30s (units largest first), got " +
                     quote_for_message(value));
  }
  if (parse_duration(value, where).count() == 0) throw UsageError(where + ": must be longer than 0s");
  return value;
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what) {
  static const std::regex part("([0-9]+)(ms|s|m|h|d|w|y)");
  const auto fail = [&]() -> std::chrono::milliseconds {
    throw UsageError(what + ": expected a duration such as 15s, 1m30s or 500ms, got " +
                     quote_for_message(text));
  };
  if (text.empty()) return fail();
  long long total = 0;
  auto it = std::sregex_iterator(text.begin(), text.end(), part);
  std::size_t consumed = 0;
  for (; it != std::sregex_iterator(); ++it) {
    if (static_cast<std::size_t>(it->position()) != consumed) return fail();
    consumed += it->length();
    const auto& number = (*it)[1].str();
    if (number.size() > 9) return fail();
    const long long n = std::stoll(number);
    const auto& unit = (*it)[2].str();
    const long long ms = unit == "ms"  ? 1
                         : unit == "s" ? 1000
                         : unit == "m" ? 60000
                         : unit == "h" ? 3600000
                         : unit == "d" ? 86400000
                         : unit == "w" ? 604800000
                                       : 31536000000LL;
    total += n * ms;
  }
  if (consumed != text.size()) return fail();
  return std::chrono::milliseconds(total);
}

std::string parse_listen_address(const std::string& value, const std::string& where) {
  static const std::regex address(R"((\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5}))");
  std::smatch match;
  if (!std::regex_match(value, match, address) || std::stoi(match[2].str()) > 65535) {
    throw UsageError(where + ": expected :PORT, HOST:PORT or [IPv6]:PORT, got " + quote_for_message(value));
  }
  return value;
}

std::string parse_secret_name_template(const std::string& value, const std::string& where) {
  static const std::regex placeholder(R"(\{([^}]*)\})");
  for (auto it = std::sregex_iterator(value.begin(), value.end(), placeholder); it != std::sregex_iterator();
       ++it) {
    const auto name = (*it)[1].str();
    if (name != "username" && name != "cluster" && name != "tprkind" && name != "tprgroup") {
      throw UsageError(
          where + ": unknown placeholder {" + name +
          "} (Zalando's secret_name_template knows {username}, {cluster}, {tprkind}, {tprgroup})");
    }
  }
  if (value.find("{username}") == std::string::npos) {
    throw UsageError(where + ": " + quote_for_message(value) +
                     " has no {username}; every user has its own secret");
  }
  return value;
}

std::string format_secret_name(const std::string& name_template, const std::string& username,
                               const std::string& cluster) {
  std::string user = username;
  for (auto& c : user) {
    if (c == '_') c = '-';
  }
  const std::pair<std::string, std::string> replacements[] = {{"{username}", user},
                                                              {"{cluster}", cluster},
                                                              {"{tprkind}", "postgresql"},
                                                              {"{tprgroup}", "acid.zalan.do"}};
  std::string out = name_template;
  for (const auto& [from, to] : replacements) {
    for (auto at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) {
      out.replace(at, from.size(), to);
    }
  }
  return out;
}

}  // namespace pgscope::op
