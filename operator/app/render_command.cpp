#include "operator/app/render_command.hpp"

#include <stdexcept>

#include "operator/cluster/cluster.hpp"
#include "operator/cluster/desired.hpp"
#include "operator/cluster/render.hpp"
#include "operator/cluster/sidecar.hpp"

namespace pgscope::op {

namespace {

std::string comment_out(const std::string& yaml) {
  std::string out;
  std::size_t start = 0;
  while (start < yaml.size()) {
    auto end = yaml.find('\n', start);
    if (end == std::string::npos) end = yaml.size();
    const std::string line = yaml.substr(start, end - start);
    if (line != "---") out += line.empty() ? "#\n" : "# " + line + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string render_manifests(const std::string& yaml_text, const std::string& source_name,
                             const OperatorSettings& settings, const ClusterMixin& mixin) {
  const auto documents = read_manifests(yaml_text, source_name);
  std::vector<nlohmann::json> output;
  bool any_without_injection = false;
  int clusters = 0;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    auto postgresql = documents[i];
    if (postgresql.value("kind", "") != "postgresql") continue;
    ++clusters;
    // kubectl puts an object without a namespace into the context's
    // namespace; without a cluster, that is "default".
    if (!postgresql["metadata"].contains("namespace")) postgresql["metadata"]["namespace"] = "default";
    const std::string where = source_name + ": document " + std::to_string(i + 1);
    ClusterInfo info;
    try {
      info = read_cluster(postgresql, settings);
    } catch (const InvalidCluster& error) {
      throw std::runtime_error(where + ": " + error.what());
    }
    MixinOutput mixin_output;
    if (settings.rules) {
      try {
        const auto overrides = mixin.threshold_overrides(info.annotations, {kInjectAnnotation});
        mixin_output.rule_groups = mixin.rule_groups(info.ns, info.name, overrides);
      } catch (const InvalidThreshold& error) {
        throw std::runtime_error(where + ": " + error.what());
      }
    }
    if (settings.dashboards) mixin_output.dashboards = mixin.dashboards();
    for (auto& object : desired_objects(info, settings, mixin_output)) {
      // The same shared dashboards for every cluster of a namespace: once.
      if (std::find(output.begin(), output.end(), object) == output.end())
        output.push_back(std::move(object));
    }
    if (info.inject) {
      auto injected = postgresql;
      const auto sidecars =
          desired_sidecars(postgresql["spec"].value("sidecars", nlohmann::json()), info, settings);
      if (sidecars.is_null() || sidecars.empty()) {
        injected["spec"].erase("sidecars");
      } else {
        injected["spec"]["sidecars"] = sidecars;
      }
      output.push_back(injected);
    } else {
      any_without_injection = true;
    }
  }
  if (clusters == 0) {
    throw std::runtime_error(source_name +
                             ": no postgresql object (apiVersion acid.zalan.do/v1, kind postgresql)");
  }
  std::string text = to_yaml(output);
  if (any_without_injection) {
    text +=
        "---\n"
        "# Sidecar injection is off (--inject-sidecars or the annotation pgscope.io/inject: \"true\" turns "
        "it on).\n"
        "# The exporter then has to come from Zalando's operator configuration: add this to the\n"
        "# OperatorConfiguration's configuration.sidecars (global sidecars, added to every cluster).\n";
    text += comment_out(to_yaml({global_sidecar_configuration(settings)}));
  }
  return text;
}

}  // namespace pgscope::op
