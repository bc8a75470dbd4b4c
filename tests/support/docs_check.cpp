#include "support/docs_check.hpp"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace pgscope::test {

std::vector<std::string> undocumented_families(const Exposition& exposition) {
  std::ifstream in(std::string(PGSCOPE_SOURCE_DIR) + "/docs/metrics.md");
  std::stringstream text;
  text << in.rdbuf();
  std::set<std::string> names;
  std::vector<std::string> prefixes;
  static const std::regex quoted("`([a-zA-Z_:][a-zA-Z0-9_:]*)(_\\*)?`");
  const std::string body = text.str();
  for (std::sregex_iterator it(body.begin(), body.end(), quoted), end; it != end; ++it) {
    if ((*it)[2].matched) {
      prefixes.push_back((*it)[1].str() + "_");
    } else {
      names.insert((*it)[1].str());
    }
  }
  std::set<std::string> missing;
  for (const auto& sample : exposition.samples) {
    if (names.count(sample.name) != 0) continue;
    bool covered = false;
    for (const auto& prefix : prefixes) covered = covered || sample.name.rfind(prefix, 0) == 0;
    if (!covered) missing.insert(sample.name);
  }
  return {missing.begin(), missing.end()};
}

}  // namespace pgscope::test
