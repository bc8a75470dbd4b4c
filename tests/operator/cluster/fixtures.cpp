#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "operator/cluster/render.hpp"

namespace pgscope::op::testing {

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot read " << path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<std::string> reference_dir() {
  const char* from_env = std::getenv("PGSCOPE_REFERENCE_DIR");
  const std::string dir = from_env != nullptr && *from_env != '\0' ? from_env : PGSCOPE_DEFAULT_REFERENCE_DIR;
  if (!std::filesystem::is_directory(dir)) {
    WARN("reference directory " << dir << " does not exist (set PGSCOPE_REFERENCE_DIR): skipped");
    return std::nullopt;
  }
  return dir;
}

std::optional<json> zalando_manifest(const std::string& file_name, const std::string& ns,
                                     const std::string& uid) {
  const auto dir = reference_dir();
  if (!dir) return std::nullopt;
  const auto path = std::filesystem::path(*dir) / "zalando" / file_name;
  for (auto& manifest : read_manifests(read_file(path), path.string())) {
    if (manifest.value("kind", "") != "postgresql") continue;
    if (!manifest["metadata"].contains("namespace")) manifest["metadata"]["namespace"] = ns;
    manifest["metadata"]["uid"] = uid;
    return manifest;
  }
  FAIL("no postgresql object in " << path.string());
  return std::nullopt;
}

MixinOutput generated_mixin() {
  const std::filesystem::path generated = std::filesystem::path(PGSCOPE_SOURCE_DIR) / "mixins" / "generated";
  MixinOutput mixin;
  mixin.rule_groups = json::array();
  for (const char* file : {"alerts.yaml", "rules.yaml"}) {
    const auto documents = read_manifests(read_file(generated / file), file);
    REQUIRE(documents.size() == 1);
    for (const auto& group : documents[0].at("groups")) mixin.rule_groups.push_back(group);
  }
  for (const auto& entry : std::filesystem::directory_iterator(generated / "dashboards")) {
    if (entry.path().extension() == ".json") {
      mixin.dashboards[entry.path().filename().string()] = read_file(entry.path());
    }
  }
  REQUIRE(!mixin.dashboards.empty());
  return mixin;
}

Labels spilo_pod_labels(const std::string& cluster, const std::string& role, const std::string& team) {
  Labels labels{{"application", "spilo"}, {"cluster-name", cluster}, {"team", team}};
  if (!role.empty()) labels["spilo-role"] = role;  // absent while PostgreSQL is down
  return labels;
}

Labels pooler_pod_labels(const std::string& cluster, bool replica, const std::string& team) {
  return {{"application", "db-connection-pooler"},
          {"connection-pooler", cluster + (replica ? "-pooler-repl" : "-pooler")},
          {"cluster-name", cluster},
          {"team", team},
          {"spilo-role", replica ? "replica" : "master"}};
}

bool selector_matches(const json& match_labels, const Labels& labels) {
  REQUIRE(match_labels.is_object());
  REQUIRE(!match_labels.empty());  // an empty selector matches everything
  for (const auto& [key, value] : match_labels.items()) {
    auto found = labels.find(key);
    if (found == labels.end() || found->second != value.get<std::string>()) return false;
  }
  return true;
}

Labels pod_target(const std::string& ns, const std::string& pod, const Labels& pod_labels,
                  const std::string& address) {
  Labels target{{"__address__", address},
                {"__meta_kubernetes_namespace", ns},
                {"__meta_kubernetes_pod_name", pod},
                {"__scheme__", "http"}};
  for (const auto& [key, value] : pod_labels) {
    target["__meta_kubernetes_pod_label_" + std::regex_replace(key, std::regex("[^a-zA-Z0-9_]"), "_")] =
        value;
  }
  return target;
}

Labels apply_relabelings(Labels labels, const json& relabelings) {
  for (const auto& rule : relabelings) {
    REQUIRE(rule.value("action", "replace") == "replace");
    std::string joined;
    if (rule.contains("sourceLabels")) {
      bool first = true;
      for (const auto& source : rule["sourceLabels"]) {
        if (!first) joined += rule.value("separator", ";");
        first = false;
        auto found = labels.find(source.get<std::string>());
        joined += found == labels.end() ? "" : found->second;
      }
    }
    std::smatch match;
    const std::regex regex(rule.value("regex", "(.*)"));
    if (!std::regex_match(joined, match, regex)) continue;
    std::string value = rule.value("replacement", "$1");
    value = std::regex_replace(value, std::regex(R"(\$1|\$\{1\})"), match.size() > 1 ? match[1].str() : "");
    const auto target = rule.at("targetLabel").get<std::string>();
    if (value.empty()) {
      labels.erase(target);
    } else {
      labels[target] = value;
    }
  }
  return labels;
}

Labels visible(const Labels& labels) {
  Labels out;
  for (const auto& [key, value] : labels) {
    if (key.rfind("__", 0) != 0) out[key] = value;
  }
  return out;
}

const json* find_object(const std::vector<json>& objects, const std::string& kind, const std::string& name) {
  for (const auto& object : objects) {
    if (object["kind"] == kind && object["metadata"]["name"] == name) return &object;
  }
  return nullptr;
}

}  // namespace pgscope::op::testing
