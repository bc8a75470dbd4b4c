#pragma once

// The bearer token of a client: a fixed string, or a file that the kubelet
// rewrites as the projected service-account token rotates. Internal to
// pgscope_kube (and its tests).

#include <chrono>
#include <mutex>
#include <string>

namespace pgscope::kube {

class TokenSource {
 public:
  // client-go re-reads its token file every minute minus 10 s of leeway.
  static constexpr std::chrono::milliseconds kDefaultMaxAge{50000};

  // `file` "" means `static_token` is used as is. With a file,
  // `static_token` is the fallback until the file has been read once.
  TokenSource(std::string static_token, std::string file, std::chrono::milliseconds max_age = kDefaultMaxAge);

  // The token to send ("" = none). Reads the file when first needed and
  // when the last read is older than max_age; keeps the last good token
  // when the file cannot be read. Throws ApiError (transport) when a file
  // is configured but no token was ever obtained.
  std::string current();

  // After a 401: re-reads the file now. True when there is a file, so the
  // request is worth one retry.
  bool refresh_after_unauthorized();

  bool file_based() const { return !file_.empty(); }

 private:
  // Reads the file; keeps token_ on failure. Caller holds mutex_.
  void reread_locked();

  const std::string file_;
  const std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  std::string token_;
  std::string last_error_;
  bool read_once_ = false;
  std::chrono::steady_clock::time_point read_at_{};
};

}  // namespace pgscope::kube
