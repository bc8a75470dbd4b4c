#include "e2e_checks.hpp"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_environment.hpp"
#include "support/exporter_process.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::e2e {

std::string schema_problems(const json& object) {
  const json* schema = schemas().schema(object.value("apiVersion", ""), object.value("kind", ""));
  if (schema == nullptr) {
    return "no schema for " + object.value("apiVersion", "?") + " " + object.value("kind", "?");
  }
  const auto violations = kubefake::validate(*schema, object);
  return violations.empty() ? "" : kubefake::describe(violations);
}

namespace {

std::string sanitize(const std::string& key) {
  std::string out = key;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  return out;
}

// Prometheus's regex replacement: $1, ${1}, $name not needed here.
std::string expand(const std::string& replacement, const std::smatch& match) {
  static const std::regex group(R"(\$\{?(\d+)\}?)");
  std::string out;
  auto begin = replacement.cbegin();
  std::smatch ref;
  while (std::regex_search(begin, replacement.cend(), ref, group)) {
    out.append(begin, begin + ref.position(0));
    const auto index = static_cast<std::size_t>(std::stoul(ref[1].str()));
    if (index < match.size()) out += match[index].str();
    begin += ref.position(0) + ref.length(0);
  }
  out.append(begin, replacement.cend());
  return out;
}

}  // namespace

std::map<std::string, std::string> relabel_pod_target(const json& relabelings, const json& pod, int port) {
  std::map<std::string, std::string> labels;
  const auto& metadata = pod["metadata"];
  labels["__meta_kubernetes_namespace"] = metadata.value("namespace", "");
  labels["__meta_kubernetes_pod_name"] = metadata.value("name", "");
  const json pod_labels = metadata.value("labels", json::object());
  for (const auto& [key, value] : pod_labels.items()) {
    labels["__meta_kubernetes_pod_label_" + sanitize(key)] = value.get<std::string>();
    labels["__meta_kubernetes_pod_labelpresent_" + sanitize(key)] = "true";
  }
  // The sim's pods have no IP; a stable stand-in per pod is enough here.
  labels["__address__"] = "pod-ip-of-" + metadata.value("name", "") + ":" + std::to_string(port);

  for (const auto& rule : relabelings) {
    const std::string action = rule.value("action", "replace");
    std::string source;
    const auto sources = rule.value("sourceLabels", json::array());
    const std::string separator = rule.value("separator", ";");
    for (std::size_t i = 0; i < sources.size(); ++i) {
      if (i) source += separator;
      const auto found = labels.find(sources[i].get<std::string>());
      if (found != labels.end()) source += found->second;
    }
    const std::regex pattern("^(?:" + rule.value("regex", std::string("(.*)")) + ")$");
    std::smatch match;
    const bool matched = std::regex_match(source, match, pattern);
    if (action == "replace" || action == "Replace") {
      if (!matched) continue;
      const std::string value = expand(rule.value("replacement", std::string("$1")), match);
      const std::string target = rule.value("targetLabel", "");
      if (value.empty()) {
        labels.erase(target);
      } else {
        labels[target] = value;
      }
    } else if (action == "keep" || action == "Keep") {
      if (!matched) return {};
    } else if (action == "drop" || action == "Drop") {
      if (matched) return {};
    } else if (action == "labelmap" || action == "LabelMap") {
      const std::regex name_pattern("^(?:" + rule.value("regex", std::string("(.*)")) + ")$");
      std::map<std::string, std::string> added;
      for (const auto& [name, value] : labels) {
        std::smatch name_match;
        if (std::regex_match(name, name_match, name_pattern)) {
          added[expand(rule.value("replacement", std::string("$1")), name_match)] = value;
        }
      }
      labels.insert(added.begin(), added.end());
    }
  }
  std::map<std::string, std::string> kept;
  for (const auto& [name, value] : labels) {
    if (name.rfind("__", 0) != 0 || name == "__address__" || name.rfind("__param_", 0) == 0)
      kept[name] = value;
  }
  return kept;
}

bool contains(const json& live, const json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      const auto found = live.find(key);
      if (found == live.end() || !contains(*found, value)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!contains(live[i], desired[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return live == desired;
}

RenderRun run_render(const std::string& manifest_path, const std::vector<std::string>& flags) {
  std::vector<std::string> argv{operator_binary(), "render", "-f", manifest_path};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const auto result = test::run_process(argv, {}, "", std::chrono::seconds(60));
  RenderRun run;
  run.exit_code = result.exit_code;
  run.out = result.out;
  run.err = result.err;
  try {
    run.documents = kubefake::parse_yaml_documents(run.out, "render output of " + manifest_path);
  } catch (const std::exception& error) {
    run.parse_error = error.what();
  }
  return run;
}

namespace {

// A live postgresql as a manifest: what a user would have in Git.
json as_manifest(const json& postgresql) {
  json metadata{{"name", postgresql["metadata"]["name"]}, {"namespace", postgresql["metadata"]["namespace"]}};
  for (const char* field : {"labels", "annotations"}) {
    if (postgresql["metadata"].contains(field)) metadata[field] = postgresql["metadata"][field];
  }
  return json{{"apiVersion", postgresql["apiVersion"]},
              {"kind", postgresql["kind"]},
              {"metadata", metadata},
              {"spec", postgresql["spec"]}};
}

std::string key_of(const json& object) { return object_id(object); }

}  // namespace

std::string compare_with_render(const std::vector<json>& postgresqls, const std::vector<json>& live_managed,
                                const std::vector<std::string>& flags, const std::string& dir) {
  std::ostringstream problems;
  std::vector<json> clusters;
  for (const auto& pg : postgresqls) {
    if (!pg["metadata"].contains("deletionTimestamp")) clusters.push_back(pg);
  }
  std::set<std::string> expected;
  std::map<std::string, json> live_by_key;
  for (const auto& object : live_managed) live_by_key[key_of(object)] = object;
  if (!clusters.empty()) {
    const std::string path = dir + "/expected-" + std::to_string(clusters.size()) + ".yaml";
    {
      std::ofstream file(path);
      for (const auto& pg : clusters) file << "---\n" << as_manifest(pg).dump() << "\n";
    }
    const auto run = run_render(path, flags);
    if (run.exit_code != 0 || !run.parse_error.empty()) {
      return "render failed (exit " + std::to_string(run.exit_code) + "): " + run.err + run.parse_error;
    }
    for (const auto& rendered : run.documents) {
      if (rendered.value("kind", "") == "postgresql") {
        for (const auto& pg : clusters) {
          if (pg["metadata"]["name"] != rendered["metadata"]["name"] ||
              pg["metadata"]["namespace"] != rendered["metadata"]["namespace"]) {
            continue;
          }
          const json want = rendered["spec"].value("sidecars", json::array());
          const json have = pg["spec"].value("sidecars", json::array());
          if (want != have) {
            problems << key_of(pg) << ": spec.sidecars " << have.dump() << ", render says " << want.dump()
                     << "\n";
          }
        }
        continue;
      }
      const std::string key = key_of(rendered);
      expected.insert(key);
      const auto live = live_by_key.find(key);
      if (live == live_by_key.end()) {
        problems << "missing: " << key << "\n";
      } else if (!contains(live->second, rendered)) {
        problems << "differs from render: " << key << "\n  live:     " << live->second.dump().substr(0, 1500)
                 << "\n  rendered: " << rendered.dump().substr(0, 1500) << "\n";
      }
    }
  }
  for (const auto& [key, object] : live_by_key) {
    if (!expected.count(key)) problems << "left behind: " << key << "\n";
  }
  return problems.str();
}

std::string matches_render(const E2eEnvironment& env, const std::vector<std::string>& flags,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto problems = compare_with_render(env.api().list("acid.zalan.do/v1", "postgresql"),
                                              env.managed_objects(), flags, env.dir().path());
    if (problems.empty() || Clock::now() > deadline) return problems;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace pgscope::e2e
