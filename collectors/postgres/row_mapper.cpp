#include "postgres/row_mapper.hpp"

#include <cmath>
#include <limits>

namespace pgscope {

std::string expand_placeholders(const CatalogEntry& entry, const std::string& sql,
                                const std::map<std::string, long>& values) {
  std::string out;
  out.reserve(sql.size());
  std::size_t position = 0;
  for (;;) {
    const auto open = sql.find("{{", position);
    if (open == std::string::npos) break;
    const auto close = sql.find("}}", open + 2);
    if (close == std::string::npos) break;
    std::string key = sql.substr(open + 2, close - open - 2);
    key.erase(0, key.find_first_not_of(' '));
    key.erase(key.find_last_not_of(' ') + 1);
    auto found = values.find(key);
    if (found == values.end()) {
      throw CatalogError(entry.origin + ": query \"" + entry.name + "\" uses unknown placeholder {{" + key +
                         "}}");
    }
    out.append(sql, position, open - position).append(std::to_string(found->second));
    position = close + 2;
  }
  out.append(sql, position, std::string::npos);
  return out;
}

bool parse_sample(const char* text, double& value) {
  if (text == nullptr || *text == '\0') return false;
  if (text[1] == '\0' && (text[0] == 't' || text[0] == 'f')) {
    value = text[0] == 't' ? 1 : 0;
    return true;
  }
  if (std::strcmp(text, "NaN") == 0) {
    value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  char* end = nullptr;
  value = std::strtod(text, &end);
  return end != text && *end == '\0';
}

}  // namespace pgscope
