// Building blocks shared by desired.cpp (database monitors, rules,
// dashboards) and desired_pooler.cpp (pooler monitors and their exporter).
// Internal to the library.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/cluster/cluster.hpp"
#include "operator/cluster/settings.hpp"

namespace pgscope::op::parts {

using json = nlohmann::json;

// managed-by, part-of, pgscope.io/cluster, pgscope.io/cluster-namespace and
// pgscope.io/component.
json cluster_labels(const ClusterInfo& cluster, const std::string& component);
// --labels and --release, for what Prometheus or Grafana select on.
void add_selected_labels(json& labels, const OperatorSettings& settings);

// metadata of a per-cluster object in the cluster's namespace: ownerReference
// to the postgresql object (none when its uid is unknown).
json owned_metadata(const ClusterInfo& cluster, const std::string& name, json labels);

json relabel(const std::string& source_label, const std::string& target_label);
json relabel_replacement(const std::string& target_label, const std::string& replacement);
// cluster, namespace, team, role and pod from the scraped pod's meta labels.
json member_relabelings(const OperatorSettings& settings);

json service_port(const std::string& name, int port);
json headless_service(const ClusterInfo& cluster, const std::string& name, json labels, json pod_selector,
                      const std::string& port_name, int port);

// One scrape endpoint (ServiceMonitor endpoints[] or PodMonitor
// podMetricsEndpoints[] item) with the settings' interval and timeout.
json scrape_endpoint(const OperatorSettings& settings, const std::string& path, json relabelings);
// A ServiceMonitor or PodMonitor; `endpoint` gets `port` (Service port name)
// or `portNumber` (pod port) set here.
json monitor(const ClusterInfo& cluster, const OperatorSettings& settings, const std::string& name,
             json labels, json selector_labels, json endpoint, const std::string& service_port_name,
             int pod_port);

// Pooler monitors, and the exporter that serves their /probe.
std::vector<json> pooler_objects(const ClusterInfo& cluster, const OperatorSettings& settings);

}  // namespace pgscope::op::parts
