#include "core/metric_sink.hpp"

#include <algorithm>
#include <cstdint>

namespace pgscope {
namespace {

void set_value(prometheus::ClientMetric& metric, prometheus::MetricType type, double value) {
  switch (type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
}

// FNV-1a over label names and values, with separators so that ("ab","c")
// and ("a","bc") differ.
std::uint64_t hash_labels(const std::vector<prometheus::ClientMetric::Label>& labels) {
  std::uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](const std::string& text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
    hash ^= 0xff;
    hash *= 1099511628211ULL;
  };
  for (const auto& label : labels) {
    mix(label.name);
    mix(label.value);
  }
  return hash;
}

// Removes metrics whose label set repeats an earlier one; returns how many.
std::size_t remove_repeats(std::vector<prometheus::ClientMetric>& metrics) {
  if (metrics.size() < 2) return 0;
  std::unordered_multimap<std::uint64_t, std::size_t> seen;
  seen.reserve(metrics.size());
  std::size_t kept = 0;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const auto hash = hash_labels(metrics[i].label);
    bool repeat = false;
    auto range = seen.equal_range(hash);
    for (auto it = range.first; it != range.second && !repeat; ++it) {
      repeat = metrics[it->second].label == metrics[i].label;
    }
    if (repeat) continue;
    if (kept != i) metrics[kept] = std::move(metrics[i]);
    seen.emplace(hash, kept);
    ++kept;
  }
  const std::size_t removed = metrics.size() - kept;
  metrics.resize(kept);
  return removed;
}

}  // namespace

double sample_value(const prometheus::ClientMetric& metric, prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return metric.counter.value;
    case prometheus::MetricType::Gauge:
      return metric.gauge.value;
    default:
      return metric.untyped.value;
  }
}

MetricSink::Family MetricSink::family(const std::string& name, const std::string& help,
                                      prometheus::MetricType type) {
  auto found = index_.find(name);
  if (found == index_.end()) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    families_.push_back(std::move(family));
    found = index_.emplace(name, families_.size() - 1).first;
  }
  return families_[found->second].type == type ? found->second : kRejected;
}

void MetricSink::add(Family family, const LabelPairs& labels, double value) {
  if (family == kRejected) {
    ++dropped_;
    return;
  }
  auto& target = families_[family];
  prometheus::ClientMetric metric;
  metric.label.reserve(labels.size());
  for (const auto& [label_name, label_value] : labels) metric.label.push_back({label_name, label_value});
  set_value(metric, target.type, value);
  target.metric.push_back(std::move(metric));
}

void MetricSink::add(const std::string& name, const std::string& help, prometheus::MetricType type,
                     const LabelPairs& labels, double value) {
  add(family(name, help, type), labels, value);
}

void MetricSink::gauge(const std::string& name, const std::string& help, const LabelPairs& labels,
                       double value) {
  add(name, help, prometheus::MetricType::Gauge, labels, value);
}

void MetricSink::counter(const std::string& name, const std::string& help, const LabelPairs& labels,
                         double value) {
  add(name, help, prometheus::MetricType::Counter, labels, value);
}

void MetricSink::merge(MetricSink&& other) {
  if (families_.empty()) {
    *this = std::move(other);
    other = MetricSink();
    return;
  }
  for (auto& incoming : other.families_) {
    const Family target = family(incoming.name, incoming.help, incoming.type);
    if (target == kRejected) {
      dropped_ += incoming.metric.size();
      continue;
    }
    auto& metrics = families_[target].metric;
    if (metrics.empty()) {
      metrics = std::move(incoming.metric);
    } else {
      metrics.insert(metrics.end(), std::make_move_iterator(incoming.metric.begin()),
                     std::make_move_iterator(incoming.metric.end()));
    }
  }
  dropped_ += other.dropped_;
  other = MetricSink();
}

std::size_t MetricSink::series() const {
  std::size_t count = 0;
  for (const auto& family : families_) count += family.metric.size();
  return count;
}

std::size_t MetricSink::truncate(std::size_t keep) {
  const std::size_t total = series();
  if (total <= keep) return 0;
  auto kept_with = [this](std::size_t per_family) {
    std::size_t count = 0;
    for (const auto& family : families_) count += std::min(per_family, family.metric.size());
    return count;
  };
  // The largest r with kept_with(r) <= keep; kept_with grows with r.
  std::size_t low = 0, high = 0;
  for (const auto& family : families_) high = std::max(high, family.metric.size());
  while (low < high) {
    const std::size_t middle = low + (high - low + 1) / 2;
    if (kept_with(middle) <= keep) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  for (auto& family : families_) {
    if (family.metric.size() > low) family.metric.resize(low);
  }
  return total - series();
}

std::vector<prometheus::MetricFamily> MetricSink::take() {
  for (auto& family : families_) dropped_ += remove_repeats(family.metric);
  index_.clear();
  auto families = std::move(families_);
  families_.clear();
  return families;
}

}  // namespace pgscope
