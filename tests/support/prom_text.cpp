#include "support/prom_text.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>

#include "support/exporter_process.hpp"

namespace pgscope::test {
namespace {

bool is_name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}
bool is_name_char(char c, bool colon_ok) { return is_name_start(c, colon_ok) || (c >= '0' && c <= '9'); }

// A cursor over one line; every error names the line number.
class LineParser {
 public:
  LineParser(const std::string& line, std::size_t number) : s_(line), number_(number) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("text format error in line " + std::to_string(number_) + ": " + what + ": " +
                             s_);
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_blanks() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  // Metric names may contain ':', label names may not.
  std::string name(bool colon_ok) {
    std::size_t start = pos_;
    if (!is_name_start(peek(), colon_ok)) fail("invalid name");
    while (!at_end() && is_name_char(s_[pos_], colon_ok)) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  std::string word() {
    std::size_t start = pos_;
    while (!at_end() && s_[pos_] != ' ' && s_[pos_] != '\t') ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // Unescapes up to `terminator` (or the end of the line when it is '\0').
  // Label values know \\, \" and \n; help texts \\ and \n.
  std::string escaped(char terminator, bool quote_escape) {
    std::string out;
    while (true) {
      if (at_end()) {
        if (terminator == '\0') return out;
        fail("unterminated label value");
      }
      char c = s_[pos_++];
      if (c == terminator) return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) fail("escape at end of line");
      char e = s_[pos_++];
      if (e == '\\') {
        out += '\\';
      } else if (e == 'n') {
        out += '\n';
      } else if (e == '"' && quote_escape) {
        out += '"';
      } else {
        fail(std::string("invalid escape sequence '\\") + e + "'");
      }
    }
  }

  std::string rest() { return at_end() ? "" : s_.substr(pos_); }

 private:
  const std::string& s_;
  std::size_t number_;
  std::size_t pos_ = 0;
};

double parse_value(LineParser& p, const std::string& token) {
  if (token.empty()) p.fail("missing value");
  char* end = nullptr;
  double v = std::strtod(token.c_str(), &end);
  if (end != token.c_str() + token.size()) p.fail("invalid value '" + token + "'");
  return v;
}

void parse_comment(LineParser& p, Exposition& exposition) {
  p.expect('#');
  p.skip_blanks();
  std::string keyword = p.word();
  if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
  p.skip_blanks();
  std::string name = p.name(true);
  auto& family = exposition.families[name];
  if (keyword == "HELP") {
    if (!family.help.empty()) p.fail("second HELP for " + name);
    if (p.peek() == ' ' || p.peek() == '\t') p.skip_blanks();
    family.help = p.escaped('\0', false);
    return;
  }
  p.skip_blanks();
  std::string type = p.word();
  static const std::set<std::string> types{"counter", "gauge", "histogram", "summary", "untyped"};
  if (!types.count(type)) p.fail("unknown type '" + type + "'");
  if (!family.type.empty()) p.fail("second TYPE for " + name);
  family.type = type;
  p.skip_blanks();
  if (!p.at_end()) p.fail("text after TYPE");
}

Sample parse_sample(LineParser& p) {
  Sample sample;
  sample.name = p.name(true);
  p.skip_blanks();
  if (p.peek() == '{') {
    p.expect('{');
    while (true) {
      p.skip_blanks();
      if (p.peek() == '}') break;  // also after a trailing comma
      std::string label = p.name(false);
      p.skip_blanks();
      p.expect('=');
      p.skip_blanks();
      p.expect('"');
      std::string value = p.escaped('"', true);
      if (!sample.labels.emplace(label, value).second) p.fail("duplicate label " + label);
      p.skip_blanks();
      if (p.peek() == ',') {
        p.expect(',');
        continue;
      }
      if (p.peek() != '}') p.fail("expected ',' or '}'");
    }
    p.expect('}');
  }
  p.skip_blanks();
  sample.value = parse_value(p, p.word());
  p.skip_blanks();
  if (!p.at_end()) {
    std::string token = p.word();
    char* end = nullptr;
    long long ts = std::strtoll(token.c_str(), &end, 10);
    if (end != token.c_str() + token.size()) p.fail("invalid timestamp '" + token + "'");
    sample.timestamp_ms = ts;
    p.skip_blanks();
    if (!p.at_end()) p.fail("text after timestamp");
  }
  return sample;
}

bool includes(const Labels& labels, const Labels& subset) {
  for (const auto& [name, value] : subset) {
    auto it = labels.find(name);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

std::string Sample::label(const std::string& name) const {
  auto it = labels.find(name);
  return it == labels.end() ? "" : it->second;
}

std::vector<const Sample*> Exposition::find(const std::string& name, const Labels& subset) const {
  std::vector<const Sample*> found;
  for (const auto& s : samples) {
    if (s.name == name && includes(s.labels, subset)) found.push_back(&s);
  }
  return found;
}

std::optional<double> Exposition::value(const std::string& name, const Labels& subset) const {
  auto found = find(name, subset);
  if (found.empty()) return std::nullopt;
  return found.front()->value;
}

std::size_t Exposition::count(const std::string& name, const Labels& subset) const {
  return find(name, subset).size();
}

bool Exposition::has_family(const std::string& name) const {
  return families.count(name) > 0 || !find(name).empty();
}

std::vector<std::string> Exposition::names_with_prefix(const std::string& prefix) const {
  std::set<std::string> names;
  for (const auto& s : samples) {
    if (s.name.rfind(prefix, 0) == 0) names.insert(s.name);
  }
  return {names.begin(), names.end()};
}

Exposition parse_prom_text(const std::string& text) {
  Exposition exposition;
  std::size_t number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    LineParser p(line, number);
    p.skip_blanks();
    if (p.at_end()) continue;
    if (p.peek() == '#') {
      parse_comment(p, exposition);
    } else {
      exposition.samples.push_back(parse_sample(p));
    }
  }
  return exposition;
}

bool PromtoolResult::parse_error() const { return !parse_errors().empty() || exit_code > 3 || exit_code < 0; }

std::string PromtoolResult::parse_errors() const {
  std::istringstream lines(output);
  std::string line, found;
  while (std::getline(lines, line)) {
    if (line.find("error while linting") != std::string::npos ||
        line.find("text format parsing error") != std::string::npos) {
      found += line + "\n";
    }
  }
  return found;
}

PromtoolResult promtool_check(const std::string& text) {
  auto run = run_process({"promtool", "check", "metrics"}, {}, text, std::chrono::seconds(60));
  return {run.exit_code, run.out + run.err};
}

}  // namespace pgscope::test
