#include "support/kube_fake/access_control.hpp"

#include <random>

#include "support/kube_fake/api_status.hpp"

namespace pgscope::kubefake {

std::string AccessControl::new_token(const std::string& name) {
  static std::mt19937_64 random{std::random_device{}()};
  static std::mutex random_mutex;
  std::lock_guard<std::mutex> lock(random_mutex);
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string token = name + ".";
  std::uniform_int_distribution<int> pick(0, sizeof(alphabet) - 2);
  for (int i = 0; i < 32; ++i) token += alphabet[pick(random)];
  return token;
}

std::string AccessControl::add_user(const std::string& name, std::vector<AccessRule> rules) {
  if (name.empty()) throw std::invalid_argument("FakeApiServer::add_user: empty user name");
  std::lock_guard<std::mutex> lock(mutex_);
  rules_by_user_[name] = std::move(rules);
  std::string token = new_token(name);
  user_by_token_[token] = name;
  return token;
}

std::string AccessControl::rotate_token(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (rules_by_user_.count(name) == 0) {
    throw std::invalid_argument("FakeApiServer::rotate_token: no user \"" + name + "\"");
  }
  std::string token = new_token(name);
  user_by_token_[token] = name;
  return token;
}

void AccessControl::revoke_token(const std::string& token) {
  std::lock_guard<std::mutex> lock(mutex_);
  user_by_token_.erase(token);
}

void AccessControl::set_rules(const std::string& name, std::vector<AccessRule> rules) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (rules_by_user_.count(name) == 0) {
    throw std::invalid_argument("FakeApiServer::set_rules: no user \"" + name + "\"");
  }
  rules_by_user_[name] = std::move(rules);
}

std::string AccessControl::authenticate(const std::string& authorization_header) const {
  static const std::string prefix = "Bearer ";
  if (authorization_header.compare(0, prefix.size(), prefix) == 0) {
    std::string token = authorization_header.substr(prefix.size());
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = user_by_token_.find(token);
    if (it != user_by_token_.end()) return it->second;
  }
  throw ApiError(status_failure(401, "Unauthorized", "Unauthorized"));
}

namespace {

bool matches(const std::set<std::string>& allowed, const std::string& value) {
  return allowed.count("*") != 0 || allowed.count(value) != 0;
}

bool matches(const std::string& allowed, const std::string& value) {
  return allowed == "*" || allowed == value;
}

}  // namespace

void AccessControl::authorize(const std::string& user, const AccessRequest& request) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto rules = rules_by_user_.find(user);
    if (rules != rules_by_user_.end()) {
      for (const auto& rule : rules->second) {
        if (matches(rule.verbs, request.verb) && matches(rule.group, request.group) &&
            matches(rule.resource, request.resource) && (rule.ns.empty() || rule.ns == request.ns) &&
            (rule.resource_names.empty() || rule.resource_names.count(request.name) != 0)) {
          return;
        }
      }
    }
  }
  // k8s.io/apiserver's forbidden message, e.g. `servicemonitors.monitoring.coreos.com is forbidden: User
  // "op" cannot list resource "servicemonitors" in API group "monitoring.coreos.com" at the cluster scope`.
  std::string plural = request.resource.substr(0, request.resource.find('/'));
  std::string qualified = request.group.empty() ? plural : plural + "." + request.group;
  std::string subject = request.name.empty() ? qualified : qualified + " \"" + request.name + "\"";
  std::string scope = request.ns.empty() ? "at the cluster scope" : "in the namespace \"" + request.ns + "\"";
  std::string message = subject + " is forbidden: User \"" + user + "\" cannot " + request.verb +
                        " resource \"" + request.resource + "\" in API group \"" + request.group + "\" " +
                        scope;
  json details = {{"kind", plural}};
  if (!request.name.empty()) details["name"] = request.name;
  if (!request.group.empty()) details["group"] = request.group;
  throw ApiError(status_failure(403, "Forbidden", message, std::move(details)));
}

}  // namespace pgscope::kubefake
