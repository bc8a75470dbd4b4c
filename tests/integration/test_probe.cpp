// Multi-target mode: /probe?target=...&auth_module=... against two real
// PostgreSQL servers, credentials from the config file only, connections
// pooled per target, closed when idle, and a bounded number of targets.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <vector>

#include "support/exporter_process.hpp"
#include "support/prom_text.hpp"
#include "support/scrape.hpp"
#include "support/temp_dir/temp_dir.hpp"
#include "support/test_postgres.hpp"

using namespace pgscope::test;

namespace {

void allow_prober(TestPostgres& pg, const std::string& only_database) {
  pg.exec("CREATE ROLE prober LOGIN PASSWORD 'prober-secret' IN ROLE pg_monitor");
  pg.exec("CREATE DATABASE " + only_database);
  pg.prepend_hba("host all prober 127.0.0.1/32 scram-sha-256");
  pg.reload();
}

int exporter_connections(const TestPostgres& pg) {
  return std::stoi(
      pg.query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgscope-exporter'"));
}

Exposition probe(const ExporterProcess& exporter, const std::string& query) {
  auto result = exporter.scrape("/probe?" + query);
  INFO("probe " << query << ": " << result.status << " " << result.body.substr(0, 300) << "\nexporter log:\n"
                << exporter.log_tail());
  REQUIRE(result.status == 200);
  return parse_prom_text(result.body);
}

}  // namespace

TEST_CASE("one exporter probes two PostgreSQL servers with credentials from auth_modules", "[integration]") {
  TestPostgres a;
  TestPostgres b;
  allow_prober(a, "only_on_a");
  allow_prober(b, "only_on_b");
  const TempDir dir("pgscope-probe");
  const std::string config = dir.write("config.yaml",
                                       "auth_modules:\n"
                                       "  monitoring:\n"
                                       "    type: userpass\n"
                                       "    userpass:\n"
                                       "      username: prober\n"
                                       "      password: prober-secret\n"
                                       "    options:\n"
                                       "      sslmode: disable\n");
  ExporterProcess exporter({"--config.file=" + config, "--probe.idle-timeout=2s", "--probe.max-targets=2"});
  INFO("exporter log:\n" << exporter.log_tail());
  const std::string target_a = "target=127.0.0.1:" + std::to_string(a.port()) + "/postgres";
  const std::string target_b = "target=127.0.0.1:" + std::to_string(b.port()) + "/postgres";

  auto from_a = probe(exporter, target_a + "&auth_module=monitoring");
  auto from_b = probe(exporter, target_b + "&auth_module=monitoring");
  CHECK(from_a.value("pg_up") == 1.0);
  CHECK(from_b.value("pg_up") == 1.0);
  CHECK(from_a.count("pg_database_size_bytes", {{"datname", "only_on_a"}}) == 1);
  CHECK(from_a.count("pg_database_size_bytes", {{"datname", "only_on_b"}}) == 0);
  CHECK(from_b.count("pg_database_size_bytes", {{"datname", "only_on_b"}}) == 1);
  CHECK(from_b.count("pg_database_size_bytes", {{"datname", "only_on_a"}}) == 0);
  CHECK(from_a.value("pgscope_exporter_collector_success", {{"collector", "postgres"}}) == 1.0);
  // A probe is about its target: the exporter's own process is on /metrics.
  CHECK_FALSE(from_a.has_family("process_resident_memory_bytes"));
  CHECK_FALSE(from_a.has_family("pgscope_exporter_build_info"));
  CHECK(
      promtool_check(exporter.scrape("/probe?" + target_a + "&auth_module=monitoring").body).parse_error() ==
      false);

  SECTION("mistakes in the request are 400 and say what to do") {
    auto no_target = exporter.scrape("/probe");
    CHECK(no_target.status == 400);
    CHECK(no_target.body.find("target is required") != std::string::npos);
    auto unknown = exporter.scrape("/probe?" + target_a + "&auth_module=nope");
    CHECK(unknown.status == 400);
    CHECK(unknown.body.find("auth_module \"nope\"") != std::string::npos);
    auto with_password = exporter.scrape("/probe?target=postgresql://prober:prober-secret@127.0.0.1:" +
                                         std::to_string(a.port()) + "/postgres");
    CHECK(with_password.status == 400);
    CHECK(with_password.body.find("auth module") != std::string::npos);
    CHECK(with_password.body.find("prober-secret") == std::string::npos);
    CHECK(exporter.log().find("prober-secret") == std::string::npos);
  }

  SECTION("without credentials the target is down, with the reason") {
    auto anonymous = probe(exporter, target_a);
    CHECK(anonymous.value("pg_up") == 0.0);
    CHECK(anonymous.count("pgscope_exporter_last_error_info", {{"kind", "authentication"}}) == 1);
  }

  SECTION("probes share one collection and one connection per database") {
    const int databases =
        std::stoi(a.query_value("SELECT count(*) FROM pg_database WHERE datallowconn AND NOT datistemplate"));
    std::vector<std::future<int>> probes;
    for (int i = 0; i < 10; ++i) {
      probes.push_back(std::async(std::launch::async, [&] {
        return exporter.scrape("/probe?" + target_a + "&auth_module=monitoring").status;
      }));
    }
    for (auto& status : probes) CHECK(status.get() == 200);
    CHECK(exporter_connections(a) <= databases);
    CHECK(exporter_connections(a) >= 1);
  }

  SECTION("idle targets are closed, with their connections") {
    CHECK(exporter_connections(a) >= 1);
    CHECK(eventually([&] { return exporter_connections(a) == 0 && exporter_connections(b) == 0; },
                     std::chrono::seconds(8)));
    auto own = scrape_metrics(exporter);
    CHECK(own.value("pgscope_exporter_probe_targets") == 0.0);
    CHECK(own.value("pgscope_exporter_probe_targets_closed_total", {{"reason", "idle"}}) >= 2.0);
    // And a later probe simply reconnects.
    CHECK(probe(exporter, target_a + "&auth_module=monitoring").value("pg_up") == 1.0);
  }

  SECTION("at most --probe.max-targets are held; the least recently probed goes") {
    probe(exporter, target_b + "&auth_module=monitoring");  // a is now the oldest
    const std::string third = "target=localhost:" + std::to_string(b.port()) + "/only_on_b";
    CHECK(probe(exporter, third + "&auth_module=monitoring").value("pg_up") == 1.0);
    auto own = scrape_metrics(exporter);
    CHECK(own.value("pgscope_exporter_probe_targets") == 2.0);
    CHECK(own.value("pgscope_exporter_probe_targets_closed_total", {{"reason", "limit"}}) == 1.0);
    CHECK(eventually([&] { return exporter_connections(a) == 0; }, std::chrono::seconds(5)));
  }
}
