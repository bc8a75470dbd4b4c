// libFuzzer target for the exporter's settings: flags, environment and the
// config file (scripts/fuzz config).
//
// The input is a config file, optionally followed by a line "#%ENV" and
// environment variables (NAME=VALUE, one a line), and a line "#%ARGS" and
// flags (one a line); env and flag lines decode \n \r \t \s \0 \\ \xHH. "@DIR@"
// anywhere stands for a per-process directory holding the config file
// (config.yaml, the input's), a password file (password), a query file
// (queries.yaml), a URI and a user file (uri, user), an empty file (empty)
// and a directory (dir), so that password_file:, query_files:,
// DATA_SOURCE_*_FILE and --config.file can name files that exist. Files
// outside that directory read as unreadable (EACCES) while the exporter's
// code runs: the input cannot make it read /dev/zero or the host's files.
//
// parse_options(argc, argv, env) runs with argv = {pgscope-exporter,
// --config.file=@DIR@/config.yaml, the input's flags...} (a later
// --config.file wins) and the input's environment only; when it succeeds,
// load_auth_modules(config file) and, when the input has custom queries,
// effective_catalog(options) run too. They may reject the input only with
// UsageError; any other exception escapes and ends the run (std::terminate,
// with the throwing frame on the stack), as do crashes, sanitizer reports
// and hangs. Besides:
//   message   a UsageError's message is one line (README: "one line saying
//             what, where and what to do")
//   secret    a password given in DATA_SOURCE_PASS or POSTGRES_PASSWORD does
//             not show in an error message or a warning: the same input with
//             another password of the same length must not lose the
//             password's text from the message
// PGSCOPE_FUZZ_PRINT=1 prints what the exporter's code said.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "exporter/config_sections.hpp"
#include "exporter/options.hpp"
#include "exposition_check.hpp"
#include "fuzz_text.hpp"

// ASan's interceptors; the definitions below replace its weak fopen and
// fopen64 and pass what they allow on to them.
extern "C" FILE* __interceptor_fopen(const char* path, const char* mode);
extern "C" FILE* __interceptor_fopen64(const char* path, const char* mode);

namespace {

std::string g_dir;         // the per-process directory, no trailing '/'
bool g_sandboxed = false;  // while the exporter's code runs

bool allowed(const char* path) {
  if (!g_sandboxed) return true;
  if (path == nullptr) return false;
  const std::string p = path;
  return p.compare(0, g_dir.size() + 1, g_dir + "/") == 0 && p.find("/..") == std::string::npos;
}

const char* const kFiles[][2] = {
    {"password", "FuzzPassw0rd-from-file\n"},
    {"uri", "db.example:5432/postgres?sslmode=disable\n"},
    {"user", "monitor\n"},
    {"empty", ""},
    {"queries.yaml",
     "app_customers:\n"
     "  query: SELECT country, count(*) AS customers FROM customers GROUP BY country\n"
     "  metrics:\n"
     "    - country: {usage: LABEL}\n"
     "    - customers: {usage: GAUGE, description: Customers by country}\n"},
};

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    std::fprintf(stderr, "fuzz_config: cannot write %s\n", path.c_str());
    std::abort();
  }
}

void remove_dir() {
  for (const auto& file : kFiles) ::unlink((g_dir + "/" + file[0]).c_str());
  ::unlink((g_dir + "/config.yaml").c_str());
  ::rmdir((g_dir + "/dir").c_str());
  ::rmdir(g_dir.c_str());
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The position of `marker` as a line of its own, or npos.
std::size_t marker_line(const std::string& input, const std::string& marker) {
  for (std::size_t at = input.find(marker); at != std::string::npos; at = input.find(marker, at + 1)) {
    const bool starts = at == 0 || input[at - 1] == '\n';
    const bool ends = at + marker.size() == input.size() || input[at + marker.size()] == '\n';
    if (starts && ends) return at;
  }
  return std::string::npos;
}

std::vector<std::string> section_lines(const std::string& input, std::size_t begin, std::size_t end) {
  std::vector<std::string> lines;
  if (begin >= input.size() || begin >= end) return lines;
  for (const auto& line : pgscope::fuzz::split(input.substr(begin, end - begin), "\n")) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// What one run of the exporter's settings code says.
struct Outcome {
  std::vector<std::string> messages;  // of the UsageErrors
  std::vector<std::string> warnings;
};

Outcome run(const std::vector<std::string>& args, const pgscope::Environment& env, bool custom_queries) {
  Outcome outcome;
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  g_sandboxed = true;
  try {
    const pgscope::Options options = pgscope::parse_options(static_cast<int>(args.size()), argv.data(), env);
    outcome.warnings = options.warnings;
    if (!options.show_help && !options.show_version) {
      try {
        pgscope::load_auth_modules(options.config_file);
      } catch (const pgscope::UsageError& error) {
        outcome.messages.push_back(error.what());
      }
      if (custom_queries || !options.postgres.query_files.empty()) {
        try {
          pgscope::effective_catalog(options);
        } catch (const pgscope::UsageError& error) {
          outcome.messages.push_back(error.what());
        }
      }
    }
  } catch (const pgscope::UsageError& error) {
    outcome.messages.push_back(error.what());
  }
  g_sandboxed = false;
  return outcome;
}

[[noreturn]] void finding(const std::string& kind, const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: [%s] %s\n  %s\n", kind.c_str(), what.c_str(),
               pgscope::fuzz::printable(detail, 2000).c_str());
  std::fflush(stderr);
  std::abort();
}

bool tolerated(const char* kind) { return pgscope::fuzz::tolerated_kinds().count(kind) > 0; }

}  // namespace

extern "C" FILE* fopen(const char* path, const char* mode) {
  if (!allowed(path)) {
    errno = EACCES;
    return nullptr;
  }
  return __interceptor_fopen(path, mode);
}

extern "C" FILE* fopen64(const char* path, const char* mode) {
  if (!allowed(path)) {
    errno = EACCES;
    return nullptr;
  }
  return __interceptor_fopen64(path, mode);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // effective_catalog logs replaced entries
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pgscope-fuzz-config-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    std::fprintf(stderr, "fuzz_config: mkdtemp %s: %s\n", pattern.c_str(), std::strerror(errno));
    std::abort();
  }
  g_dir = buffer.data();
  for (const auto& file : kFiles) write_file(g_dir + "/" + file[0], file[1]);
  ::mkdir((g_dir + "/dir").c_str(), 0700);
  std::atexit(remove_dir);
  pgscope::fuzz::tolerated_kinds();  // says what it tolerates once, up front
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t env_at = marker_line(input, "#%ENV");
  const std::size_t args_at = marker_line(input, "#%ARGS");
  const std::size_t config_end = std::min(env_at, args_at);
  const std::string config = replace_all(input.substr(0, std::min(config_end, input.size())), "@DIR@", g_dir);
  write_file(g_dir + "/config.yaml", config);

  pgscope::Environment env;
  if (env_at != std::string::npos) {
    const std::size_t end = args_at != std::string::npos && args_at > env_at ? args_at : input.size();
    std::size_t count = 0;
    for (const auto& line : section_lines(input, env_at + 6, end)) {
      if (++count > 64) break;
      const std::size_t equals = line.find('=');
      // The environment is C strings: a NUL ends a name or a value.
      std::string name = pgscope::fuzz::unescape(line.substr(0, equals));
      name = name.substr(0, name.find('\0'));
      std::string value = equals == std::string::npos
                              ? ""
                              : replace_all(pgscope::fuzz::unescape(line.substr(equals + 1)), "@DIR@", g_dir);
      value = value.substr(0, value.find('\0'));
      if (!name.empty()) env[name] = value;
    }
  }
  std::vector<std::string> args = {"pgscope-exporter", "--config.file=" + g_dir + "/config.yaml"};
  if (args_at != std::string::npos) {
    const std::size_t end = env_at != std::string::npos && env_at > args_at ? env_at : input.size();
    for (const auto& line : section_lines(input, args_at + 7, end)) {
      if (args.size() >= 66) break;
      std::string arg = replace_all(pgscope::fuzz::unescape(line), "@DIR@", g_dir);
      args.push_back(arg.substr(0, arg.find('\0')));  // argv is C strings too
    }
  }
  const bool custom_queries = config.find("queries") != std::string::npos;

  const Outcome outcome = run(args, env, custom_queries);
  static const bool print = std::getenv("PGSCOPE_FUZZ_PRINT") != nullptr;  // to look at a seed
  if (print) {
    for (const auto& message : outcome.messages) std::fprintf(stderr, "UsageError: %s\n", message.c_str());
    for (const auto& warning : outcome.warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());
    if (outcome.messages.empty()) std::fprintf(stderr, "accepted\n");
  }
  if (!tolerated("message")) {
    for (const auto& message : outcome.messages) {
      if (message.find_first_of("\r\n") != std::string::npos)
        finding("message", "a UsageError's message spans lines", message);
    }
  }

  // The same input with other passwords (same length, other characters):
  // text of the password that is in one answer and not in the other came
  // from the password.
  if (!tolerated("secret")) {
    std::vector<std::string> secrets;
    pgscope::Environment other = env;
    for (const char* variable : {"DATA_SOURCE_PASS", "POSTGRES_PASSWORD"}) {
      auto found = other.find(variable);
      if (found == other.end() || found->second.size() < 4) continue;
      secrets.push_back(found->second);
      for (char& c : found->second) c = c == 'x' ? 'y' : 'x';
    }
    if (!secrets.empty()) {
      const Outcome masked = run(args, other, custom_queries);
      auto mentions = [](const std::vector<std::string>& texts, const std::string& secret) {
        for (const auto& text : texts)
          if (text.find(secret) != std::string::npos) return true;
        return false;
      };
      for (const auto& secret : secrets) {
        for (auto texts : {&Outcome::messages, &Outcome::warnings}) {
          if (mentions(outcome.*texts, secret) && !mentions(masked.*texts, secret)) {
            std::string all;
            for (const auto& text : outcome.*texts) all += text + "\n  ";
            finding(
                "secret",
                "the password \"" + pgscope::fuzz::printable(secret) + "\" shows in what the exporter says",
                all);
          }
        }
      }
    }
  }
  return 0;
}
