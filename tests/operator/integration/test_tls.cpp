// HTTPS with the cluster's CA, and a bearer token read from a file that is
// rotated while the operator runs (as the kubelet rotates projected
// service-account tokens): the old token revoked, the operator keeps working.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "e2e_checks.hpp"
#include "e2e_environment.hpp"

namespace pgscope::e2e {
namespace {

// Replaces the file in one step, as the kubelet's symlink swap does.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string staged = path + ".new";
  std::ofstream(staged) << text;
  REQUIRE(std::rename(staged.c_str(), path.c_str()) == 0);
}

}  // namespace

TEST_CASE("over TLS with a rotating token file: the operator keeps working after the old token is revoked",
          "[tls]") {
  E2E_REQUIRE_REFERENCE_FILES();
  EnvironmentOptions options;
  options.tls = true;
  E2eEnvironment env(options);
  REQUIRE(env.api().url().rfind("https://", 0) == 0);
  const std::string user = "pgscope-operator-sa";
  const std::string token_file = env.dir().file("token");
  env.add_operator_user(user, token_file);
  auto op = env.start_operator({}, user);
  const auto dump = env.dumper({op.get()});
  const std::string ns = "tls";

  env.create_cluster("minimal-postgres-manifest.yaml", ns, "acid-before");
  const double first = await(
      "the first cluster's objects over TLS",
      [&] { return env.all_present(cluster_objects(ns, "acid-before", {})); }, std::chrono::seconds(30),
      dump);
  std::cout << "[tls] first cluster converged over TLS in " << first << " s" << std::endl;

  const std::string old_token = env.token(user);
  const std::string new_token = env.api().rotate_token(user);
  write_atomically(token_file, new_token + "\n");
  env.api().revoke_token(old_token);
  const auto rotated_at = Clock::now();
  env.create_cluster("minimal-postgres-manifest.yaml", ns, "acid-after");
  // A watch that was open keeps its stream; what follows must use the new token.
  env.api().drop_watches();
  await(
      "the second cluster's objects with the rotated token",
      [&] { return env.all_present(cluster_objects(ns, "acid-after", {})); }, std::chrono::seconds(60), dump);
  std::cout << "[tls] second cluster converged " << seconds_since(rotated_at) << " s after the token rotation"
            << std::endl;
  std::size_t unauthorized = 0;
  for (const auto& request : env.api().requests()) {
    if (request.status == 401) ++unauthorized;
  }
  std::cout << "[tls] requests refused with 401 after the rotation: " << unauthorized << std::endl;
  CHECK(op->running());

  // Still working later: the operator did not keep the revoked token anywhere.
  env.patch_cluster(ns, "acid-after", {{"spec", {{"enableConnectionPooler", true}}}});
  await(
      "the pooler's monitoring after the rotation",
      [&] {
        return env.all_present(cluster_objects(ns, "acid-after", {false, true, true, false}));
      },
      std::chrono::seconds(30), dump);
  CHECK(matches_render(env) == "");
}

}  // namespace pgscope::e2e
