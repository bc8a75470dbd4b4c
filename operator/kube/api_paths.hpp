#pragma once

// Request paths and query strings of the Kubernetes REST API. Internal to
// pgscope_kube (and its tests).

#include <string>
#include <utility>
#include <vector>

#include "operator/kube/client.hpp"

namespace pgscope::kube {

// RFC 3986 percent-encoding: everything but unreserved characters.
std::string percent_encode(const std::string& text);

// /api/v1 for the core group, /apis/G/V otherwise.
std::string group_version_path(const std::string& group, const std::string& version);

// The collection: .../namespaces/NS/PLURAL, or .../PLURAL for all namespaces
// (ns "") and cluster-scoped types.
std::string collection_path(const ResourceType& type, const std::string& ns);

// One object: collection_path + /NAME. Throws std::invalid_argument when a
// namespaced type has no namespace or the name is empty.
std::string object_path(const ResourceType& type, const std::string& ns, const std::string& name);

// Query parameters in the order added, empty values left out.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value);
  Query& add(const std::string& key, long long value);  // left out when 0
  // "?k=v&..." or "" when nothing was added.
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace pgscope::kube
