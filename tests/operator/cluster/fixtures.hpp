// Inputs for the tests of the operator's cluster library: Zalando's example
// manifests, the mixin's generated rules and dashboards, the pod labels
// Zalando's operator sets, and a small Prometheus relabeling evaluator.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "operator/cluster/desired.hpp"

namespace pgscope::op::testing {

using json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

// PGSCOPE_REFERENCE_DIR, else the directory CMake computed; nullopt (after a
// Catch2 WARN saying so) when it does not exist.
std::optional<std::string> reference_dir();

// The postgresql object of a file under <reference>/zalando/, with
// metadata.namespace and metadata.uid filled in as the API server would.
// nullopt when the reference directory is missing.
std::optional<json> zalando_manifest(const std::string& file_name, const std::string& ns = "db",
                                     const std::string& uid = "9b0e6e3c-1d7a-4a53-9d0c-3a2f0c4e5d61");

// The mixin's committed output: alert and recording rule groups, dashboards.
MixinOutput generated_mixin();

// Pod labels as Zalando's operator and Patroni set them (FACTS.md).
Labels spilo_pod_labels(const std::string& cluster, const std::string& role,
                        const std::string& team = "acid");
Labels pooler_pod_labels(const std::string& cluster, bool replica, const std::string& team = "acid");

bool selector_matches(const json& match_labels, const Labels& labels);

// The target labels Prometheus's Kubernetes discovery gives a pod target.
Labels pod_target(const std::string& ns, const std::string& pod, const Labels& pod_labels,
                  const std::string& address);
// Applies relabel configs (action replace only, as the operator writes them);
// fails the test on any other action.
Labels apply_relabelings(Labels labels, const json& relabelings);
// What is left after relabeling: labels not starting with "__".
Labels visible(const Labels& labels);

const json* find_object(const std::vector<json>& objects, const std::string& kind, const std::string& name);

}  // namespace pgscope::op::testing
