#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/deadline.hpp"

namespace pgscope {

// Why talking to PostgreSQL failed, as reported in
// pgscope_exporter_last_error_info{kind}.
enum class PgErrorKind { Connection, Authentication, Timeout, Query };
const char* to_string(PgErrorKind kind);

class PgError : public std::runtime_error {
 public:
  PgError(PgErrorKind kind, const std::string& message, std::string sqlstate = {})
      : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}
  PgErrorKind kind() const { return kind_; }
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  PgErrorKind kind_;
  std::string sqlstate_;
};

// A query result in text form (simple query protocol).
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  const char* column_name(int column) const { return PQfname(result_.get(), column); }
  int column_index(const char* name) const { return PQfnumber(result_.get(), name); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  const char* value(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  int length(int row, int column) const { return PQgetlength(result_.get(), row, column); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// Session settings applied right after connecting.
struct SessionSettings {
  int statement_timeout_ms = 5000;
  int lock_timeout_ms = 1000;
  // Off for pgBouncer's admin console, which takes SET as a change of its
  // own configuration and knows none of these settings.
  bool configure_session = true;
};

// One long-lived connection to one database. Connecting and querying never
// block past the caller's deadline: libpq is driven in non-blocking mode and
// the socket is polled. A query that runs out of time drops the connection
// rather than sending a cancel request, because PQcancel itself blocks on a
// frozen server; the server's statement_timeout ends the orphaned query.
class PgConnection {
 public:
  // `keywords`/`values` as from PQconninfoParse; `dbname` overrides the DSN's.
  PgConnection(std::vector<std::pair<std::string, std::string>> params, SessionSettings settings);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects unless already connected (and not closed by the server since).
  // Throws PgError.
  void ensure_connected(const Deadline& deadline);
  bool connected() const;
  int server_version() const;  // server_version_num, after connecting

  // Runs `sql` (may hold several statements; the last result is returned).
  // Throws PgError; on Timeout or a lost connection the connection is closed
  // so that the next call reconnects.
  PgResult query(const std::string& sql, const Deadline& deadline);

  void close();

 private:
  void wait_socket(bool for_write, const Deadline& deadline, const char* what);
  // Whether the server has closed this idle connection (its goodbye and EOF
  // are waiting in the socket); never blocks.
  bool closed_by_server();
  [[noreturn]] void fail_and_close(PgErrorKind kind, const std::string& message);

  std::vector<std::pair<std::string, std::string>> params_;
  SessionSettings settings_;
  PGconn* conn_ = nullptr;
};

// Parses a keyword/value or URI connection string into keyword/value pairs
// (only those set). Throws PgError(Connection) with libpq's reason.
std::vector<std::pair<std::string, std::string>> parse_conninfo(const std::string& dsn);

// Classifies a libpq connection failure message.
PgErrorKind classify_connection_error(const std::string& message);

}  // namespace pgscope
