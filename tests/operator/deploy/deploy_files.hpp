// Reading operator/deploy and the Dockerfiles as a user's tools would: YAML
// manifests as JSON objects, kustomizations with the files they list.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace pgscope::deploytest {

// The repository root: $PGSCOPE_SOURCE_DIR when set (to check a modified copy),
// else the source tree the tests were configured from.
std::filesystem::path source_dir();
std::filesystem::path deploy_dir();

// Every non-empty document of a YAML file as JSON, read as the Kubernetes API
// machinery reads manifests (kubefake::read_yaml_file). Throws
// std::runtime_error naming the file when it is missing or malformed.
std::vector<nlohmann::json> read_yaml_documents(const std::filesystem::path& file);
// A file that must hold exactly one document.
nlohmann::json read_yaml_document(const std::filesystem::path& file);

// The *.yaml files of a directory (not recursive), kustomization.yaml excepted.
std::set<std::string> manifest_files(const std::filesystem::path& dir);

struct Manifest {
  std::filesystem::path file;
  nlohmann::json object;
};

// What `kubectl apply -k dir` would read: the objects of every file the
// kustomization lists under `resources` (files only).
struct Kustomization {
  nlohmann::json spec;
  std::vector<Manifest> objects;
};
Kustomization read_kustomization(const std::filesystem::path& dir);

// The one object of that kind and name; throws std::runtime_error otherwise.
const nlohmann::json& find_object(const Kustomization& kustomization, const std::string& kind,
                                  const std::string& name);
const nlohmann::json& find_only_object(const Kustomization& kustomization, const std::string& kind);

// Runs a shell command; its standard output, and its exit status in *status.
std::string run_command(const std::string& command, int* status);

}  // namespace pgscope::deploytest
