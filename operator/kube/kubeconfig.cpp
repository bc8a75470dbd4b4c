// load_kubeconfig: kubectl's kubeconfig format, read with yaml-cpp.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "operator/kube/base64.hpp"
#include "operator/kube/config.hpp"
#include "operator/kube/file_text.hpp"

namespace pgscope::kube {

namespace {

std::string position(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return " (line " + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ")";
}

class KubeconfigReader {
 public:
  explicit KubeconfigReader(std::string path)
      : path_(std::move(path)), dir_(std::filesystem::path(path_).parent_path()) {}

  ConfigError error(const std::string& what) const {
    return ConfigError("kubeconfig " + path_ + ": " + what);
  }
  ConfigError error(const std::string& what, const YAML::Node& at) const {
    return error(what + position(at));
  }

  YAML::Node load() const {
    std::string reason;
    const auto text = read_file_text(path_, reason);
    if (!text) throw ConfigError("kubeconfig " + path_ + " cannot be read: " + reason);
    YAML::Node root;
    try {
      root = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      throw error("invalid YAML at line " + std::to_string(e.mark.line + 1) + ":" +
                  std::to_string(e.mark.column + 1) + ": " + e.msg +
                  "; fix the file (kubectl config view checks it)");
    }
    if (!root.IsMap()) {
      throw error(
          "not a kubeconfig: expected a mapping with clusters, contexts and users (kubectl config view)");
    }
    return root;
  }

  // A string field of `map` ("" when absent or null); `where` names the map.
  std::string string_field(const YAML::Node& map, const char* key, const std::string& where) const {
    const YAML::Node value = map[key];
    if (!value || value.IsNull()) return "";
    if (!value.IsScalar()) throw error(where + ": " + key + " must be a string", value);
    return value.Scalar();
  }

  bool bool_field(const YAML::Node& map, const char* key, const std::string& where) const {
    const YAML::Node value = map[key];
    if (!value || value.IsNull()) return false;
    bool result = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
      throw error(where + ": " + key + " must be true or false", value);
    }
    return result;
  }

  // The `inner` mapping of the entry of list `list` whose name is `name`
  // (clusters[].cluster and so on); throws naming what is available.
  YAML::Node find_named(const YAML::Node& root, const char* list, const char* inner, const std::string& name,
                        const std::string& wanted_by) const {
    const YAML::Node entries = root[list];
    std::vector<std::string> names;
    if (entries && !entries.IsNull()) {
      if (!entries.IsSequence()) throw error(std::string(list) + " must be a list", entries);
      for (const YAML::Node& entry : entries) {
        if (!entry.IsMap()) throw error(std::string("an entry of ") + list + " is not a mapping", entry);
        const std::string entry_name = string_field(entry, "name", std::string("an entry of ") + list);
        if (entry_name != name) {
          names.push_back(entry_name);
          continue;
        }
        const YAML::Node body = entry[inner];
        if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
        if (!body.IsMap()) throw error(std::string(inner) + " \"" + name + "\" is not a mapping", body);
        return body;
      }
    }
    std::string available;
    for (const auto& known : names) available += (available.empty() ? "" : ", ") + known;
    throw error(wanted_by + std::string(inner) + " \"" + name + "\" is not defined in " + list +
                (available.empty() ? " (the list is empty)" : " (defined: " + available + ")"));
  }

  std::string resolve(const std::string& file) const {
    const std::filesystem::path given(file);
    if (given.is_absolute() || dir_.empty()) return given.string();
    return (dir_ / given).string();
  }

  // A PEM from `data_key` (base64, wins) or from the file `file_key` names.
  std::string pem_field(const YAML::Node& map, const char* data_key, const char* file_key,
                        const std::string& where) const {
    const std::string data = string_field(map, data_key, where);
    if (!data.empty()) {
      const auto decoded = base64_decode(data);
      if (!decoded) {
        throw error(
            where + ": " + data_key +
                " is not base64; it holds the base64 of the PEM file (kubectl config ... --embed-certs)",
            map[data_key]);
      }
      return *decoded;
    }
    const std::string file = string_field(map, file_key, where);
    if (file.empty()) return "";
    const std::string resolved = resolve(file);
    std::string reason;
    const auto text = read_file_text(resolved, reason);
    if (!text)
      throw error(where + ": " + file_key + " " + resolved + " cannot be read: " + reason, map[file_key]);
    return *text;
  }

 private:
  std::string path_;
  std::filesystem::path dir_;
};

}  // namespace

Config load_kubeconfig(const std::string& path, const std::string& context) {
  const KubeconfigReader reader(path);
  const YAML::Node root = reader.load();
  Config config;

  std::string context_name = context;
  if (context_name.empty()) context_name = reader.string_field(root, "current-context", "the file");
  if (context_name.empty()) {
    throw reader.error("no current-context is set and no context was given; name one of its contexts");
  }
  const YAML::Node ctx = reader.find_named(root, "contexts", "context", context_name, "");
  const std::string where_context = "context \"" + context_name + "\"";
  const std::string cluster_name = reader.string_field(ctx, "cluster", where_context);
  const std::string user_name = reader.string_field(ctx, "user", where_context);
  config.ns = reader.string_field(ctx, "namespace", where_context);
  if (config.ns.empty()) config.ns = "default";
  if (cluster_name.empty()) throw reader.error(where_context + " names no cluster", ctx);

  const YAML::Node cluster =
      reader.find_named(root, "clusters", "cluster", cluster_name, where_context + " refers to ");
  const std::string where_cluster = "cluster \"" + cluster_name + "\"";
  config.server = reader.string_field(cluster, "server", where_cluster);
  if (config.server.empty()) throw reader.error(where_cluster + " has no server address", cluster);
  config.ca_pem =
      reader.pem_field(cluster, "certificate-authority-data", "certificate-authority", where_cluster);
  config.insecure_skip_tls_verify = reader.bool_field(cluster, "insecure-skip-tls-verify", where_cluster);
  config.tls_server_name = reader.string_field(cluster, "tls-server-name", where_cluster);
  if (!reader.string_field(cluster, "proxy-url", where_cluster).empty()) {
    throw reader.error(where_cluster +
                           " uses proxy-url, which pgscope-operator does not support; remove it and set "
                           "HTTPS_PROXY in the environment instead",
                       cluster["proxy-url"]);
  }

  if (user_name.empty()) return config;  // anonymous, or authenticated by the network
  const YAML::Node user = reader.find_named(root, "users", "user", user_name, where_context + " refers to ");
  const std::string where_user = "user \"" + user_name + "\"";
  if (user["exec"] && !user["exec"].IsNull()) {
    throw reader.error("user " + user_name +
                       " uses an exec plugin, which pgscope-operator does not run; use a token or client "
                       "certificate");
  }
  if (user["auth-provider"] && !user["auth-provider"].IsNull()) {
    throw reader.error("user " + user_name +
                       " uses an auth-provider plugin, which pgscope-operator does not run; use a token or "
                       "client certificate");
  }
  config.token = reader.string_field(user, "token", where_user);
  if (config.token.empty()) {
    const std::string token_file = reader.string_field(user, "tokenFile", where_user);
    if (!token_file.empty()) config.token_file = reader.resolve(token_file);
  }
  config.client_cert_pem =
      reader.pem_field(user, "client-certificate-data", "client-certificate", where_user);
  config.client_key_pem = reader.pem_field(user, "client-key-data", "client-key", where_user);
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    throw reader.error(where_user + " has a client " +
                           (config.client_cert_pem.empty() ? "key" : "certificate") + " without its " +
                           (config.client_cert_pem.empty() ? "certificate" : "key"),
                       user);
  }
  config.username = reader.string_field(user, "username", where_user);
  config.password = reader.string_field(user, "password", where_user);
  return config;
}

}  // namespace pgscope::kube
