// The shipped RBAC (operator/deploy) as the fake API server's access rules,
// so every end-to-end test also proves that those rules are enough.
#include <stdexcept>

#include "e2e_environment.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::e2e {

namespace {

std::vector<std::string> strings_of(const json& list, const std::string& where) {
  if (list.is_null()) return {};
  if (!list.is_array()) throw std::runtime_error(where + ": expected a list");
  std::vector<std::string> out;
  for (const auto& item : list) {
    if (!item.is_string()) throw std::runtime_error(where + ": expected strings, got " + item.dump());
    out.push_back(item.get<std::string>());
  }
  return out;
}

void add_rules(const json& role, const std::string& ns, const std::string& origin,
               std::vector<kubefake::AccessRule>& out) {
  if (!role.contains("rules") || !role["rules"].is_array()) {
    throw std::runtime_error(origin + ": " + role.value("kind", "?") + " without a rules list");
  }
  for (std::size_t i = 0; i < role["rules"].size(); ++i) {
    const auto& rule = role["rules"][i];
    const std::string where = origin + ": rules[" + std::to_string(i) + "]";
    if (rule.contains("nonResourceURLs")) continue;
    const auto verbs = strings_of(rule.value("verbs", json()), where + ".verbs");
    const std::set<std::string> verb_set(verbs.begin(), verbs.end());
    const auto names = strings_of(rule.value("resourceNames", json()), where + ".resourceNames");
    const std::set<std::string> name_set(names.begin(), names.end());
    for (const auto& group : strings_of(rule.value("apiGroups", json()), where + ".apiGroups")) {
      for (const auto& resource : strings_of(rule.value("resources", json()), where + ".resources")) {
        out.push_back(kubefake::AccessRule{verb_set, group, resource, ns, name_set});
      }
    }
  }
}

}  // namespace

std::vector<kubefake::AccessRule> shipped_rbac_rules() {
  const std::string deploy = source_dir() + "/operator/deploy/";
  std::string kustomize_namespace;
  for (const auto& document : kubefake::read_yaml_file(deploy + "kustomization.yaml")) {
    kustomize_namespace = document.value("namespace", "");
  }
  std::vector<kubefake::AccessRule> rules;
  for (const auto& document : kubefake::read_yaml_file(deploy + "clusterrole.yaml")) {
    if (document.value("kind", "") == "ClusterRole")
      add_rules(document, "", deploy + "clusterrole.yaml", rules);
  }
  for (const auto& document : kubefake::read_yaml_file(deploy + "role.yaml")) {
    if (document.value("kind", "") != "Role") continue;
    // kustomize's namespace replaces the file's.
    std::string ns = kustomize_namespace;
    if (ns.empty()) ns = document["metadata"].value("namespace", "");
    if (ns.empty()) throw std::runtime_error(deploy + "role.yaml: a Role without a namespace");
    add_rules(document, ns, deploy + "role.yaml", rules);
  }
  if (rules.empty()) throw std::runtime_error(deploy + ": no RBAC rules found");
  return rules;
}

std::vector<kubefake::AccessRule> without_verbs(std::vector<kubefake::AccessRule> rules,
                                                const std::string& group, const std::string& resource,
                                                const std::set<std::string>& verbs) {
  for (auto& rule : rules) {
    if (rule.group != group || rule.resource != resource) continue;
    for (const auto& verb : verbs) rule.verbs.erase(verb);
  }
  return rules;
}

}  // namespace pgscope::e2e
