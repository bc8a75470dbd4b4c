// The dashboards the operator publishes are the committed ones
// (mixins/generated/dashboards), with the operator's cluster label.
#include <catch2/catch.hpp>
#include <filesystem>

#include "mixin_test_support.hpp"
#include "operator/mixin/embedded_sources.hpp"
#include "support/promql_names.hpp"

namespace pgscope::test {
namespace {

std::map<std::string, std::string> committed_dashboards() {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("mixins/generated/dashboards"))) {
    files[entry.path().filename().string()] = read_text(entry.path().string());
  }
  return files;
}

// What a panel is, without its queries: where it is and what it shows.
nlohmann::json panel_shape(const nlohmann::json& panel) {
  return {{"id", panel.at("id")},
          {"type", panel.at("type")},
          {"title", panel.at("title")},
          {"gridPos", panel.at("gridPos")},
          {"targets", panel.value("targets", nlohmann::json::array()).size()}};
}

std::vector<std::string> panel_exprs(const nlohmann::json& dashboard) {
  std::vector<std::string> exprs;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      exprs.push_back(target.at("expr").get<std::string>());
    }
  }
  return exprs;
}

}  // namespace

TEST_CASE("with the mixin's own cluster label the dashboards are the committed files, byte for byte",
          "[mixin][dashboards]") {
  const auto& dashboards = shared_mixin("cluster_name").dashboards();
  const auto committed = committed_dashboards();
  REQUIRE(dashboards.size() == committed.size());
  for (const auto& [name, text] : committed) {
    INFO(name);
    REQUIRE(dashboards.count(name) == 1);
    CHECK(dashboards.at(name) == text);
  }
}

TEST_CASE("with the operator's cluster label the dashboards have the same panels", "[mixin][dashboards]") {
  const auto& mixin = shared_mixin();
  const auto& dashboards = mixin.dashboards();
  CHECK(&dashboards == &mixin.dashboards());  // evaluated once
  const auto committed = committed_dashboards();
  REQUIRE(dashboards.size() == committed.size());
  for (const auto& [name, text] : committed) {
    INFO(name);
    REQUIRE(dashboards.count(name) == 1);
    const auto ours = nlohmann::json::parse(dashboards.at(name));
    const auto theirs = nlohmann::json::parse(text);
    CHECK(ours.at("uid") == theirs.at("uid"));
    CHECK(ours.at("title") == theirs.at("title"));
    REQUIRE(ours.at("panels").size() == theirs.at("panels").size());
    for (std::size_t i = 0; i < theirs.at("panels").size(); ++i) {
      CHECK(panel_shape(ours.at("panels")[i]) == panel_shape(theirs.at("panels")[i]));
    }
    const auto our_exprs = panel_exprs(ours);
    const auto their_exprs = panel_exprs(theirs);
    REQUIRE(our_exprs.size() == their_exprs.size());
    for (std::size_t i = 0; i < their_exprs.size(); ++i) {
      INFO(their_exprs[i]);
      CHECK(promql_metric_names(our_exprs[i]) == promql_metric_names(their_exprs[i]));
    }
    // The cluster variable lists the operator's label.
    bool cluster_variable = false;
    for (const auto& variable : ours.at("templating").at("list")) {
      if (variable.at("name") != "cluster") continue;
      cluster_variable = true;
      std::string selector, label;
      REQUIRE(parse_label_values(variable.at("query").get<std::string>(), &selector, &label));
      CHECK(label == "cluster");
    }
    CHECK(cluster_variable);
    CHECK(dashboards.at(name).find("cluster_name") == std::string::npos);
    // ConfigMaps hold 1 MiB; one dashboard per ConfigMap fits with room to spare.
    CHECK(dashboards.at(name).size() < 512 * 1024);
  }
}

TEST_CASE("the embedded mixin sources are the files of the source tree", "[mixin][dashboards]") {
  // A stale build would carry an older mixin than the tree it was built from.
  std::set<std::string> on_disk;
  for (const auto* dir : {"mixins", "alerts", "dashboards"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path(dir))) {
      const auto extension = entry.path().extension().string();
      if (entry.is_regular_file() && (extension == ".libsonnet" || extension == ".jsonnet")) {
        on_disk.insert(std::filesystem::relative(entry.path(), source_path("")).generic_string());
      }
    }
  }
  const auto& embedded = op::embedded_mixin_sources();
  std::set<std::string> names;
  for (const auto& [name, text] : embedded) {
    names.insert(name);
    INFO(name);
    CHECK(std::string(text) == read_text(source_path(name)));
  }
  CHECK(names == on_disk);
}

}  // namespace pgscope::test
