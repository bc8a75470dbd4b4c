// What the operator gives the exporter (sidecar env, the global sidecar's
// args, the pooler exporter's env and config file) read by the exporter's own
// option and config parsers, as the container would start.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "exporter/config_sections.hpp"
#include "exporter/options.hpp"
#include "fixtures.hpp"
#include "operator/cluster/desired.hpp"
#include "operator/cluster/sidecar.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_exporter_compat {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

// A container's env as the kubelet would set it: secretKeyRef values from
// `secrets` ("name/key" -> value), $(VAR) expanded from earlier variables.
pgscope::Environment container_env(const json& env, const std::map<std::string, std::string>& secrets,
                                   pgscope::Environment given = {}) {
  for (const auto& variable : env) {
    std::string value;
    if (variable.contains("valueFrom")) {
      const auto& ref = variable["valueFrom"]["secretKeyRef"];
      value = secrets.at(ref["name"].get<std::string>() + "/" + ref["key"].get<std::string>());
    } else {
      value = variable["value"].get<std::string>();
      std::smatch match;
      while (std::regex_search(value, match, std::regex(R"(\$\(([A-Z_]+)\))"))) {
        value.replace(match.position(), match.length(), given.at(match[1].str()));
      }
    }
    given[variable["name"].get<std::string>()] = value;
  }
  return given;
}

pgscope::Options exporter_options(const std::vector<std::string>& args, const pgscope::Environment& env) {
  std::vector<const char*> argv{"pgscope-exporter"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return pgscope::parse_options(static_cast<int>(argv.size()), argv.data(), env);
}

}  // namespace

TEST_CASE("exporter: the injected sidecar's environment") {
  ClusterInfo cluster;
  cluster.name = "acid-test-cluster";
  cluster.ns = "db";
  const auto sidecar = exporter_sidecar(cluster, parse_settings({}, {}));
  const auto secret = "postgres.acid-test-cluster.credentials.postgresql.acid.zalan.do";
  const auto env = container_env(sidecar["env"], {{std::string(secret) + "/username", "postgres"},
                                                  {std::string(secret) + "/password", "s3cret"}});
  const auto options = exporter_options({}, env);
  CHECK(options.listen_address == ":9187");
  CHECK(options.patroni_url == "http://localhost:8008");
  CHECK_THAT(options.postgres.dsn,
             Catch::Contains("host='localhost'") && Catch::Contains("dbname='postgres'") &&
                 Catch::Contains("user='postgres'") && Catch::Contains("password='s3cret'") &&
                 Catch::Contains("sslmode='disable'"));
  CHECK(options.warnings.empty());
}

TEST_CASE("exporter: the global sidecar's args and Zalando's variables") {
  const auto global = global_sidecar_configuration(parse_settings({}, {}));
  const auto& container = global["operatorConfiguration"]["configuration"]["sidecars"][0];
  // Zalando sets these before the sidecar's own variables.
  const auto env =
      container_env(container["env"], {}, {{"POSTGRES_USER", "postgres"}, {"POSTGRES_PASSWORD", "pw"}});
  const auto options = exporter_options(container["args"].get<std::vector<std::string>>(), env);
  CHECK(options.listen_address == ":9187");
  CHECK(options.patroni_url == "http://localhost:8008");
  CHECK_THAT(options.postgres.dsn,
             Catch::Contains("host='localhost'") && Catch::Contains("user='postgres'") &&
                 Catch::Contains("password='pw'") && Catch::Contains("sslmode='disable'"));
}

TEST_CASE("exporter: the pooler exporter's environment and config file") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  auto object = *manifest;
  object["spec"]["enableReplicaConnectionPooler"] = true;
  const auto settings = parse_settings({}, {});
  const auto objects = desired_objects(read_cluster(object, settings), settings, {});
  const auto* config_map = find_object(objects, "ConfigMap", "acid-test-cluster-pgscope-pooler");
  const auto* deployment = find_object(objects, "Deployment", "acid-test-cluster-pgscope-pooler");
  REQUIRE(config_map != nullptr);
  REQUIRE(deployment != nullptr);

  // The mounted files, moved to a temporary directory.
  const auto dir =
      std::filesystem::temp_directory_path() / ("pgscope-op-cluster-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string config = config_map->at("data").at("config.yaml").get<std::string>();
  config =
      std::regex_replace(config, std::regex("/etc/pgscope/pooler/password"), (dir / "password").string());
  std::ofstream(dir / "config.yaml") << config;
  std::ofstream(dir / "password") << "pooler-secret\n";

  const auto& container = deployment->at("spec").at("template").at("spec").at("containers")[0];
  auto env = container_env(container["env"], {});
  CHECK(env.at("PG_EXPORTER_CONFIG_FILE") == "/etc/pgscope/config/config.yaml");
  env["PG_EXPORTER_CONFIG_FILE"] = (dir / "config.yaml").string();
  const auto options = exporter_options({}, env);
  CHECK(options.listen_address == ":9187");
  CHECK(options.postgres.dsn.empty());  // /probe only
  const auto modules = pgscope::load_auth_modules(options.config_file);
  std::filesystem::remove_all(dir);
  REQUIRE(modules.count("pooler") == 1);
  const auto& module = modules.at("pooler");
  CHECK(module.username == "pooler");
  CHECK(module.password == "pooler-secret");
  CHECK(module.options == std::vector<std::pair<std::string, std::string>>{{"sslmode", "require"}});
}

}  // namespace unity_file_cluster_test_exporter_compat
