#include "operator/runtime/backoff.hpp"

#include <algorithm>
#include <stdexcept>

namespace pgscope::op {

Backoff::Backoff(BackoffOptions options)
    : options_(options), current_(options.initial), random_(std::random_device{}()) {
  if (options_.initial.count() <= 0 || options_.max < options_.initial || options_.factor < 1.0 ||
      options_.jitter < 0.0) {
    throw std::invalid_argument("backoff needs 0 < initial <= max, factor >= 1 and jitter >= 0");
  }
}

std::chrono::milliseconds Backoff::next() {
  auto now = std::chrono::steady_clock::now();
  if (!failed_before_ || now - last_failure_ >= options_.reset_after) current_ = options_.initial;
  failed_before_ = true;
  last_failure_ = now;
  double base = static_cast<double>(current_.count());
  double spread = std::uniform_real_distribution<double>(0.0, options_.jitter)(random_);
  auto delay =
      std::min(options_.max, std::chrono::milliseconds(static_cast<long long>(base * (1.0 + spread))));
  current_ =
      std::min(options_.max, std::chrono::milliseconds(static_cast<long long>(base * options_.factor)));
  return delay;
}

void Backoff::reset() {
  failed_before_ = false;
  current_ = options_.initial;
}

}  // namespace pgscope::op
