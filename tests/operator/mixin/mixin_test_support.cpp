#include "mixin_test_support.hpp"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace pgscope::test {
namespace {

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& item : node) out[item.first.as<std::string>()] = yaml_to_json(item.second);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(yaml_to_json(item));
    return out;
  }
  if (node.IsNull()) return nullptr;
  return node.as<std::string>();
}

double now_ms(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

std::string source_path(const std::string& relative) {
  return std::string(PGSCOPE_SOURCE_DIR) + "/" + relative;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json load_yaml(const std::string& path) { return yaml_to_json(YAML::LoadFile(path)); }

const op::ClusterMixin& shared_mixin(const std::string& cluster_label) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<op::ClusterMixin>> mixins;
  std::lock_guard<std::mutex> lock(mutex);
  auto& mixin = mixins[cluster_label];
  if (!mixin) {
    op::MixinSettings settings;
    settings.cluster_label = cluster_label;
    mixin = std::make_unique<op::ClusterMixin>(settings);
  }
  return *mixin;
}

std::vector<nlohmann::json> rules_of(const nlohmann::json& groups) {
  std::vector<nlohmann::json> rules;
  for (const auto& group : groups) {
    for (const auto& rule : group.at("rules")) rules.push_back(rule);
  }
  return rules;
}

std::string rule_name(const nlohmann::json& rule) {
  if (rule.contains("record")) return "record " + rule.at("record").get<std::string>();
  std::string name = rule.at("alert").get<std::string>();
  const auto labels = rule.value("labels", nlohmann::json::object());
  std::string extra;
  for (const auto& [label, value] : labels.items()) {
    if (label != "severity") extra += (extra.empty() ? "" : ",") + label + "=" + value.get<std::string>();
  }
  const std::string severity = labels.value("severity", "");
  return name + "{" + severity + (extra.empty() ? "" : "," + extra) + "}";
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string promtool_path() {
  const CommandResult found = run_command("command -v promtool");
  if (found.status != 0) return "";
  std::string path = found.output;
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  return path;
}

Stopwatch::Stopwatch() : wall_start_(now_ms(CLOCK_MONOTONIC)), cpu_start_(now_ms(CLOCK_THREAD_CPUTIME_ID)) {}
double Stopwatch::wall_ms() const { return now_ms(CLOCK_MONOTONIC) - wall_start_; }
double Stopwatch::cpu_ms() const { return now_ms(CLOCK_THREAD_CPUTIME_ID) - cpu_start_; }

}  // namespace pgscope::test
