#include "exposition_check.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

namespace pgscope::fuzz {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool name_char(char c, bool colon) { return name_start(c, colon) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Go's ParseFloat accepts more (hex floats, "inf", "infinity" in any case),
// but a value the exporter writes is a decimal number, NaN, +Inf or -Inf.
// Returns "" when `token` is one, else why not; `value` gets the number.
std::string check_value(const std::string& token, double& value) {
  if (token.empty()) return "missing value";
  if (token == "NaN") return value = std::numeric_limits<double>::quiet_NaN(), "";
  if (token == "+Inf") return value = std::numeric_limits<double>::infinity(), "";
  if (token == "-Inf") return value = -std::numeric_limits<double>::infinity(), "";
  std::size_t i = 0;
  if (token[i] == '+' || token[i] == '-') ++i;
  std::size_t digits = 0;
  while (i < token.size() && is_digit(token[i])) ++i, ++digits;
  if (i < token.size() && token[i] == '.') {
    ++i;
    while (i < token.size() && is_digit(token[i])) ++i, ++digits;
  }
  if (digits == 0)
    return "value \"" + printable(token, 40) + "\" is not a number (NaN, +Inf, -Inf or decimal)";
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    std::size_t exponent_digits = 0;
    while (i < token.size() && is_digit(token[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return "value \"" + printable(token, 40) + "\" has an empty exponent";
  }
  if (i != token.size())
    return "value \"" + printable(token, 40) + "\" is not a number (NaN, +Inf, -Inf or decimal)";
  errno = 0;
  value = std::strtod(token.c_str(), nullptr);
  // Go's ParseFloat fails with ErrRange beyond the largest double (and
  // Prometheus then rejects the whole scrape); underflow is no error there.
  if (std::isinf(value))
    return "value \"" + token + "\" is out of double's range (Go's ParseFloat: ErrRange)";
  return "";
}

bool check_timestamp(const std::string& token) {
  std::size_t i = 0;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
  if (i == token.size() || token.size() - i > 19) return false;
  for (std::size_t j = i; j < token.size(); ++j)
    if (!is_digit(token[j])) return false;
  errno = 0;
  std::strtoll(token.c_str(), nullptr, 10);
  return errno == 0;
}

// Length-prefixed, so that no byte of a name or value can fake a separator.
void append_key(std::string& key, const std::string& part) {
  key += std::to_string(part.size());
  key += ':';
  key += part;
}

class Checker {
 public:
  explicit Checker(const std::string& text) : text_(text) {}

  CheckResult run() {
    std::size_t begin = 0;
    std::size_t number = 0;
    while (begin < text_.size()) {
      std::size_t end = text_.find('\n', begin);
      ++number;
      if (end == std::string::npos) {
        violation("syntax", number, "the last line does not end with a line feed");
        end = text_.size();
      }
      line(text_.substr(begin, end - begin), number);
      begin = end + 1;
    }
    return std::move(result_);
  }

 private:
  void violation(const std::string& kind, std::size_t line, const std::string& message) {
    result_.violations.push_back({kind, line, message});
  }

  std::size_t start_family(const std::string& name, std::size_t number) {
    if (current_ != kNone && result_.families[current_].name == name) return current_;
    auto found = index_.find(name);
    if (found != index_.end()) {
      violation("family-order", number,
                "family " + printable(name, 80) +
                    " appears again after other families (a family's lines "
                    "must be one group)");
      current_ = found->second;
      return current_;
    }
    ParsedFamily family;
    family.name = name;
    family.type = "untyped";
    result_.families.push_back(std::move(family));
    keys_.emplace_back();
    current_ = result_.families.size() - 1;
    index_.emplace(name, current_);
    return current_;
  }

  bool belongs(const ParsedFamily& family, const std::string& sample) const {
    if (sample == family.name) return true;
    auto suffixed = [&](const char* suffix) { return sample == family.name + suffix; };
    if (family.type == "summary") return suffixed("_sum") || suffixed("_count");
    if (family.type == "histogram") return suffixed("_bucket") || suffixed("_sum") || suffixed("_count");
    return false;
  }

  // A metric name at `pos`, which must end at a blank, the end of the line
  // or (for a sample) '{'. Empty when there is none (a violation is noted).
  std::string metric_name(const std::string& s, std::size_t& pos, std::size_t number, bool brace_ok) {
    const std::size_t start = pos;
    if (pos < s.size() && name_start(s[pos], true)) {
      ++pos;
      while (pos < s.size() && name_char(s[pos], true)) ++pos;
      if (pos == s.size() || is_blank(s[pos]) || (brace_ok && s[pos] == '{'))
        return s.substr(start, pos - start);
    }
    std::size_t token_end = start;
    while (token_end < s.size() && !is_blank(s[token_end]) && !(brace_ok && s[token_end] == '{')) ++token_end;
    violation("metric-name", number,
              "invalid metric name \"" + printable(s.substr(start, token_end - start), 80) + "\"");
    return "";
  }

  void line(const std::string& s, std::size_t number) {
    std::size_t pos = 0;
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    if (pos == s.size()) return;  // an empty line
    if (s[pos] == '#') {
      comment(s, pos + 1, number);
    } else {
      sample(s, pos, number);
    }
  }

  void comment(const std::string& s, std::size_t pos, std::size_t number) {
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    std::size_t word_end = pos;
    while (word_end < s.size() && !is_blank(s[word_end])) ++word_end;
    const std::string keyword = s.substr(pos, word_end - pos);
    if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
    pos = word_end;
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    const std::string name = metric_name(s, pos, number, false);
    if (name.empty()) return;
    ParsedFamily& family = result_.families[start_family(name, number)];
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    if (keyword == "HELP") {
      if (family.has_help) violation("help", number, "a second HELP for " + name);
      std::string help;
      for (; pos < s.size(); ++pos) {
        if (s[pos] != '\\') {
          help += s[pos];
          continue;
        }
        if (pos + 1 == s.size()) {
          violation("escape", number, "HELP of " + name + " ends in a lone backslash");
          break;
        }
        const char e = s[++pos];
        if (e == '\\') {
          help += '\\';
        } else if (e == 'n') {
          help += '\n';
        } else {
          violation("escape", number,
                    "HELP of " + name + " has the escape \"\\" + printable(std::string(1, e)) +
                        "\" (only \\\\ and \\n are allowed)");
          help += e;
        }
      }
      if (!valid_utf8(help)) violation("utf8", number, "HELP of " + name + " is not valid UTF-8");
      family.has_help = true;
      family.help = help;
      return;
    }
    std::size_t type_end = pos;
    while (type_end < s.size() && !is_blank(s[type_end])) ++type_end;
    const std::string type = s.substr(pos, type_end - pos);
    static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
    if (kTypes.count(type) == 0) {
      violation("type", number, "unknown type \"" + printable(type, 40) + "\" for " + name);
    }
    if (type_end != s.size()) violation("syntax", number, "text after the type of " + name);
    if (family.typed) violation("type", number, "a second TYPE for " + name);
    if (!family.samples.empty()) violation("type", number, "TYPE of " + name + " after its samples");
    family.typed = true;
    if (kTypes.count(type)) family.type = type;
  }

  void sample(const std::string& s, std::size_t pos, std::size_t number) {
    ParsedSample sample;
    sample.name = metric_name(s, pos, number, true);
    if (sample.name.empty()) return;
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    std::set<std::string> label_names;
    if (pos < s.size() && s[pos] == '{') {
      ++pos;
      while (true) {
        while (pos < s.size() && is_blank(s[pos])) ++pos;
        if (pos < s.size() && s[pos] == '}') break;  // also after a trailing comma
        const std::size_t start = pos;
        if (pos < s.size() && name_start(s[pos], false)) {
          ++pos;
          while (pos < s.size() && name_char(s[pos], false)) ++pos;
        }
        const std::string label = s.substr(start, pos - start);
        if (label.empty() || (pos < s.size() && !is_blank(s[pos]) && s[pos] != '=')) {
          std::size_t token_end = pos;
          while (token_end < s.size() && s[token_end] != '=' && s[token_end] != '"' &&
                 !is_blank(s[token_end]))
            ++token_end;
          violation("label-name", number,
                    "invalid label name \"" + printable(s.substr(start, token_end - start), 80) + "\" in " +
                        sample.name);
          return;
        }
        if (label.compare(0, 2, "__") == 0) {
          violation("reserved-label", number,
                    "label name " + label + " in " + sample.name + " starts with __ (reserved)");
        }
        while (pos < s.size() && is_blank(s[pos])) ++pos;
        if (pos >= s.size() || s[pos] != '=') {
          violation("syntax", number, "no '=' after label " + label + " in " + sample.name);
          return;
        }
        ++pos;
        while (pos < s.size() && is_blank(s[pos])) ++pos;
        if (pos >= s.size() || s[pos] != '"') {
          violation("syntax", number, "no '\"' opening the value of label " + label + " in " + sample.name);
          return;
        }
        ++pos;
        std::string value;
        bool closed = false;
        while (pos < s.size()) {
          const char c = s[pos++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c != '\\') {
            value += c;
            continue;
          }
          if (pos == s.size()) break;
          const char e = s[pos++];
          if (e == '\\' || e == '"') {
            value += e;
          } else if (e == 'n') {
            value += '\n';
          } else {
            violation("escape", number,
                      "label " + label + " of " + sample.name + " has the escape \"\\" +
                          printable(std::string(1, e)) + "\" (only \\\\, \\\" and \\n are allowed)");
            return;
          }
        }
        if (!closed) {
          violation("escape", number,
                    "the value of label " + label + " in " + sample.name + " is unterminated");
          return;
        }
        if (!valid_utf8(value)) {
          violation("utf8", number,
                    "label " + label + " of " + sample.name + " is not valid UTF-8: \"" +
                        printable(value, 80) + "\"");
        }
        if (!label_names.insert(label).second) {
          violation("duplicate-label", number, "label " + label + " twice in one sample of " + sample.name);
        }
        sample.labels.emplace_back(label, value);
        while (pos < s.size() && is_blank(s[pos])) ++pos;
        if (pos < s.size() && s[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos >= s.size() || s[pos] != '}') {
          violation("syntax", number, "expected ',' or '}' after label " + label + " in " + sample.name);
          return;
        }
      }
      ++pos;  // '}'
      while (pos < s.size() && is_blank(s[pos])) ++pos;
    }
    std::size_t token_end = pos;
    while (token_end < s.size() && !is_blank(s[token_end])) ++token_end;
    const std::string problem = check_value(s.substr(pos, token_end - pos), sample.value);
    if (!problem.empty()) {
      violation("value", number, sample.name + ": " + problem);
      return;
    }
    pos = token_end;
    while (pos < s.size() && is_blank(s[pos])) ++pos;
    if (pos < s.size()) {
      token_end = pos;
      while (token_end < s.size() && !is_blank(s[token_end])) ++token_end;
      const std::string timestamp = s.substr(pos, token_end - pos);
      if (!check_timestamp(timestamp)) {
        violation("value", number, sample.name + ": invalid timestamp \"" + printable(timestamp, 40) + "\"");
        return;
      }
      sample.has_timestamp = true;
      pos = token_end;
      while (pos < s.size() && is_blank(s[pos])) ++pos;
      if (pos < s.size()) {
        violation("syntax", number, sample.name + ": text after the timestamp");
        return;
      }
    }

    const std::size_t f = current_ != kNone && belongs(result_.families[current_], sample.name)
                              ? current_
                              : start_family(sample.name, number);
    // The series as Prometheus identifies it: name and label set, in any
    // order, without labels whose value is empty.
    std::vector<std::pair<std::string, std::string>> labels;
    for (const auto& label : sample.labels)
      if (!label.second.empty()) labels.push_back(label);
    std::sort(labels.begin(), labels.end());
    std::string key;
    append_key(key, sample.name);
    for (const auto& [label, value] : labels) {
      append_key(key, label);
      append_key(key, value);
    }
    if (!keys_[f].insert(key).second) {
      violation("duplicate-series", number,
                "the series " + printable(s, 160) + " repeats one of family " + result_.families[f].name);
    }
    result_.families[f].samples.push_back(std::move(sample));
  }

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  const std::string& text_;
  CheckResult result_;
  std::map<std::string, std::size_t> index_;
  std::vector<std::set<std::string>> keys_;  // per family, the series seen
  std::size_t current_ = kNone;
};

}  // namespace

bool valid_utf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned min;
    unsigned code;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2, min = 0x80, code = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3, min = 0x800, code = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return false;  // a continuation byte, C0/C1 (overlong), F5..FF
    }
    if (i + length > n) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

bool valid_metric_name(const std::string& name) {
  if (name.empty() || !name_start(name[0], true)) return false;
  for (char c : name)
    if (!name_char(c, true)) return false;
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || !name_start(name[0], false)) return false;
  for (char c : name)
    if (!name_char(c, false)) return false;
  return true;
}

CheckResult check_exposition(const std::string& text) { return Checker(text).run(); }

const std::set<std::string>& tolerated_kinds() {
  static const std::set<std::string> kinds = [] {
    std::set<std::string> out;
    const char* env = std::getenv("PGSCOPE_FUZZ_TOLERATE");
    std::string list = env ? env : "";
    std::size_t begin = 0;
    while (begin <= list.size()) {
      std::size_t end = list.find(',', begin);
      if (end == std::string::npos) end = list.size();
      if (end > begin) out.insert(list.substr(begin, end - begin));
      begin = end + 1;
    }
    if (!out.empty()) {
      std::string shown;
      for (const auto& kind : out) shown += (shown.empty() ? "" : ",") + kind;
      std::fprintf(stderr, "PGSCOPE_FUZZ_TOLERATE: not reporting %s\n", shown.c_str());
    }
    return out;
  }();
  return kinds;
}

std::vector<Violation> findings(const std::vector<Violation>& violations) {
  std::vector<Violation> out;
  for (const auto& v : violations)
    if (tolerated_kinds().count(v.kind) == 0) out.push_back(v);
  return out;
}

std::string printable(const std::string& text, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= limit) {
      out += "...(" + std::to_string(text.size()) + " bytes)";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void report_and_abort(const char* target, const std::string& what, const std::vector<Violation>& violations,
                      const std::string& text) {
  std::string report = std::string(target) + ": " + what + "\n";
  std::size_t shown = 0;
  for (const auto& v : violations) {
    if (++shown > 20) {
      report += "  ... " + std::to_string(violations.size() - 20) + " more\n";
      break;
    }
    report += "  [" + v.kind + "] line " + std::to_string(v.line) + ": " + v.message + "\n";
  }
  report +=
      "--- exposition (" + std::to_string(text.size()) + " bytes; \\xHH: control and non-ASCII bytes) ---\n";
  std::size_t begin = 0, lines = 0;
  while (begin < text.size() && lines < 60) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    report += printable(text.substr(begin, end - begin), 300) + "\n";
    begin = end + 1;
    ++lines;
  }
  if (begin < text.size()) report += "...\n";
  report += "--- end ---\n";
  std::fputs(report.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace pgscope::fuzz
