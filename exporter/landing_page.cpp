#include "exporter/landing_page.hpp"

namespace pgscope {

std::string html_escape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string landing_page_html(const std::string& version, const std::string& telemetry_path) {
  const std::string path = html_escape(telemetry_path);
  std::string page;
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += "<title>pgscope-exporter</title>\n</head>\n<body>\n";
  page += "<h1>pgscope-exporter</h1>\n";
  page += "<p>PostgreSQL exporter for Prometheus, version " + html_escape(version) + "</p>\n";
  page += "<ul>\n";
  page += "<li><a href=\"" + path + "\">" + path + "</a>: metrics</li>\n";
  page += "<li><a href=\"/healthz\">/healthz</a>: health</li>\n";
  page += "</ul>\n</body>\n</html>\n";
  return page;
}

}  // namespace pgscope
