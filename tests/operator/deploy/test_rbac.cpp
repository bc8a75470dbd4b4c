// The operator's permissions, rule by rule: exactly what it reads and writes
// (docs/operator.md, "RBAC"), never secrets or wildcards, leader election
// only in its own namespace, and bindings that reach its ServiceAccount.
#include <catch2/catch.hpp>
#include <map>

#include "deploy_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_deploy_test_rbac {

namespace dt = pgscope::deploytest;
using nlohmann::json;

namespace {

using Grants = std::map<std::string, std::set<std::string>>;  // "resource.group" -> verbs

std::string grant_key(const std::string& group, const std::string& resource) {
  return group.empty() ? resource : resource + "." + group;
}

// The union of what the rules grant, keyed by resource; resourceNames are
// reported separately because they narrow a rule.
Grants grants_of(const json& role, bool* uses_resource_names) {
  Grants grants;
  *uses_resource_names = false;
  for (const auto& rule : role.value("rules", json::array())) {
    if (rule.contains("resourceNames")) *uses_resource_names = true;
    for (const auto& group : rule.value("apiGroups", json::array())) {
      for (const auto& resource : rule.value("resources", json::array())) {
        for (const auto& verb : rule.value("verbs", json::array())) {
          grants[grant_key(group.get<std::string>(), resource.get<std::string>())].insert(
              verb.get<std::string>());
        }
      }
    }
  }
  return grants;
}

std::string describe(const Grants& grants) {
  std::string text;
  for (const auto& [resource, verbs] : grants) {
    text += resource + ":";
    for (const auto& verb : verbs) text += " " + verb;
    text += "\n";
  }
  return text;
}

const std::set<std::string> kOwnedObjectVerbs{"get", "list", "watch", "create", "update", "patch", "delete"};

std::string operator_service_account(const dt::Kustomization& base) {
  return dt::find_only_object(base, "Deployment")["spec"]["template"]["spec"].value("serviceAccountName", "");
}

}  // namespace

TEST_CASE("the ClusterRole grants exactly what the operator reads and writes", "[deploy][rbac]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& role = dt::find_only_object(base, "ClusterRole");
  bool uses_resource_names = false;
  const auto grants = grants_of(role, &uses_resource_names);
  const Grants expected{
      {"postgresqls.acid.zalan.do", {"get", "list", "watch", "patch"}},
      {"servicemonitors.monitoring.coreos.com", kOwnedObjectVerbs},
      {"podmonitors.monitoring.coreos.com", kOwnedObjectVerbs},
      {"prometheusrules.monitoring.coreos.com", kOwnedObjectVerbs},
      {"services", kOwnedObjectVerbs},
      {"configmaps", kOwnedObjectVerbs},
      {"deployments.apps", kOwnedObjectVerbs},
      {"events", {"create", "patch"}},
  };
  INFO("granted:\n" << describe(grants) << "expected:\n" << describe(expected));
  CHECK(grants == expected);
  CHECK_FALSE(uses_resource_names);
  for (const auto& rule : role["rules"]) CHECK_FALSE(rule.contains("nonResourceURLs"));
  CHECK_FALSE(role.contains("aggregationRule"));
}

TEST_CASE("no role grants secrets, wildcards or privilege escalation", "[deploy][rbac]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const std::set<std::string> forbidden_resources{
      "secrets",      "pods/exec",           "pods/attach", "serviceaccounts/token",
      "clusterroles", "clusterrolebindings", "roles",       "rolebindings"};
  const std::set<std::string> forbidden_verbs{"escalate", "bind", "impersonate"};
  size_t roles = 0;
  for (const auto& manifest : base.objects) {
    const auto& object = manifest.object;
    if (object["kind"] != "ClusterRole" && object["kind"] != "Role") continue;
    ++roles;
    for (const auto& rule : object.value("rules", json::array())) {
      INFO(object["kind"].get<std::string>() << " rule " << rule.dump());
      for (const auto& field : {"apiGroups", "resources", "verbs", "resourceNames"}) {
        for (const auto& value : rule.value(field, json::array())) CHECK(value.get<std::string>() != "*");
      }
      for (const auto& resource : rule.value("resources", json::array())) {
        CHECK(forbidden_resources.count(resource.get<std::string>()) == 0);
      }
      for (const auto& verb : rule.value("verbs", json::array())) {
        CHECK(forbidden_verbs.count(verb.get<std::string>()) == 0);
      }
    }
  }
  CHECK(roles == 2);
}

TEST_CASE("leader election uses a Lease in the operator's namespace only", "[deploy][rbac]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  bool uses_resource_names = false;
  const auto cluster_grants = grants_of(dt::find_only_object(base, "ClusterRole"), &uses_resource_names);
  CHECK(cluster_grants.count("leases.coordination.k8s.io") == 0);

  const auto& role = dt::find_only_object(base, "Role");
  CHECK(role["metadata"].value("namespace", "") == base.spec.value("namespace", ""));
  const auto grants = grants_of(role, &uses_resource_names);
  INFO(describe(grants));
  CHECK(grants == Grants{{"leases.coordination.k8s.io", {"get", "create", "update"}}});
  // get/update only on the operator's own Lease (create cannot be narrowed by name).
  for (const auto& rule : role["rules"]) {
    INFO(rule.dump());
    const auto verbs = rule["verbs"].get<std::set<std::string>>();
    if (verbs.count("get") != 0 || verbs.count("update") != 0) {
      CHECK(rule.value("resourceNames", json::array()) == json::array({"pgscope-operator"}));
    }
  }
  // ...which is the Lease the Deployment elects with: the default name unless
  // it sets another.
  const auto& container =
      dt::find_only_object(base, "Deployment")["spec"]["template"]["spec"]["containers"][0];
  for (const auto& arg : container.value("args", json::array())) {
    const auto text = arg.get<std::string>();
    INFO(text);
    if (text.rfind("--leader-elect.lease-name", 0) == 0)
      CHECK(text == "--leader-elect.lease-name=pgscope-operator");
  }
  for (const auto& env : container.value("env", json::array())) {
    if (env.value("name", "") == "PGSCOPE_OPERATOR_LEADER_ELECT_LEASE_NAME") {
      CHECK(env.value("value", "") == "pgscope-operator");
    }
  }
}

TEST_CASE("the bindings give both roles to the operator's ServiceAccount", "[deploy][rbac]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto namespace_name = base.spec.value("namespace", "");
  const auto account = operator_service_account(base);
  REQUIRE(!account.empty());
  CHECK(dt::find_object(base, "ServiceAccount", account)["metadata"].value("namespace", "") ==
        namespace_name);
  const std::vector<std::pair<std::string, std::string>> bindings{{"ClusterRoleBinding", "ClusterRole"},
                                                                  {"RoleBinding", "Role"}};
  for (const auto& [binding_kind, role_kind] : bindings) {
    const auto& binding = dt::find_only_object(base, binding_kind);
    const auto& role = dt::find_only_object(base, role_kind);
    INFO(binding.dump());
    CHECK(binding["roleRef"].value("apiGroup", "") == "rbac.authorization.k8s.io");
    CHECK(binding["roleRef"].value("kind", "") == role_kind);
    CHECK(binding["roleRef"].value("name", "") == role["metadata"].value("name", ""));
    REQUIRE(binding["subjects"].size() == 1);
    const auto& subject = binding["subjects"][0];
    CHECK(subject.value("kind", "") == "ServiceAccount");
    CHECK(subject.value("name", "") == account);
    CHECK(subject.value("namespace", "") == namespace_name);
    if (binding_kind == "RoleBinding") {
      CHECK(binding["metadata"].value("namespace", "") == role["metadata"].value("namespace", ""));
    }
  }
}

}  // namespace unity_file_deploy_test_rbac
