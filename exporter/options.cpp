#include "exporter/options.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <variant>

#include "exporter/dsn.hpp"
#include "exporter/option_values.hpp"

extern char** environ;

namespace pgscope {

namespace {
std::string one_line(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

UsageError::UsageError(const std::string& message) : std::runtime_error(one_line(message)) {}

namespace {

using Millis = std::chrono::milliseconds;
using Value = std::variant<std::string, bool, Millis, int, std::vector<std::string>>;
using Raw = std::variant<std::string, std::vector<std::string>>;  // text, or a YAML list

enum class Kind { kString, kBool, kDuration, kCount, kList };

struct Setting {
  const char* flag;        // without "--"
  const char* alias;       // postgres_exporter's spelling, or nullptr
  const char* config_key;  // "section.key", or nullptr
  Kind kind;
  const char* placeholder;
  const char* help;
  bool from_env;                       // actions such as --help are flags only
  std::string (*check)(const Value&);  // why the value is unacceptable, or ""
  void (*apply)(Options&, const Value&);
  Value (*get)(const Options&);
};

std::string show(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<Millis>(&v)) return format_duration(*d);
  if (const auto* n = std::get_if<int>(&v)) return std::to_string(*n);
  return join(std::get<std::vector<std::string>>(v), ",");
}

std::string no_check(const Value&) { return ""; }
std::string choice(const Value& v, const std::vector<std::string>& choices, const std::string& what) {
  if (std::find(choices.begin(), choices.end(), std::get<std::string>(v)) != choices.end()) return "";
  const std::vector<std::string> head(choices.begin(), choices.end() - 1);
  return "is not " + what + " (use " + join(head, ", ") + " or " + choices.back() + ")";
}
std::string positive_duration(const Value& v) {
  return std::get<Millis>(v).count() > 0 ? "" : "must be longer than 0 (use e.g. 10s or 500ms)";
}

// The setter and getter of one Options member.
#define FIELD(member, type)                                         \
  [](Options& o, const Value& v) { o.member = std::get<type>(v); }, \
      [](const Options& o) -> Value { return o.member; }

const std::vector<Setting>& settings() {
  using S = std::string;
  using L = std::vector<std::string>;
  static const std::vector<Setting> table = {
      {"web.listen-address", nullptr, "web.listen_address", Kind::kString, "ADDRESS",
       "Address to serve metrics on: :PORT, HOST:PORT or [IPv6]:PORT.", true,
       [](const Value& v) -> S { return std::get<S>(v).empty() ? "is empty (use e.g. :9187)" : ""; },
       FIELD(listen_address, S)},
      {"web.telemetry-path", nullptr, "web.telemetry_path", Kind::kString, "PATH",
       "Path under which to expose metrics.", true,
       [](const Value& v) -> S {
         return std::get<S>(v).rfind('/', 0) == 0 ? "" : "must start with / (e.g. /metrics)";
       },
       FIELD(telemetry_path, S)},
      {"web.config.file", nullptr, "web.config_file", Kind::kString, "FILE",
       "Exporter-toolkit web configuration file (TLS, basic auth).", true, no_check,
       FIELD(web_config_file, S)},
      {"web.unauthenticated-path", nullptr, nullptr, Kind::kList, "PATH,...",
       "Paths served without basic auth, e.g. /healthz for kubelet probes (TLS still applies).", true,
       [](const Value& v) -> S {
         for (const auto& path : std::get<L>(v)) {
           if (path.rfind('/', 0) != 0)
             return "has " + quote(path) + ", which does not start with / (e.g. /healthz)";
         }
         return "";
       },
       FIELD(web_unauthenticated_paths, L)},
      {"postgres.dsn", nullptr, "postgres.dsn", Kind::kString, "DSN",
       "PostgreSQL connection string (URI or key=value); see \"Connection string\" below.", true, no_check,
       FIELD(postgres.dsn, S)},
      {"patroni.url", nullptr, "patroni.url", Kind::kString, "URL",
       "Patroni REST API of this member, e.g. http://localhost:8008 (off when not given).", true,
       [](const Value& v) -> S {
         const auto& url = std::get<S>(v);
         return url.empty() || url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0
                    ? ""
                    : "must start with http:// or https:// (e.g. http://localhost:8008)";
       },
       FIELD(patroni_url, S)},
      {"pgbouncer.dsn", nullptr, "pgbouncer.dsn", Kind::kString, "DSN",
       "pgBouncer admin console, e.g. host=localhost port=6432 dbname=pgbouncer user=pooler (off when not "
       "given).",
       true, no_check, FIELD(pgbouncer_dsn, S)},
      {"scrape.timeout", nullptr, "scrape.timeout", Kind::kDuration, "DURATION",
       "Maximum time for one scrape; collectors still running then are abandoned.", true, positive_duration,
       FIELD(scrape_timeout, Millis)},
      {"config.file", nullptr, nullptr, Kind::kString, "FILE", "YAML configuration file (see below).", true,
       no_check, FIELD(config_file, S)},
      {"log.level", nullptr, "log.level", Kind::kString, "LEVEL", "Log level: debug, info, warn or error.",
       true,
       [](const Value& v) {
         return choice(v, {"debug", "info", "warn", "error"}, "a log level");
       },
       FIELD(log_level, S)},
      {"log.format", nullptr, "log.format", Kind::kString, "FORMAT", "Log format: logfmt or json.", true,
       [](const Value& v) {
         return choice(v, {"logfmt", "json"}, "a log format");
       },
       FIELD(log_format, S)},
      {"postgres.include-databases", "include-databases", "postgres.include_databases", Kind::kList, "DB,...",
       "Only collect per-database metrics from these databases (none given: all).", true, no_check,
       FIELD(postgres.include_databases, L)},
      {"postgres.exclude-databases", "exclude-databases", "postgres.exclude_databases", Kind::kList, "DB,...",
       "Never collect per-database metrics from these databases.", true, no_check,
       FIELD(postgres.exclude_databases, L)},
      {"postgres.table-limit", nullptr, "postgres.table_limit", Kind::kCount, "N",
       "Per-table metrics for at most the N largest tables of each database.", true, no_check,
       FIELD(postgres.table_limit, int)},
      {"postgres.statement-limit", nullptr, "postgres.statement_limit", Kind::kCount, "N",
       "Metrics for at most the N most expensive pg_stat_statements entries.", true, no_check,
       FIELD(postgres.statement_limit, int)},
      {"postgres.statement-timeout", nullptr, "postgres.statement_timeout", Kind::kDuration, "DURATION",
       "statement_timeout of the exporter's sessions (0s: none).", true, no_check,
       FIELD(postgres.statement_timeout, Millis)},
      {"postgres.lock-timeout", nullptr, "postgres.lock_timeout", Kind::kDuration, "DURATION",
       "lock_timeout of the exporter's sessions (0s: none).", true, no_check,
       FIELD(postgres.lock_timeout, Millis)},
      {"extend.query-path", nullptr, "postgres.query_files", Kind::kList, "FILE,...",
       "Custom query files (postgres_exporter's queries.yaml form or pgscope's), over the built-in "
       "catalog.",
       true, no_check, FIELD(postgres.query_files, L)},
      {"postgres.max-series", nullptr, "postgres.max_series", Kind::kCount, "N",
       "At most N series per collector and scrape; the rest are dropped and counted.", true, no_check,
       FIELD(postgres.max_series, int)},
      {"probe.idle-timeout", nullptr, "probe.idle_timeout", Kind::kDuration, "DURATION",
       "Close a /probe target's connections after it was not probed this long.", true, positive_duration,
       FIELD(probe.idle_timeout, Millis)},
      {"probe.max-targets", nullptr, "probe.max_targets", Kind::kCount, "N",
       "At most N /probe targets held at once; the least recently probed is closed first.", true, no_check,
       FIELD(probe.max_targets, int)},
      {"dump-catalog", nullptr, nullptr, Kind::kBool, nullptr, "Print the query catalog in effect and exit.",
       false, no_check, FIELD(dump_catalog, bool)},
      {"dump-metrics-reference", nullptr, nullptr, Kind::kBool, nullptr,
       "Print the metrics reference (docs/metrics.md) in Markdown and exit.", false, no_check,
       FIELD(dump_metrics_reference, bool)},
      {"version", nullptr, nullptr, Kind::kBool, nullptr, "Print the version and exit.", false, no_check,
       FIELD(show_version, bool)},
      {"help", nullptr, nullptr, Kind::kBool, nullptr, "Print this help and exit (also -h).", false, no_check,
       FIELD(show_help, bool)},
  };
  return table;
}

#undef FIELD

// Sections with a form of their own, read by config_sections.cpp.
const char* const kOwnFormTopLevel[] = {"queries", "auth_modules"};
const char* const kTopLevel[] = {"web",     "scrape",    "log",   "collectors", "postgres",
                                 "patroni", "pgbouncer", "probe", "queries",    "auth_modules"};
const char* const kDsnOverridingEnv[] = {"DATA_SOURCE_NAME", "DATA_SOURCE_URI", "DATA_SOURCE_URI_FILE"};

std::string env_name(const std::string& flag) {
  std::string out = "PG_EXPORTER_";
  for (char c : flag)
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Parses and checks `raw` for `setting`; `where` names the flag, variable or
// file:line:column.
Value parse_value(const Setting& setting, const Raw& raw, const std::string& where) {
  if (const auto* list = std::get_if<std::vector<std::string>>(&raw)) {
    if (setting.kind != Kind::kList) throw UsageError(where + ": expected a single value, not a list");
    std::vector<std::string> items;
    for (const auto& item : *list) {
      if (!trim(item).empty()) items.push_back(trim(item));
    }
    return items;
  }
  const std::string& text = std::get<std::string>(raw);
  auto fail = [&](const std::string& problem) {
    return UsageError(where + ": " + quote(text) + " " + problem);
  };
  auto need = [&](auto parsed, const char* problem) -> Value {
    if (!parsed) throw fail(problem);
    return *parsed;
  };
  Value value = text;
  if (setting.kind == Kind::kList) value = split_list(text);
  if (setting.kind == Kind::kBool) value = need(parse_bool(text), "is not a boolean (use true or false)");
  if (setting.kind == Kind::kDuration) {
    value = need(parse_duration(text), "is not a duration (use e.g. 10s or 500ms)");
  }
  if (setting.kind == Kind::kCount) {
    value = need(parse_count(text), "is not a positive integer (use e.g. 100)");
  }
  if (std::string problem = setting.check(value); !problem.empty()) throw fail(problem);
  return value;
}

bool parse_collector(const Raw& raw, const std::string& where) {
  const auto* text = std::get_if<std::string>(&raw);
  if (!text) throw UsageError(where + ": expected true or false, not a list");
  if (auto b = parse_bool(*text)) return *b;
  throw UsageError(where + ": " + quote(*text) + " is not a boolean (use true or false)");
}

bool valid_collector_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// One setting from one source; applied lowest precedence first.
struct Assignment {
  const Setting* setting = nullptr;  // nullptr: collectors[collector]
  std::string collector;
  Raw raw;
  std::string where;
};

const Setting* find_setting(const std::string& name) {
  for (const auto& s : settings()) {
    if (name == s.flag || (s.alias && name == s.alias)) return &s;
  }
  return nullptr;
}

std::vector<Assignment> parse_flags(int argc, const char* const* argv) {
  std::vector<Assignment> out;
  std::vector<std::string> known;
  for (const auto& s : settings()) known.push_back(std::string("--") + s.flag);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h") {
      out.push_back({find_setting("help"), "", std::string("true"), "-h"});
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (arg.size() > 1 && arg[0] == '-') {
        throw UsageError("unknown flag " + arg.substr(0, arg.find('=')) +
                         " (flags start with two dashes, e.g. -" + arg.substr(0, arg.find('=')) +
                         "; see --help)");
      }
      throw UsageError("unexpected argument " + quote(redact_dsn(arg)) +
                       " (only flags are accepted; quote values that contain spaces; see --help)");
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const std::string flag = "--" + name;
    const bool negated = name.rfind("no-", 0) == 0;
    const std::string base = negated ? name.substr(3) : name;
    Assignment a;
    a.where = flag;
    a.setting = find_setting(base);
    if (base.rfind("collector.", 0) == 0) {
      a.collector = base.substr(10);
      if (!valid_collector_name(a.collector)) {
        throw UsageError(flag +
                         ": collector names use only a-z, 0-9 and _ (e.g. --collector.stat_statements)");
      }
    } else if (!a.setting || (negated && a.setting->kind != Kind::kBool)) {
      throw UsageError("unknown flag " + flag + suggestion(flag, known) + "see --help)");
    }
    const bool is_bool = !a.setting || a.setting->kind == Kind::kBool;
    if (is_bool) {
      if (negated && equals != std::string::npos)
        throw UsageError(flag + " takes no value (use --" + base + "=VALUE)");
      a.raw = negated                       ? std::string("false")
              : equals == std::string::npos ? std::string("true")
                                            : arg.substr(equals + 1);
    } else if (equals != std::string::npos) {
      a.raw = arg.substr(equals + 1);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      a.raw = std::string(argv[++i]);
    } else {
      throw UsageError(flag + " needs a value (e.g. " + flag + "=" + a.setting->placeholder + ")");
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Assignment> parse_environment(const Environment& env, std::vector<std::string>& warnings) {
  std::vector<Assignment> out;
  std::vector<std::string> known;
  for (const auto& s : settings()) {
    // The canonical name wins over postgres_exporter's alias.
    for (const char* name : {s.alias, s.flag}) {
      if (!name) continue;
      known.push_back(env_name(name));
      auto it = env.find(env_name(name));
      if (s.from_env && it != env.end() && !it->second.empty())
        out.push_back({&s, "", it->second, it->first});
    }
  }
  const std::string collector_prefix = "PG_EXPORTER_COLLECTOR_";
  for (const auto& [variable, value] : env) {
    if (variable.rfind(collector_prefix, 0) == 0) {
      std::string collector = variable.substr(collector_prefix.size());
      std::transform(collector.begin(), collector.end(), collector.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (!valid_collector_name(collector)) {
        throw UsageError(variable + ": collector names use only A-Z, 0-9 and _ (e.g. " + collector_prefix +
                         "STAT_STATEMENTS=false)");
      }
      if (!value.empty()) out.push_back({nullptr, collector, value, variable});
    } else if (variable.rfind("PG_EXPORTER_", 0) == 0 &&
               std::find(known.begin(), known.end(), variable) == known.end()) {
      warnings.push_back(variable + " is not a pgscope setting and is ignored" + suggestion(variable, known) +
                         "see --help)");
    }
  }
  return out;
}

std::string read_config_text(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  std::string content;
  if (file) {
    char buffer[8192];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) content.append(buffer, n);
    if (!std::ferror(file.get())) return content;
  }
  const int error = errno;
  throw UsageError("cannot read config file " + path + ": " + std::strerror(error));
}

std::string at(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path + ": ";
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

Raw yaml_raw(const YAML::Node& node, const std::string& where) {
  if (node.IsNull()) throw UsageError(where + ": has no value (give one or remove the key)");
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (!item.IsScalar()) throw UsageError(where + ": list items must be plain values");
      items.push_back(item.Scalar());
    }
    return items;
  }
  throw UsageError(where + ": expected a value, not a map");
}

std::vector<Assignment> parse_config(const std::string& path) {
  const std::string text = read_config_text(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(at(path, e.mark) + "invalid YAML: " + e.msg + " (fix the syntax)");
  }
  std::vector<Assignment> out;
  if (root.IsNull()) return out;
  if (!root.IsMap()) {
    throw UsageError(at(path, root.Mark()) +
                     "the config file must be a map with sections such as web: and postgres:");
  }
  for (const auto& section : root) {
    const std::string name = section.first.Scalar();
    const std::string section_at = at(path, section.first.Mark());
    if (std::find(std::begin(kOwnFormTopLevel), std::end(kOwnFormTopLevel), name) !=
        std::end(kOwnFormTopLevel)) {
      continue;
    }
    if (std::find(std::begin(kTopLevel), std::end(kTopLevel), name) == std::end(kTopLevel)) {
      throw UsageError(section_at + "unknown top-level key " + quote(name) + " (expected one of: " +
                       join({std::begin(kTopLevel), std::end(kTopLevel)}, ", ") + ")");
    }
    if (section.second.IsNull()) continue;
    if (!section.second.IsMap()) {
      throw UsageError(section_at + "section \"" + name + "\" must be a map of key: value");
    }
    std::vector<std::string> expected;
    for (const auto& s : settings()) {
      const std::string key = s.config_key ? s.config_key : "";
      if (key.rfind(name + ".", 0) == 0) expected.push_back(key.substr(name.size() + 1));
    }
    for (const auto& entry : section.second) {
      const std::string key = entry.first.Scalar();
      const std::string key_at = at(path, entry.first.Mark());
      const std::string where = key_at + name + "." + key;
      if (name == "collectors") {
        if (!valid_collector_name(key)) {
          throw UsageError(key_at + "collector name " + quote(key) + " may use only a-z, 0-9 and _");
        }
        out.push_back({nullptr, key, yaml_raw(entry.second, where), where});
        continue;
      }
      const Setting* setting = nullptr;
      for (const auto& s : settings()) {
        if (s.config_key && name + "." + key == s.config_key) setting = &s;
      }
      if (!setting) {
        throw UsageError(key_at + "unknown key " + quote(key) + " in section \"" + name +
                         "\" (expected one of: " + join(expected, ", ") + ")");
      }
      out.push_back({setting, "", yaml_raw(entry.second, where), where});
    }
  }
  return out;
}

}  // namespace

Environment current_environment() {
  Environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    const size_t equals = text.find('=');
    if (equals != std::string::npos) env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

Options parse_options(int argc, const char* const* argv, const Environment& env) {
  Options options;
  // --help and --version must work even when the environment or config is broken.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") options.show_help = true;
    if (arg == "--version") options.show_version = true;
  }
  if (options.show_help || options.show_version) return options;

  const std::vector<Assignment> flags = parse_flags(argc, argv);
  const std::vector<Assignment> environment = parse_environment(env, options.warnings);
  std::string config_file;
  for (const auto* source : {&environment, &flags}) {
    for (const auto& a : *source) {
      if (a.setting == find_setting("config.file")) config_file = std::get<std::string>(a.raw);
    }
  }
  const std::vector<Assignment> config =
      config_file.empty() ? std::vector<Assignment>() : parse_config(config_file);

  const Setting* dsn_setting = find_setting("postgres.dsn");
  std::string dsn_where;
  bool dsn_from_config = false;
  for (const auto* source : {&config, &environment, &flags}) {
    for (const auto& a : *source) {
      if (!a.setting) {
        options.collectors[a.collector] = parse_collector(a.raw, a.where);
        continue;
      }
      a.setting->apply(options, parse_value(*a.setting, a.raw, a.where));
      if (a.setting == dsn_setting) dsn_where = a.where, dsn_from_config = source == &config;
    }
  }

  // Explicit DATA_SOURCE_* variables are environment, which beats the config
  // file; the Zalando POSTGRES_USER fallback does not.
  const bool env_names_dsn =
      std::any_of(std::begin(kDsnOverridingEnv), std::end(kDsnOverridingEnv), [&](const char* v) {
        auto it = env.find(v);
        return it != env.end() && !it->second.empty();
      });
  std::string dsn = options.postgres.dsn;
  if (dsn_from_config && env_names_dsn) dsn.clear();
  options.postgres.dsn = resolve_dsn(dsn, env, dsn_where.empty() ? "--postgres.dsn" : dsn_where);
  return options;
}

std::string help_text() {
  const Options defaults;
  std::string out =
      "Usage: pgscope-exporter [flags]\n\n"
      "Prometheus exporter for PostgreSQL.\n\n"
      "Flags take --flag=value or --flag value; booleans also --flag and --no-flag.\n"
      "Every setting can also be given as the environment variable shown (PG_EXPORTER_ + the flag\n"
      "name upper-cased, . and - turned into _) or in the config file.\n"
      "Precedence: flag > environment > config file > default.\n\nFlags:\n";
  for (const auto& s : settings()) {
    std::string line = std::string("  --") + s.flag;
    if (s.kind != Kind::kBool) line += std::string("=") + s.placeholder;
    out += line + "\n      " + s.help + "\n";
    std::string details;
    if (s.kind != Kind::kBool) {
      const std::string shown = show(s.get(defaults));
      details += "default: " + (shown.empty() ? std::string("(none)") : shown);
    }
    if (s.from_env) details += std::string(details.empty() ? "" : "; ") + "env: " + env_name(s.flag);
    if (s.alias) details += std::string("; also --") + s.alias + " and " + env_name(s.alias);
    if (!details.empty()) out += "      " + details + "\n";
  }
  out +=
      "  --collector.NAME, --no-collector.NAME\n"
      "      Enable or disable the collector NAME (names: see --dump-catalog).\n"
      "      env: PG_EXPORTER_COLLECTOR_NAME=true|false (NAME upper-cased)\n"
      "\nConfig file (--config.file), YAML; every section and key is optional:\n"
      "  web:        {listen_address: \":9187\", telemetry_path: /metrics, config_file: web.yml}\n"
      "  scrape:     {timeout: 10s}\n"
      "  log:        {level: info, format: logfmt}\n"
      "  collectors: {stat_statements: true, ...}\n"
      "  postgres:   {dsn: ..., include_databases: [..], exclude_databases: [..], table_limit: 200,\n"
      "               statement_limit: 100, statement_timeout: 5s, lock_timeout: 1s,\n"
      "               query_files: [..], max_series: 200000}\n"
      "  probe:      {idle_timeout: 5m, max_targets: 100}\n"
      "  queries:    custom queries, in the form of a query file (see --extend.query-path)\n"
      "  auth_modules: credentials for /probe targets, as postgres_exporter's:\n"
      "               {NAME: {type: userpass, userpass: {username: .., password: .. | password_file: ..},\n"
      "                       options: {sslmode: require, ..}}}\n"
      "\nConnection string, the first of:\n"
      "  1. --postgres.dsn or PG_EXPORTER_POSTGRES_DSN\n"
      "  2. DATA_SOURCE_NAME (URI or key=value)\n"
      "  3. DATA_SOURCE_URI (e.g. db:5432/postgres?sslmode=require; no host means localhost)\n"
      "     or the file DATA_SOURCE_URI_FILE names, with DATA_SOURCE_USER (or DATA_SOURCE_USER_FILE)\n"
      "     and DATA_SOURCE_PASS (or DATA_SOURCE_PASS_FILE, trailing newline removed)\n"
      "  4. postgres.dsn in the config file\n"
      "  5. POSTGRES_USER and POSTGRES_PASSWORD (as a Zalando operator sidecar gets them) against\n"
      "     host=localhost port=5432 dbname=postgres sslmode=disable\n"
      "  The exporter adds application_name=pgscope-exporter unless the connection string sets one.\n";
  return out;
}

}  // namespace pgscope
