#include "pgbouncer/pgbouncer_metrics.hpp"

// Names, labels, types and units follow prometheus-community's
// pgbouncer_exporter up to v0.11 (see the top of pgbouncer_collector.cpp for
// v0.12's names), so its dashboards and alerts work unchanged. The help texts
// are our own words.

namespace pgscope {
namespace {

using prometheus::MetricType;
constexpr double kMicros = 1e-6;  // pgBouncer reports times in microseconds

}  // namespace

const char* const kPgBouncerVersionMetric = "pgbouncer_version_info";
const char* const kPgBouncerVersionHelp = "The version pgBouncer reports (SHOW VERSION); always 1.";

const std::vector<ShowTable>& pgbouncer_show_tables() {
  static const std::vector<ShowTable> tables{
      {"pgbouncer_databases",
       "SHOW DATABASES",
       {"name", "host", "port", "database", "force_user", "pool_mode"},
       {
           {"pool_size", "pgbouncer_databases_pool_size",
            "Most server connections per pool of this database.", MetricType::Gauge, 1},
           // Renamed reserve_pool_size in pgBouncer 1.24: whichever exists.
           {"reserve_pool", "pgbouncer_databases_reserve_pool",
            "Additional server connections this database's pools may open when clients wait too long.",
            MetricType::Gauge, 1},
           {"reserve_pool_size", "pgbouncer_databases_reserve_pool",
            "Additional server connections this database's pools may open when clients wait too long.",
            MetricType::Gauge, 1},
           {"max_connections", "pgbouncer_databases_max_connections",
            "Most server connections to this database over all its pools (0: no limit).", MetricType::Gauge,
            1},
           {"current_connections", "pgbouncer_databases_current_connections",
            "Server connections to this database now open.", MetricType::Gauge, 1},
           // pgBouncer 1.24+; not in pgbouncer_exporter v0.11, same naming rule.
           {"max_client_connections", "pgbouncer_databases_max_client_connections",
            "Most client connections to this database (0: no limit).", MetricType::Gauge, 1},
           {"current_client_connections", "pgbouncer_databases_current_client_connections",
            "Client connections to this database now open.", MetricType::Gauge, 1},
           {"paused", "pgbouncer_databases_paused", "Whether this database is paused (PAUSE): 1 or 0.",
            MetricType::Gauge, 1},
           {"disabled", "pgbouncer_databases_disabled",
            "Whether this database is disabled (DISABLE), refusing new clients: 1 or 0.", MetricType::Gauge,
            1},
       }},
      {"pgbouncer_pools",
       "SHOW POOLS",
       {"database", "user"},
       {
           {"cl_active", "pgbouncer_pools_client_active_connections",
            "Client connections paired with a server connection, or idle with nothing to run.",
            MetricType::Gauge, 1},
           {"cl_waiting", "pgbouncer_pools_client_waiting_connections",
            "Client connections that sent a query and wait for a server connection.", MetricType::Gauge, 1},
           {"cl_active_cancel_req", "pgbouncer_pools_client_active_cancel_connections",
            "Client connections whose cancel request went to the server and awaits its answer.",
            MetricType::Gauge, 1},
           {"cl_waiting_cancel_req", "pgbouncer_pools_client_waiting_cancel_connections",
            "Client connections whose cancel request has not been forwarded to the server yet.",
            MetricType::Gauge, 1},
           {"sv_active", "pgbouncer_pools_server_active_connections",
            "Server connections paired with a client connection.", MetricType::Gauge, 1},
           {"sv_active_cancel", "pgbouncer_pools_server_active_cancel_connections",
            "Server connections forwarding a cancel request.", MetricType::Gauge, 1},
           {"sv_being_canceled", "pgbouncer_pools_server_being_canceled_connections",
            "Server connections that wait for cancel requests sent for them to finish before becoming idle.",
            MetricType::Gauge, 1},
           {"sv_idle", "pgbouncer_pools_server_idle_connections",
            "Server connections unused and ready for a client query.", MetricType::Gauge, 1},
           {"sv_used", "pgbouncer_pools_server_used_connections",
            "Server connections idle for longer than server_check_delay, to be checked before reuse.",
            MetricType::Gauge, 1},
           {"sv_tested", "pgbouncer_pools_server_testing_connections",
            "Server connections running server_reset_query or server_check_query.", MetricType::Gauge, 1},
           {"sv_login", "pgbouncer_pools_server_login_connections", "Server connections logging in.",
            MetricType::Gauge, 1},
           // maxwait is whole seconds; maxwait_us (1.8+) adds the fraction, so
           // a wait shows before it lasts a full second.
           {"maxwait", "pgbouncer_pools_client_maxwait_seconds",
            "How long the oldest waiting client of this pool has waited, in seconds.", MetricType::Gauge, 1,
            "maxwait_us"},
       }},
      {"pgbouncer_stats",
       "SHOW STATS",
       {"database"},
       {
           {"total_query_count", "pgbouncer_stats_queries_pooled_total", "SQL queries pooled to the server.",
            MetricType::Counter, 1},
           // pgBouncer before 1.8 counted requests instead of queries.
           {"total_requests", "pgbouncer_stats_queries_total", "SQL requests pooled (pgBouncer before 1.8).",
            MetricType::Counter, 1},
           {"total_query_time", "pgbouncer_stats_queries_duration_seconds_total",
            "Seconds pgBouncer was connected to the server running queries.", MetricType::Counter, kMicros},
           {"total_xact_count", "pgbouncer_stats_sql_transactions_pooled_total",
            "SQL transactions pooled to the server.", MetricType::Counter, 1},
           {"total_xact_time", "pgbouncer_stats_server_in_transaction_seconds_total",
            "Seconds pgBouncer was connected to the server in a transaction, idle in it or running queries.",
            MetricType::Counter, kMicros},
           {"total_wait_time", "pgbouncer_stats_client_wait_seconds_total",
            "Seconds clients spent waiting for a server connection.", MetricType::Counter, kMicros},
           {"total_received", "pgbouncer_stats_received_bytes_total", "Bytes of network traffic received.",
            MetricType::Counter, 1},
           {"total_sent", "pgbouncer_stats_sent_bytes_total", "Bytes of network traffic sent.",
            MetricType::Counter, 1},
           // Prepared statement tracking (1.21+) and server assignments (1.23+).
           {"total_server_assignment_count", "pgbouncer_stats_server_assignments_total",
            "Times a server connection was assigned to a client.", MetricType::Counter, 1},
           {"total_client_parse_count", "pgbouncer_stats_client_parses_total",
            "Prepared statements (Parse messages) received from clients.", MetricType::Counter, 1},
           {"total_server_parse_count", "pgbouncer_stats_server_parses_total",
            "Prepared statements (Parse messages) pgBouncer sent to the server.", MetricType::Counter, 1},
           {"total_bind_count", "pgbouncer_stats_binds_total",
            "Prepared statements readied for execution (Bind messages).", MetricType::Counter, 1},
       }},
  };
  return tables;
}

const std::vector<KeyedTable>& pgbouncer_keyed_tables() {
  static const std::vector<KeyedTable> tables{
      // SHOW LISTS item -> family, as pgbouncer_exporter names them (the DNS
      // ones differ from their item names). Items it does not map (peers,
      // peer_pools, dns_pending) are left out.
      {"pgbouncer_lists",
       "SHOW LISTS",
       "list",
       "items",
       {
           {"databases", "pgbouncer_databases", "Databases pgBouncer knows."},
           {"users", "pgbouncer_users", "Users pgBouncer knows."},
           {"pools", "pgbouncer_pools", "Pools (database and user pairs)."},
           {"free_clients", "pgbouncer_free_clients", "Client connection slots allocated but unused."},
           {"used_clients", "pgbouncer_used_clients", "Client connection slots in use."},
           {"login_clients", "pgbouncer_login_clients", "Client connections logging in."},
           {"free_servers", "pgbouncer_free_servers", "Server connection slots allocated but unused."},
           {"used_servers", "pgbouncer_used_servers", "Server connection slots in use."},
           {"dns_names", "pgbouncer_cached_dns_names", "Host names in the DNS cache."},
           {"dns_zones", "pgbouncer_cached_dns_zones", "DNS zones in the cache."},
           {"dns_queries", "pgbouncer_in_flight_dns_queries", "DNS queries in flight."},
       }},
      {"pgbouncer_config",
       "SHOW CONFIG",
       "key",
       "value",
       {
           {"max_client_conn", "pgbouncer_config_max_client_connections",
            "Setting max_client_conn: most client connections pgBouncer accepts."},
           {"max_user_connections", "pgbouncer_config_max_user_connections",
            "Setting max_user_connections: most server connections per user (0: no limit)."},
       }},
  };
  return tables;
}

}  // namespace pgscope
