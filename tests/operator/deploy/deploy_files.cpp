#include "deploy_files.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::deploytest {

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("PGSCOPE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return PGSCOPE_SOURCE_DIR;
}

std::filesystem::path deploy_dir() { return source_dir() / "operator" / "deploy"; }

std::vector<nlohmann::json> read_yaml_documents(const std::filesystem::path& file) {
  if (!std::filesystem::is_regular_file(file)) throw std::runtime_error(file.string() + ": no such file");
  return kubefake::read_yaml_file(file.string());
}

nlohmann::json read_yaml_document(const std::filesystem::path& file) {
  auto documents = read_yaml_documents(file);
  if (documents.size() != 1) {
    throw std::runtime_error(file.string() + ": expected one YAML document, found " +
                             std::to_string(documents.size()));
  }
  return documents.front();
}

std::set<std::string> manifest_files(const std::filesystem::path& dir) {
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() == ".yaml" && name != "kustomization.yaml") {
      files.insert(name);
    }
  }
  return files;
}

Kustomization read_kustomization(const std::filesystem::path& dir) {
  Kustomization kustomization{read_yaml_document(dir / "kustomization.yaml"), {}};
  for (const auto& resource : kustomization.spec.value("resources", nlohmann::json::array())) {
    const auto path = dir / resource.get<std::string>();
    if (std::filesystem::is_directory(path)) continue;
    for (auto& object : read_yaml_documents(path)) kustomization.objects.push_back({path, std::move(object)});
  }
  return kustomization;
}

const nlohmann::json& find_object(const Kustomization& kustomization, const std::string& kind,
                                  const std::string& name) {
  const nlohmann::json* found = nullptr;
  for (const auto& manifest : kustomization.objects) {
    const auto& object = manifest.object;
    if (object.value("kind", "") == kind && object["metadata"].value("name", "") == name) {
      if (found != nullptr) throw std::runtime_error("two " + kind + " objects named " + name);
      found = &object;
    }
  }
  if (found == nullptr) throw std::runtime_error("no " + kind + " named " + name + " in the kustomization");
  return *found;
}

const nlohmann::json& find_only_object(const Kustomization& kustomization, const std::string& kind) {
  const nlohmann::json* found = nullptr;
  for (const auto& manifest : kustomization.objects) {
    if (manifest.object.value("kind", "") != kind) continue;
    if (found != nullptr) throw std::runtime_error("more than one " + kind + " in the kustomization");
    found = &manifest.object;
  }
  if (found == nullptr) throw std::runtime_error("no " + kind + " in the kustomization");
  return *found;
}

std::string run_command(const std::string& command, int* status) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), read);
  const int result = pclose(pipe);
  *status = WIFEXITED(result) ? WEXITSTATUS(result) : -1;
  return output;
}

}  // namespace pgscope::deploytest
