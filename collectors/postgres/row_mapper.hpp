#pragma once

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "core/metric_sink.hpp"
#include "postgres/catalog.hpp"

namespace pgscope {

// Replaces {{name}} placeholders with the exporter's integer settings.
// Throws CatalogError naming the entry for an unknown placeholder.
std::string expand_placeholders(const CatalogEntry& entry, const std::string& sql,
                                const std::map<std::string, long>& values);

// Parses a PostgreSQL text value as a sample value: numbers, t/f booleans,
// NaN/Infinity. Returns false when the text is not a number.
bool parse_sample(const char* text, double& value);

// Turns a result into samples by the entry's column rules (catalog/README.md).
// `Table` is PgResult or any type with the same accessors (rows, columns,
// column_name, is_null, value), so the mapping is testable without a server.
// Returns the number of cells that could not be read as numbers.
template <typename Table>
int map_rows(const CatalogEntry& entry, const Table& table, MetricSink& sink);

// ---- implementation ----

struct ColumnPlan {
  const MetricSpec* spec;
  int index;
  MetricSink::Family family;
};

template <typename Table>
int map_rows(const CatalogEntry& entry, const Table& table, MetricSink& sink) {
  int unreadable = 0;
  if (entry.dynamic_name) {
    const int name_col = table.column_index("name");
    const int value_col = table.column_index("value");
    const int help_col = table.column_index("help");
    if (name_col < 0 || value_col < 0) return table.rows();
    const auto type = entry.dynamic_usage == Usage::Counter ? prometheus::MetricType::Counter
                                                            : prometheus::MetricType::Gauge;
    for (int row = 0; row < table.rows(); ++row) {
      double value = 0;
      if (table.is_null(row, value_col) || table.is_null(row, name_col)) continue;
      if (!parse_sample(table.value(row, value_col), value)) {
        ++unreadable;
        continue;
      }
      std::string help = help_col >= 0 && !table.is_null(row, help_col) ? table.value(row, help_col) : "";
      sink.add(table.value(row, name_col), help, type, {}, value);
    }
    return unreadable;
  }

  std::vector<ColumnPlan> labels;
  std::vector<ColumnPlan> values;
  for (const auto& spec : entry.metrics) {
    const int index = table.column_index(spec.column.c_str());
    if (index < 0 || spec.usage == Usage::Discard) continue;
    if (spec.usage == Usage::Label) {
      labels.push_back({&spec, index, MetricSink::kRejected});
    } else {
      const auto type =
          spec.usage == Usage::Counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      values.push_back({&spec, index, sink.family(entry.metric_name(spec), spec.description, type)});
    }
  }
  LabelPairs label_values(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) label_values[i].first = labels[i].spec->column;
  for (int row = 0; row < table.rows(); ++row) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      label_values[i].second = table.is_null(row, labels[i].index) ? "" : table.value(row, labels[i].index);
    }
    for (const auto& column : values) {
      if (table.is_null(row, column.index)) continue;
      const char* text = table.value(row, column.index);
      double value = 0;
      if (column.spec->usage == Usage::MappedMetric) {
        auto found = column.spec->mapping.find(text);
        if (found == column.spec->mapping.end()) continue;
        value = found->second;
      } else if (!parse_sample(text, value)) {
        ++unreadable;
        continue;
      }
      sink.add(column.family, label_values, value * column.spec->scale);
    }
  }
  return unreadable;
}

}  // namespace pgscope
