#include "exporter/config_sections.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "exporter/option_values.hpp"

namespace pgscope {
namespace {

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + what + " " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string at(const std::string& path, const YAML::Node& node) {
  const auto mark = node.Mark();
  if (mark.is_null()) return path + ": ";
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

YAML::Node load_config(const std::string& path) {
  try {
    return YAML::Load(read_text(path, "config file"));
  } catch (const YAML::Exception& error) {
    throw UsageError(path + ":" + std::to_string(error.mark.line + 1) + ":" +
                     std::to_string(error.mark.column + 1) + ": invalid YAML: " + error.msg);
  }
}

std::string text_of(const std::string& path, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || node.Scalar().empty())
    throw UsageError(at(path, node) + key + " must be a non-empty text value");
  return node.Scalar();
}

void check_keys(const std::string& path, const YAML::Node& map, const std::set<std::string>& known,
                const std::string& where) {
  for (const auto& item : map) {
    const std::string key = item.first.Scalar();
    if (known.count(key) == 0) {
      throw UsageError(at(path, item.first) + "unknown key " + quote(key) + " in " + where +
                       " (expected one of: " + join({known.begin(), known.end()}, ", ") + ")");
    }
  }
}

AuthModule auth_module(const std::string& path, const std::string& name, const YAML::Node& body) {
  const std::string where = "auth module " + quote(name);
  if (!body.IsMap()) throw UsageError(at(path, body) + where + " must be a map with type: userpass");
  check_keys(path, body, {"type", "userpass", "options"}, where);
  AuthModule module;
  module.name = name;
  if (!body["type"] || text_of(path, body["type"], "type") != "userpass") {
    throw UsageError(at(path, body["type"] ? body["type"] : body) + where +
                     ": type must be userpass (the only kind postgres_exporter knows)");
  }
  const auto userpass = body["userpass"];
  if (!userpass || !userpass.IsMap())
    throw UsageError(at(path, body) + where + " needs userpass: {username: .., password: ..}");
  check_keys(path, userpass, {"username", "password", "password_file"}, where + " userpass");
  if (!userpass["username"]) throw UsageError(at(path, userpass) + where + " has no username");
  module.username = text_of(path, userpass["username"], "username");
  if (userpass["password"] && userpass["password_file"]) {
    throw UsageError(at(path, userpass) + where + " has both password and password_file; keep one");
  }
  if (userpass["password"]) module.password = userpass["password"].Scalar();
  if (userpass["password_file"]) {
    const auto file = text_of(path, userpass["password_file"], "password_file");
    module.password = read_text(file, "password_file of " + where);
    while (!module.password.empty() && (module.password.back() == '\n' || module.password.back() == '\r'))
      module.password.pop_back();
  }
  if (const auto options = body["options"]) {
    if (!options.IsMap()) throw UsageError(at(path, options) + where + ": options must be a map");
    static const std::regex keyword("[a-z_]+");
    for (const auto& option : options) {
      const std::string key = option.first.Scalar();
      if (!std::regex_match(key, keyword) || key == "user" || key == "password" || key == "host" ||
          key == "hostaddr" || key == "port" || key == "dbname") {
        throw UsageError(at(path, option.first) + where + ": " + quote(key) +
                         " is not a connection option it may set (target and userpass say the rest)");
      }
      if (!option.second.IsScalar())
        throw UsageError(at(path, option.second) + where + ": option " + quote(key) + " needs a value");
      module.options.emplace_back(key, option.second.Scalar());
    }
  }
  return module;
}

}  // namespace

AuthModules load_auth_modules(const std::string& config_file) {
  AuthModules modules;
  if (config_file.empty()) return modules;
  const auto root = load_config(config_file);
  if (!root.IsMap() || !root["auth_modules"] || root["auth_modules"].IsNull()) return modules;
  const auto section = root["auth_modules"];
  if (!section.IsMap())
    throw UsageError(at(config_file, section) + "auth_modules must be a map of names to modules");
  for (const auto& item : section) {
    const std::string name = item.first.Scalar();
    modules[name] = auth_module(config_file, name, item.second);
  }
  return modules;
}

Catalog effective_catalog(const Options& options) {
  Catalog catalog;
  try {
    catalog = builtin_catalog();
  } catch (const CatalogError& error) {
    // The built-in catalog is compiled in; a mistake there is a bug of ours.
    throw std::logic_error(std::string("built-in catalog: ") + error.what());
  }
  std::vector<std::string> replaced;
  auto add = [&](Catalog custom) {
    for (auto& name : catalog.overlay(std::move(custom))) replaced.push_back(std::move(name));
  };
  try {
    for (const auto& file : options.postgres.query_files) add(load_catalog_file(file));
    if (!options.config_file.empty()) {
      const auto root = load_config(options.config_file);
      if (root.IsMap() && root["queries"]) add(parse_catalog_node(root["queries"], options.config_file));
    }
  } catch (const CatalogError& error) {
    throw UsageError(error.what());
  }
  if (!replaced.empty()) {
    spdlog::info("custom queries replace built-in ones: {}", join(replaced, ", "));
  }
  return catalog;
}

}  // namespace pgscope
