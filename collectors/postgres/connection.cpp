#include "postgres/connection.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace pgscope {
namespace {

std::string trim_message(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

}  // namespace

const char* to_string(PgErrorKind kind) {
  switch (kind) {
    case PgErrorKind::Connection:
      return "connection";
    case PgErrorKind::Authentication:
      return "authentication";
    case PgErrorKind::Timeout:
      return "timeout";
    case PgErrorKind::Query:
      return "query";
  }
  return "unknown";
}

PgErrorKind classify_connection_error(const std::string& message) {
  static const char* const auth_markers[] = {
      "authentication failed",  "pg_hba.conf", "password", "role \"", "permission denied",
      "not permitted to log in"};
  for (const char* marker : auth_markers) {
    if (message.find(marker) != std::string::npos) return PgErrorKind::Authentication;
  }
  return PgErrorKind::Connection;
}

std::vector<std::pair<std::string, std::string>> parse_conninfo(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string reason = error != nullptr ? trim_message(error) : "out of memory";
    PQfreemem(error);
    throw PgError(PgErrorKind::Connection, "invalid connection string: " + reason);
  }
  std::vector<std::pair<std::string, std::string>> params;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) params.emplace_back(option->keyword, option->val);
  }
  PQconninfoFree(options);
  return params;
}

PgConnection::PgConnection(std::vector<std::pair<std::string, std::string>> params, SessionSettings settings)
    : params_(std::move(params)), settings_(settings) {}

PgConnection::~PgConnection() { close(); }

void PgConnection::close() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

bool PgConnection::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

int PgConnection::server_version() const { return conn_ != nullptr ? PQserverVersion(conn_) : 0; }

void PgConnection::fail_and_close(PgErrorKind kind, const std::string& message) {
  close();
  throw PgError(kind, message);
}

void PgConnection::wait_socket(bool for_write, const Deadline& deadline, const char* what) {
  pollfd fd{};
  fd.fd = PQsocket(conn_);
  fd.events = for_write ? POLLOUT : POLLIN;
  for (;;) {
    auto left = deadline.remaining().count();
    if (left <= 0) fail_and_close(PgErrorKind::Timeout, std::string("timed out while ") + what);
    int ready = ::poll(&fd, 1, static_cast<int>(left));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) {
      fail_and_close(PgErrorKind::Connection, std::string("poll failed: ") + std::strerror(errno));
    }
  }
}

bool PgConnection::closed_by_server() {
  // Reads only what is already waiting (poll with no timeout): a live idle
  // connection has nothing, a frozen server sends nothing, so this never
  // blocks. A server that ended the session left its FATAL message and EOF
  // here; the second read sees the EOF and libpq marks the connection bad.
  for (int reads = 0; reads < 4 && PQstatus(conn_) == CONNECTION_OK; ++reads) {
    pollfd fd{};
    fd.fd = PQsocket(conn_);
    fd.events = POLLIN;
    if (::poll(&fd, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) break;
  }
  return PQstatus(conn_) != CONNECTION_OK;
}

void PgConnection::ensure_connected(const Deadline& deadline) {
  // A connection kept from an earlier scrape may have been ended by the
  // server while idle (a restart, a Patroni demotion, pg_terminate_backend,
  // idle_session_timeout). Dial again now rather than fail this scrape's
  // first query on it and report a server that is up as down.
  if (connected() && !closed_by_server()) return;
  close();
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : params_) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keywords.data(), values.data(), 0);
  if (conn_ == nullptr) throw PgError(PgErrorKind::Connection, "out of memory starting a connection");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::string message = trim_message(PQerrorMessage(conn_));
    fail_and_close(classify_connection_error(message), message);
  }
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) {
      std::string message = trim_message(PQerrorMessage(conn_));
      fail_and_close(classify_connection_error(message), message);
    }
    wait_socket(state == PGRES_POLLING_WRITING, deadline, "connecting");
    state = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    fail_and_close(PgErrorKind::Connection, trim_message(PQerrorMessage(conn_)));
  }
  if (!settings_.configure_session) return;
  // Read-only and bounded: the exporter must never hold locks or run long,
  // and client_connection_check_interval (14+) ends our queries when we drop
  // a connection after a deadline.
  std::string setup = "SET statement_timeout = " + std::to_string(settings_.statement_timeout_ms) +
                      "; SET lock_timeout = " + std::to_string(settings_.lock_timeout_ms) +
                      "; SET default_transaction_read_only = on; SET idle_in_transaction_session_timeout = " +
                      std::to_string(settings_.statement_timeout_ms * 2) + ";";
  if (PQserverVersion(conn_) >= 140000) setup += " SET client_connection_check_interval = 1000;";
  try {
    query(setup, deadline);
  } catch (const PgError&) {
    // A session without its limits must not be used: the next call dials again.
    close();
    throw;
  }
}

PgResult PgConnection::query(const std::string& sql, const Deadline& deadline) {
  if (!connected()) throw PgError(PgErrorKind::Connection, "not connected");
  if (PQsendQuery(conn_, sql.c_str()) == 0) {
    fail_and_close(PgErrorKind::Connection, trim_message(PQerrorMessage(conn_)));
  }
  // Flush the query out; in non-blocking mode PQflush may need several rounds.
  for (;;) {
    int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) fail_and_close(PgErrorKind::Connection, trim_message(PQerrorMessage(conn_)));
    wait_socket(true, deadline, "sending a query");
  }
  PGresult* last = nullptr;
  std::string error;
  std::string sqlstate;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      wait_socket(false, deadline, "waiting for a query result");
      if (PQconsumeInput(conn_) == 0) {
        if (last != nullptr) PQclear(last);
        fail_and_close(PgErrorKind::Connection, trim_message(PQerrorMessage(conn_)));
      }
    }
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) break;
    auto status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR && error.empty()) {
      error = trim_message(PQresultErrorMessage(result));
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      if (state != nullptr) sqlstate = state;
    }
    if (last != nullptr) PQclear(last);
    last = result;
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (last != nullptr) PQclear(last);
    fail_and_close(PgErrorKind::Connection, error.empty() ? trim_message(PQerrorMessage(conn_)) : error);
  }
  if (!error.empty()) {
    if (last != nullptr) PQclear(last);
    // 57014: query_canceled, which statement_timeout raises.
    throw PgError(sqlstate == "57014" ? PgErrorKind::Timeout : PgErrorKind::Query, error, sqlstate);
  }
  if (last == nullptr) throw PgError(PgErrorKind::Query, "query returned no result");
  return PgResult(last);
}

}  // namespace pgscope
