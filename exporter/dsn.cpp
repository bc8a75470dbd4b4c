#include "exporter/dsn.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace pgscope {
namespace {

constexpr const char* kRedacted = "xxxxx";
constexpr const char* kApplicationName = "pgscope-exporter";
constexpr const char* kSecretKeywords[] = {"password", "sslpassword"};
constexpr const char* kConnstringHelp =
    "use key=value pairs or a postgresql:// URI, see "
    "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING";

struct ConninfoFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using Conninfo = std::unique_ptr<PQconninfoOption, ConninfoFree>;

// Keyword/value pairs in libpq's own keyword order; nullopt means "not set".
using Settings = std::vector<std::pair<std::string, std::optional<std::string>>>;

bool is_secret_keyword(const std::string& keyword) {
  return std::any_of(std::begin(kSecretKeywords), std::end(kSecretKeywords),
                     [&](const char* secret) { return keyword == secret; });
}

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

Conninfo parse_conninfo(const std::string& dsn, std::string* error) {
  char* message = nullptr;
  Conninfo parsed(PQconninfoParse(dsn.c_str(), &message));
  if (!parsed && error) *error = one_line(message ? message : "out of memory");
  if (message) PQfreemem(message);
  return parsed;
}

// The keywords people look for first in a logged connection string lead;
// the rest keep libpq's order.
Settings to_settings(const PQconninfoOption* options) {
  static const std::vector<std::string> leading = {"host", "hostaddr", "port", "dbname", "user", "password"};
  Settings settings;
  for (const PQconninfoOption* option = options; option->keyword; ++option) {
    std::optional<std::string> value;
    if (option->val) value = option->val;
    settings.emplace_back(option->keyword, value);
  }
  auto rank = [&](const std::string& keyword) {
    return std::find(leading.begin(), leading.end(), keyword) - leading.begin();
  };
  std::stable_sort(settings.begin(), settings.end(),
                   [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  return settings;
}

void set(Settings& settings, const std::string& keyword, const std::string& value) {
  for (auto& [key, current] : settings) {
    if (key == keyword) {
      current = value;
      return;
    }
  }
  settings.emplace_back(keyword, value);
}

bool is_set(const Settings& settings, const std::string& keyword) {
  for (const auto& [key, value] : settings) {
    if (key == keyword) return value.has_value();
  }
  return false;
}

// Quoting every value keeps spaces, quotes and backslashes intact.
std::string to_keyword_form(const Settings& settings, bool redact) {
  std::string out;
  for (const auto& [keyword, value] : settings) {
    if (!value) continue;
    if (!out.empty()) out += ' ';
    out += keyword + "='";
    const std::string& text = redact && is_secret_keyword(keyword) ? std::string(kRedacted) : *value;
    for (char c : text) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

bool is_uri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

struct Span {
  size_t pos;
  size_t len;
};

size_t find_ci(const std::string& haystack, const std::string& needle, size_t from) {
  auto it = std::search(haystack.begin() + std::min(from, haystack.size()), haystack.end(), needle.begin(),
                        needle.end(), [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it == haystack.end() ? std::string::npos : static_cast<size_t>(it - haystack.begin());
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Where passwords sit in the text, found without libpq so that strings it
// rejects can still be redacted. Deliberately greedy: a URI's userinfo runs
// to the LAST '@' (an unencoded '@' in a password is a common mistake), and an
// unquoted keyword value swallows following words without '=' (they make libpq
// fail, and most likely belong to the password).
std::vector<Span> secret_spans(const std::string& dsn) {
  std::vector<Span> spans;
  const bool uri = is_uri(dsn);
  if (uri) {
    const size_t start = dsn.find("://") + 3;
    const size_t at = dsn.rfind('@');
    if (at != std::string::npos && at >= start) {
      const size_t colon = dsn.find(':', start);
      if (colon != std::string::npos && colon < at) spans.push_back({colon + 1, at - colon - 1});
    }
  }
  for (size_t found = find_ci(dsn, "password", 0); found != std::string::npos;
       found = find_ci(dsn, "password", found + 1)) {
    size_t key = found;
    if (key >= 3 && find_ci(dsn.substr(key - 3, 3), "ssl", 0) == 0) key -= 3;
    const bool boundary = key == 0 || is_space(dsn[key - 1]) || dsn[key - 1] == '?' || dsn[key - 1] == '&';
    size_t pos = found + 8;
    while (pos < dsn.size() && is_space(dsn[pos])) ++pos;
    if (!boundary || pos >= dsn.size() || dsn[pos] != '=') continue;
    ++pos;
    while (!uri && pos < dsn.size() && is_space(dsn[pos])) ++pos;
    const size_t value = pos;
    if (uri) {
      pos = std::min(dsn.find('&', pos), dsn.size());
    } else if (pos < dsn.size() && dsn[pos] == '\'') {
      for (++pos; pos < dsn.size() && dsn[pos] != '\''; ++pos) {
        if (dsn[pos] == '\\') ++pos;
      }
      pos = std::min(pos + 1, dsn.size());
    } else {
      for (;;) {
        for (; pos < dsn.size() && !is_space(dsn[pos]); ++pos) {
          if (dsn[pos] == '\\') ++pos;
        }
        pos = std::min(pos, dsn.size());
        size_t next = pos;
        while (next < dsn.size() && is_space(dsn[next])) ++next;
        size_t end = next;
        while (end < dsn.size() && !is_space(dsn[end])) ++end;
        if (next == dsn.size() || dsn.substr(next, end - next).find('=') != std::string::npos) break;
        pos = end;
      }
    }
    spans.push_back({value, pos - value});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.pos < b.pos; });
  std::vector<Span> merged;
  for (const Span& span : spans) {
    if (!merged.empty() && span.pos <= merged.back().pos + merged.back().len) {
      Span& last = merged.back();
      last.len = std::max(last.pos + last.len, span.pos + span.len) - last.pos;
    } else {
      merged.push_back(span);
    }
  }
  return merged;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string unquote(const std::string& text) {
  std::string body = text;
  if (!body.empty() && body.front() == '\'') body.erase(0, 1);
  if (!body.empty() && body.back() == '\'') body.pop_back();
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    out += body[i];
  }
  return out;
}

std::string replace_all(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), kRedacted);
    pos += std::strlen(kRedacted);
  }
  return text;
}

std::string scrub_all(std::string message, std::vector<std::string> secrets) {
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& secret : secrets) message = replace_all(std::move(message), secret);
  return message;
}

std::string strip_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

std::string read_secret_file(const std::string& variable, const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  std::string content;
  if (file) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) content.append(buffer, n);
    if (!std::ferror(file.get())) return content;
  }
  const int error = errno;
  throw UsageError(variable + ": cannot read " + path + ": " + std::strerror(error) +
                   " (check the path and the file's permissions)");
}

std::string env_value(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Parses `text` from `where`, applies user/password overrides and the
// application name, and returns the keyword/value form.
std::string normalize(const std::string& text, const std::string& where, const std::string& user,
                      const std::string& password, const std::vector<std::string>& extra_secrets,
                      bool localhost_by_default = false) {
  if (is_uri(text)) {
    // libpq splits a URI at the first '@', so an unencoded '@' in the password
    // turns the rest of the password into the host name, which then shows in
    // logs, error labels and DNS queries.
    const auto authority_end = text.find_first_of("/?", text.find("://") + 3);
    const auto authority = text.substr(0, authority_end);
    if (std::count(authority.begin(), authority.end(), '@') > 1) {
      throw UsageError(
          where +
          ": the URI has more than one '@' before the host; write an '@' inside the user name or "
          "password as %40");
    }
  }
  std::string error;
  Conninfo parsed = parse_conninfo(text, &error);
  if (!parsed) {
    std::string message = scrub_all(scrub_secret(error, text), extra_secrets);
    throw UsageError(where + ": invalid connection string: " + message + " (" + kConnstringHelp + ")");
  }
  Settings settings = to_settings(parsed.get());
  if (localhost_by_default && !is_set(settings, "host") && !is_set(settings, "hostaddr")) {
    set(settings, "host", "localhost");
  }
  if (!user.empty()) set(settings, "user", user);
  if (!password.empty()) set(settings, "password", password);
  if (!is_set(settings, "application_name")) set(settings, "application_name", kApplicationName);
  std::string result = to_keyword_form(settings, false);
  if (!parse_conninfo(result, &error)) {
    throw UsageError(where + ": cannot build a connection string: " + scrub_secret(error, result));
  }
  return result;
}

}  // namespace

std::string resolve_dsn(const std::string& flag_value, const Environment& env) {
  return resolve_dsn(flag_value, env, "--postgres.dsn");
}

std::string resolve_dsn(const std::string& flag_value, const Environment& env, const std::string& where) {
  if (!flag_value.empty()) return normalize(flag_value, where, "", "", {});

  const std::string name = env_value(env, "DATA_SOURCE_NAME");
  if (!name.empty()) return normalize(name, "DATA_SOURCE_NAME", "", "", {});

  std::string uri_source = "DATA_SOURCE_URI";
  std::string uri = env_value(env, "DATA_SOURCE_URI");
  if (const std::string file = env_value(env, "DATA_SOURCE_URI_FILE"); !file.empty()) {
    uri_source = "DATA_SOURCE_URI_FILE";
    uri = trim(read_secret_file("DATA_SOURCE_URI_FILE", file));
  }
  std::string user = env_value(env, "DATA_SOURCE_USER");
  if (const std::string file = env_value(env, "DATA_SOURCE_USER_FILE"); !file.empty()) {
    user = trim(read_secret_file("DATA_SOURCE_USER_FILE", file));
  }
  std::string password = env_value(env, "DATA_SOURCE_PASS");
  if (const std::string file = env_value(env, "DATA_SOURCE_PASS_FILE"); !file.empty()) {
    password = strip_trailing_newlines(read_secret_file("DATA_SOURCE_PASS_FILE", file));
  }
  if (!uri.empty()) {
    if (!is_uri(uri)) uri = "postgresql://" + uri;
    // postgres_exporter's driver reads a missing host (":5432/...") as
    // localhost; libpq would pick a Unix socket, which a sidecar cannot see.
    return normalize(uri, uri_source, user, password, {password}, true);
  }
  // Credentials without a target usually mean DATA_SOURCE_URI was forgotten;
  // silently connecting elsewhere would hide that.
  for (const char* variable :
       {"DATA_SOURCE_USER", "DATA_SOURCE_USER_FILE", "DATA_SOURCE_PASS", "DATA_SOURCE_PASS_FILE"}) {
    if (!env_value(env, variable).empty()) {
      throw UsageError(std::string(variable) +
                       " is set but DATA_SOURCE_URI is not (set DATA_SOURCE_URI, e.g. "
                       "localhost:5432/postgres?sslmode=disable, or use DATA_SOURCE_NAME)");
    }
  }

  const std::string zalando_user = env_value(env, "POSTGRES_USER");
  if (!zalando_user.empty()) {
    const std::string zalando_password = env_value(env, "POSTGRES_PASSWORD");
    return normalize("host=localhost port=5432 dbname=postgres sslmode=disable", "POSTGRES_USER",
                     zalando_user, zalando_password, {zalando_password});
  }
  return "";
}

std::string probe_dsn(const std::string& target, const std::string& user, const std::string& password,
                      const std::vector<std::pair<std::string, std::string>>& options,
                      const std::string& dbname) {
  if (target.empty()) throw UsageError("target is empty (e.g. target=db.example:5432/postgres)");
  const bool keyword_form = !is_uri(target) && target.find('=') != std::string::npos &&
                            target.find("://") == std::string::npos && target.find('?') == std::string::npos;
  const std::string text = keyword_form || is_uri(target) ? target : "postgresql://" + target;
  if (!secret_spans(text).empty()) {
    throw UsageError(
        "the target carries a password; put credentials in an auth module (auth_modules in "
        "the config file) and name it with auth_module=");
  }
  std::string error;
  Conninfo parsed = parse_conninfo(text, &error);
  if (!parsed) throw UsageError("target is not a connection string: " + error);
  Settings settings = to_settings(parsed.get());
  if (is_set(settings, "password")) throw UsageError("the target carries a password; use an auth module");
  if (!is_set(settings, "host") && !is_set(settings, "hostaddr")) {
    throw UsageError("the target names no host (e.g. target=db.example:5432/postgres)");
  }
  for (const auto& [keyword, value] : options) set(settings, keyword, value);
  if (!user.empty()) set(settings, "user", user);
  if (!password.empty()) set(settings, "password", password);
  if (!is_set(settings, "dbname") && !dbname.empty()) set(settings, "dbname", dbname);
  if (!is_set(settings, "application_name")) set(settings, "application_name", kApplicationName);
  std::string result = to_keyword_form(settings, false);
  if (!parse_conninfo(result, &error)) {
    throw UsageError("cannot build a connection string for the target: " + scrub_secret(error, result));
  }
  return result;
}

std::string redact_dsn(const std::string& dsn) {
  std::string redacted = dsn;
  const std::vector<Span> spans = secret_spans(dsn);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) redacted.replace(it->pos, it->len, kRedacted);

  Conninfo original = parse_conninfo(dsn, nullptr);
  if (!original) return redacted;
  // The text-level redaction keeps the caller's spelling; use it only when
  // libpq agrees that no secret survived it.
  Conninfo check = parse_conninfo(redacted, nullptr);
  bool safe = check != nullptr;
  if (safe) {
    const Settings before = to_settings(original.get());
    const Settings after = to_settings(check.get());
    for (const auto& setting : before) {
      const std::string& keyword = setting.first;
      if (!is_secret_keyword(keyword) || !setting.second) continue;
      auto match =
          std::find_if(after.begin(), after.end(), [&](const auto& s) { return s.first == keyword; });
      if (match == after.end() || match->second != std::optional<std::string>(kRedacted)) safe = false;
    }
  }
  return safe ? redacted : to_keyword_form(to_settings(original.get()), true);
}

std::string scrub_secret(std::string message, const std::string& dsn) {
  std::vector<std::string> secrets;
  const bool uri = is_uri(dsn);
  Conninfo parsed = parse_conninfo(dsn, nullptr);
  for (const Span& span : secret_spans(dsn)) {
    const std::string raw = dsn.substr(span.pos, span.len);
    secrets.push_back(raw);
    secrets.push_back(uri ? percent_decode(raw) : unquote(raw));
    if (parsed) continue;
    // Unparseable: libpq may have quoted just one word of the password.
    size_t pos = 0;
    while (pos < raw.size()) {
      while (pos < raw.size() && is_space(raw[pos])) ++pos;
      size_t end = pos;
      while (end < raw.size() && !is_space(raw[end])) ++end;
      if (end > pos) {
        secrets.push_back(raw.substr(pos, end - pos));
        secrets.push_back(unquote(raw.substr(pos, end - pos)));
      }
      pos = end;
    }
  }
  if (parsed) {
    for (const auto& [keyword, value] : to_settings(parsed.get())) {
      if (is_secret_keyword(keyword) && value) secrets.push_back(*value);
    }
  }
  return scrub_all(std::move(message), std::move(secrets));
}

}  // namespace pgscope
