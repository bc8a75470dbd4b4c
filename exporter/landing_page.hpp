#pragma once

#include <string>

namespace pgscope {

// The page served at "/": the exporter's name and version, with links to the
// metrics and health endpoints.
std::string landing_page_html(const std::string& version, const std::string& telemetry_path);

// Escapes &, <, >, " and ' so that `text` is safe in HTML text and in
// quoted attribute values.
std::string html_escape(const std::string& text);

}  // namespace pgscope
