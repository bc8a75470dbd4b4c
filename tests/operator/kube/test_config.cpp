// kubeconfig files and in-cluster configuration, as a user writes them.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>

#include "operator/kube/config.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_config {

using namespace pgscope::kube;
using namespace pgscope::kube::testing;

namespace {

std::string b64(const std::string& text) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
  }
  if (i + 1 == text.size()) {
    const unsigned v = static_cast<unsigned char>(text[i]) << 16;
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    const unsigned v =
        (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], '='};
  }
  return out;
}

const char* const kKubeconfig = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443
    certificate-authority: certs/dev-ca.crt
    tls-server-name: kubernetes.dev
- name: prod-cluster
  cluster:
    server: https://[fd00::10]:443
    certificate-authority: /nonexistent/ignored-because-data-wins.crt
    certificate-authority-data: {PROD_CA}
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context:
    cluster: dev-cluster
    user: dev-user
    namespace: databases
- name: prod
  context:
    cluster: prod-cluster
    user: prod-user
- name: broken
  context:
    cluster: no-such-cluster
    user: dev-user
users:
- name: dev-user
  user:
    tokenFile: tokens/dev
    client-certificate: certs/client.crt
    client-key: certs/client.key
- name: prod-user
  user:
    token: prod-token
    tokenFile: tokens/ignored
    client-certificate-data: {CLIENT_CERT}
    client-key-data: {CLIENT_KEY}
)";

std::string kubeconfig_text() {
  std::string text = kKubeconfig;
  const auto replace = [&](const std::string& key, const std::string& value) {
    text.replace(text.find(key), key.size(), value);
  };
  replace("{PROD_CA}", b64("PROD CA PEM\n"));
  replace("{CLIENT_CERT}", b64("PROD CLIENT CERT"));
  replace("{CLIENT_KEY}", b64("PROD CLIENT KEY"));
  return text;
}

std::string config_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("no ConfigError");
  return "";
}

// Sets environment variables for one scope, restoring what was there.
class ScopedEnv {
 public:
  void set(const std::string& name, const char* value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value == nullptr) {
      ::unsetenv(name.c_str());
    } else {
      ::setenv(name.c_str(), value, 1);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST_CASE("kubeconfig: current-context, files relative to the kubeconfig's directory") {
  TempDir dir;
  const std::string path = dir.write("kube/config", kubeconfig_text());
  dir.write("kube/certs/dev-ca.crt", "DEV CA PEM\n");
  dir.write("kube/certs/client.crt", "DEV CLIENT CERT");
  dir.write("kube/certs/client.key", "DEV CLIENT KEY");
  const Config config = load_kubeconfig(path);
  CHECK(config.server == "https://dev.example:6443");
  CHECK(config.ca_pem == "DEV CA PEM\n");
  CHECK(config.tls_server_name == "kubernetes.dev");
  CHECK_FALSE(config.insecure_skip_tls_verify);
  CHECK(config.token.empty());
  CHECK(config.token_file == dir.path() + "/kube/tokens/dev");
  CHECK(config.client_cert_pem == "DEV CLIENT CERT");
  CHECK(config.client_key_pem == "DEV CLIENT KEY");
  CHECK(config.ns == "databases");
}

TEST_CASE("kubeconfig: an explicit context; data fields win over files, token over tokenFile") {
  TempDir dir;
  const std::string path = dir.write("config", kubeconfig_text());
  const Config config = load_kubeconfig(path, "prod");
  CHECK(config.server == "https://[fd00::10]:443");
  CHECK(config.ca_pem == "PROD CA PEM\n");
  CHECK(config.insecure_skip_tls_verify);
  CHECK(config.token == "prod-token");
  CHECK(config.token_file.empty());
  CHECK(config.client_cert_pem == "PROD CLIENT CERT");
  CHECK(config.client_key_pem == "PROD CLIENT KEY");
  CHECK(config.ns == "default");
}

TEST_CASE("kubeconfig: missing contexts, clusters and files are named") {
  TempDir dir;
  const std::string path = dir.write("config", kubeconfig_text());
  const std::string missing = config_error([&] { load_kubeconfig(path, "staging"); });
  CHECK(missing.find("kubeconfig " + path) != std::string::npos);
  CHECK(missing.find("context \"staging\"") != std::string::npos);
  CHECK(missing.find("dev, prod, broken") != std::string::npos);

  const std::string broken = config_error([&] { load_kubeconfig(path, "broken"); });
  CHECK(broken.find("cluster \"no-such-cluster\"") != std::string::npos);
  CHECK(broken.find("dev-cluster, prod-cluster") != std::string::npos);

  // dev's CA file is not there in this directory.
  const std::string unreadable = config_error([&] { load_kubeconfig(path, "dev"); });
  CHECK(unreadable.find(dir.path() + "/certs/dev-ca.crt") != std::string::npos);
  CHECK(unreadable.find("No such file or directory") != std::string::npos);

  const std::string absent = config_error([&] { load_kubeconfig(dir.path() + "/nope"); });
  CHECK(absent.find(dir.path() + "/nope") != std::string::npos);

  const std::string no_current = dir.write("no-current", "apiVersion: v1\nkind: Config\ncontexts: []\n");
  CHECK(config_error([&] { load_kubeconfig(no_current); }).find("no current-context") != std::string::npos);
}

TEST_CASE("kubeconfig: exec and auth-provider users are refused with what to do") {
  TempDir dir;
  const std::string path = dir.write("config", R"(apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: c
  cluster: {server: "https://eks.example"}
contexts:
- name: eks
  context: {cluster: c, user: aws}
- name: gke
  context: {cluster: c, user: gcp}
users:
- name: aws
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
- name: gcp
  user:
    auth-provider: {name: gcp}
)");
  CHECK(config_error([&] { load_kubeconfig(path); }) ==
        "kubeconfig " + path +
            ": user aws uses an exec plugin, which pgscope-operator does not run; use a token or client "
            "certificate");
  CHECK(config_error([&] { load_kubeconfig(path, "gke"); }).find("auth-provider") != std::string::npos);
}

TEST_CASE("kubeconfig: YAML syntax errors and bad values name the line") {
  TempDir dir;
  const std::string bad_yaml =
      dir.write("bad", "apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: [\n");
  const std::string syntax = config_error([&] { load_kubeconfig(bad_yaml); });
  CHECK(syntax.find("kubeconfig " + bad_yaml) != std::string::npos);
  CHECK(syntax.find("invalid YAML at line 5:") != std::string::npos);

  const std::string bad_data = dir.write("bad-data", R"(current-context: x
clusters:
- name: c
  cluster:
    server: https://a
    certificate-authority-data: "-----BEGIN CERTIFICATE-----"
contexts:
- name: x
  context: {cluster: c}
)");
  const std::string data = config_error([&] { load_kubeconfig(bad_data); });
  CHECK(data.find("certificate-authority-data is not base64") != std::string::npos);
  CHECK(data.find("(line 6:33)") != std::string::npos);

  const std::string bad_bool = dir.write("bad-bool", R"(current-context: x
clusters:
- name: c
  cluster: {server: https://a, insecure-skip-tls-verify: sometimes}
contexts:
- name: x
  context: {cluster: c}
)");
  CHECK(config_error([&] { load_kubeconfig(bad_bool); }).find("must be true or false (line 4:") !=
        std::string::npos);

  const std::string not_a_map = dir.write("list", "- a\n- b\n");
  CHECK(config_error([&] { load_kubeconfig(not_a_map); }).find("not a kubeconfig") != std::string::npos);
}

TEST_CASE("in-cluster: service host and port, token, CA and namespace from the pod") {
  TempDir dir;
  dir.write("token", "pod-token\n");
  dir.write("ca.crt", "CLUSTER CA PEM\n");
  dir.write("namespace", "pgscope\n");
  ScopedEnv env;
  env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  env.set("KUBERNETES_SERVICE_PORT", "443");
  Config config = in_cluster_config(dir.path());
  CHECK(config.server == "https://10.96.0.1:443");
  CHECK(config.token == "pod-token");
  CHECK(config.token_file == dir.path() + "/token");
  CHECK(config.ca_pem == "CLUSTER CA PEM\n");
  CHECK(config.ns == "pgscope");

  env.set("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
  env.set("KUBERNETES_SERVICE_PORT", "6443");
  config = in_cluster_config(dir.path());
  CHECK(config.server == "https://[fd00:10:96::1]:6443");
}

TEST_CASE("in-cluster: outside a pod, or without the mounted files, says what to do") {
  TempDir dir;
  ScopedEnv env;
  env.set("KUBERNETES_SERVICE_HOST", nullptr);
  CHECK(config_error([&] { in_cluster_config(dir.path()); }) ==
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig");
  env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  env.set("KUBERNETES_SERVICE_PORT", "443");
  CHECK(config_error([&] { in_cluster_config(dir.path()); }).find(dir.path() + "/token") !=
        std::string::npos);
  dir.write("token", "t");
  CHECK(config_error([&] { in_cluster_config(dir.path()); }).find(dir.path() + "/ca.crt") !=
        std::string::npos);
  dir.write("ca.crt", "CA");
  CHECK(in_cluster_config(dir.path()).ns == "default");
}

}  // namespace unity_file_kube_test_config
