// Hand-written structural schemas of the core kinds the operator writes
// (internal to pgscope_kube_schema). List and map types follow the markers of
// k8s.io/api core/v1, apps/v1 and coordination/v1 types.go, so server-side
// apply merges them as a real API server does.
#pragma once

#include <string>
#include <vector>

#include "support/kube_schema/schema.hpp"

namespace pgscope::kubefake::detail {

struct CoreKind {
  KindInfo info;
  json body;                // schema of the object without apiVersion/kind/metadata
  std::string name_format;  // format of metadata.name (dns-1123-subdomain, dns-1035-label...)
};

// ObjectMeta; `name_format` empty for embedded metadata (pod templates), which
// needs no name.
json object_meta_schema(const std::string& name_format);
json pod_spec_schema();
json label_selector_schema();

std::vector<CoreKind> core_kinds();      // every kind, from core_schemas.cpp and core_schemas_workloads.cpp
std::vector<CoreKind> workload_kinds();  // Pod, Deployment

// Parses one YAML document of embedded schema text (a programming error if malformed).
json schema_from_yaml(const char* text);

}  // namespace pgscope::kubefake::detail
