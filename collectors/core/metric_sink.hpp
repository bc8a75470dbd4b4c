#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace pgscope {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// Collects samples into metric families. Samples of one family may arrive
// from several queries or databases; the sink merges them into one family
// (the text format forbids a family appearing twice) and drops a sample whose
// label set repeats one already in the family. Not thread-safe: each
// collector fills its own sink, and the scrape merges them.
class MetricSink {
 public:
  void gauge(const std::string& name, const std::string& help, const LabelPairs& labels, double value);
  void counter(const std::string& name, const std::string& help, const LabelPairs& labels, double value);
  void add(const std::string& name, const std::string& help, prometheus::MetricType type,
           const LabelPairs& labels, double value);

  // Moves every family of `other` into this sink, with the same merge rules.
  void merge(MetricSink&& other);

  // Samples dropped because their family already had that label set, or
  // because the family was declared earlier with another type.
  std::size_t dropped() const { return dropped_; }
  std::size_t series() const { return series_; }

  std::vector<prometheus::MetricFamily> take();
  const std::vector<prometheus::MetricFamily>& families() const { return families_; }

 private:
  struct Index {
    std::size_t position;
    std::unordered_set<std::string> signatures;
  };
  prometheus::MetricFamily* family_for(const std::string& name, const std::string& help,
                                       prometheus::MetricType type);
  void append(prometheus::MetricFamily& family, Index& index, prometheus::ClientMetric&& metric,
              prometheus::MetricType type);

  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, Index> index_;
  std::size_t dropped_ = 0;
  std::size_t series_ = 0;
};

double sample_value(const prometheus::ClientMetric& metric, prometheus::MetricType type);

}  // namespace pgscope
