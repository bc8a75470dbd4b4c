#pragma once

#include <string>

namespace pgscope {

// Configures the default spdlog logger: level (debug, info, warn, error) and
// format (logfmt: `ts=... level=info msg="..."`, json: one object a line),
// on stderr. Throws UsageError for unknown values.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace pgscope
