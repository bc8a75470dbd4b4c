// The upstream reference files (real CRDs, Zalando's example manifests) the
// schema tests read: from $PGSCOPE_REFERENCE_DIR, else the configure-time default.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/kube_schema/schema.hpp"
#include "support/kube_schema/ssa.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::kubefake::testing {

inline std::string reference_dir() {
  const char* from_env = std::getenv("PGSCOPE_REFERENCE_DIR");
  return from_env && *from_env ? from_env : PGSCOPE_REFERENCE_DIR;
}

inline bool have_reference_dir() { return std::filesystem::is_directory(reference_dir()); }

inline std::string reference_file(const std::string& relative) { return reference_dir() + "/" + relative; }

inline const char* const kCrdFiles[] = {
    "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml",
    "prometheus-operator/monitoring.coreos.com_podmonitors.yaml",
    "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml",
    "zalando/postgresql.crd.yaml",
};

// Every reference CRD and the core kinds, loaded once per test binary.
inline const SchemaRegistry& reference_registry() {
  static const SchemaRegistry registry = [] {
    SchemaRegistry r;
    for (const char* file : kCrdFiles) r.load_crd(reference_file(file));
    r.add_core_kinds();
    return r;
  }();
  return registry;
}

inline const json& schema_of(const std::string& api_version, const std::string& kind) {
  const json* schema = reference_registry().schema(api_version, kind);
  if (schema == nullptr) throw std::runtime_error("no schema for " + api_version + " " + kind);
  return *schema;
}

}  // namespace pgscope::kubefake::testing

// Skips the test case, with a message, when the reference files are not there.
#define PGSCOPE_REQUIRE_REFERENCE_FILES()                                                          \
  do {                                                                                             \
    if (!::pgscope::kubefake::testing::have_reference_dir()) {                                     \
      WARN("reference directory " << ::pgscope::kubefake::testing::reference_dir()                 \
                                  << " does not exist (set PGSCOPE_REFERENCE_DIR): test skipped"); \
      return;                                                                                      \
    }                                                                                              \
  } while (false)
