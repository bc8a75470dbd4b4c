// FieldsV1, the managedFields encoding, and the YAML reading every test relies on.
#include <catch2/catch.hpp>

#include "support/kube_schema/ssa.hpp"
#include "support/kube_schema/yaml_json.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_schema_test_fields_v1 {

using namespace pgscope::kubefake;

TEST_CASE("FieldsV1 encodes members with children using the \".\" marker", "[fieldsv1]") {
  const FieldSet fields = {
      {"f:metadata", "f:labels", "f:app"},
      {"f:spec", "f:containers", R"(k:{"name":"exporter"})"},
      {"f:spec", "f:containers", R"(k:{"name":"exporter"})", "f:image"},
      {"f:spec", "f:containers", R"(k:{"name":"exporter"})", "f:name"},
      {"f:metadata", "f:finalizers", R"(v:"pgscope.io/cleanup")"},
  };
  const json encoded = encode_fields_v1(fields);
  const json expected = json::parse(R"({
    "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"pgscope.io/cleanup\"": {}}},
    "f:spec": {"f:containers": {"k:{\"name\":\"exporter\"}": {".": {}, "f:image": {}, "f:name": {}}}}})");
  CHECK(encoded == expected);
  CHECK(decode_fields_v1(encoded) == fields);
}

TEST_CASE("FieldsV1 as the API server writes it decodes, keys made canonical", "[fieldsv1]") {
  // Key fields in another order than JSON sorting: the same key once canonical.
  const json from_server = json::parse(R"({
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {"f:ports": {"k:{\"protocol\":\"TCP\",\"port\":9187}": {".": {}, "f:port": {}, "f:targetPort": {}}},
               "f:selector": {}}})");
  const FieldSet fields = decode_fields_v1(from_server);
  CHECK(fields.count({"f:metadata", "f:labels"}) == 1);
  CHECK(fields.count({"f:metadata", "f:labels", "f:app"}) == 1);
  CHECK(fields.count({"f:spec", "f:ports", R"(k:{"port":9187,"protocol":"TCP"})"}) == 1);
  CHECK(fields.count({"f:spec", "f:ports", R"(k:{"port":9187,"protocol":"TCP"})", "f:targetPort"}) == 1);
  CHECK(fields.count({"f:spec", "f:selector"}) == 1);
  CHECK(fields.size() == 6);
}

TEST_CASE("malformed FieldsV1 is rejected", "[fieldsv1]") {
  CHECK_THROWS_AS(decode_fields_v1(json::parse(R"({"spec": {}})")), std::invalid_argument);
  CHECK_THROWS_AS(decode_fields_v1(json::parse(R"({"f:spec": {"k:name": {}}})")), std::invalid_argument);
  CHECK_THROWS_AS(decode_fields_v1(json::parse(R"({"f:spec": {"i:x": {}}})")), std::invalid_argument);
  CHECK_THROWS_AS(decode_fields_v1(json::parse(R"({"f:spec": 1})")), std::invalid_argument);
  CHECK_THROWS_AS(decode_fields_v1(json::parse(R"({".": {}})")), std::invalid_argument);
}

TEST_CASE("field paths print as Kubernetes prints conflicts", "[fieldsv1]") {
  CHECK(field_path_string({"f:spec", "f:endpoints"}) == ".spec.endpoints");
  CHECK(field_path_string({"f:metadata", "f:labels", "f:release"}) == ".metadata.labels.release");
  CHECK(field_path_string({"f:spec", "f:ports", R"(k:{"port":9187,"protocol":"TCP"})", "f:name"}) ==
        R"(.spec.ports[port=9187,protocol="TCP"].name)");
  CHECK(field_path_string({"f:metadata", "f:finalizers", R"(v:"a")"}) == R"(.metadata.finalizers[="a"])");
  CHECK(field_path_string({"f:spec", "f:args", "i:2"}) == ".spec.args[2]");
}

TEST_CASE("YAML scalars resolve as the API machinery reads manifests", "[yaml]") {
  const std::vector<json> documents = parse_yaml_documents(R"(
version: "18"
size: 1Gi
ttl: 30
checksums: "true"
failsafe: false
empty:
lag: 33554432
ratio: 0.5
hex: 0x1F
---
---
second: [a, 'b', "c"]
)",
                                                           "inline.yaml");
  REQUIRE(documents.size() == 2);
  const json& first = documents[0];
  CHECK(first["version"] == "18");
  CHECK(first["size"] == "1Gi");
  CHECK(first["ttl"] == 30);
  CHECK(first["ttl"].is_number_integer());
  CHECK(first["checksums"] == "true");
  CHECK(first["failsafe"] == false);
  CHECK(first["empty"].is_null());
  CHECK(first["lag"] == 33554432);
  CHECK(first["ratio"] == 0.5);
  CHECK(first["hex"] == 31);
  CHECK(documents[1]["second"] == json::array({"a", "b", "c"}));
  CHECK_THROWS_WITH(parse_yaml_documents("a: 1\na: 2\n", "dup.yaml"),
                    Catch::Contains("dup.yaml:2") && Catch::Contains("duplicate"));
  CHECK_THROWS_WITH(parse_yaml_documents("a: [1\n", "bad.yaml"), Catch::Contains("bad.yaml"));
}

}  // namespace unity_file_schema_test_fields_v1
