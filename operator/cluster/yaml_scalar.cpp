#include "operator/cluster/yaml_scalar.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <regex>
#include <set>

namespace pgscope::op::yaml_scalar {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// strtoll/strtoull over the whole text in `base`; false on overflow or junk.
bool parse_integer(const std::string& digits, bool negative, int base, json& out) {
  if (digits.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long magnitude = std::strtoull(digits.c_str(), &end, base);
  if (errno != 0 || *end != '\0') return false;
  if (!negative) {
    if (magnitude <= static_cast<unsigned long long>(std::numeric_limits<long long>::max())) {
      out = static_cast<long long>(magnitude);
    } else {
      out = magnitude;
    }
    return true;
  }
  if (magnitude > static_cast<unsigned long long>(std::numeric_limits<long long>::max()) + 1ull) return false;
  out = magnitude == 0 ? 0LL : -static_cast<long long>(magnitude - 1) - 1;
  return true;
}

// go-yaml v2: strip "_", then strconv.ParseInt(text, 0, 64) (ParseUint for
// large positives), then ParseFloat if the text looks like a float.
bool resolve_number(const std::string& text, json& out) {
  std::string plain;
  for (char c : text) {
    if (c != '_') plain += c;
  }
  if (plain.empty()) return false;
  const bool negative = plain[0] == '-';
  const std::string body = (plain[0] == '-' || plain[0] == '+') ? plain.substr(1) : plain;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    return parse_integer(body.substr(2), negative, 16, out);
  }
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
    return parse_integer(body.substr(2), negative, 8, out);
  }
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
    return parse_integer(body.substr(2), negative, 2, out);
  }
  static const std::regex decimal("[0-9]+");
  if (std::regex_match(body, decimal)) {
    const int base = body.size() > 1 && body[0] == '0' ? 8 : 10;
    if (parse_integer(body, negative, base, out)) return true;
  }
  static const std::regex float_style(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(plain, float_style)) {
    out = std::strtod(plain.c_str(), nullptr);
    return true;
  }
  return false;
}

bool plain_char(char c) {
  static const std::string extra = "_./=+-:$()~^<;";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == ' ' ||
         extra.find(c) != std::string::npos;
}

bool plain_safe(const std::string& text) {
  if (text.empty()) return false;
  static const std::string bad_first = "-?:,[]{}#&*!|>'\"%@` \t";
  if (bad_first.find(text.front()) != std::string::npos) return false;
  if (text.back() == ' ' || text.back() == ':') return false;
  if (text == "=" || text == "<<" || text.rfind("...", 0) == 0) return false;
  for (char c : text) {
    if (!plain_char(c)) return false;
  }
  if (text.find(": ") != std::string::npos) return false;
  // YAML 1.1 readers take 1:30 for a base-60 number.
  if ((is_digit(text.front()) || text.front() == '+' || text.front() == '.') &&
      text.find(':') != std::string::npos) {
    return false;
  }
  return true;
}

// Bytes YAML does not allow unescaped: C0 controls (tab and newline aside),
// DEL, C1 controls (incl. NEL), LS, PS and the BOM. Returns the length of
// such a sequence at `i`, or 0.
std::size_t unprintable_at(const std::string& text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return 1;
  const auto next = [&](std::size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
  };
  if (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f) return 2;
  if (c == 0xe2 && next(1) == 0x80 && (next(2) == 0xa8 || next(2) == 0xa9)) return 3;
  if (c == 0xef && next(1) == 0xbb && next(2) == 0xbf) return 3;
  return 0;
}

// The code point of a 1-3 byte UTF-8 sequence (only those unprintable_at finds).
unsigned code_point(const std::string& text, std::size_t i, std::size_t length) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  if (length == 1) return byte(0);
  if (length == 2) return ((byte(0) & 0x1fu) << 6) | (byte(1) & 0x3fu);
  return ((byte(0) & 0x0fu) << 12) | ((byte(1) & 0x3fu) << 6) | (byte(2) & 0x3fu);
}

std::string double_quoted(const std::string& text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (const auto length = unprintable_at(text, i); length > 0) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", code_point(text, i, length));
      out += escape;
      i += length;
      continue;
    } else {
      out += c;
    }
    ++i;
  }
  return out + "\"";
}

}  // namespace

json resolve_plain(const std::string& text) {
  static const std::set<std::string> nulls{"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> trues{"y",    "Y",    "yes", "Yes", "YES", "true",
                                           "True", "TRUE", "on",  "On",  "ON"};
  static const std::set<std::string> falses{"n",     "N",     "no",  "No",  "NO", "false",
                                            "False", "FALSE", "off", "Off", "OFF"};
  if (nulls.count(text)) return nullptr;
  if (trues.count(text)) return true;
  if (falses.count(text)) return false;
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" || text == "+.Inf" ||
      text == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return -std::numeric_limits<double>::infinity();
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  const char first = text.front();
  json number;
  if ((is_digit(first) || first == '-' || first == '+' || first == '.') && resolve_number(text, number))
    return number;
  return text;
}

std::string inline_string(const std::string& text) {
  if (plain_safe(text) && resolve_plain(text).is_string()) return text;
  return double_quoted(text);
}

bool literal_block_ok(const std::string& text) {
  if (text.find('\n') == std::string::npos) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (unprintable_at(text, i) > 0) return false;
  }
  bool seen_content = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    if (!line.empty()) {
      // A line of blanks reads back as an empty line; a leading blank on
      // the first line would be taken for indentation.
      if (line.find_first_not_of(" \t") == std::string::npos) return false;
      if (!seen_content && (line[0] == ' ' || line[0] == '\t')) return false;
      seen_content = true;
    }
    start = end + 1;
  }
  return seen_content;
}

std::string inline_non_string(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isnan(number)) return ".nan";
    if (std::isinf(number)) return number > 0 ? ".inf" : "-.inf";
  }
  return value.dump();
}

}  // namespace pgscope::op::yaml_scalar
