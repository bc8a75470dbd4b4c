#include "operator/kube/token_source.hpp"

#include <spdlog/spdlog.h>

#include "operator/kube/api_status.hpp"
#include "operator/kube/file_text.hpp"

namespace pgscope::kube {

TokenSource::TokenSource(std::string static_token, std::string file, std::chrono::milliseconds max_age)
    : file_(std::move(file)), max_age_(max_age), token_(std::move(static_token)) {}

void TokenSource::reread_locked() {
  read_at_ = std::chrono::steady_clock::now();
  read_once_ = true;
  std::string error;
  const auto text = read_file_text(file_, error);
  if (!text) {
    last_error_ = "cannot read the bearer token file " + file_ + ": " + error;
    spdlog::warn("{}; {}", last_error_,
                 token_.empty() ? "no token to send" : "still using the previous token");
    return;
  }
  std::string token = trim(*text);
  if (token.empty()) {
    // The kubelet replaces the file atomically, so an empty read is a
    // broken mount or a file written by hand: not a token to send.
    last_error_ = "the bearer token file " + file_ + " is empty";
    spdlog::warn("{}; {}", last_error_,
                 token_.empty() ? "no token to send" : "still using the previous token");
    return;
  }
  if (token != token_ && !token_.empty()) spdlog::info("bearer token reloaded from {}", file_);
  token_ = std::move(token);
  last_error_.clear();
}

std::string TokenSource::current() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (file_.empty()) return token_;
  if (!read_once_ || std::chrono::steady_clock::now() - read_at_ >= max_age_) reread_locked();
  if (token_.empty()) throw transport_error(last_error_);
  return token_;
}

bool TokenSource::refresh_after_unauthorized() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (file_.empty()) return false;
  reread_locked();
  return true;
}

}  // namespace pgscope::kube
