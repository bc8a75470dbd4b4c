// libFuzzer target for the web config (--web.config.file, exporter-toolkit's
// format) and the basic-auth header check (scripts/fuzz web_config).
//
// The input is a web config, optionally followed by a line "#%AUTH" and
// Authorization header values, one a line (\n \r \t \s \0 \\ \xHH decoded).
// parse_web_config(text, "/etc/pgscope/web.yml") may reject the config only
// with UsageError, in one line; any other exception escapes and ends the run
// (std::terminate, with the throwing frame on the stack), as do crashes,
// sanitizer reports and hangs. What it accepts must keep the promises the
// server relies on:
//   tls      a certificate and a key; client certificates verified only
//            against a given CA; client_allowed_sans only with a client
//            certificate required; min_version <= max_version, both TLS 1.0
//            to 1.3; cipher and group lists without blanks or control bytes
//   header   only the headers exporter-toolkit allows, values non-empty and
//            without control bytes or DEL (RFC 9110 field values), so that no
//            response header can be split or forged
//   user     user names non-empty without ':', hashes bcrypt hashes
// The headers go to a BasicAuth that knows alice:wonderland (a bcrypt hash
// of cost 4, made at start): check_header may say yes only to a header that
// carries exactly those credentials (scheme "Basic" in any case, base64 with
// or without padding), and must say yes to the form Go's Request.BasicAuth
// reads ("Basic " + standard base64 of "alice:wonderland").
#include <crypt.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exporter/basic_auth.hpp"
#include "exporter/options.hpp"
#include "exporter/web_config.hpp"
#include "exposition_check.hpp"
#include "fuzz_text.hpp"

namespace {

const std::string kPath = "/etc/pgscope/web.yml";
const std::string kCredentials = "alice:wonderland";
std::unique_ptr<pgscope::BasicAuth> g_auth;

[[noreturn]] void finding(const std::string& kind, const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_web_config: [%s] %s\n  %s\n", kind.c_str(), what.c_str(),
               pgscope::fuzz::printable(detail, 2000).c_str());
  std::fflush(stderr);
  std::abort();
}

void expect(bool ok, const char* kind, const std::string& what, const std::string& detail = "") {
  if (ok || pgscope::fuzz::tolerated_kinds().count(kind)) return;
  finding(kind, what, detail);
}

bool has_control(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

void check_config(const pgscope::WebConfig& config) {
  using pgscope::ClientAuth;
  if (config.tls) {
    const auto& tls = *config.tls;
    expect(!tls.cert_file.empty() || !tls.cert_pem.empty(), "tls", "TLS without a certificate");
    expect(!tls.key_file.empty() || !tls.key_pem.empty(), "tls", "TLS without a private key");
    const bool has_ca = !tls.client_ca_file.empty() || !tls.client_ca_pem.empty();
    const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                          tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
    expect(!verifies || has_ca, "tls", "client certificates verified without a CA");
    const bool requires = tls.client_auth == ClientAuth::kRequireAnyClientCert ||
                          tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
    expect(tls.client_allowed_sans.empty() || requires, "tls",
           "client_allowed_sans without a client certificate required");
    expect(tls.min_version >= 0x0301 && tls.max_version <= 0x0304 && tls.min_version <= tls.max_version,
           "tls",
           "TLS versions " + std::to_string(tls.min_version) + " to " + std::to_string(tls.max_version));
    for (const std::string* list : {&tls.cipher_list, &tls.groups_list}) {
      expect(!has_control(*list) && list->find(' ') == std::string::npos, "tls",
             "an OpenSSL list with blanks or control bytes", *list);
    }
  }
  static const char* const kHeaders[] = {"Strict-Transport-Security", "X-Content-Type-Options",
                                         "X-Frame-Options", "X-XSS-Protection", "Content-Security-Policy"};
  for (const auto& [name, value] : config.headers) {
    bool known = false;
    for (const char* allowed : kHeaders) known = known || name == allowed;
    expect(known, "header", "a header exporter-toolkit does not allow", name);
    expect(!value.empty() && !has_control(value), "header",
           "header " + name + " has an empty or unsafe value", value);
  }
  for (const auto& [user, hash] : config.basic_auth_users) {
    expect(!user.empty() && user.find(':') == std::string::npos, "user", "an unusable user name", user);
    expect(pgscope::is_bcrypt_hash(hash), "user", "a password hash that is not bcrypt", hash);
  }
}

// Standard base64; `padding_optional` also takes it without the final '='s.
std::optional<std::string> base64(const std::string& text, bool padding_optional) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string body = text;
  std::size_t padding = 0;
  while (!body.empty() && body.back() == '=' && padding < 2) body.pop_back(), ++padding;
  if (padding_optional ? body.size() % 4 == 1 : (body.size() + padding) % 4 != 0) return std::nullopt;
  if (!padding_optional && padding != (4 - body.size() % 4) % 4) return std::nullopt;
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : body) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  // Stray bits in the last character are ignored, as Go's StdEncoding (not
  // Strict) ignores them: "...ZI==" is "...ZA==".
  return out;
}

bool lower_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// What Go's Request.BasicAuth reads: "Basic " (any case), standard base64.
bool go_reads_credentials(const std::string& header) {
  if (header.size() < 6 || !lower_equal(header.substr(0, 6), "basic ")) return false;
  const auto decoded = base64(header.substr(6), false);
  return decoded && *decoded == kCredentials;
}

// Whether `header` carries exactly the credentials under a lenient reading:
// the scheme in any case, blanks around the token, padding optional.
bool carries_credentials(const std::string& header) {
  std::size_t at = 0;
  while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
  if (header.size() - at < 5 || !lower_equal(header.substr(at, 5), "basic")) return false;
  at += 5;
  const std::size_t start = header.find_first_not_of(" \t", at);
  if (start == std::string::npos || start == at) return false;
  std::size_t end = header.find_last_not_of(" \t");
  const auto decoded = base64(header.substr(start, end + 1 - start), true);
  return decoded && *decoded == kCredentials;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", 4, nullptr, 0, salt, sizeof salt) == nullptr) {
    std::fprintf(stderr, "fuzz_web_config: crypt_gensalt_rn failed\n");
    std::abort();
  }
  struct crypt_data data = {};
  const char* hash = crypt_r("wonderland", salt, &data);
  if (hash == nullptr || !pgscope::is_bcrypt_hash(hash)) {
    std::fprintf(stderr, "fuzz_web_config: cannot make a bcrypt hash\n");
    std::abort();
  }
  g_auth = std::make_unique<pgscope::BasicAuth>(std::map<std::string, std::string>{{"alice", hash}});
  pgscope::fuzz::tolerated_kinds();  // says what it tolerates once, up front
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::size_t auth_at = std::string::npos;
  for (std::size_t at = input.find("#%AUTH"); at != std::string::npos; at = input.find("#%AUTH", at + 1)) {
    if ((at == 0 || input[at - 1] == '\n') && (at + 6 == input.size() || input[at + 6] == '\n')) {
      auth_at = at;
      break;
    }
  }
  const std::string text = input.substr(0, auth_at);

  static const bool print = std::getenv("PGSCOPE_FUZZ_PRINT") != nullptr;  // to look at a seed
  try {
    const pgscope::WebConfig config = pgscope::parse_web_config(text, kPath);
    check_config(config);
    const std::string summary = pgscope::describe(pgscope::WebSecurity{config, {}});
    if (print) std::fprintf(stderr, "accepted: %s\n", summary.c_str());
  } catch (const pgscope::UsageError& error) {
    const std::string message = error.what();
    if (print) std::fprintf(stderr, "UsageError: %s\n", message.c_str());
    expect(message.find_first_of("\r\n") == std::string::npos, "message",
           "a UsageError's message spans lines", message);
  }

  if (auth_at == std::string::npos || auth_at + 7 > input.size()) return 0;
  std::size_t checked = 0;
  for (const auto& line : pgscope::fuzz::split(input.substr(auth_at + 7), "\n")) {
    if (line.empty()) continue;
    if (++checked > 8) break;  // bcrypt (cost 4) for every wrong one
    const std::string header = pgscope::fuzz::unescape(line);
    const bool accepted = g_auth->check_header(header);
    if (print)
      std::fprintf(stderr, "%s: %s\n", accepted ? "yes" : "no", pgscope::fuzz::printable(header).c_str());
    expect(!accepted || carries_credentials(header), "auth", "check_header accepted other credentials",
           header);
    expect(accepted || !go_reads_credentials(header), "auth", "check_header refused the right credentials",
           header);
  }
  return 0;
}
