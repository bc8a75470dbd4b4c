#pragma once

// Helpers shared by the Patroni collector's unit tests.

#include <prometheus/metric_family.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/metric_sink.hpp"

namespace pgscope::test::patroni {

inline std::string read_data(const std::string& name) {
  const std::string path = std::string(PGSCOPE_SOURCE_DIR) + "/tests/unit/data/patroni/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using LabelMap = std::map<std::string, std::string>;

// The families a sink collected, looked up by name and exact label set.
struct Families {
  std::vector<prometheus::MetricFamily> all;

  explicit Families(MetricSink& sink) : all(sink.take()) {}

  const prometheus::MetricFamily* find(const std::string& name) const {
    for (const auto& family : all) {
      if (family.name == name) return &family;
    }
    return nullptr;
  }

  static LabelMap labels_of(const prometheus::ClientMetric& metric) {
    LabelMap labels;
    for (const auto& label : metric.label) labels[label.name] = label.value;
    return labels;
  }

  // The value of the sample of `name` whose labels are exactly `labels`.
  std::optional<double> value(const std::string& name, const LabelMap& labels = {}) const {
    const auto* family = find(name);
    if (family == nullptr) return std::nullopt;
    for (const auto& metric : family->metric) {
      if (labels_of(metric) == labels) return sample_value(metric, family->type);
    }
    return std::nullopt;
  }

  std::size_t samples(const std::string& name) const {
    const auto* family = find(name);
    return family == nullptr ? 0 : family->metric.size();
  }

  std::string type(const std::string& name) const {
    const auto* family = find(name);
    if (family == nullptr) return "";
    return family->type == prometheus::MetricType::Counter ? "counter"
           : family->type == prometheus::MetricType::Gauge ? "gauge"
                                                           : "other";
  }

  // The labels of the only sample of `name`.
  LabelMap only_labels(const std::string& name) const {
    const auto* family = find(name);
    REQUIRE(family != nullptr);
    REQUIRE(family->metric.size() == 1);
    return labels_of(family->metric.front());
  }

  std::vector<std::string> names_with_prefix(const std::string& prefix) const {
    std::vector<std::string> names;
    for (const auto& family : all) {
      if (family.name.compare(0, prefix.size(), prefix) == 0) names.push_back(family.name);
    }
    return names;
  }
};

}  // namespace pgscope::test::patroni
