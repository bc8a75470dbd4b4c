#pragma once

#include <optional>
#include <string>

namespace pgscope::kube {

// Standard base64 (RFC 4648, with padding) as found in kubeconfig *-data
// fields; white space is ignored. nullopt when `text` is not base64.
std::optional<std::string> base64_decode(const std::string& text);

}  // namespace pgscope::kube
