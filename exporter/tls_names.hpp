#pragma once

#include <string>

#include "exporter/web_config.hpp"

namespace pgscope {

// The names exporter-toolkit's web config takes for TLS settings (Go's
// crypto/tls names) and what they are in OpenSSL. Each throws UsageError
// starting with `where` ("file:line:column: key: ") for a name it does not know.

ClientAuth parse_client_auth(const std::string& value, const std::string& where);
int parse_tls_version(const std::string& value, const std::string& where);  // "TLS12" -> 0x0303
// "" for the TLS 1.3 suites, which Go (hence exporter-toolkit) accepts but never configures.
std::string openssl_cipher(const std::string& go_name, const std::string& where);
std::string openssl_group(const std::string& go_name, const std::string& where);  // "CurveP256" -> "P-256"

}  // namespace pgscope
