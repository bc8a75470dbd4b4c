#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

namespace pgscope {

// True for a bcrypt hash as htpasswd -B (and every exporter) makes it:
// $2a$, $2b$ or $2y$, a cost from 04 to 31, 53 characters of bcrypt base64.
bool is_bcrypt_hash(const std::string& hash);

// HTTP basic authentication against bcrypt hashes (basic_auth_users), as
// exporter-toolkit does it. bcrypt is slow on purpose (cost 10: tens of ms),
// too slow to pay on every scrape, so a successful (user, password) is
// remembered, but only as HMAC-SHA256 under a random key of this process
// over user, password and stored hash: the cache holds no password, and an
// entry can only ever say yes to exactly the credentials that passed bcrypt.
// Failures are never cached; they pay bcrypt each time, one at a time (as
// exporter-toolkit), so a flood of wrong passwords costs at most one core.
class BasicAuth {
 public:
  static constexpr std::size_t kCacheEntries = 256;  // successful logins remembered, oldest dropped first

  // `users`: user -> bcrypt hash, already checked with is_bcrypt_hash.
  explicit BasicAuth(std::map<std::string, std::string> users);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  bool enabled() const { return !users_.empty(); }

  // The value of an Authorization header: "Basic base64(user:password)".
  // False when absent, malformed, or the credentials are wrong.
  bool check_header(const std::string& authorization);
  bool verify(const std::string& user, const std::string& password);

  std::size_t cached() const;  // entries in the cache (tests)

 private:
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    std::size_t operator()(const Digest& digest) const;
  };
  Digest key_for(const std::string& user, const std::string& password, const std::string& hash) const;
  bool bcrypt_matches(const std::string& password, const std::string& hash);

  const std::map<std::string, std::string> users_;
  std::array<unsigned char, 32> hmac_key_{};
  mutable std::mutex cache_mutex_;
  std::unordered_set<Digest, DigestHash> cache_;
  std::deque<Digest> cache_order_;  // insertion order, for eviction
  std::mutex bcrypt_mutex_;         // one bcrypt at a time; also guards crypt_data_
  struct CryptData;
  std::unique_ptr<CryptData> crypt_data_;  // crypt_r's 32 KiB of state
};

}  // namespace pgscope
