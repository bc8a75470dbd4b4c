#pragma once

#include <string>
#include <utility>

namespace pgscope {

// Splits ":9187" / "host:port" / "[v6]:port". Throws UsageError.
std::pair<std::string, int> parse_listen_address(const std::string& listen_address);

}  // namespace pgscope
