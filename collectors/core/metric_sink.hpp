#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pgscope {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// Collects samples into metric families. Samples of one family may arrive
// from several queries, databases or collectors; the sink keeps one family
// per name (the text format forbids a family appearing twice). Appending and
// merging are cheap moves; repeated label sets are removed once, in take(),
// rather than on every merge, because a scrape merges each sample several
// times on its way out. Not thread-safe: each worker fills its own sink.
// Names, help texts and label values are kept as given, whatever bytes they
// hold: render_text (exporter/exposition.hpp) is the one place that makes
// them safe (UTF-8, length, valid names), for every source alike.
class MetricSink {
 public:
  using Family = std::size_t;
  static constexpr Family kRejected = static_cast<Family>(-1);

  // The family `name`, created on first use. kRejected when it exists with
  // another type: its samples are then dropped and counted.
  Family family(const std::string& name, const std::string& help, prometheus::MetricType type);
  void add(Family family, const LabelPairs& labels, double value);

  void gauge(const std::string& name, const std::string& help, const LabelPairs& labels, double value);
  void counter(const std::string& name, const std::string& help, const LabelPairs& labels, double value);
  void add(const std::string& name, const std::string& help, prometheus::MetricType type,
           const LabelPairs& labels, double value);

  // Moves every family of `other` into this sink.
  void merge(MetricSink&& other);

  // The families, with repeated label sets removed (the first one stays).
  std::vector<prometheus::MetricFamily> take();

  // Samples dropped: family declared earlier with another type, or a label
  // set repeated within a family (counted by take()).
  std::size_t dropped() const { return dropped_; }
  std::size_t series() const;

  // Keeps at most `keep` samples and returns how many it removed. It keeps
  // the first samples of every family alike (the first r of each, r as
  // large as fits), so a query's result loses whole trailing rows rather
  // than whole columns.
  std::size_t truncate(std::size_t keep);

 private:
  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, Family> index_;
  std::size_t dropped_ = 0;
};

double sample_value(const prometheus::ClientMetric& metric, prometheus::MetricType type);

}  // namespace pgscope
