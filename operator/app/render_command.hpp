#pragma once

#include <string>

#include "operator/cluster/settings.hpp"
#include "operator/mixin/cluster_mixin.hpp"

namespace pgscope::op {

// `pgscope-operator render -f postgresql.yaml`: the YAML of everything the
// operator would create for each postgresql object in the file, without a
// cluster, byte-identical on every run (for GitOps and review). With
// injection on for a cluster it also prints the postgresql object with the
// sidecar added; otherwise a commented document with the equivalent global
// sidecar for Zalando's operator configuration. Throws std::runtime_error
// naming the file (and line) on bad input.
std::string render_manifests(const std::string& yaml_text, const std::string& source_name,
                             const OperatorSettings& settings, const ClusterMixin& mixin);

}  // namespace pgscope::op
