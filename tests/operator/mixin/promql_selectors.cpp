#include "promql_selectors.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace pgscope::test {
namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Words that are never metric names where they stand without "(" after them.
const std::set<std::string>& keywords() {
  static const std::set<std::string> words = {
      "by",      "without",  "on",     "ignoring", "group_left", "group_right",  "bool",   "offset", "and",
      "or",      "unless",   "atan2",  "sum",      "avg",        "count",        "min",    "max",    "topk",
      "bottomk", "quantile", "stddev", "stdvar",   "group",      "count_values", "limitk", "inf",    "nan"};
  return words;
}

bool label_list_keyword(const std::string& word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" ||
         word == "group_right";
}

class Scanner {
 public:
  explicit Scanner(const std::string& text) : s_(text) {}

  std::vector<VectorSelector> selectors() {
    std::vector<VectorSelector> found;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (space(c)) {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '"' || c == '\'' || c == '`') {
        read_string();
      } else if (c == '[') {
        skip_group('[', ']');  // a range or subquery window
      } else if (c == '{') {
        VectorSelector selector;
        read_matchers(selector);
        for (const auto& m : selector.matchers) {
          if (m.label == "__name__" && m.op == "=") selector.metric = m.value;
        }
        found.push_back(selector);
      } else if (digit(c) || (c == '.' && i_ + 1 < s_.size() && digit(s_[i_ + 1]))) {
        skip_number();
      } else if (ident_start(c)) {
        const std::string word = read_ident();
        const std::size_t next = skip_space(i_);
        const bool call = next < s_.size() && s_[next] == '(';
        const std::string key = lower(word);
        if (label_list_keyword(key)) {
          if (call) {
            i_ = next;
            skip_group('(', ')');
          }
        } else if (!call && keywords().count(key) == 0) {
          VectorSelector selector;
          selector.metric = word;
          if (next < s_.size() && s_[next] == '{') {
            i_ = next;
            read_matchers(selector);
          }
          found.push_back(selector);
        }
      } else {
        ++i_;
      }
    }
    return found;
  }

 private:
  std::size_t skip_space(std::size_t at) const {
    while (at < s_.size() && space(s_[at])) ++at;
    return at;
  }

  std::string read_ident() {
    const std::size_t start = i_;
    while (i_ < s_.size() && ident_char(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  std::string read_string() {
    const char quote = s_[i_++];
    std::string value;
    while (i_ < s_.size() && s_[i_] != quote) {
      if (s_[i_] == '\\' && quote != '`' && i_ + 1 < s_.size()) {
        const char next = s_[++i_];
        value += next == 'n' ? '\n' : next == 't' ? '\t' : next == 'r' ? '\r' : next;
      } else {
        value += s_[i_];
      }
      ++i_;
    }
    ++i_;
    return value;
  }

  void skip_group(char open, char close) {
    int depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"' || c == '\'' || c == '`') {
        read_string();
        continue;
      }
      ++i_;
      if (c == open) ++depth;
      if (c == close && --depth == 0) return;
    }
  }

  void skip_number() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if ((c == 'e' || c == 'E') && i_ + 2 < s_.size() && (s_[i_ + 1] == '+' || s_[i_ + 1] == '-') &&
          digit(s_[i_ + 2])) {
        i_ += 2;
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
        ++i_;
      } else {
        return;
      }
    }
  }

  void read_matchers(VectorSelector& selector) {
    ++i_;  // {
    while (i_ < s_.size()) {
      i_ = skip_space(i_);
      if (i_ >= s_.size()) return;
      if (s_[i_] == '}') {
        ++i_;
        return;
      }
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      LabelMatcher matcher;
      if (s_[i_] == '"') {
        matcher.label = read_string();
      } else {
        matcher.label = read_ident();
        if (matcher.label.empty()) {
          ++i_;  // not PromQL: step over it rather than loop
          continue;
        }
      }
      i_ = skip_space(i_);
      while (i_ < s_.size() && (s_[i_] == '=' || s_[i_] == '!' || s_[i_] == '~')) matcher.op += s_[i_++];
      i_ = skip_space(i_);
      if (i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '\'' || s_[i_] == '`')) matcher.value = read_string();
      selector.matchers.push_back(matcher);
    }
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

}  // namespace

bool VectorSelector::has(const std::string& label, const std::string& op, const std::string& value) const {
  return std::any_of(matchers.begin(), matchers.end(), [&](const LabelMatcher& m) {
    return m.label == label && m.op == op && m.value == value;
  });
}

std::string VectorSelector::text() const {
  std::string out = metric + "{";
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    out += (i ? ", " : "") + matchers[i].label + matchers[i].op + "\"" + matchers[i].value + "\"";
  }
  return out + "}";
}

std::vector<VectorSelector> vector_selectors(const std::string& expr) { return Scanner(expr).selectors(); }

}  // namespace pgscope::test
