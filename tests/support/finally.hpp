#pragma once

#include <exception>
#include <functional>

namespace pgscope::test {

// Runs `cleanup` at scope exit, also when an assertion throws, so a test
// leaves the shared server as it found it.
struct Finally {
  std::function<void()> cleanup;
  ~Finally() {
    try {
      cleanup();
    } catch (const std::exception&) {
    }
  }
};

}  // namespace pgscope::test
