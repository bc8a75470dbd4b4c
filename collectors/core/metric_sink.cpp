#include "core/metric_sink.hpp"

namespace pgscope {
namespace {

std::string signature_of(const prometheus::ClientMetric& metric) {
  std::string signature;
  for (const auto& label : metric.label) {
    signature.append(label.name).push_back('\xff');
    signature.append(label.value).push_back('\xfe');
  }
  return signature;
}

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

void MetricSink::gauge(const std::string& name, const std::string& help, const LabelPairs& labels,
                       double value) {
  add(name, help, prometheus::MetricType::Gauge, labels, value);
}

void MetricSink::counter(const std::string& name, const std::string& help, const LabelPairs& labels,
                         double value) {
  add(name, help, prometheus::MetricType::Counter, labels, value);
}

prometheus::MetricFamily* MetricSink::family_for(const std::string& name, const std::string& help,
                                                 prometheus::MetricType type) {
  auto found = index_.find(name);
  if (found == index_.end()) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    families_.push_back(std::move(family));
    found = index_.emplace(name, Index{families_.size() - 1, {}}).first;
  }
  auto& family = families_[found->second.position];
  return family.type == type ? &family : nullptr;
}

void MetricSink::append(prometheus::MetricFamily& family, Index& index, prometheus::ClientMetric&& metric,
                        prometheus::MetricType type) {
  (void)type;
  if (!index.signatures.insert(signature_of(metric)).second) {
    ++dropped_;
    return;
  }
  family.metric.push_back(std::move(metric));
  ++series_;
}

void MetricSink::add(const std::string& name, const std::string& help, prometheus::MetricType type,
                     const LabelPairs& labels, double value) {
  auto* family = family_for(name, help, type);
  if (family == nullptr) {
    ++dropped_;
    return;
  }
  prometheus::ClientMetric metric;
  metric.label.reserve(labels.size());
  for (const auto& [label_name, label_value] : labels) metric.label.push_back({label_name, label_value});
  set_value(metric, type, value);
  append(*family, index_[name], std::move(metric), type);
}

void MetricSink::merge(MetricSink&& other) {
  for (auto& incoming : other.families_) {
    auto* family = family_for(incoming.name, incoming.help, incoming.type);
    if (family == nullptr) {
      dropped_ += incoming.metric.size();
      continue;
    }
    auto& index = index_[incoming.name];
    for (auto& metric : incoming.metric) append(*family, index, std::move(metric), incoming.type);
  }
  dropped_ += other.dropped_;
  other.families_.clear();
  other.index_.clear();
}

std::vector<prometheus::MetricFamily> MetricSink::take() {
  index_.clear();
  series_ = 0;
  return std::move(families_);
}

}  // namespace pgscope
