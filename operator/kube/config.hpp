#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace pgscope::kube {

// A kubeconfig or in-cluster configuration that cannot be used; the message
// names the file (and line, for YAML) and what to do.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How to reach and authenticate to the API server.
struct Config {
  std::string server;  // https://host:port (IPv6 hosts in brackets)
  std::string ca_pem;  // PEM of the CA bundle ("" = system store)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // a static bearer token...
  std::string token_file;  // ...or a file re-read as it rotates (wins when both are set)
  std::string username;    // basic auth, rarely used
  std::string password;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string ns;  // the context's namespace, or the pod's namespace in-cluster
  std::chrono::milliseconds request_timeout{30000};
  std::string user_agent = "pgscope-operator";
  // A watch that receives nothing at all (not even a bookmark) for this long
  // is presumed dead and fails with a transport error, so a silently dropped
  // connection cannot hang the operator. A watch with timeoutSeconds is given
  // at most timeoutSeconds + 30 s, since the server should have ended it.
  std::chrono::milliseconds watch_idle_timeout{std::chrono::minutes(10)};
};

// kubectl's rules: current-context unless context is given; *-data fields
// (base64 PEM) win over file paths; relative paths are relative to the
// kubeconfig's directory; exec and auth-provider plugins are refused with a
// ConfigError saying so.
Config load_kubeconfig(const std::string& path, const std::string& context = "");

// A pod's service account: KUBERNETES_SERVICE_HOST/PORT, token and ca.crt
// (and namespace) under dir. Throws ConfigError when not in a cluster.
Config in_cluster_config(const std::string& dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace pgscope::kube
