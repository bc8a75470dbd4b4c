// Bearer-token authentication and RBAC-like authorization of the fake API
// server, with kube-apiserver's 401/403 Status answers.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake {

struct AccessRequest {
  std::string verb;  // get list watch create update patch delete
  std::string group;
  std::string resource;  // plural, or "plural/subresource"
  std::string ns;        // "" for cluster-scope requests (all namespaces)
  std::string name;      // "" for collections
};

class AccessControl {
 public:
  std::string add_user(const std::string& name, std::vector<AccessRule> rules);
  std::string rotate_token(const std::string& name);
  void revoke_token(const std::string& token);
  void set_rules(const std::string& name, std::vector<AccessRule> rules);

  // The user a "Bearer <token>" Authorization header belongs to; throws
  // ApiError 401 when the header is missing or the token unknown or revoked.
  std::string authenticate(const std::string& authorization_header) const;
  // Throws ApiError 403 with kube's RBAC message when no rule allows it.
  void authorize(const std::string& user, const AccessRequest& request) const;

 private:
  static std::string new_token(const std::string& name);

  mutable std::mutex mutex_;
  std::map<std::string, std::string> user_by_token_;
  std::map<std::string, std::vector<AccessRule>> rules_by_user_;
};

}  // namespace pgscope::kubefake
