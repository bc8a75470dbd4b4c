#pragma once

#include <optional>
#include <string>

namespace pgscope::kube {

// The whole content of a file, or nullopt with `error` set to the system's
// reason ("No such file or directory", "Is a directory"...).
std::optional<std::string> read_file_text(const std::string& path, std::string& error);

// `text` without leading and trailing white space.
std::string trim(const std::string& text);

}  // namespace pgscope::kube
