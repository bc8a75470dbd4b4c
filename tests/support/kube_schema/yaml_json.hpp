// YAML to JSON as the Kubernetes API machinery reads manifests (sigs.k8s.io/yaml):
// plain scalars resolved by the YAML 1.2 core schema, quoted scalars always strings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgscope::kubefake {

// Every non-empty document of a multi-document YAML text, as JSON. Throws
// std::runtime_error naming `origin` (a file name, say) on malformed YAML,
// duplicate mapping keys, non-scalar keys or unsupported tags.
std::vector<nlohmann::json> parse_yaml_documents(const std::string& text, const std::string& origin);
// The same for a file, whose path names it in errors.
std::vector<nlohmann::json> read_yaml_file(const std::string& path);

}  // namespace pgscope::kubefake
