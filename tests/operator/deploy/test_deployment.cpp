// The operator's Deployment and Service: a pod that runs under the
// "restricted" Pod Security Standard, probes and Service that reach the port
// the operator listens on, leader election on, and the resources documented.
#include <catch2/catch.hpp>
#include <map>

#include "deploy_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_deploy_test_deployment {

namespace dt = pgscope::deploytest;
using nlohmann::json;

namespace {

struct OperatorPod {
  json deployment;
  json pod;        // spec.template.spec
  json container;  // the only container
};

OperatorPod operator_pod() {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  OperatorPod result;
  result.deployment = dt::find_only_object(base, "Deployment");
  result.pod = result.deployment["spec"]["template"]["spec"];
  REQUIRE(result.pod["containers"].size() == 1);
  result.container = result.pod["containers"][0];
  return result;
}

// A container's setting wins over the pod's (as the kubelet applies them).
json effective_security(const OperatorPod& pod, const std::string& field) {
  const auto container = pod.container.value("securityContext", json::object());
  if (container.contains(field)) return container[field];
  return pod.pod.value("securityContext", json::object()).value(field, json());
}

// The value of --flag=value in the args, else of PGSCOPE_OPERATOR_<FLAG>.
std::string flag_value(const json& container, const std::string& flag, const std::string& variable) {
  for (const auto& arg : container.value("args", json::array())) {
    const auto text = arg.get<std::string>();
    if (text == "--" + flag) return "true";
    if (text.rfind("--" + flag + "=", 0) == 0) return text.substr(flag.size() + 3);
  }
  for (const auto& env : container.value("env", json::array())) {
    if (env.value("name", "") == variable) return env.value("value", "");
  }
  return "";
}

// The container port a probe or Service targetPort names (by name or number).
json resolve_port(const json& container, const json& reference) {
  for (const auto& port : container.value("ports", json::array())) {
    if ((reference.is_string() && port.value("name", "") == reference.get<std::string>()) ||
        (reference.is_number() && port["containerPort"] == reference)) {
      return port;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the operator runs as a non-root user with nothing it does not need", "[deploy]") {
  const auto pod = operator_pod();
  CHECK(effective_security(pod, "runAsNonRoot") == true);
  const auto user = effective_security(pod, "runAsUser");
  REQUIRE(user.is_number_integer());
  CHECK(user.get<int>() == 65532);
  CHECK(effective_security(pod, "runAsGroup") == 65532);
  CHECK(effective_security(pod, "readOnlyRootFilesystem") == true);
  CHECK(effective_security(pod, "allowPrivilegeEscalation") == false);
  CHECK(effective_security(pod, "privileged") != true);
  CHECK(effective_security(pod, "seccompProfile") == json{{"type", "RuntimeDefault"}});
  const auto capabilities = pod.container["securityContext"].value("capabilities", json::object());
  CHECK(capabilities.value("drop", json::array()) == json::array({"ALL"}));
  CHECK_FALSE(capabilities.contains("add"));
  for (const auto& host : {"hostNetwork", "hostPID", "hostIPC"}) CHECK(pod.pod.value(host, false) == false);
  CHECK_FALSE(pod.pod.contains("volumes"));  // nothing mounted but the service account token
}

TEST_CASE("the probes and the Service reach the port the operator listens on", "[deploy]") {
  const auto pod = operator_pod();
  const auto listen = flag_value(pod.container, "listen-address", "PGSCOPE_OPERATOR_LISTEN_ADDRESS");
  REQUIRE(!listen.empty());
  const auto listen_port = std::stoi(listen.substr(listen.rfind(':') + 1));

  const auto http = resolve_port(pod.container, "http");
  REQUIRE(http.is_object());
  CHECK(http["containerPort"] == listen_port);
  CHECK(http.value("protocol", "TCP") == "TCP");

  const std::vector<std::pair<std::string, std::string>> probes{{"readinessProbe", "/readyz"},
                                                                {"livenessProbe", "/healthz"}};
  for (const auto& [probe, path] : probes) {
    INFO(probe << ": " << pod.container.value(probe, json()).dump());
    REQUIRE(pod.container.contains(probe));
    const auto& get = pod.container[probe]["httpGet"];
    CHECK(get.value("path", "") == path);
    const auto port = resolve_port(pod.container, get["port"]);
    REQUIRE(port.is_object());
    CHECK(port["containerPort"] == listen_port);
    CHECK(get.value("scheme", "HTTP") == "HTTP");
  }

  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& service = dt::find_only_object(base, "Service");
  REQUIRE(service["spec"]["ports"].size() == 1);
  const auto& service_port = service["spec"]["ports"][0];
  CHECK(service_port.value("name", "") == "http");
  const auto target = resolve_port(pod.container, service_port["targetPort"]);
  REQUIRE(target.is_object());
  CHECK(target["containerPort"] == listen_port);
}

TEST_CASE("one replica that elects a leader, so scaling to two is safe", "[deploy]") {
  const auto pod = operator_pod();
  CHECK(pod.deployment["spec"].value("replicas", 0) == 1);
  CHECK(flag_value(pod.container, "leader-elect", "PGSCOPE_OPERATOR_LEADER_ELECT") == "true");
  // The image's ENTRYPOINT is the binary; the Deployment only picks the subcommand.
  CHECK_FALSE(pod.container.contains("command"));
  REQUIRE(pod.container.contains("args"));
  CHECK(pod.container["args"][0] == "run");
}

TEST_CASE("the pod knows its namespace and name and has its API token", "[deploy]") {
  const auto pod = operator_pod();
  // POD_NAMESPACE: where the Lease is; POD_NAME: the identity in it.
  std::map<std::string, std::string> downward;
  for (const auto& env : pod.container.value("env", json::array())) {
    if (env.contains("valueFrom") && env["valueFrom"].contains("fieldRef")) {
      downward[env.value("name", "")] = env["valueFrom"]["fieldRef"].value("fieldPath", "");
    }
  }
  CHECK(downward["POD_NAMESPACE"] == "metadata.namespace");
  CHECK(downward["POD_NAME"] == "metadata.name");
  CHECK(pod.pod.value("automountServiceAccountToken", false) == true);
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& account = dt::find_object(base, "ServiceAccount", pod.pod.value("serviceAccountName", ""));
  CHECK(account.value("automountServiceAccountToken", true) == true);
}

TEST_CASE("the operator's resources are the documented ones", "[deploy]") {
  const auto pod = operator_pod();
  const auto& resources = pod.container["resources"];
  CHECK(resources["requests"] == json{{"cpu", "50m"}, {"memory", "64Mi"}});
  // A memory limit against leaks; no CPU limit, whose throttling would slow
  // reconciles for nothing on an idle node.
  CHECK(resources["limits"] == json{{"memory", "256Mi"}});
}

}  // namespace unity_file_deploy_test_deployment
