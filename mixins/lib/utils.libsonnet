// Helpers shared by alerts, rules and dashboards.
{
  // The labels that identify a cluster in aggregations: the cluster label, its
  // namespace, and the multi-cluster label when shown.
  clusterLabels(config)::
    (if config.showMultiCluster then [config.multiClusterLabel] else []) +
    [config.namespaceLabel, config.clusterLabel],

  // ... and a member of a cluster.
  memberLabels(config):: self.clusterLabels(config) + [config.memberLabel],

  // "a, b, c" for by (...) clauses.
  by(labels):: std.join(', ', labels),
}
