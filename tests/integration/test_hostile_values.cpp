// Names and text from the database that try to break the exposition: quotes,
// backslashes and line feeds in database, role, schema, table and
// application names, a statement text of many kilobytes, bytes that are not
// UTF-8 from a SQL_ASCII database, and a metric name from data that is not a
// metric name. Every scrape must pass `promtool check metrics`, and every
// label must read back as what the server has (escaped and unescaped
// faithfully), repaired to U+FFFD or cut visibly (exporter/exposition.hpp).
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "exporter/exposition.hpp"
#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";  // U+FFFD
const std::string kMarker = pgscope::kTruncationMarker;

// One scrape that answers 200, passes promtool (no parse error), is valid
// UTF-8 as a whole, and parses.
Exposition checked_scrape(const ExporterProcess& exporter) {
  const auto result = exporter.scrape();
  INFO("error: " << result.error << "\nexporter log:\n" << exporter.log_tail());
  REQUIRE(result.status == 200);
  const auto promtool = promtool_check(result.body);
  INFO("promtool:\n" << promtool.output);
  CHECK_FALSE(promtool.parse_error());
  CHECK(pgscope::is_valid_utf8(result.body));
  try {
    return parse_prom_text(result.body);
  } catch (const std::exception& e) {
    FAIL("the exposition does not parse: " << e.what());
  }
  return {};
}

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
  return path;
}

// Statements whose text has the marker, as pg_stat_statements has them, and
// each one's calls: read in `db` (its text is converted to that database's
// encoding, so a SQL_ASCII database shows the bytes as they came).
const char* const kStatementsQuery =
    "SELECT query, sum(calls) AS calls FROM pg_stat_statements "
    "WHERE query LIKE '%hostile' || '_marker%' GROUP BY query";

std::string statements_entry(const std::string& target_database) {
  std::string entry = "hostile_statements:\n";
  if (!target_database.empty()) entry += "  target_databases: [" + target_database + "]\n";
  entry += "  query: \"" + std::string(kStatementsQuery) +
           "\"\n"
           "  metrics:\n"
           "    - query: {usage: LABEL, description: Statement text}\n"
           "    - calls: {usage: COUNTER, description: Times the statement ran}\n";
  return entry;
}

void require_all_queries_succeeded(const Exposition& metrics) {
  const auto queries = metrics.find("pgscope_exporter_query_success");
  REQUIRE_FALSE(queries.empty());
  for (const auto* sample : queries) {
    INFO("query " << sample->label("query"));
    CHECK(sample->value == 1.0);
  }
}

// The statement of `statements` that starts with `prefix`, as the server has it.
std::string statement_starting(const Rows& statements, const std::string& prefix) {
  for (const auto& row : statements) {
    if (row[0] && row[0]->compare(0, prefix.size(), prefix) == 0) return *row[0];
  }
  std::string all;
  for (const auto& row : statements) all += (row[0] ? row[0]->substr(0, 60) : "NULL") + "\n";
  FAIL("no statement starts with " << prefix << " in:\n" << all);
  return "";
}

}  // namespace

TEST_CASE("hostile names and a long statement read back exactly, or cut visibly", "[integration]") {
  TestPostgres pg;
  // PostgreSQL keeps at most 63 bytes of a name; these fit, multi-byte
  // characters included. Replication slot names may only have [a-z0-9_]: a
  // logical slot carries the hostile database name instead.
  const std::string db = "ho\"st\\ile\ndb ✓";
  const std::string role = "ro\"le\\x\nrolé";
  const std::string schema = "sch\"ema\\\n";
  const std::string table = "ta\"ble\\\nname €";
  pg.exec("CREATE DATABASE " + sql_identifier(db));
  pg.exec("CREATE ROLE " + sql_identifier(role) + " LOGIN");
  pg.exec("CREATE EXTENSION pg_stat_statements");
  pg.exec("CREATE SCHEMA " + sql_identifier(schema) + "; CREATE TABLE " + sql_identifier(schema) + "." +
              sql_identifier(table) + " (id int); INSERT INTO " + sql_identifier(schema) + "." +
              sql_identifier(table) + " SELECT generate_series(1, 100); ANALYZE",
          db);
  pg.exec("SELECT pg_create_logical_replication_slot('hostile_slot', 'test_decoding')", db);
  pg.exec("SET ROLE " + sql_identifier(role) + "; SELECT 1 AS role_statement", db);

  // A short statement with every character that needs escaping, and one of
  // 6 kB whose cut at 1024 bytes falls among multi-byte characters.
  const std::string short_statement = "SELECT 2 AS hostile_marker_short /* say \"hi\" \\ back\nslash */";
  std::string filler;
  while (filler.size() < 6000) filler += "\"q\" \\ é€✓\n";
  // (Two columns: pg_stat_statements keys statements by their structure,
  // aliases and comments aside, so it would count this as the short one.)
  const std::string long_statement = "SELECT 3 AS hostile_marker_long, 4 AS two /* " + filler + " */";
  pg.exec(short_statement);
  pg.exec(long_statement);

  // An idle session with a hostile application_name (the server keeps
  // printable ASCII only, at most 63 bytes: the line feed becomes '?').
  const std::string application = "app \"quoted\" \\back\\slash\nand more";
  std::unique_ptr<PGconn, decltype(&PQfinish)> idle(
      PQconnectdb((pg.dsn() + " application_name=" + conninfo_value(application)).c_str()), &PQfinish);
  REQUIRE(PQstatus(idle.get()) == CONNECTION_OK);
  const std::string application_on_server = pg.query_value(
      "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'app \"quoted\"%'");

  // A metric name from data (dynamic_name, as pg_settings) that is none.
  const std::string queries = write_file(
      pg.dir() + "/hostile_queries.yaml",
      statements_entry("") +
          "hostile_dynamic:\n"
          "  dynamic_name: true\n"
          "  usage: GAUGE\n"
          "  query: |\n"
          "    SELECT * FROM (VALUES ('hostile bad-name\"x', 1::float8, 'Bad.'),\n"
          "                          ('hostile_good_name', 2::float8, E'Help with \\\\ and\\nnewline'))\n"
          "      AS v(name, value, help)\n"
          "  metrics: []\n");

  ExporterProcess exporter({"--postgres.dsn=" + pg.dsn(), "--collector.stat_statements",
                            "--collector.process_idle", "--extend.query-path=" + queries,
                            "--scrape.timeout=10s"});
  const auto metrics = checked_scrape(exporter);
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(metrics.value("pg_up") == 1.0);
  require_all_queries_succeeded(metrics);

  // Names, unescaped, are the server's.
  CHECK(metrics.count("pg_stat_database_xact_commit", {{"datname", db}}) == 1);
  CHECK(metrics.count("pg_database_size_bytes", {{"datname", db}}) == 1);
  CHECK(metrics.value("pg_stat_user_tables_n_live_tup",
                      {{"datname", db}, {"schemaname", schema}, {"relname", table}}) == 100.0);
  CHECK(metrics.count("pg_roles_connection_limit", {{"rolname", role}}) == 1);
  CHECK(metrics.count("pg_replication_slots_active", {{"slot_name", "hostile_slot"}, {"database", db}}) == 1);
  CHECK(metrics.value("pg_stat_statements_calls_total", {{"user", role}, {"datname", db}}).value_or(0) >= 1);
  CHECK(application_on_server.find('\n') == std::string::npos);
  CHECK(metrics.count("pg_process_idle_seconds_count", {{"application_name", application_on_server}}) == 1);

  // Statement texts: the short one whole, the long one cut at a character
  // boundary, marked, and counted.
  const Rows statements = pg.query(kStatementsQuery);
  const std::string short_on_server = statement_starting(statements, "SELECT $1 AS hostile_marker_short");
  const std::string long_on_server =
      statement_starting(statements, "SELECT $1 AS hostile_marker_long, $2 AS two");
  REQUIRE(long_on_server.size() > 6000);
  CHECK(metrics.count("hostile_statements_calls", {{"query", short_on_server}}) == 1);
  std::string cut;
  for (const auto* sample : metrics.find("hostile_statements_calls")) {
    const auto& query = sample->label("query");
    if (query.compare(0, 30, long_on_server, 0, 30) == 0) cut = query;
  }
  REQUIRE_FALSE(cut.empty());
  CHECK(cut.size() <= pgscope::kMaxLabelValueBytes);
  CHECK(cut.size() > pgscope::kMaxLabelValueBytes - 4);  // at most a character less
  REQUIRE(cut.size() > kMarker.size());
  CHECK(cut.compare(cut.size() - kMarker.size(), kMarker.size(), kMarker) == 0);
  const std::string kept = cut.substr(0, cut.size() - kMarker.size());
  CHECK(long_on_server.compare(0, kept.size(), kept) == 0);
  CHECK(pgscope::is_valid_utf8(kept));
  const auto truncated = metrics.value("pgscope_exporter_label_values_truncated_total");
  REQUIRE(truncated.has_value());
  CHECK(*truncated >= 1);

  // The invalid name is left out, counted and logged; the valid one has its
  // help text back as written.
  CHECK(metrics.value("hostile_good_name") == 2.0);
  CHECK(metrics.families.at("hostile_good_name").help == "Help with \\ and\nnewline");
  CHECK(metrics.names_with_prefix("hostile bad").empty());
  CHECK(metrics.value("pgscope_exporter_invalid_names_dropped_total").value_or(0) >= 1);
  CHECK(exporter.log().find("not a valid metric name") != std::string::npos);

  // The counter moves with every exposition that needed a cut.
  const auto again = checked_scrape(exporter);
  CHECK(again.value("pgscope_exporter_label_values_truncated_total").value_or(0) > *truncated);
  CHECK(again.count("hostile_statements_calls", {{"query", cut}}) == 1);
}

namespace {

// A SQL_ASCII database takes any byte in names and text; a table, a schema
// and a statement there carry bytes that are no UTF-8.
TestPostgres& ascii_server() {
  static TestPostgres server;
  static bool prepared = [] {
    server.exec(
        "CREATE DATABASE ascii_db ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    server.exec("CREATE EXTENSION pg_stat_statements");
    server.exec("CREATE EXTENSION pg_stat_statements", "ascii_db");
    server.exec(
        "CREATE SCHEMA \"s\xE2\x9C"
        "x\"; CREATE TABLE \"s\xE2\x9C"
        "x\".\"t\xFF\xFE x\" (id int);"
        "INSERT INTO \"s\xE2\x9C"
        "x\".\"t\xFF\xFE x\" SELECT generate_series(1, 7); ANALYZE",
        "ascii_db");
    server.exec("SELECT 1 AS hostile_marker /* bad \xFF\xFE bytes, half a check mark \xE2\x9C. */",
                "ascii_db");
    return true;
  }();
  (void)prepared;
  return server;
}

}  // namespace

TEST_CASE("bytes that are not UTF-8 become U+FFFD", "[integration]") {
  auto& pg = ascii_server();
  const std::string queries = write_file(pg.dir() + "/ascii_queries.yaml", statements_entry("ascii_db"));
  ExporterProcess exporter(
      {"--postgres.dsn=" + pg.dsn(), "--extend.query-path=" + queries, "--scrape.timeout=10s"});
  const auto metrics = checked_scrape(exporter);
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(metrics.value("pg_up") == 1.0);
  require_all_queries_succeeded(metrics);

  // \xFF and \xFE: one U+FFFD each; \xE2\x9C (a check mark cut short): one.
  CHECK(metrics.value("pg_stat_user_tables_n_live_tup", {{"datname", "ascii_db"},
                                                         {"schemaname", "s" + kFffd + "x"},
                                                         {"relname", "t" + kFffd + kFffd + " x"}}) == 7.0);
  const Rows statements = pg.query(kStatementsQuery, "ascii_db");
  std::string expected = statement_starting(statements, "SELECT $1 AS hostile_marker");
  for (const std::string bad : {"\xFF", "\xFE", "\xE2\x9C"})
    expected.replace(expected.find(bad), bad.size(), kFffd);
  CHECK(metrics.count("hostile_statements_calls", {{"query", expected}}) == 1);
}

// pg_stat_statements converts every statement's text to the encoding of the
// database it is read in, and fails the whole view when one does not
// convert: a statement with bytes that are no UTF-8, run in a SQL_ASCII
// database, makes `SELECT ... FROM pg_stat_statements` fail in every UTF-8
// database ("invalid byte sequence for encoding \"UTF8\": 0xff"). The
// built-in entry does not need the texts, so it reads pg_stat_statements(false)
// (collectors/postgres/catalog/statements.yaml).
TEST_CASE("stat_statements survives a SQL_ASCII database's statements that are no UTF-8", "[integration]") {
  auto& pg = ascii_server();
  ExporterProcess exporter(
      {"--postgres.dsn=" + pg.dsn(), "--collector.stat_statements", "--scrape.timeout=10s"});
  const auto metrics = checked_scrape(exporter);
  INFO("exporter log:\n" << exporter.log_tail());
  CHECK(metrics.value("pg_up") == 1.0);
  CHECK(metrics.value("pgscope_exporter_query_success", {{"query", "pg_stat_statements"}}) == 1.0);
  CHECK(metrics.count("pg_stat_statements_calls_total", {{"datname", "ascii_db"}}) >= 1);
}
