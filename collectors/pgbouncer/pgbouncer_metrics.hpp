#pragma once

#include <prometheus/metric_type.h>

#include <string>
#include <vector>

#include "core/metric_sink.hpp"
#include "postgres/row_mapper.hpp"

namespace pgscope {

// How pgBouncer's admin console answers become metrics. Columns are looked up
// by name, never by position: pgBouncer adds and renames columns between
// releases (1.18 has reserve_pool, 1.24 reserve_pool_size), so a column that
// is missing is skipped and one a newer release adds is used when it is
// listed here.

struct ColumnMetric {
  const char* column;
  const char* metric;  // full family name
  const char* help;
  prometheus::MetricType type;
  double scale;  // pgBouncer counts time in microseconds; the families use seconds
  // A column holding the sub-second part of `column` in microseconds
  // (maxwait_us beside maxwait), added when present.
  const char* micros_column = nullptr;
};

// A command answering one row per object (database, pool), whose label
// columns identify the object.
struct ShowTable {
  const char* part;     // its CollectorStatus name, e.g. "pgbouncer_pools"
  const char* command;  // e.g. "SHOW POOLS"
  std::vector<const char*> labels;
  std::vector<ColumnMetric> columns;
};

// A command answering one row per setting (SHOW LISTS, SHOW CONFIG): the rows
// whose key is listed become label-less gauges.
struct KeyedMetric {
  const char* key;
  const char* metric;
  const char* help;
};
struct KeyedTable {
  const char* part;
  const char* command;
  const char* key_column;
  const char* value_column;
  std::vector<KeyedMetric> metrics;
};

const std::vector<ShowTable>& pgbouncer_show_tables();    // DATABASES, POOLS, STATS
const std::vector<KeyedTable>& pgbouncer_keyed_tables();  // LISTS, CONFIG

extern const char* const kPgBouncerVersionMetric;
extern const char* const kPgBouncerVersionHelp;

// The mappers take PgResult or any type with its accessors (rows,
// column_index, is_null, value), so they are testable without a server. They
// return the number of cells that were not numbers (skipped).

template <typename Table>
int map_show_table(const ShowTable& spec, const Table& table, MetricSink& sink) {
  struct Plan {
    const ColumnMetric* metric;
    int index;
    int micros_index;
    MetricSink::Family family;
  };
  std::vector<std::pair<std::string, int>> labels;
  for (const char* label : spec.labels) {
    const int index = table.column_index(label);
    if (index >= 0) labels.emplace_back(label, index);
  }
  std::vector<Plan> plans;
  for (const auto& column : spec.columns) {
    const int index = table.column_index(column.column);
    if (index < 0) continue;
    const int micros = column.micros_column != nullptr ? table.column_index(column.micros_column) : -1;
    plans.push_back({&column, index, micros, sink.family(column.metric, column.help, column.type)});
  }
  int unreadable = 0;
  LabelPairs label_values(labels.size());
  for (int row = 0; row < table.rows(); ++row) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      label_values[i] = {labels[i].first,
                         table.is_null(row, labels[i].second) ? "" : table.value(row, labels[i].second)};
    }
    for (const auto& plan : plans) {
      double value = 0;
      if (table.is_null(row, plan.index)) continue;
      if (!parse_sample(table.value(row, plan.index), value)) {
        ++unreadable;
        continue;
      }
      value *= plan.metric->scale;
      double micros = 0;
      if (plan.micros_index >= 0 && !table.is_null(row, plan.micros_index) &&
          parse_sample(table.value(row, plan.micros_index), micros)) {
        value += micros * 1e-6;
      }
      sink.add(plan.family, label_values, value);
    }
  }
  return unreadable;
}

template <typename Table>
int map_keyed_table(const KeyedTable& spec, const Table& table, MetricSink& sink) {
  const int key = table.column_index(spec.key_column);
  const int value_index = table.column_index(spec.value_column);
  if (key < 0 || value_index < 0) return table.rows();
  int unreadable = 0;
  for (int row = 0; row < table.rows(); ++row) {
    if (table.is_null(row, key) || table.is_null(row, value_index)) continue;
    const std::string name = table.value(row, key);
    for (const auto& metric : spec.metrics) {
      if (name != metric.key) continue;
      double value = 0;
      if (parse_sample(table.value(row, value_index), value)) {
        sink.gauge(metric.metric, metric.help, {}, value);
      } else {
        ++unreadable;
      }
    }
  }
  return unreadable;
}

// SHOW VERSION: one row, column `version` ("PgBouncer 1.18.0").
template <typename Table>
void map_version(const Table& table, MetricSink& sink) {
  const int column = table.column_index("version");
  if (column < 0 || table.rows() == 0 || table.is_null(0, column)) return;
  sink.gauge(kPgBouncerVersionMetric, kPgBouncerVersionHelp, {{"version", table.value(0, column)}}, 1);
}

}  // namespace pgscope
