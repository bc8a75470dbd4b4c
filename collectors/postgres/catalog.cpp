#include "postgres/catalog.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "postgres/builtin_catalog.hpp"

namespace pgscope {
namespace {

// Names are checked by hand rather than with std::regex, whose libstdc++
// matcher recurses once per character: a 50 000-character name in a query
// file overflowed the stack (found by fuzzing).
bool is_name(const std::string& text, bool colon, bool upper) {
  if (text.empty() || text.size() > 200) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool ok = (c >= 'a' && c <= 'z') || (upper && c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon && c == ':') || (i > 0 && c >= '0' && c <= '9') ||
                    (!upper && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}
bool is_metric_name(const std::string& text) { return is_name(text, true, true); }
bool is_label_name(const std::string& text) { return is_name(text, false, true); }
bool is_collector_name(const std::string& text) { return is_name(text, false, false); }

// The code point starting at text[i], advancing i past it; -1 for a byte
// sequence that is not UTF-8 (overlong forms and surrogates included).
long next_code_point(const std::string& text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  int length = 0;
  long code = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07;
  } else {
    return -1;
  }
  if (i + length > text.size()) return -1;
  for (int k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return -1;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  static const long kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return -1;
  i += length;
  return code;
}

struct Parser {
  std::string origin;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    const auto mark = node.Mark();
    std::ostringstream out;
    out << origin;
    if (!mark.is_null()) out << ":" << mark.line + 1 << ":" << mark.column + 1;
    out << ": " << what;
    throw CatalogError(out.str());
  }

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& key, const char* expected) const {
    if (!node.IsScalar()) fail(node, "\"" + key + "\" must be " + expected);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, "\"" + key + "\" must be " + expected + ", not \"" + node.Scalar() + "\"");
    }
  }

  // Text from the file: no control characters (a query may hold tabs and
  // line breaks), at most `limit` bytes. Such characters cannot be written
  // back by --dump-catalog and have no use in SQL or in names.
  std::string text(const YAML::Node& node, const std::string& key, const char* expected,
                   bool multiline = false, std::size_t limit = 1000) const {
    if (!node.IsScalar()) fail(node, "\"" + key + "\" must be " + expected);
    const std::string& value = node.Scalar();
    if (value.size() > limit) {
      fail(node, "\"" + key + "\" is longer than " + std::to_string(limit) + " bytes");
    }
    for (std::size_t i = 0; i < value.size();) {
      const std::size_t at = i;
      const long code = next_code_point(value, i);
      if (code < 0) {
        fail(node, "\"" + key + "\" is not valid UTF-8 at byte " + std::to_string(at + 1) +
                       " (save the file as UTF-8)");
      }
      // C0 and C1 controls, DEL, and the code points YAML takes as line
      // breaks (U+0085, U+2028, U+2029): --dump-catalog could not write them
      // back as they were.
      const bool line_break = code == '\n' || code == '\t' || code == '\r';
      const bool control =
          code < 0x20 || (code >= 0x7f && code <= 0x9f) || code == 0x2028 || code == 0x2029 || code == 0xfeff;
      if (control && !(multiline && line_break)) {
        char hex[24];  // sized for any long: -Wformat-truncation (at -Og) cannot see code < 0x10000
        std::snprintf(hex, sizeof hex, "U+%04lX", code);
        fail(node, "\"" + key + "\" holds the control character " + hex + " at byte " +
                       std::to_string(at + 1) + " (remove it)");
      }
    }
    return value;
  }

  void check_keys(const YAML::Node& map, const std::set<std::string>& known, const std::string& where) const {
    for (const auto& item : map) {
      const auto key = text(item.first, "key", "plain text");
      if (known.count(key) == 0) {
        std::string list;
        for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
        fail(item.first, "unknown key \"" + key + "\" in " + where + " (expected one of: " + list + ")");
      }
    }
  }

  Usage usage(const YAML::Node& node) const {
    static const std::map<std::string, Usage> names = {
        {"LABEL", Usage::Label},       {"GAUGE", Usage::Gauge},
        {"COUNTER", Usage::Counter},   {"MAPPEDMETRIC", Usage::MappedMetric},
        {"DURATION", Usage::Duration}, {"DISCARD", Usage::Discard}};
    auto name = text(node, "usage", "a string");
    std::string upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    auto found = names.find(upper);
    if (found == names.end()) {
      fail(node, "unknown usage \"" + name +
                     "\" (expected LABEL, GAUGE, COUNTER, MAPPEDMETRIC, DURATION or DISCARD)");
    }
    return found->second;
  }

  // postgres_exporter's runonserver: a semver range such as ">=10.0.0 <12.0.0".
  void version_range(const YAML::Node& node, QueryBranch& branch) const {
    std::istringstream words(text(node, "runonserver", "a version range"));
    // Bounded digits: a major version of more than three digits is no
    // version, and would overflow server_version_num arithmetic.
    static const std::regex clause(R"((>=|<=|>|<|=)?(\d{1,3})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?)");
    for (std::string word; words >> word;) {
      std::smatch match;
      if (word.size() > 20 || !std::regex_match(word, match, clause))
        fail(node,
             "cannot read version range clause \"" + word.substr(0, 20) + "\" (e.g. \">=12.0.0 <16.0.0\")");
      int major = std::stoi(match[2]);
      int minor = match[3].matched ? std::stoi(match[3]) : 0;
      int patch = match[4].matched ? std::stoi(match[4]) : 0;
      // server_version_num: 9.6.3 is 90603, 15.2 is 150002.
      int number = major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + patch;
      int next = major >= 10 ? (major + 1) * 10000 : major * 10000 + (minor + 1) * 100;
      std::string op = match[1].matched ? match[1].str() : "=";
      if (op == ">=") branch.min_version = number;
      if (op == ">") branch.min_version = next;
      if (op == "<") branch.max_version = number;
      if (op == "<=") branch.max_version = next;
      if (op == "=") branch.min_version = number, branch.max_version = next;
    }
  }

  // A number of seconds: not negative, and below a day (so that converting
  // it to milliseconds cannot overflow).
  double seconds(const YAML::Node& node, const std::string& key) const {
    const double value = scalar<double>(node, key, "a number of seconds");
    if (!(value >= 0 && value <= 86400)) fail(node, "\"" + key + "\" must be between 0 and 86400 seconds");
    return value;
  }

  std::vector<std::string> databases(const YAML::Node& node, const std::string& where) const {
    std::vector<std::string> names;
    if (node.IsScalar()) {
      names.push_back(text(node, "target_databases", "a name"));
    } else if (node.IsSequence()) {
      for (const auto& item : node) names.push_back(text(item, "target_databases", "a name"));
    } else {
      fail(node, where + ": target_databases must be \"*\" or a list of database names");
    }
    if (names.empty()) fail(node, where + ": target_databases is empty (remove it to run once)");
    for (const auto& name : names) {
      if (name.empty()) fail(node, where + ": target_databases has an empty name");
      if (name == "*" && names.size() > 1)
        fail(node, where + ": \"*\" already means every database; list names or \"*\", not both");
    }
    return names;
  }

  QueryBranch branch(const YAML::Node& node, const std::string& where) const {
    QueryBranch result;
    if (node["query"]) result.sql = text(node["query"], "query", "SQL text", true, 1 << 20);
    if (node["min_version"])
      result.min_version = scalar<int>(node["min_version"], "min_version", "an integer");
    if (node["max_version"])
      result.max_version = scalar<int>(node["max_version"], "max_version", "an integer");
    if (node["runonserver"]) version_range(node["runonserver"], result);
    if (result.min_version < 0 || result.max_version < 0) {
      fail(node, where + ": min_version and max_version are server_version_num values such as 150000");
    }
    if (result.max_version != 0 && result.max_version <= result.min_version) {
      fail(node, where + ": max_version must be above min_version");
    }
    return result;
  }

  MetricSpec metric(const YAML::Node& item, const CatalogEntry& entry) const {
    if (!item.IsMap() || item.size() != 1)
      fail(item, "each item of \"metrics\" must be a map with one column name");
    MetricSpec spec;
    const auto& column = *item.begin();
    spec.column = text(column.first, "column", "a column name", false, 256);
    const auto& body = column.second;
    if (!body.IsMap())
      fail(column.first, "column \"" + spec.column + "\" needs a map with at least \"usage\"");
    check_keys(body, {"usage", "description", "name", "scale", "mapping"}, "column \"" + spec.column + "\"");
    if (!body["usage"]) fail(column.first, "column \"" + spec.column + "\" has no \"usage\"");
    spec.usage = usage(body["usage"]);
    if (body["description"]) spec.description = text(body["description"], "description", "text", false, 4000);
    if (body["name"]) spec.name = text(body["name"], "name", "a metric name");
    if (body["scale"]) spec.scale = scalar<double>(body["scale"], "scale", "a number");
    if (body["mapping"]) {
      if (!body["mapping"].IsMap()) fail(body["mapping"], "\"mapping\" must map text to numbers");
      for (const auto& pair : body["mapping"]) {
        spec.mapping[text(pair.first, "mapping", "text", false, 256)] =
            scalar<double>(pair.second, "mapping", "a number");
      }
    }
    if (spec.usage == Usage::Label) {
      if (!is_label_name(spec.column))
        fail(column.first, "\"" + spec.column + "\" is not a valid label name");
    } else if (spec.usage != Usage::Discard && !is_metric_name(entry.metric_name(spec))) {
      fail(column.first, "\"" + entry.metric_name(spec) + "\" is not a valid metric name");
    }
    if (spec.usage == Usage::MappedMetric && spec.mapping.empty()) {
      fail(column.first, "MAPPEDMETRIC column \"" + spec.column + "\" needs a \"mapping\"");
    }
    return spec;
  }

  CatalogEntry entry(const YAML::Node& key, const YAML::Node& body) const {
    CatalogEntry result;
    result.name = text(key, "query name", "plain text");
    result.origin = origin + ":" + std::to_string(key.Mark().line + 1);
    if (!is_metric_name(result.name)) fail(key, "\"" + result.name + "\" is not a valid metric prefix");
    if (!body.IsMap())
      fail(key, "query \"" + result.name + "\" must be a map with \"query\" and \"metrics\"");
    check_keys(
        body,
        {"query", "queries", "metrics", "master", "cache_seconds", "runonserver", "collector",
         "default_enabled", "target_databases", "primary_only", "replica_only", "timeout_seconds",
         "min_version", "max_version", "dynamic_name", "usage", "description", "predicate", "max_series"},
        "query \"" + result.name + "\"");
    const std::string where = "query \"" + result.name + "\"";
    if (body["collector"]) result.collector = text(body["collector"], "collector", "a name");
    if (!is_collector_name(result.collector)) {
      fail(body["collector"],
           "collector name \"" + result.collector + "\" must be lower-case letters, digits, _");
    }
    if (body["default_enabled"])
      result.default_enabled = scalar<bool>(body["default_enabled"], "default_enabled", "true or false");
    if (body["target_databases"]) result.target_databases = databases(body["target_databases"], where);
    // postgres_exporter's master: true means "only on the configured
    // database", which is what an entry without target_databases does.
    if (body["master"] && scalar<bool>(body["master"], "master", "true or false") &&
        !result.target_databases.empty()) {
      fail(body["master"], where + ": master: true contradicts target_databases; keep one");
    }
    if (body["predicate"]) {
      result.predicate = text(body["predicate"], "predicate", "SQL text", true, 1 << 20);
      if (result.predicate.find_first_not_of(" \t\r\n") == std::string::npos)
        fail(body["predicate"], where + ": predicate is empty (remove it or give a query)");
    }
    if (body["max_series"]) {
      const long cap = scalar<long>(body["max_series"], "max_series", "a positive integer");
      if (cap <= 0) fail(body["max_series"], where + ": max_series must be a positive integer");
      result.max_series = static_cast<std::size_t>(cap);
    }
    if (body["primary_only"])
      result.primary_only = scalar<bool>(body["primary_only"], "primary_only", "true or false");
    if (body["replica_only"])
      result.replica_only = scalar<bool>(body["replica_only"], "replica_only", "true or false");
    if (body["cache_seconds"]) result.cache_seconds = seconds(body["cache_seconds"], "cache_seconds");
    if (body["timeout_seconds"]) result.timeout_seconds = seconds(body["timeout_seconds"], "timeout_seconds");
    if (body["dynamic_name"])
      result.dynamic_name = scalar<bool>(body["dynamic_name"], "dynamic_name", "true or false");
    if (body["usage"]) result.dynamic_usage = usage(body["usage"]);
    if (body["query"] && body["queries"]) fail(key, where + " has both \"query\" and \"queries\": keep one");
    if (body["query"]) {
      result.branches.push_back(branch(body, where));
    } else if (body["queries"]) {
      if (!body["queries"].IsSequence())
        fail(body["queries"], "\"queries\" must be a list of {min_version, max_version, query}");
      for (const auto& item : body["queries"]) {
        if (!item.IsMap()) fail(item, "each item of \"queries\" must be a map");
        check_keys(item, {"query", "min_version", "max_version", "runonserver"}, where + " branch");
        if (!item["query"]) fail(item, where + ": branch without \"query\"");
        result.branches.push_back(branch(item, where));
      }
    } else {
      fail(key, where + " has no \"query\"");
    }
    if (body["queries"]) {
      // Entry-level bounds narrow every branch.
      const auto bounds = branch(body, where);
      for (auto& b : result.branches) {
        b.min_version = std::max(b.min_version, bounds.min_version);
        if (bounds.max_version != 0 && (b.max_version == 0 || b.max_version > bounds.max_version)) {
          b.max_version = bounds.max_version;
        }
        if (b.max_version != 0 && b.max_version <= b.min_version) {
          fail(body["queries"], where +
                                    ": a branch's versions lie outside the entry's min_version/max_version "
                                    "(it could never run; remove it or widen the bounds)");
        }
      }
    }
    if (body["metrics"]) {
      if (!body["metrics"].IsSequence()) fail(body["metrics"], "\"metrics\" must be a list");
      std::set<std::string> columns;
      for (const auto& item : body["metrics"]) {
        auto spec = metric(item, result);
        if (!columns.insert(spec.column).second) fail(item, "column \"" + spec.column + "\" is listed twice");
        result.metrics.push_back(std::move(spec));
      }
    }
    if (result.metrics.empty() && !result.dynamic_name) fail(key, where + " has no \"metrics\"");
    if (result.primary_only && result.replica_only)
      fail(key, where + " cannot be both primary_only and replica_only");
    return result;
  }
};

}  // namespace

const char* to_string(Usage usage) {
  switch (usage) {
    case Usage::Label:
      return "LABEL";
    case Usage::Gauge:
      return "GAUGE";
    case Usage::Counter:
      return "COUNTER";
    case Usage::MappedMetric:
      return "MAPPEDMETRIC";
    case Usage::Duration:
      return "DURATION";
    case Usage::Discard:
      return "DISCARD";
  }
  return "GAUGE";
}

const QueryBranch* CatalogEntry::branch_for(int server_version) const {
  for (const auto& branch : branches) {
    if (branch.matches(server_version)) return &branch;
  }
  return nullptr;
}

bool CatalogEntry::runs_in(const std::string& database, bool wanted) const {
  for (const auto& target : target_databases) {
    if (target == "*" ? wanted : target == database) return true;
  }
  return false;
}

std::string CatalogEntry::metric_name(const MetricSpec& spec) const {
  if (!spec.name.empty()) return spec.name;
  std::string name = this->name + "_" + spec.column;
  if (spec.usage == Usage::Duration) name += "_milliseconds";
  return name;
}

std::vector<std::pair<std::string, bool>> Catalog::collectors() const {
  std::vector<std::pair<std::string, bool>> result;
  for (const auto& entry : entries) {
    auto found =
        std::find_if(result.begin(), result.end(), [&](const auto& c) { return c.first == entry.collector; });
    if (found == result.end()) result.emplace_back(entry.collector, entry.default_enabled);
  }
  return result;
}

void Catalog::append(Catalog&& other) {
  for (auto& entry : other.entries) {
    for (const auto& existing : entries) {
      if (existing.name == entry.name) {
        throw CatalogError(entry.origin + ": query \"" + entry.name + "\" is already defined at " +
                           existing.origin);
      }
    }
    entries.push_back(std::move(entry));
  }
}

std::vector<std::string> Catalog::overlay(Catalog&& other) {
  std::vector<std::string> replaced;
  for (auto& entry : other.entries) {
    auto existing = std::find_if(entries.begin(), entries.end(),
                                 [&](const CatalogEntry& e) { return e.name == entry.name; });
    if (existing == entries.end()) {
      entries.push_back(std::move(entry));
    } else if (existing->origin.rfind("builtin:", 0) == 0) {
      replaced.push_back(entry.name);
      *existing = std::move(entry);
    } else {
      throw CatalogError(entry.origin + ": query \"" + entry.name + "\" is already defined at " +
                         existing->origin + " (rename one of them)");
    }
  }
  return replaced;
}

Catalog parse_catalog(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw CatalogError(origin + ":" + std::to_string(error.mark.line + 1) + ":" +
                       std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  return parse_catalog_node(root, origin);
}

Catalog parse_catalog_node(const YAML::Node& root, const std::string& origin) {
  Catalog catalog;
  if (root.IsNull()) return catalog;
  Parser parser{origin};
  if (!root.IsMap()) parser.fail(root, "queries must be a map of query names to queries");
  std::set<std::string> names;
  try {
    for (const auto& item : root) {
      if (!item.first.IsScalar()) parser.fail(item.first, "a query name must be plain text");
      auto entry = parser.entry(item.first, item.second);
      if (!names.insert(entry.name).second)
        parser.fail(item.first, "query \"" + entry.name + "\" is defined twice");
      catalog.entries.push_back(std::move(entry));
    }
  } catch (const YAML::Exception& error) {
    // yaml-cpp's own conversions (a key that is a map, say): still the
    // user's file, so still a CatalogError with the place.
    throw CatalogError(origin + ":" + std::to_string(error.mark.line + 1) + ":" +
                       std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  return catalog;
}

Catalog load_catalog_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CatalogError("cannot read query file " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_catalog(text.str(), path);
}

Catalog builtin_catalog() {
  // Parsed once: every start, reload and /probe target needs a copy, and
  // parsing the YAML takes milliseconds.
  static const Catalog parsed = [] {
    Catalog catalog;
    for (const auto& file : builtin_catalog_files()) {
      catalog.append(parse_catalog(file.text, std::string("builtin:") + file.name));
    }
    return catalog;
  }();
  return parsed;
}

namespace {

// yaml-cpp writes SQL as a literal block ("|"), which reads back with
// exactly one final newline, with leading spaces of the first line taken as
// indentation and with every line break as "\n". Normalizing the SQL's
// surrounding whitespace and line breaks (meaningless in SQL) makes a dumped
// catalog read back as the same text.
std::string as_block(const std::string& sql) {
  std::string text;
  text.reserve(sql.size() + 1);
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '\r') {
      text += sql[i];
    } else if (i + 1 >= sql.size() || sql[i + 1] != '\n') {
      text += '\n';
    }
  }
  const auto first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return "\n";
  const auto last = text.find_last_not_of(" \t\n");
  return text.substr(first, last - first + 1) + "\n";
}

}  // namespace

std::string dump_catalog(const Catalog& catalog) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const auto& entry : catalog.entries) {
    out << YAML::Key << entry.name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "collector" << YAML::Value << entry.collector;
    out << YAML::Key << "default_enabled" << YAML::Value << entry.default_enabled;
    if (entry.per_database()) {
      out << YAML::Key << "target_databases" << YAML::Value << YAML::Flow << entry.target_databases;
    }
    if (entry.primary_only) out << YAML::Key << "primary_only" << YAML::Value << true;
    if (entry.replica_only) out << YAML::Key << "replica_only" << YAML::Value << true;
    if (entry.cache_seconds > 0) out << YAML::Key << "cache_seconds" << YAML::Value << entry.cache_seconds;
    if (entry.timeout_seconds > 0)
      out << YAML::Key << "timeout_seconds" << YAML::Value << entry.timeout_seconds;
    if (entry.max_series > 0) out << YAML::Key << "max_series" << YAML::Value << entry.max_series;
    if (!entry.predicate.empty())
      out << YAML::Key << "predicate" << YAML::Value << YAML::Literal << as_block(entry.predicate);
    if (entry.dynamic_name) {
      out << YAML::Key << "dynamic_name" << YAML::Value << true;
      out << YAML::Key << "usage" << YAML::Value << to_string(entry.dynamic_usage);
    }
    out << YAML::Key << "queries" << YAML::Value << YAML::BeginSeq;
    for (const auto& branch : entry.branches) {
      out << YAML::BeginMap;
      out << YAML::Key << "min_version" << YAML::Value << branch.min_version;
      if (branch.max_version != 0) out << YAML::Key << "max_version" << YAML::Value << branch.max_version;
      out << YAML::Key << "query" << YAML::Value << YAML::Literal << as_block(branch.sql);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq;
    for (const auto& spec : entry.metrics) {
      out << YAML::BeginMap << YAML::Key << spec.column << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "usage" << YAML::Value << to_string(spec.usage);
      if (!spec.name.empty()) out << YAML::Key << "name" << YAML::Value << spec.name;
      if (spec.scale != 1.0) out << YAML::Key << "scale" << YAML::Value << spec.scale;
      if (!spec.mapping.empty()) {
        out << YAML::Key << "mapping" << YAML::Value << YAML::BeginMap;
        for (const auto& [text, number] : spec.mapping) out << YAML::Key << text << YAML::Value << number;
        out << YAML::EndMap;
      }
      if (!spec.description.empty()) out << YAML::Key << "description" << YAML::Value << spec.description;
      out << YAML::EndMap << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str(), out.size()) + "\n";
}

}  // namespace pgscope
