#include "exporter/web_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "exporter/basic_auth.hpp"
#include "exporter/option_values.hpp"
#include "exporter/options.hpp"
#include "exporter/tls_names.hpp"
#include "exporter/tls_server.hpp"

namespace pgscope {
namespace {

std::string at(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path + ": ";
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

const char* kind(const YAML::Node& node) {
  if (node.IsNull()) return "nothing";
  if (node.IsScalar()) return "a single value";
  if (node.IsSequence()) return "a list";
  return "a map";
}

// Walks one map of the file: each key once, known keys only.
class Section {
 public:
  Section(const std::string& path, const std::string& name, const YAML::Node& node,
          std::vector<std::string> keys)
      : path_(path), name_(name), keys_(std::move(keys)) {
    if (!node.IsMap()) {
      throw UsageError(at(path, node.Mark()) + name + " must be a map of key: value, not " + kind(node));
    }
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar())
        throw UsageError(at(path, key.Mark()) + "keys in " + name + " must be plain words");
      const std::string text = key.Scalar();
      for (const auto& seen : entries_) {
        if (seen.first.Scalar() == text) {
          throw UsageError(at(path, key.Mark()) + quote(text) + " appears twice in " + name + " (keep one)");
        }
      }
      if (!keys_.empty() && std::find(keys_.begin(), keys_.end(), text) == keys_.end()) {
        throw UsageError(at(path, key.Mark()) + "unknown key " + quote(text) + " in " + name +
                         suggestion(text, keys_) + "expected one of: " + join(keys_, ", ") + ")");
      }
      entries_.emplace_back(key, entry.second);
    }
  }

  const std::vector<std::pair<YAML::Node, YAML::Node>>& entries() const { return entries_; }
  bool has(const std::string& key) const { return find(key) != nullptr; }
  std::string where(const std::string& key) const { return at(path_, find(key)->first.Mark()); }

  std::string text(const std::string& key, const std::string& example) const {
    const auto* entry = find(key);
    if (!entry) return "";
    const std::string prefix = at(path_, entry->first.Mark()) + name_ + "." + key;
    if (!entry->second.IsScalar()) {
      throw UsageError(prefix + " must be a single value, not " + kind(entry->second) + " (e.g. " + key +
                       ": " + example + ")");
    }
    return entry->second.Scalar();
  }

  std::vector<std::string> list(const std::string& key, const std::string& example) const {
    const auto* entry = find(key);
    std::vector<std::string> items;
    if (!entry) return items;
    const std::string prefix = at(path_, entry->first.Mark()) + name_ + "." + key;
    if (!entry->second.IsSequence()) {
      throw UsageError(prefix + " must be a list, not " + kind(entry->second) + " (e.g. " + key + ": [" +
                       example + "])");
    }
    for (const auto& item : entry->second) {
      if (!item.IsScalar()) {
        throw UsageError(at(path_, item.Mark()) + name_ + "." + key + ": list items must be single values");
      }
      items.push_back(item.Scalar());
    }
    return items;
  }

  std::optional<bool> boolean(const std::string& key) const {
    const auto* entry = find(key);
    if (!entry) return std::nullopt;
    bool value = false;
    if (!entry->second.IsScalar() || !YAML::convert<bool>::decode(entry->second, value)) {
      throw UsageError(at(path_, entry->first.Mark()) + name_ + "." + key + " must be true or false");
    }
    return value;
  }

 private:
  const std::pair<YAML::Node, YAML::Node>* find(const std::string& key) const {
    for (const auto& entry : entries_) {
      if (entry.first.Scalar() == key) return &entry;
    }
    return nullptr;
  }

  std::string path_;
  std::string name_;
  std::vector<std::string> keys_;
  std::vector<std::pair<YAML::Node, YAML::Node>> entries_;
};

std::string resolve(const std::string& config_path, const std::string& file) {
  // Relative to the web config's directory, as exporter-toolkit does.
  if (file.empty() || file[0] == '/') return file;
  const auto slash = config_path.rfind('/');
  if (slash == std::string::npos) return file;
  return config_path.substr(0, slash + 1) + file;
}

TlsServerConfig parse_tls(const std::string& path, const YAML::Node& node) {
  Section tls(path, "tls_server_config", node,
              {"cert_file", "key_file", "cert", "key", "client_auth_type", "client_ca_file", "client_ca",
               "client_allowed_sans", "min_version", "max_version", "cipher_suites",
               "prefer_server_cipher_suites", "curve_preferences"});
  TlsServerConfig config;
  const std::string section_where = at(path, node.Mark());
  auto file_key = [&](const std::string& file_key, const std::string& inline_key, std::string& file,
                      std::string& pem, std::string& where) {
    file = resolve(path, tls.text(file_key, "/etc/pgscope/tls/" + file_key.substr(0, file_key.find('_'))));
    pem = tls.text(inline_key, "|\n  -----BEGIN ...");
    if (!file.empty() && !pem.empty()) {
      throw UsageError(tls.where(inline_key) + "tls_server_config has both " + file_key + " and " +
                       inline_key + " (keep one)");
    }
    where = tls.has(file_key)     ? tls.where(file_key)
            : tls.has(inline_key) ? tls.where(inline_key)
                                  : section_where;
  };
  file_key("cert_file", "cert", config.cert_file, config.cert_pem, config.cert_where);
  file_key("key_file", "key", config.key_file, config.key_pem, config.key_where);
  file_key("client_ca_file", "client_ca", config.client_ca_file, config.client_ca_pem,
           config.client_ca_where);
  const bool has_cert = !config.cert_file.empty() || !config.cert_pem.empty();
  const bool has_key = !config.key_file.empty() || !config.key_pem.empty();
  if (!has_cert) {
    throw UsageError(
        section_where +
        "tls_server_config has no certificate: add cert_file (PEM, with its chain) next to key_file, "
        "or remove tls_server_config to serve plain HTTP");
  }
  if (!has_key) {
    throw UsageError(section_where +
                     "tls_server_config has no private key: add key_file (PEM) next to cert_file, or remove "
                     "tls_server_config to serve plain HTTP");
  }

  if (tls.has("client_auth_type")) {
    config.client_auth =
        parse_client_auth(tls.text("client_auth_type", "RequireAndVerifyClientCert"),
                          tls.where("client_auth_type") + "tls_server_config.client_auth_type: ");
  }
  const bool has_ca = !config.client_ca_file.empty() || !config.client_ca_pem.empty();
  if (has_ca && config.client_auth == ClientAuth::kNoClientCert) {
    throw UsageError(
        config.client_ca_where +
        "client CA given without client_auth_type: set client_auth_type: RequireAndVerifyClientCert "
        "(or remove the client CA)");
  }
  const bool verifies = config.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        config.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && !has_ca) {
    // Go would fall back to the system's CAs, which would let any publicly
    // trusted certificate in: pgscope wants the CA named.
    throw UsageError(tls.where("client_auth_type") +
                     "client certificates are verified but no CA is given: add client_ca_file (the CA that "
                     "signs the clients' certificates)");
  }
  config.client_allowed_sans = tls.list("client_allowed_sans", "prometheus.example.com");
  if (tls.has("client_allowed_sans") && config.client_auth != ClientAuth::kRequireAnyClientCert &&
      config.client_auth != ClientAuth::kRequireAndVerifyClientCert) {
    throw UsageError(tls.where("client_allowed_sans") +
                     "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (or "
                     "RequireAnyClientCert): other types let a client in without a certificate");
  }

  if (tls.has("min_version")) {
    config.min_version = parse_tls_version(tls.text("min_version", "TLS12"),
                                           tls.where("min_version") + "tls_server_config.min_version: ");
  }
  if (tls.has("max_version")) {
    config.max_version = parse_tls_version(tls.text("max_version", "TLS13"),
                                           tls.where("max_version") + "tls_server_config.max_version: ");
  }
  if (config.min_version > config.max_version) {
    throw UsageError(tls.where(tls.has("max_version") ? "max_version" : "min_version") +
                     "min_version is above max_version (lower min_version or raise max_version)");
  }

  std::vector<std::string> ciphers;
  for (const auto& name : tls.list("cipher_suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")) {
    const std::string openssl =
        openssl_cipher(name, tls.where("cipher_suites") + "tls_server_config.cipher_suites: ");
    if (!openssl.empty() && std::find(ciphers.begin(), ciphers.end(), openssl) == ciphers.end()) {
      ciphers.push_back(openssl);
    }
  }
  config.cipher_list = join(ciphers, ":");
  if (auto prefer = tls.boolean("prefer_server_cipher_suites")) config.prefer_server_cipher_suites = *prefer;
  std::vector<std::string> groups;
  for (const auto& name : tls.list("curve_preferences", "X25519, CurveP256")) {
    groups.push_back(
        openssl_group(name, tls.where("curve_preferences") + "tls_server_config.curve_preferences: "));
  }
  config.groups_list = join(groups, ":");
  return config;
}

void parse_http(const std::string& path, const YAML::Node& node, WebConfig& config) {
  Section http(path, "http_server_config", node, {"http2", "headers"});
  if (auto http2 = http.boolean("http2")) config.http2 = *http2;
  if (!http.has("headers")) return;
  // The headers exporter-toolkit lets a web config set, and the values it
  // allows where it restricts them.
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kAllowed = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  std::vector<std::string> names;
  for (const auto& entry : kAllowed) names.push_back(entry.first);
  const auto& headers_node =
      std::find_if(http.entries().begin(), http.entries().end(), [](const auto& entry) {
        return entry.first.Scalar() == "headers";
      })->second;
  if (headers_node.IsNull()) return;
  Section headers(path, "http_server_config.headers", headers_node, {});
  for (const auto& [key, value] : headers.entries()) {
    const std::string name = key.Scalar();
    const std::string where = at(path, key.Mark());
    const auto allowed = std::find_if(kAllowed.begin(), kAllowed.end(),
                                      [&](const auto& entry) { return entry.first == name; });
    if (allowed == kAllowed.end()) {
      throw UsageError(where + "header " + quote(name) + " cannot be set" + suggestion(name, names) +
                       "the web config sets only " + join(names, ", ") + ")");
    }
    if (!value.IsScalar() && !value.IsNull()) {
      throw UsageError(where + "header " + name + " must be a single value, not " + kind(value));
    }
    const std::string text = value.IsNull() ? "" : value.Scalar();
    // Control characters (DEL too) are not allowed in a header field value
    // (RFC 9110, section 5.5).
    if (std::any_of(text.begin(), text.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
        })) {
      throw UsageError(where + "header " + name + " has a control character in its value (remove it)");
    }
    const auto& values = allowed->second;
    if (!values.empty() && std::find(values.begin(), values.end(), text) == values.end()) {
      throw UsageError(where + quote(text) + " is not a value of " + name + " (use " + join(values, " or ") +
                       ")");
    }
    if (!text.empty()) config.headers.emplace_back(name, text);  // blank: not set
  }
}

void parse_users(const std::string& path, const YAML::Node& node, WebConfig& config) {
  Section users(path, "basic_auth_users", node, {});
  for (const auto& [key, value] : users.entries()) {
    const std::string user = key.Scalar();
    const std::string where = at(path, key.Mark()) + "basic_auth_users." + user + ": ";
    if (user.empty() || user.find(':') != std::string::npos) {
      throw UsageError(where + "a user name must be non-empty and without \":\" (basic auth splits there)");
    }
    if (!value.IsScalar() || !is_bcrypt_hash(value.Scalar())) {
      throw UsageError(where +
                       "is not a bcrypt hash (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n', and quote "
                       "it in YAML)");
    }
    config.basic_auth_users.emplace(user, value.Scalar());
  }
}

}  // namespace

WebConfig parse_web_config(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(at(path, e.mark) + "invalid YAML: " + e.msg + " (fix the syntax)");
  }
  WebConfig config;
  config.path = path;
  if (root.IsNull()) return config;
  if (!root.IsMap()) {
    throw UsageError(at(path, root.Mark()) +
                     "the web config must be a map with tls_server_config:, http_server_config: and/or "
                     "basic_auth_users:");
  }
  Section top(path, "the web config", root,
              {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});
  for (const auto& [key, value] : top.entries()) {
    const std::string name = key.Scalar();
    if (name == "rate_limit") {
      throw UsageError(
          at(path, key.Mark()) +
          "rate_limit is not supported by pgscope (remove it; put a rate-limiting proxy in front "
          "if needed)");
    }
    if (value.IsNull()) continue;  // an empty section, as exporter-toolkit takes it
    if (name == "tls_server_config") config.tls = parse_tls(path, value);
    if (name == "http_server_config") parse_http(path, value, config);
    if (name == "basic_auth_users") parse_users(path, value, config);
  }
  return config;
}

WebConfig load_web_config(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  std::string text;
  bool ok = false;
  int error = errno;
  if (file) {
    char buffer[8192];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
    ok = !std::ferror(file.get());
    error = errno;
  }
  if (!ok) {
    throw UsageError("--web.config.file: cannot read " + path + ": " + std::strerror(error) +
                     " (check the path and its permissions)");
  }
  WebConfig config = parse_web_config(text, path);
  if (config.tls) check_tls_files(*config.tls);
  return config;
}

WebSecurity load_web_security(const std::string& web_config_file,
                              const std::vector<std::string>& unauthenticated_paths) {
  WebSecurity security;
  for (const auto& path : unauthenticated_paths) {
    if (path.empty() || path[0] != '/') {
      throw UsageError("--web.unauthenticated-path: " + quote(path) +
                       " does not start with / (e.g. /healthz)");
    }
    security.unauthenticated_paths.insert(path);
  }
  if (!web_config_file.empty()) security.config = load_web_config(web_config_file);
  return security;
}

std::string describe(const WebSecurity& security) {
  const WebConfig& config = security.config;
  std::string out;
  if (!config.tls) {
    out = "plain HTTP";
  } else {
    static const char* const kAuth[] = {"not asked for", "requested, not verified", "required, not verified",
                                        "verified when given", "required and verified"};
    out = "TLS (client certificates " + std::string(kAuth[static_cast<int>(config.tls->client_auth)]) + ")";
  }
  if (!config.basic_auth_users.empty()) {
    out += ", basic auth for " + std::to_string(config.basic_auth_users.size()) +
           (config.basic_auth_users.size() == 1 ? " user" : " users");
    if (!security.unauthenticated_paths.empty()) {
      out += " (not on " +
             join({security.unauthenticated_paths.begin(), security.unauthenticated_paths.end()}, ", ") + ")";
    }
  }
  if (!config.headers.empty())
    out += ", " + std::to_string(config.headers.size()) + " extra response headers";
  return out;
}

}  // namespace pgscope
