#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgscope {

// The exporter-toolkit web configuration (--web.config.file), the format every
// Prometheus exporter takes:
// https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md
// Read once at start; certificate, key and client CA files are re-read when
// they change on disk (see tls_server.hpp).

// Go's tls.ClientAuthType, as client_auth_type names it.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // asked for, not required, not verified
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // verified when sent
  kRequireAndVerifyClientCert,  // required and verified
};

struct TlsServerConfig {
  // PEM files (relative paths resolved against the web config's directory),
  // or inline PEM (cert, key, client_ca), which are never re-read.
  std::string cert_file, key_file, client_ca_file;
  std::string cert_pem, key_pem, client_ca_pem;
  // "file:line:column: " of each key, for mistakes found when the files load.
  std::string cert_where, key_where, client_ca_where;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::vector<std::string> client_allowed_sans;  // any one of these SANs must be in the client's cert
  int min_version = 0x0303;                      // TLS 1.2 (OpenSSL's TLS1_2_VERSION)
  int max_version = 0x0304;                      // TLS 1.3
  std::string cipher_list;                       // OpenSSL names, ':'-joined; "" for OpenSSL's default
  bool prefer_server_cipher_suites = true;
  std::string groups_list;  // OpenSSL group names, ':'-joined; "" for OpenSSL's default
};

struct WebConfig {
  std::string path;                                          // "" when no --web.config.file was given
  std::optional<TlsServerConfig> tls;                        // absent: plain HTTP
  bool http2 = true;                                         // accepted; pgscope serves HTTP/1.1 only
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
};

// What the HTTP server enforces: the web config plus the paths that
// --web.unauthenticated-path exempts from basic auth (TLS still applies).
struct WebSecurity {
  WebConfig config;
  std::set<std::string> unauthenticated_paths;
};

// Parses `text` as the web config at `path` (which locates relative files
// and names the file in messages). Strict: unknown keys, duplicate keys, wrong
// types and values exporter-toolkit refuses throw UsageError as
// "path:line:column: what, what to do". Does not read the files it names.
WebConfig parse_web_config(const std::string& text, const std::string& path);

// Reads and parses `path`, then loads the certificate, key and client CA it
// names (UsageError when unreadable, not PEM, or not a matching pair).
WebConfig load_web_config(const std::string& path);

// The web config `web_config_file` names ("": plain HTTP, no auth) with the
// paths exempt from basic auth (--web.unauthenticated-path). Throws UsageError.
WebSecurity load_web_security(const std::string& web_config_file,
                              const std::vector<std::string>& unauthenticated_paths);

// A one-line summary for the log: "TLS (client certificates: ...), basic auth for 2 users".
std::string describe(const WebSecurity& security);

}  // namespace pgscope
