// Structural-schema validation for the fake Kubernetes API server and the
// operator's tests: CRDs loaded from their real YAML files, plus hand-written
// schemas for the core kinds the operator writes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgscope::kubefake {

using json = nlohmann::json;

struct KindInfo {
  std::string group, version, kind, plural;
  bool namespaced = true;
  bool status_subresource = false;
};

// field like ".spec.endpoints[0].port"
struct SchemaViolation {
  std::string field;
  std::string message;
};

class SchemaRegistry {
 public:
  // Loads an apiextensions.k8s.io/v1 CustomResourceDefinition YAML file (every
  // served version); throws std::runtime_error naming the file on bad input.
  // Returns the storage version's info.
  KindInfo load_crd(const std::string& path);
  // Same, from the CRD's text; `origin` names it in errors.
  KindInfo load_crd_text(const std::string& yaml_text, const std::string& origin);
  // Hand-written structural schemas, with x-kubernetes-list-type/list-map-keys
  // as core/v1 and apps/v1 types.go mark them, for the core kinds the operator
  // writes: v1 Service, ConfigMap, Secret, Pod, Event, apps/v1 Deployment,
  // coordination.k8s.io/v1 Lease (and v1 Namespace); plus ObjectMeta for all
  // kinds. Their unknown fields are violations, so typos in what the operator
  // writes are caught.
  void add_core_kinds();
  const KindInfo* kind(const std::string& api_version, const std::string& kind) const;
  const KindInfo* kind_by_plural(const std::string& group, const std::string& version,
                                 const std::string& plural) const;
  // Schema of the whole object (metadata included); nullptr if unknown.
  const json* schema(const std::string& api_version, const std::string& kind) const;
  std::vector<KindInfo> kinds() const;

 private:
  struct Entry {
    KindInfo info;
    json schema;
  };
  KindInfo load_crd_document(const json& crd, const std::string& origin);
  void add(KindInfo info, json schema);
  std::map<std::string, Entry> by_api_version_kind_;  // "group/version|Kind"
};

// "group/version" for a KindInfo ("v1" for the core group).
std::string api_version_of(const KindInfo& info);

// Types, required, enum, pattern (ECMA regex via std::regex), minimum/maximum,
// minLength/maxLength, minItems/maxItems, format int32/int64 range,
// x-kubernetes-int-or-string, nullable, additionalProperties (map schemas),
// unknown fields (reported unless x-kubernetes-preserve-unknown-fields),
// x-kubernetes-list-type map uniqueness of keys / set uniqueness.
// apiVersion/kind/metadata.name (DNS subdomain or label as appropriate) checked.
// The core schemas add formats (dns-1123-subdomain, dns-1123-label,
// dns-1035-label, label-value, byte, date-time), key formats for labels,
// annotations and ConfigMap/Secret keys (x-pgscope-key-format), and a few
// whole-object checks the API server makes (x-pgscope-rules: a Deployment's
// selector matches its template; several Service ports need distinct names).
std::vector<SchemaViolation> validate(const json& schema, const json& object);
// What a structural-schema API server stores: unknown fields removed (except
// under preserve-unknown-fields).
json prune_unknown(const json& schema, const json& object);
// Structural defaulting: absent fields with a schema `default` are set, inside
// every object present (CRD defaulting; e.g. relabelings' action: replace).
json apply_defaults(const json& schema, const json& object);
// RFC 7386.
json merge_patch(const json& target, const json& patch);

// One line per violation ("<field>: <message>"), for test failure messages.
std::string describe(const std::vector<SchemaViolation>& violations);

}  // namespace pgscope::kubefake
