#include "support/promql_names.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace pgscope::test {
namespace {

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// PromQL keywords are case-insensitive. Aggregations are here as well as in
// function position because `sum by (x) (...)` puts a keyword, not "(", after them.
const std::set<std::string>& keywords() {
  static const std::set<std::string> words = {
      "by",     "without", "on",           "ignoring", "group_left",  "group_right", "bool",
      "offset", "and",     "or",           "unless",   "atan2",       "sum",         "avg",
      "count",  "min",     "max",          "topk",     "bottomk",     "quantile",    "stddev",
      "stdvar", "group",   "count_values", "limitk",   "limit_ratio", "inf",         "nan"};
  return words;
}

bool takes_label_list(const std::string& word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" ||
         word == "group_right";
}

// A lexer over one expression: positions move past strings, Grafana
// variables and bracketed parts as units.
class Lexer {
 public:
  explicit Lexer(const std::string& text) : s_(text) {}

  std::size_t skip_space(std::size_t i) const {
    while (i < s_.size()) {
      if (is_space(s_[i])) {
        ++i;
      } else if (s_[i] == '#') {
        while (i < s_.size() && s_[i] != '\n') ++i;
      } else {
        break;
      }
    }
    return i;
  }

  // Past the string starting at i ("...", '...' with escapes, `...` raw);
  // its value (escapes resolved) in *value.
  std::size_t skip_string(std::size_t i, std::string* value = nullptr) const {
    const char quote = s_[i++];
    std::string text;
    while (i < s_.size() && s_[i] != quote) {
      if (s_[i] == '\\' && quote != '`' && i + 1 < s_.size()) {
        const char next = s_[++i];
        text += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      } else {
        text += s_[i];
      }
      ++i;
    }
    if (value) *value = text;
    return std::min(i + 1, s_.size());
  }

  // Past a Grafana variable at i: $name, ${...}, [[...]].
  std::size_t skip_variable(std::size_t i) const {
    if (s_.compare(i, 2, "[[") == 0) {
      const auto end = s_.find("]]", i + 2);
      return end == std::string::npos ? s_.size() : end + 2;
    }
    if (i + 1 < s_.size() && s_[i + 1] == '{') {
      const auto end = s_.find('}', i + 2);
      return end == std::string::npos ? s_.size() : end + 1;
    }
    ++i;
    while (i < s_.size() && is_word_char(s_[i])) ++i;
    return i;
  }

  // Past the group opened at i (by `open`) to its `close`, across strings,
  // variables and nested groups.
  std::size_t skip_group(std::size_t i, char open, char close) const {
    int depth = 0;
    while (i < s_.size()) {
      const char c = s_[i];
      if (c == '"' || c == '\'' || c == '`') {
        i = skip_string(i);
        continue;
      }
      if (c == '$' || s_.compare(i, 2, "[[") == 0) {
        i = skip_variable(i);
        continue;
      }
      if (c == open) ++depth;
      if (c == close && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }

  // A number or a duration (5m, 1h30m, 0x1f, 1e-3, .5): past it.
  std::size_t skip_number(std::size_t i) const {
    while (i < s_.size()) {
      const char c = s_[i];
      if ((c == 'e' || c == 'E') && i + 2 < s_.size() && (s_[i + 1] == '+' || s_[i + 1] == '-') &&
          is_digit(s_[i + 2])) {
        i += 2;
      } else if (is_word_char(c) || c == '.') {
        ++i;
      } else {
        break;
      }
    }
    return i;
  }

  std::size_t read_ident(std::size_t i, std::string* word) const {
    const std::size_t start = i;
    while (i < s_.size() && is_ident_char(s_[i])) ++i;
    *word = s_.substr(start, i - start);
    return i;
  }

  // Past the matchers {...} at i. Records the metric of a __name__="x"
  // matcher and of a quoted name standing alone ({"x"}, Prometheus 3).
  std::size_t scan_matchers(std::size_t i, std::set<std::string>& names) const {
    ++i;
    while (i < s_.size()) {
      i = skip_space(i);
      if (i >= s_.size()) break;
      const char c = s_[i];
      if (c == '}') return i + 1;
      std::string label;
      if (is_ident_start(c)) {
        i = read_ident(i, &label);
      } else if (c == '"' || c == '\'' || c == '`') {
        i = skip_string(i, &label);
        const std::size_t next = skip_space(i);
        if (next >= s_.size() || s_[next] == ',' || s_[next] == '}') {
          names.insert(label);
          continue;
        }
      } else if (c == '$' || s_.compare(i, 2, "[[") == 0) {
        i = skip_variable(i);
        continue;
      } else {
        ++i;
        continue;
      }
      i = skip_space(i);
      std::string op;
      while (i < s_.size() && (s_[i] == '=' || s_[i] == '!' || s_[i] == '~')) op += s_[i++];
      i = skip_space(i);
      if (i < s_.size() && (s_[i] == '"' || s_[i] == '\'' || s_[i] == '`')) {
        std::string value;
        i = skip_string(i, &value);
        if (label == "__name__" && op == "=") names.insert(value);
      }
    }
    return i;
  }

  std::set<std::string> metric_names() const {
    std::set<std::string> names;
    std::size_t i = 0;
    while (i < s_.size()) {
      const char c = s_[i];
      if (is_space(c) || c == '#') {
        i = skip_space(i);
      } else if (c == '"' || c == '\'' || c == '`') {
        i = skip_string(i);
      } else if (c == '$' || s_.compare(i, 2, "[[") == 0) {
        i = skip_variable(i);
      } else if (c == '[') {
        i = skip_group(i, '[', ']');  // a range or subquery: durations and variables only
      } else if (c == '{') {
        i = scan_matchers(i, names);
      } else if (is_digit(c) || (c == '.' && i + 1 < s_.size() && is_digit(s_[i + 1]))) {
        i = skip_number(i);
      } else if (is_ident_start(c)) {
        std::string word;
        i = read_ident(i, &word);
        const std::string key = lower(word);
        const std::size_t next = skip_space(i);
        const bool call = next < s_.size() && s_[next] == '(';
        if (takes_label_list(key)) {
          if (call) i = skip_group(next, '(', ')');
        } else if (!call && !keywords().count(key)) {
          names.insert(word);
        }
      } else {
        ++i;
      }
    }
    return names;
  }

  // The text inside the parentheses that open at or after `from`, split at
  // its top-level commas.
  std::vector<std::string> call_arguments(std::size_t from) const {
    std::vector<std::string> args;
    const std::size_t open = s_.find('(', from);
    if (open == std::string::npos) return args;
    const std::size_t end = skip_group(open, '(', ')');
    const std::size_t close = end > open && end <= s_.size() && s_[end - 1] == ')' ? end - 1 : end;
    std::size_t start = open + 1, i = start;
    int depth = 0;
    while (i < close) {
      const char c = s_[i];
      if (c == '"' || c == '\'' || c == '`') {
        i = skip_string(i);
        continue;
      }
      if (c == '(' || c == '{' || c == '[') ++depth;
      if (c == ')' || c == '}' || c == ']') --depth;
      if (c == ',' && depth == 0) {
        args.push_back(s_.substr(start, i - start));
        start = i + 1;
      }
      ++i;
    }
    const std::string last = s_.substr(start, close - start);
    if (!args.empty() || last.find_first_not_of(" \t\r\n") != std::string::npos) args.push_back(last);
    return args;
  }

 private:
  const std::string& s_;
};

bool starts_with_call(const std::string& text, const std::string& function) {
  if (text.compare(0, function.size(), function) != 0) return false;
  const auto next = text.find_first_not_of(" \t", function.size());
  return next != std::string::npos && text[next] == '(';
}

}  // namespace

std::set<std::string> promql_metric_names(const std::string& expr) { return Lexer(expr).metric_names(); }

std::set<std::string> grafana_variable_query_names(const std::string& query) {
  const auto first = query.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const std::string text = query.substr(first);
  const Lexer lexer(text);
  if (starts_with_call(text, "label_values")) {
    const auto args = lexer.call_arguments(0);
    // label_values(label) names no metric; label_values(selector, label) names the selector's.
    return args.size() >= 2 ? promql_metric_names(args.front()) : std::set<std::string>{};
  }
  if (starts_with_call(text, "query_result")) {
    const auto args = lexer.call_arguments(0);
    return args.empty() ? std::set<std::string>{} : promql_metric_names(args.front());
  }
  // metrics(regex) and label_names() name no single metric.
  if (starts_with_call(text, "metrics") || starts_with_call(text, "label_names")) return {};
  return promql_metric_names(text);
}

bool parse_label_values(const std::string& query, std::string* selector, std::string* label) {
  const auto first = query.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return false;
  const std::string text = query.substr(first);
  if (!starts_with_call(text, "label_values")) return false;
  const auto args = Lexer(text).call_arguments(0);
  if (args.size() != 2) return false;
  auto trim = [](const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    const auto end = s.find_last_not_of(" \t\r\n");
    return begin == std::string::npos ? std::string() : s.substr(begin, end - begin + 1);
  };
  *selector = trim(args[0]);
  *label = trim(args[1]);
  return true;
}

std::string substitute_grafana_variables(const std::string& expr,
                                         const std::map<std::string, std::string>& values,
                                         std::set<std::string>* unknown) {
  std::string out;
  std::size_t i = 0;
  auto replace = [&](const std::string& name, const std::string& original) {
    const auto it = values.find(name);
    if (it != values.end()) {
      out += it->second;
      return;
    }
    // $1 in a label_replace replacement is PromQL's, not Grafana's.
    if (unknown && !name.empty() && !is_digit(name[0])) unknown->insert(name);
    out += original;
  };
  while (i < expr.size()) {
    if (expr.compare(i, 2, "[[") == 0) {
      const auto end = expr.find("]]", i + 2);
      if (end != std::string::npos) {
        const std::string inner = expr.substr(i + 2, end - i - 2);
        replace(inner.substr(0, inner.find(':')), expr.substr(i, end + 2 - i));
        i = end + 2;
        continue;
      }
    }
    if (expr[i] == '$' && i + 1 < expr.size() && expr[i + 1] == '{') {
      const auto end = expr.find('}', i + 2);
      if (end != std::string::npos) {
        const std::string inner = expr.substr(i + 2, end - i - 2);
        replace(inner.substr(0, inner.find_first_of(":.")), expr.substr(i, end + 1 - i));
        i = end + 1;
        continue;
      }
    }
    if (expr[i] == '$' && i + 1 < expr.size() && is_word_char(expr[i + 1])) {
      std::size_t end = i + 1;
      while (end < expr.size() && is_word_char(expr[end])) ++end;
      replace(expr.substr(i + 1, end - i - 1), expr.substr(i, end - i));
      i = end;
      continue;
    }
    out += expr[i++];
  }
  return out;
}

}  // namespace pgscope::test
