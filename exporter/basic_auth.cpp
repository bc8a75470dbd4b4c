#include "exporter/basic_auth.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <strings.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace pgscope {

// libxcrypt's crypt_r does the bcrypt (every $2?$ variant); its state is
// large, so one is kept and reused under bcrypt_mutex_.
struct BasicAuth::CryptData {
  crypt_data data;
};

namespace {

std::optional<std::string> decode_base64(const std::string& text) {
  // OpenSSL's block decoder; it counts padding as zero bytes, taken off below.
  if (text.empty() || text.size() % 4 != 0 || text.size() > 8192) return std::nullopt;
  // Padding is one or two '=' at the very end. EVP_DecodeBlock would also
  // take "Z===" (found by fuzz_web_config), which Go's decoder refuses.
  const std::size_t first_pad = text.find('=');
  if (first_pad != std::string::npos &&
      (first_pad < text.size() - 2 || text.find_first_not_of('=', first_pad) != std::string::npos)) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int length =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  std::size_t padding = 0;
  if (text[text.size() - 1] == '=') ++padding;
  if (text[text.size() - 2] == '=') ++padding;
  if (static_cast<std::size_t>(length) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

void append_field(std::string& message, const std::string& field) {
  const std::uint64_t length = field.size();
  message.append(reinterpret_cast<const char*>(&length), sizeof(length));
  message += field;
}

}  // namespace

bool is_bcrypt_hash(const std::string& hash) {
  static const char kAlphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (std::size_t i = 7; i < hash.size(); ++i) {
    if (hash[i] == '\0' || std::strchr(kAlphabet, hash[i]) == nullptr) return false;
  }
  return true;
}

std::size_t BasicAuth::DigestHash::operator()(const Digest& digest) const {
  std::size_t value = 0;
  std::memcpy(&value, digest.data(), sizeof(value));  // the digest is uniformly random already
  return value;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : users_(std::move(users)), crypt_data_(std::make_unique<CryptData>()) {
  if (RAND_bytes(hmac_key_.data(), static_cast<int>(hmac_key_.size())) != 1) {
    throw std::runtime_error("basic auth: OpenSSL could not make a random key");
  }
}

BasicAuth::~BasicAuth() {
  OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size());
  OPENSSL_cleanse(crypt_data_.get(), sizeof(CryptData));
}

bool BasicAuth::check_header(const std::string& authorization) {
  // The scheme is exactly "Basic", in any case. (Comparing C strings would
  // stop at a NUL and take "Basic\0..." for it: found by fuzz_web_config.)
  const std::size_t space = authorization.find(' ');
  if (space != 5 || strncasecmp(authorization.data(), "basic", 5) != 0) return false;
  const std::size_t start = authorization.find_first_not_of(' ', space);
  if (start == std::string::npos) return false;
  auto decoded = decode_base64(authorization.substr(start));
  if (!decoded) return false;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const bool ok = verify(decoded->substr(0, colon), decoded->substr(colon + 1));
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return ok;
}

bool BasicAuth::verify(const std::string& user, const std::string& password) {
  if (users_.empty()) return false;
  const auto found = users_.find(user);
  if (found == users_.end()) {
    // An unknown user costs the same bcrypt as a known one, so the time of
    // an answer does not tell which users exist (exporter-toolkit does the
    // same with a fixed hash).
    bcrypt_matches(password, users_.begin()->second);
    return false;
  }
  const std::string& hash = found->second;
  const Digest key = key_for(user, password, hash);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.count(key) != 0) return true;
  }
  if (!bcrypt_matches(password, hash)) return false;
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.insert(key).second) {
    cache_order_.push_back(key);
    if (cache_order_.size() > kCacheEntries) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
  }
  return true;
}

std::size_t BasicAuth::cached() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  return cache_.size();
}

BasicAuth::Digest BasicAuth::key_for(const std::string& user, const std::string& password,
                                     const std::string& hash) const {
  // Length-prefixed fields, so ("ab", "c") and ("a", "bc") differ.
  std::string message;
  append_field(message, user);
  append_field(message, password);
  append_field(message, hash);
  Digest digest{};
  unsigned int length = static_cast<unsigned int>(digest.size());
  const bool ok = HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
                       &length) != nullptr;
  OPENSSL_cleanse(message.data(), message.size());
  if (!ok) throw std::runtime_error("basic auth: HMAC-SHA256 failed");
  return digest;
}

bool BasicAuth::bcrypt_matches(const std::string& password, const std::string& hash) {
  // crypt_r takes C strings: a password with a NUL in it would be cut there.
  const bool has_nul = password.find('\0') != std::string::npos;
  std::lock_guard<std::mutex> lock(bcrypt_mutex_);
  std::memset(&crypt_data_->data, 0, sizeof(crypt_data_->data));
  const char* computed = crypt_r(password.c_str(), hash.c_str(), &crypt_data_->data);
  // On failure crypt_r returns NULL or a string starting with '*', which
  // never equals a valid hash; the comparison takes the same time wherever
  // the two differ.
  if (computed == nullptr || has_nul) return false;
  const std::size_t length = std::strlen(computed);
  return length == hash.size() && CRYPTO_memcmp(computed, hash.data(), length) == 0;
}

}  // namespace pgscope
