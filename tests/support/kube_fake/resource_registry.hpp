// Which kinds the fake API server serves: the core kinds always, CRD kinds
// while installed; with their schemas (from pgscope_kube_schema) and the
// discovery documents (/api, /api/v1, /apis, /apis/G, /apis/G/V) built from them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/kube_fake/api_status.hpp"
#include "support/kube_schema/schema.hpp"

namespace pgscope::kubefake {

struct ResourceType {
  std::string group, kind, plural;
  std::vector<std::string> versions;  // served; the first is the preferred (storage) one
  bool namespaced = true;
  bool status_subresource = false;
  bool crd = false;
  // metadata.generation: kept by CRDs and the apps/v1 workloads; ConfigMaps,
  // Services, Leases... have none.
  bool tracks_generation = false;
  std::map<std::string, std::shared_ptr<const json>> schemas;  // by version

  std::string key() const { return group + "/" + plural; }
  std::string api_version(const std::string& version) const;
  ResourceName name_of(const std::string& name) const { return {group, plural, name}; }
  const json& schema(const std::string& version) const;
  bool serves(const std::string& version) const;
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

class ResourceRegistry {
 public:
  ResourceRegistry();

  // Throws std::runtime_error (from the schema library) on a bad CRD file.
  ResourceTypePtr install_crd(const std::string& path);
  // The uninstalled type, or null when it was not installed.
  ResourceTypePtr uninstall_crd(const std::string& group, const std::string& plural);

  ResourceTypePtr by_path(const std::string& group, const std::string& version,
                          const std::string& plural) const;
  ResourceTypePtr by_kind(const std::string& api_version, const std::string& kind) const;
  ResourceTypePtr by_key(const std::string& key) const;
  std::vector<ResourceTypePtr> served() const;

  // Discovery documents; nullopt for a group or version not served (→ 404).
  json core_versions(const std::string& server_address) const;
  std::optional<json> resource_list(const std::string& group, const std::string& version) const;
  json group_list() const;
  std::optional<json> group(const std::string& name) const;

 private:
  ResourceTypePtr make_type(const KindInfo& storage, bool crd);
  void add_extra_core_kinds();

  mutable std::mutex mutex_;
  SchemaRegistry schemas_;
  std::map<std::string, ResourceTypePtr> served_;  // by key()
};

// Splits "group/version" ("v1" → core group).
std::pair<std::string, std::string> split_api_version(const std::string& api_version);

}  // namespace pgscope::kubefake
