#pragma once

#include <cstddef>
#include <string>

namespace pgscope::op {

// The operator-wide settings of the mixin (the same for every cluster).
struct MixinSettings {
  // The label naming a PostgreSQL cluster on the scraped series: the operator
  // relabels Zalando's cluster-name pod label to it (_config.clusterLabel).
  std::string cluster_label = "cluster";
  // Where runbook_url annotations point ("" = the mixin's default).
  std::string runbook_base_url;
  // How many threshold override sets ClusterMixin keeps evaluated rules for.
  std::size_t cache_capacity = 64;
};

}  // namespace pgscope::op
