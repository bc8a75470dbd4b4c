#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace pgscope {

// A mistake in a query catalog file; the message starts with file:line:column.
class CatalogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Usage { Label, Gauge, Counter, MappedMetric, Duration, Discard };
const char* to_string(Usage usage);

struct MetricSpec {
  std::string column;
  Usage usage = Usage::Gauge;
  std::string description;
  std::string name;  // full metric name; empty: <entry>_<column>
  double scale = 1.0;
  std::map<std::string, double> mapping;  // MAPPEDMETRIC
};

struct QueryBranch {
  int min_version = 0;  // inclusive server_version_num
  int max_version = 0;  // exclusive; 0: unbounded
  std::string sql;
  bool matches(int server_version) const {
    return server_version >= min_version && (max_version == 0 || server_version < max_version);
  }
};

// One query and how its columns become metrics: see catalog/README.md.
struct CatalogEntry {
  std::string name;
  std::string origin;  // file:line, for messages
  std::string collector = "queries";
  bool default_enabled = true;
  // Databases the query runs in: "*" for every database the exporter
  // discovers (within --postgres.include/exclude-databases), or names. Empty:
  // once per scrape, in the database of the connection string.
  std::vector<std::string> target_databases;
  bool primary_only = false;
  bool replica_only = false;
  double cache_seconds = 0;
  double timeout_seconds = 0;
  // SQL run first in the same database; the query runs only when its first
  // row's first column is true. Empty: always run.
  std::string predicate;
  // At most this many series per run (per database); the rest are dropped
  // and counted. 0: no cap of its own.
  std::size_t max_series = 0;
  std::vector<QueryBranch> branches;
  std::vector<MetricSpec> metrics;
  // Rows carry their own metric name (columns name, value, help): for
  // pg_settings, whose metric names come from the server.
  bool dynamic_name = false;
  Usage dynamic_usage = Usage::Gauge;

  const QueryBranch* branch_for(int server_version) const;
  bool per_database() const { return !target_databases.empty(); }
  // Whether it runs in `database`; `wanted`: the database passes the
  // exporter's include/exclude lists (which "*" honours and names override).
  bool runs_in(const std::string& database, bool wanted) const;
  std::string metric_name(const MetricSpec& spec) const;
};

struct Catalog {
  std::vector<CatalogEntry> entries;

  // Collector names in first-seen order, with their default.
  std::vector<std::pair<std::string, bool>> collectors() const;
  void append(Catalog&& other);  // throws CatalogError on a duplicate entry name
  // Adds custom entries; one named like an existing entry replaces it (so a
  // postgres_exporter queries.yaml that redefines pg_database works), and the
  // names replaced are returned. Throws CatalogError when `other` repeats a
  // name that an earlier custom file already defined.
  std::vector<std::string> overlay(Catalog&& other);
};

// Parses one catalog file's text; `origin` names it in errors.
Catalog parse_catalog(const std::string& yaml_text, const std::string& origin);
// The same for a YAML node already loaded (the config file's queries:
// section); errors give `origin` with the node's own line and column.
Catalog parse_catalog_node(const YAML::Node& root, const std::string& origin);
Catalog load_catalog_file(const std::string& path);
Catalog builtin_catalog();

// The catalog as YAML, in the same form it is read in.
std::string dump_catalog(const Catalog& catalog);

}  // namespace pgscope
