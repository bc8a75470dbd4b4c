#pragma once

#include <string>
#include <utility>
#include <vector>

#include "exporter/options.hpp"

namespace pgscope {

// Resolves the PostgreSQL connection string the way postgres_exporter does:
// --postgres.dsn, else DATA_SOURCE_NAME, else DATA_SOURCE_URI with
// DATA_SOURCE_USER and DATA_SOURCE_PASS (or DATA_SOURCE_PASS_FILE), else
// the variables a Zalando sidecar always gets (POSTGRES_USER,
// POSTGRES_PASSWORD) against localhost. Returns a libpq keyword/value string.
// Throws UsageError (naming the variable, never the password) when a source
// is malformed.
std::string resolve_dsn(const std::string& flag_value, const Environment& env);
// The same, naming `where` (e.g. "PG_EXPORTER_POSTGRES_DSN" or
// "/etc/pgscope.yaml:3:8: postgres.dsn") in errors about `flag_value`.
std::string resolve_dsn(const std::string& flag_value, const Environment& env, const std::string& where);

// The connection string of a /probe target: `target` is postgres_exporter's
// multi-target form ("host:5432/db?sslmode=require"), a postgres:// URI or
// key=value text, and must name a host and carry no password; the auth
// module's user, password and options are applied to it, and `dbname` when
// the target names no database. Throws UsageError saying what is wrong (for
// the prober, so never with a secret).
std::string probe_dsn(const std::string& target, const std::string& user, const std::string& password,
                      const std::vector<std::pair<std::string, std::string>>& options,
                      const std::string& dbname);

// The same connection string with the password replaced by "xxxxx", for logs
// and error messages. Accepts both URI and keyword/value forms.
std::string redact_dsn(const std::string& dsn);

// Removes every occurrence of the DSN's password from a message (libpq errors
// may quote the connection string).
std::string scrub_secret(std::string message, const std::string& dsn);

}  // namespace pgscope
