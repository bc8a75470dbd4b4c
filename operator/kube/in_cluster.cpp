// in_cluster_config: the pod's service account, as client-go's
// rest.InClusterConfig reads it.

#include <cstdlib>
#include <string>

#include "operator/kube/config.hpp"
#include "operator/kube/file_text.hpp"

namespace pgscope::kube {

Config in_cluster_config(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') {
    throw ConfigError("not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig");
  }
  if (port == nullptr || *port == '\0') {
    throw ConfigError("KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not: pass --kubeconfig");
  }
  Config config;
  const std::string host_name(host);
  // An IPv6 service address needs brackets in a URL (JoinHostPort).
  const bool ipv6 = host_name.find(':') != std::string::npos && host_name.front() != '[';
  config.server = "https://" + (ipv6 ? "[" + host_name + "]" : host_name) + ":" + port;

  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  std::string reason;
  config.token_file = base + "token";
  const auto token = read_file_text(config.token_file, reason);
  if (!token) {
    throw ConfigError("cannot read the service-account token " + config.token_file + ": " + reason +
                      " (is automountServiceAccountToken false for this pod?)");
  }
  // Read now as well: a pod whose token file later vanishes keeps this one.
  config.token = trim(*token);
  const auto ca = read_file_text(base + "ca.crt", reason);
  if (!ca) throw ConfigError("cannot read the cluster CA " + base + "ca.crt: " + reason);
  config.ca_pem = *ca;
  const auto ns = read_file_text(base + "namespace", reason);
  config.ns = ns ? trim(*ns) : "";
  if (config.ns.empty()) config.ns = "default";
  return config;
}

}  // namespace pgscope::kube
