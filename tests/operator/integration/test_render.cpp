// `pgscope-operator render` on Zalando's example manifests: output that
// parses, validates against the real schemas, and is byte-identical run to run.
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::e2e {
namespace {

const std::vector<std::string> kExamples{"minimal-postgres-manifest.yaml", "complete-postgres-manifest.yaml",
                                         "standby-manifest.yaml", "minimal-master-replica-svcmonitor.yaml"};

const std::vector<std::vector<std::string>> kFlagSets{
    {},
    {"--monitor-kind=PodMonitor", "--inject-sidecars", "--release=kube-prometheus-stack"},
    {"--dashboards-namespace=grafana", "--labels=prometheus=main", "--no-rules"},
};

std::string joined(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& flag : flags) out += (out.empty() ? "" : " ") + flag;
  return out.empty() ? "(no flags)" : out;
}

std::string label(const json& object, const std::string& key) {
  return object["metadata"].value("labels", json::object()).value(key, "");
}

void check_render(const std::string& manifest, const std::vector<std::string>& flags,
                  std::size_t& documents) {
  INFO("render -f " << manifest << " " << joined(flags));
  const auto first = run_render(manifest, flags);
  INFO("stderr: " << first.err);
  REQUIRE(first.exit_code == 0);
  REQUIRE(first.parse_error == "");
  REQUIRE_FALSE(first.documents.empty());
  const auto second = run_render(manifest, flags);
  CHECK(second.out == first.out);

  const bool pod_monitor = std::find(flags.begin(), flags.end(), "--monitor-kind=PodMonitor") != flags.end();
  const bool release =
      std::find(flags.begin(), flags.end(), "--release=kube-prometheus-stack") != flags.end();
  const bool no_rules = std::find(flags.begin(), flags.end(), "--no-rules") != flags.end();
  bool monitor = false, rule = false;
  for (const auto& document : first.documents) {
    INFO(object_id(document));
    CHECK(schema_problems(document) == "");
    CHECK_FALSE(document["metadata"].value("namespace", "").empty());
    const std::string kind = document.value("kind", "");
    if (kind == "ServiceMonitor" || kind == "PodMonitor") {
      monitor = true;
      CHECK(kind == (pod_monitor ? "PodMonitor" : "ServiceMonitor"));
      if (release) CHECK(label(document, "release") == "kube-prometheus-stack");
    }
    if (kind == "PrometheusRule") rule = true;
    if (label(document, "pgscope.io/shared") == "dashboards") {
      std::size_t size = 0;
      for (const auto& [file, text] : document["data"].items())
        size += file.size() + text.get<std::string>().size();
      CHECK(size <= 1024 * 1024);
    }
    if (kind == "postgresql") {
      // Injection: the exporter sidecar is in the printed postgresql.
      bool injected = false;
      for (const auto& sidecar : document["spec"].value("sidecars", json::array())) {
        injected |= sidecar.value("name", "") == "pgscope-exporter";
      }
      CHECK(injected);
    }
  }
  CHECK(monitor);
  CHECK(rule == !no_rules);
  documents += first.documents.size();
}

}  // namespace

TEST_CASE("render prints valid, deterministic YAML for every Zalando example", "[render]") {
  E2E_REQUIRE_REFERENCE_FILES();
  TempDir dir;
  // Every example's postgresql in one file (each in a namespace of its own,
  // as two share a name), plus the complete one with both poolers on: one
  // render evaluates the mixin once for all of them.
  const std::string all_examples = dir.file("all-examples.yaml");
  std::vector<ObjectRef> pooler_objects;
  {
    std::ofstream file(all_examples);
    for (std::size_t i = 0; i < kExamples.size(); ++i) {
      for (auto& document : kubefake::read_yaml_file(reference_file("zalando/" + kExamples[i]))) {
        if (document.value("kind", "") != "postgresql") continue;
        document["metadata"]["namespace"] = "example-" + std::to_string(i);
        file << "---\n" << document.dump(2) << "\n";
      }
    }
    const auto poolers = E2eEnvironment::cluster_manifest("complete-postgres-manifest.yaml", "poolers",
                                                          "acid-poolers", [](json& p) {
                                                            p["spec"]["enableConnectionPooler"] = true;
                                                            p["spec"]["enableReplicaConnectionPooler"] = true;
                                                          });
    file << "---\n" << poolers.dump(2) << "\n";
    pooler_objects = cluster_objects("poolers", "acid-poolers", {false, true, true, true});
  }

  const auto started = Clock::now();
  std::size_t documents = 0;
  for (const auto& flags : kFlagSets) check_render(all_examples, flags, documents);
  std::cout << "[render] " << kFlagSets.size() << " flag sets x " << kExamples.size() + 1
            << " clusters, each rendered twice: " << documents << " documents validated in "
            << seconds_since(started) << " s" << std::endl;

  const auto run = run_render(all_examples, {});
  std::set<std::string> ids;
  for (const auto& document : run.documents) ids.insert(object_id(document));
  for (const auto& ref : pooler_objects) {
    INFO(describe(ref));
    CHECK(ids.count(ref.kind + " " + ref.ns + "/" + ref.name));
  }
  for (std::size_t i = 0; i < kExamples.size(); ++i) {
    INFO(kExamples[i]);
    std::size_t monitors = 0;
    for (const auto& document : run.documents) {
      monitors += document.value("kind", "") == "ServiceMonitor" &&
                  document["metadata"].value("namespace", "") == "example-" + std::to_string(i);
    }
    CHECK(monitors >= 1);
  }
  // A manifest without a namespace renders into "default", as kubectl would apply it.
  const auto minimal = run_render(reference_file("zalando/minimal-postgres-manifest.yaml"), {});
  REQUIRE(minimal.exit_code == 0);
  for (const auto& document : minimal.documents) {
    INFO(object_id(document));
    CHECK(schema_problems(document) == "");
    CHECK(document["metadata"]["namespace"] == "default");
  }
}

TEST_CASE("render refuses input without a postgresql object, with a message saying so", "[render]") {
  TempDir dir;
  const std::string path = dir.file("not-postgresql.yaml");
  std::ofstream(path) << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
  const auto run = run_render(path, {});
  CHECK(run.exit_code != 0);
  CHECK(run.out.empty());
  CHECK(run.err.find("postgresql") != std::string::npos);
}

}  // namespace pgscope::e2e
