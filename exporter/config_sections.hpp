#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "exporter/options.hpp"
#include "postgres/catalog.hpp"

namespace pgscope {

// Credentials for /probe targets, so that a target in a URL carries no
// password. The form is postgres_exporter's auth_modules.
struct AuthModule {
  std::string name;
  std::string username;
  std::string password;
  std::vector<std::pair<std::string, std::string>> options;  // extra libpq keywords (sslmode, ...)
};
using AuthModules = std::map<std::string, AuthModule>;

// The config file's auth_modules: section (none when there is no file).
// A password_file is read now, so a reload picks up a rotated secret.
// Throws UsageError naming file:line:column.
AuthModules load_auth_modules(const std::string& config_file);

// The catalog these options run: built-in entries, then each
// --extend.query-path file, then the config file's queries: section; a
// custom entry named like a built-in one replaces it. Throws UsageError with
// file:line:column and the reason for any mistake.
Catalog effective_catalog(const Options& options);

}  // namespace pgscope
