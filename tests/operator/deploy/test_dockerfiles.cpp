// The exporter and operator images: Debian bookworm slim in both stages, the
// binary built in Release and run as a non-root user, build packages from
// scripts/setup, and a runtime stage with exactly the library packages the
// built binary links (checked against the binary itself when it is built).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "deploy_files.hpp"
#include "dockerfile.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_deploy_test_dockerfiles {

namespace dt = pgscope::deploytest;
using nlohmann::json;

namespace {

struct Image {
  std::string binary;
  std::filesystem::path dockerfile;
  std::string built_binary;  // path of the binary in the build tree, "" when not configured
};

std::vector<Image> images() {
  std::vector<Image> result{
      {"pgscope-exporter", dt::source_dir() / "exporter" / "Dockerfile", PGSCOPE_EXPORTER_BINARY},
      {"pgscope-operator", dt::source_dir() / "operator" / "Dockerfile", ""}};
#ifdef PGSCOPE_OPERATOR_BINARY
  result[1].built_binary = PGSCOPE_OPERATOR_BINARY;
#endif
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> result;
  for (std::string word; stream >> word;) result.push_back(word);
  return result;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The other spelling of a library path under merged /usr: dpkg records each
// file under the path its package installed it to, /lib or /usr/lib.
std::string merged_usr_alias(const std::string& path) {
  if (path.rfind("/lib/", 0) == 0) return "/usr" + path;
  if (path.rfind("/usr/lib/", 0) == 0) return path.substr(4);
  return path;
}

// soname -> Debian package, for the libraries the binary names itself
// (readelf NEEDED; what those need in turn comes with their packages).
std::map<std::string, std::string> linked_packages(const std::string& binary) {
  int status = 0;
  const auto dynamic = dt::run_command("readelf -d '" + binary + "'", &status);
  REQUIRE(status == 0);
  const auto resolved = dt::run_command("ldd '" + binary + "'", &status);
  REQUIRE(status == 0);
  std::map<std::string, std::vector<std::string>> candidates;  // soname -> paths to ask dpkg about
  std::string query = "dpkg-query -S";
  std::istringstream lines(dynamic);
  for (std::string line; std::getline(lines, line);) {
    if (!contains(line, "(NEEDED)")) continue;
    const auto open = line.find('[');
    const auto soname = line.substr(open + 1, line.find(']') - open - 1);
    const auto at = resolved.find(soname + " => ");
    INFO(soname << " is not resolved by ldd:\n" << resolved);
    REQUIRE(at != std::string::npos);
    const auto start = at + soname.size() + 4;
    const auto path = resolved.substr(start, resolved.find(' ', start) - start);
    auto& paths = candidates[soname];
    paths = {path, merged_usr_alias(path)};
    std::error_code error;
    const auto real = std::filesystem::canonical(path, error).string();
    if (!error) paths.insert(paths.end(), {real, merged_usr_alias(real)});
    for (const auto& candidate : paths) query += " '" + candidate + "'";
  }
  // One dpkg call for all: it prints "package[:arch]: path" for each path it
  // knows (and fails for the aliases it does not).
  const auto owners = dt::run_command(query + " 2>/dev/null", &status);
  std::map<std::string, std::string> package_of_path;
  std::istringstream owner_lines(owners);
  for (std::string line; std::getline(owner_lines, line);) {
    const auto separator = line.find(": ");
    if (separator == std::string::npos) continue;
    package_of_path[line.substr(separator + 2)] = line.substr(0, line.find_first_of(":,"));
  }
  std::map<std::string, std::string> packages;
  for (const auto& [soname, paths] : candidates) {
    for (const auto& path : paths) {
      if (package_of_path.count(path) != 0) {
        packages[soname] = package_of_path[path];
        break;
      }
    }
    INFO(soname << " belongs to no Debian package:\n" << owners);
    CHECK(packages.count(soname) == 1);
  }
  return packages;
}

}  // namespace

TEST_CASE("both images are built and run on Debian bookworm slim", "[deploy][docker]") {
  for (const auto& image : images()) {
    INFO(image.dockerfile.string());
    const auto stages = dt::read_dockerfile(image.dockerfile);
    REQUIRE(stages.size() == 2);
    CHECK(!stages[0].name.empty());
    for (const auto& stage : stages) CHECK(stage.base_image == "debian:bookworm-slim");
  }
}

TEST_CASE("each image runs the binary its build stage built, as a non-root user", "[deploy][docker]") {
  for (const auto& image : images()) {
    INFO(image.dockerfile.string());
    const auto stages = dt::read_dockerfile(image.dockerfile);
    REQUIRE(stages.size() == 2);
    const auto& build = stages[0];
    const auto& runtime = stages[1];

    bool builds_target = false;
    for (const auto& run : build.all("RUN")) {
      if (contains(run.arguments, "--target " + image.binary) &&
          contains(run.arguments, "-DCMAKE_BUILD_TYPE=Release")) {
        builds_target = true;
      }
    }
    CHECK(builds_target);

    const auto entrypoints = runtime.all("ENTRYPOINT");
    REQUIRE(entrypoints.size() == 1);
    const auto installed = "/usr/local/bin/" + image.binary;
    CHECK(dt::exec_form(entrypoints[0]) == std::vector<std::string>{installed});
    bool copied = false;
    for (const auto& copy : runtime.all("COPY")) {
      const auto parts = words(copy.arguments);
      if (parts.size() == 3 && parts[0] == "--from=" + build.name && parts[2] == installed &&
          ends_with(parts[1], "/build/bin/" + image.binary)) {
        copied = true;
      }
    }
    CHECK(copied);

    const auto users = runtime.all("USER");
    REQUIRE(!users.empty());
    const auto user = users.back().arguments;
    INFO("USER " << user);
    CHECK(user == "65532:65532");
    CHECK(user.find_first_not_of("0123456789:") == std::string::npos);  // numeric: runAsNonRoot can verify it
  }
}

TEST_CASE("the images expose and run what the manifests expect", "[deploy][docker]") {
  const auto exporter = dt::read_dockerfile(dt::source_dir() / "exporter" / "Dockerfile").back();
  REQUIRE(exporter.all("EXPOSE").size() == 1);
  CHECK(exporter.all("EXPOSE")[0].arguments == "9187");

  const auto operator_image = dt::read_dockerfile(dt::source_dir() / "operator" / "Dockerfile").back();
  REQUIRE(operator_image.all("CMD").size() == 1);
  CHECK(dt::exec_form(operator_image.all("CMD")[0]) == std::vector<std::string>{"run"});
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& pod = dt::find_only_object(base, "Deployment")["spec"]["template"]["spec"];
  REQUIRE(operator_image.all("EXPOSE").size() == 1);
  CHECK(operator_image.all("EXPOSE")[0].arguments ==
        std::to_string(pod["containers"][0]["ports"][0]["containerPort"].get<int>()));
  const auto uid = pod["securityContext"]["runAsUser"].get<int>();
  const auto gid = pod["securityContext"]["runAsGroup"].get<int>();
  CHECK(operator_image.all("USER").back().arguments == std::to_string(uid) + ":" + std::to_string(gid));
}

TEST_CASE("the build stages install what scripts/setup installs, the runtime stages no build tools",
          "[deploy][docker]") {
  const auto setup = dt::setup_packages(dt::source_dir() / "scripts" / "setup");
  REQUIRE(setup.count("cmake") == 1);
  for (const auto& image : images()) {
    INFO(image.dockerfile.string());
    const auto stages = dt::read_dockerfile(image.dockerfile);
    REQUIRE(stages.size() == 2);
    const auto build_packages = stages[0].apt_packages();
    CHECK(build_packages.size() >= 3);
    for (const auto& package : build_packages) {
      INFO("build stage installs " << package);
      CHECK(setup.count(package) == 1);
    }
    const auto runtime_packages = stages[1].apt_packages();
    CHECK(!runtime_packages.empty());
    for (const auto& package : runtime_packages) {
      INFO("runtime stage installs " << package);
      CHECK_FALSE(ends_with(package, "-dev"));
      // Libraries only: setup's other names are tools, servers and compilers.
      CHECK((setup.count(package) == 0 || package == "ca-certificates"));
    }
    for (const auto& stage : stages) {
      for (const auto& run : stage.all("RUN")) {
        if (contains(run.arguments, "apt-get install")) {
          CHECK(contains(run.arguments, "--no-install-recommends"));
          CHECK(contains(run.arguments, "rm -rf /var/lib/apt/lists"));
        }
      }
    }
  }
}

TEST_CASE("the runtime stage installs the package of every library the binary links, and no other",
          "[deploy][docker]") {
  int status = 0;
  dt::run_command("command -v dpkg-query readelf ldd >/dev/null 2>&1", &status);
  if (status != 0) {
    WARN("dpkg-query, readelf or ldd missing: cannot check the images' libraries on this machine");
    return;
  }
  size_t checked = 0;
  for (const auto& image : images()) {
    if (image.built_binary.empty() || !std::filesystem::exists(image.built_binary)) {
      WARN(image.binary << " is not built here: its image's libraries are not checked");
      continue;
    }
    const auto linked = linked_packages(image.built_binary);
    // The images build without sanitizers; a sanitized build (scripts/sanitize)
    // links the sanitizer runtimes and keeps libraries --as-needed drops.
    bool sanitized = false;
    for (const auto& entry : linked) {
      if (entry.first.rfind("libasan", 0) == 0 || entry.first.rfind("libubsan", 0) == 0) sanitized = true;
    }
    if (sanitized) {
      WARN(image.built_binary
           << " is a sanitized build: its image's libraries are checked in the normal build");
      ++checked;
      continue;
    }
    ++checked;
    INFO(image.dockerfile.string() << " and " << image.built_binary);
    const auto runtime = dt::read_dockerfile(image.dockerfile).back().apt_packages();
    const std::set<std::string> installed(runtime.begin(), runtime.end());
    std::set<std::string> needed;
    for (const auto& [soname, package] : linked) {
      if (package == "libc6") continue;  // the base image's C library
      needed.insert(package);
      INFO(soname << " comes with " << package);
      CHECK(installed.count(package) == 1);
    }
    for (const auto& package : installed) {
      if (package == "ca-certificates") continue;
      INFO("the image installs " << package << ", which provides no library the binary links");
      CHECK(needed.count(package) == 1);
    }
  }
  CHECK(checked >= 1);  // the exporter is always built before this test
}

TEST_CASE("the build context leaves out build trees and history", "[deploy][docker]") {
  std::ifstream input(dt::source_dir() / ".dockerignore");
  REQUIRE(input);
  std::set<std::string> patterns;
  for (std::string line; std::getline(input, line);) {
    if (line.empty() || line[0] == '#') continue;
    while (!line.empty() && line.back() == '/') line.pop_back();
    patterns.insert(line);
  }
  CHECK(patterns.count("build*") == 1);  // build, build-asan, build-deploy, ...
  CHECK(patterns.count(".git") == 1);
  // Nothing the CMake configure step reads may be left out.
  for (const auto& needed : {"CMakeLists.txt", "exporter", "collectors", "operator", "tests", "mixins",
                             "alerts", "dashboards", "scripts"}) {
    CHECK(patterns.count(needed) == 0);
  }
}

}  // namespace unity_file_deploy_test_dockerfiles
