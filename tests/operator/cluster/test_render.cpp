#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "fixtures.hpp"
#include "operator/cluster/render.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_cluster_test_render {

using namespace pgscope::op;
using namespace pgscope::op::testing;

namespace {

json round_trip(const json& value) {
  const auto text = to_yaml({value});
  INFO(text);
  const auto back = read_manifests(text, "round-trip");
  REQUIRE(back.size() == 1);
  return back[0];
}

std::string error_of(const std::string& yaml) {
  try {
    read_manifests(yaml, "in.yaml");
  } catch (const ManifestError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("render: strings YAML would misread come back as strings") {
  const std::vector<std::string> strings = {"",
                                            "true",
                                            "True",
                                            "yes",
                                            "no",
                                            "on",
                                            "Off",
                                            "y",
                                            "N",
                                            "null",
                                            "~",
                                            "123",
                                            "-7",
                                            "+3",
                                            "0x1F",
                                            "0o17",
                                            "0644",
                                            "09",
                                            "1_000",
                                            "1e3",
                                            "1.5",
                                            ".5",
                                            ".inf",
                                            "-.Inf",
                                            ".nan",
                                            "1:30",
                                            "12:00:00",
                                            "-",
                                            "- x",
                                            "--",
                                            "---",
                                            "...",
                                            ": x",
                                            "a: b",
                                            "a:b",
                                            "a:",
                                            "#x",
                                            "a #b",
                                            "a#b",
                                            " lead",
                                            "trail ",
                                            "two  spaces",
                                            "=",
                                            "<<",
                                            "@at",
                                            "`tick",
                                            "{brace",
                                            "[bracket",
                                            "]",
                                            "*star",
                                            "&anchor",
                                            "!bang",
                                            "|pipe",
                                            ">gt",
                                            "%pct",
                                            "'single",
                                            "\"double",
                                            "quote\"inside",
                                            "back\\slash",
                                            "tab\there",
                                            "unicode é ✓",
                                            std::string("nul\0x", 5),
                                            "\x01\x1f\x7f",
                                            "nel\xc2\x85",
                                            "ls\xe2\x80\xa8",
                                            "\xef\xbb\xbf"
                                            "bom",
                                            "ghcr.io/pgscope/pgscope-exporter:0.1.0",
                                            "$(POSTGRES_USER)",
                                            "localhost:5432/postgres?sslmode=disable",
                                            "{username}.{cluster}",
                                            "50m",
                                            "32Mi",
                                            "multi\nline",
                                            "multi\nline\n",
                                            "trailing\n\n\n",
                                            "\n",
                                            "\n\nleading empty",
                                            "  indented\nfirst",
                                            "first\n  indented",
                                            "blank line\n  \nwith spaces",
                                            "crlf\r\nline",
                                            "tab\n\tindent",
                                            "# hash\nline",
                                            "- dash\nline",
                                            "key: value\nline",
                                            "ends with empty line\n\n"};
  for (const auto& text : strings) {
    INFO("string " << json(text).dump());
    const json value{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"data", {{"k", text}, {text.empty() ? "e" : text, "v"}}}};
    CHECK(round_trip(value) == value);
  }
}

TEST_CASE("render: numbers, booleans, null and empty containers round-trip") {
  const json value = json::parse(R"({"a": 0, "b": -12, "c": 9187, "d": 0.1, "e": 1e300, "f": -0.5, "g": true,
      "h": false, "i": null, "j": {}, "k": [], "l": [1, "1", true, "true", null, "null", [], {}, [[1, 2], [3]]],
      "m": 3.0, "n": 18446744073709551615, "o": -9223372036854775808})");
  CHECK(round_trip(value) == value);
  CHECK(round_trip(value)["c"].is_number_integer());
  CHECK(round_trip(value)["m"].is_number_float());
}

TEST_CASE("render: layout and key order") {
  const json object = json::parse(R"({"spec": {"b": 1, "a": [{"port": 1, "name": "x"}, "s"]}, "metadata":
      {"labels": {"z": "1"}, "namespace": "db", "name": "svc"}, "kind": "Service", "apiVersion": "v1", "data": {}})");
  CHECK(to_yaml({object, object}) ==
        "---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: db\n  labels:\n    z: \"1\"\n"
        "data: {}\nspec:\n  a:\n  - name: x\n    port: 1\n  - s\n  b: 1\n"
        "---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: db\n  labels:\n    z: \"1\"\n"
        "data: {}\nspec:\n  a:\n  - name: x\n    port: 1\n  - s\n  b: 1\n");
  CHECK(to_yaml({}).empty());
}

TEST_CASE("render: dashboards as literal blocks that read back exactly") {
  const auto manifest = zalando_manifest("complete-postgres-manifest.yaml");
  if (!manifest) return;
  auto object = *manifest;
  object["spec"]["enableConnectionPooler"] = true;
  object["spec"]["enableReplicaConnectionPooler"] = true;
  const auto settings = parse_settings({"--release=kps"}, {});
  const auto objects = desired_objects(read_cluster(object, settings), settings, generated_mixin());
  const auto text = to_yaml(objects);
  CHECK_THAT(text, Catch::Contains("  pgscope-cluster.json: |\n    {\n"));
  CHECK(read_manifests(text, "render") == objects);

  // yaml-cpp on its own reads the same strings (no help from our scalar rules).
  const auto documents = YAML::LoadAll(text);
  REQUIRE(documents.size() == objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i]["kind"] != "ConfigMap") continue;
    for (const auto& [key, value] : objects[i]["data"].items()) {
      CHECK(documents[i]["data"][key].as<std::string>() == value.get<std::string>());
    }
  }
}

TEST_CASE("render: reading manifests as kubectl does") {
  const auto manifests = read_manifests(
      "# leading comment\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n"
      "  enabled: yes\n  quoted: 'yes'\n  mode: 0644\n  hex: 0x10\n  f: 1.5\n  n: ~\n  block: |\n    x\n"
      "---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- {kind: A}\n- {kind: B}\n",
      "in.yaml");
  REQUIRE(manifests.size() == 3);
  const auto& data = manifests[0]["data"];
  CHECK(data["enabled"] == true);
  CHECK(data["quoted"] == "yes");
  CHECK(data["mode"] == 420);
  CHECK(data["hex"] == 16);
  CHECK(data["f"] == 1.5);
  CHECK(data["n"].is_null());
  CHECK(data["block"] == "x\n");
  CHECK(manifests[1]["kind"] == "A");
  CHECK(manifests[2]["kind"] == "B");
}

TEST_CASE("render: unreadable manifests name the source and line") {
  CHECK_THAT(error_of("apiVersion: v1\nkind: A\nmetadata: {name: [x}\n"), Catch::StartsWith("in.yaml:3:"));
  CHECK_THAT(error_of("a: 1\nb: 2\na: 3\n"),
             Catch::StartsWith("in.yaml:3:") && Catch::Contains("duplicate key \"a\""));
  CHECK_THAT(error_of("kind: A\n---\n- just\n- a list\n"),
             Catch::StartsWith("in.yaml:3:") && Catch::Contains("must be a mapping"));
  CHECK_THAT(error_of("kind: List\nitems: 5\n"), Catch::StartsWith("in.yaml:2:"));
  CHECK_THAT(error_of("? [a, b]\n: c\n"), Catch::StartsWith("in.yaml:1:") && Catch::Contains("key"));
}

}  // namespace unity_file_cluster_test_render
