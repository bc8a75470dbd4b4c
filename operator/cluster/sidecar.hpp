// The exporter in every Spilo pod: as a per-cluster sidecar in the
// postgresql object's spec.sidecars (injection), or as a global sidecar in
// Zalando's operator configuration (printed by render).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "operator/cluster/cluster.hpp"
#include "operator/cluster/settings.hpp"

namespace pgscope::op {

using json = nlohmann::json;

inline constexpr const char* kSidecarName = "pgscope-exporter";

// The spec.sidecars item, with only the fields Zalando's CRD allows there
// (name, image, ports, env, resources: no args, no probes): settings through
// PG_EXPORTER_* variables, credentials from the monitoring user's secret.
json exporter_sidecar(const ClusterInfo& cluster, const OperatorSettings& settings);

// spec.sidecars as it should be. Injecting: every other sidecar kept in its
// place, ours replaced in place or appended. Not injecting: ours removed
// (null when nothing is left). Equal to `current_sidecars` when nothing needs
// to change, and applying it to its own result changes nothing, because
// every change rolls all database pods of the cluster. Throws InvalidCluster
// when current_sidecars is neither null nor a list.
json desired_sidecars(const json& current_sidecars, const ClusterInfo& cluster,
                      const OperatorSettings& settings);

// For clusters without injection: what to give Zalando's operator so every
// cluster gets the exporter.
//   {"operatorConfiguration": {"configuration": {"sidecars": [<v1.Container>]}},
//    "configMap": {"data": {"sidecar_docker_images": "pgscope-exporter:<image>"}} or null}
// The container uses POSTGRES_USER/POSTGRES_PASSWORD, which Zalando gives every
// sidecar. The ConfigMap form (deprecated) carries a name and an image only,
// and its map syntax splits on ":", so it is null for an image reference
// with a tag or registry port, or an --exporter-port other than the default.
json global_sidecar_configuration(const OperatorSettings& settings);

// The same as a YAML document of comments (every line starting with "#"),
// with what to do with it, for render's output.
std::string global_sidecar_comment(const OperatorSettings& settings);

}  // namespace pgscope::op
