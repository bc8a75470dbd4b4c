#include "exporter/tls_names.hpp"

#include <utility>
#include <vector>

#include "exporter/option_values.hpp"
#include "exporter/options.hpp"

namespace pgscope {

ClientAuth parse_client_auth(const std::string& value, const std::string& where) {
  static const std::vector<std::pair<std::string, ClientAuth>> kNames = {
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      {"RequireClientCert", ClientAuth::kRequireAnyClientCert},  // exporter-toolkit's old name
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
  };
  if (value.empty()) return ClientAuth::kNoClientCert;
  for (const auto& [name, auth] : kNames) {
    if (name == value) return auth;
  }
  throw UsageError(where + quote(value) +
                   " is not a client_auth_type (use NoClientCert, RequestClientCert, RequireAnyClientCert, "
                   "VerifyClientCertIfGiven or RequireAndVerifyClientCert)");
}

int parse_tls_version(const std::string& value, const std::string& where) {
  static const std::vector<std::pair<std::string, int>> kVersions = {
      {"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}};
  for (const auto& [name, version] : kVersions) {
    if (name == value) return version;
  }
  throw UsageError(where + quote(value) + " is not a TLS version (use TLS10, TLS11, TLS12 or TLS13)");
}

// Go's names (crypto/tls CipherSuites(), the ones exporter-toolkit accepts)
// and OpenSSL's for the same suite. The TLS 1.3 suites are accepted and, as
// in Go, not configurable: OpenSSL's TLS 1.3 defaults apply.
std::string openssl_cipher(const std::string& go_name, const std::string& where) {
  static const std::vector<std::pair<std::string, std::string>> kCiphers = {
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_AES_128_GCM_SHA256", ""},
      {"TLS_AES_256_GCM_SHA384", ""},
      {"TLS_CHACHA20_POLY1305_SHA256", ""},
  };
  for (const auto& [go, openssl] : kCiphers) {
    if (go == go_name) return openssl;
  }
  std::vector<std::string> names;
  for (const auto& entry : kCiphers) names.push_back(entry.first);
  throw UsageError(where + quote(go_name) + " is not a cipher suite exporter-toolkit accepts" +
                   suggestion(go_name, names) + "Go's names from crypto/tls CipherSuites(), e.g. " +
                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
}

std::string openssl_group(const std::string& go_name, const std::string& where) {
  static const std::vector<std::pair<std::string, std::string>> kCurves = {
      {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}};
  for (const auto& [go, openssl] : kCurves) {
    if (go == go_name) return openssl;
  }
  throw UsageError(where + quote(go_name) + " is not a curve pgscope knows (use CurveP256, CurveP384, " +
                   "CurveP521 or X25519)");
}

}  // namespace pgscope
