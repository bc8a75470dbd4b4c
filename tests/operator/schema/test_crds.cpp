// The real CRDs load, Zalando's example manifests validate clean against them,
// and deliberate breakages are reported at the right field.
#include <catch2/catch.hpp>

#include "reference_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_schema_test_crds {

using namespace pgscope::kubefake;
using namespace pgscope::kubefake::testing;

namespace {

bool has_violation(const std::vector<SchemaViolation>& violations, const std::string& field,
                   const std::string& message_part = "") {
  for (const SchemaViolation& v : violations) {
    if (v.field == field && v.message.find(message_part) != std::string::npos) return true;
  }
  return false;
}

json first_of_kind(const std::string& file, const std::string& kind) {
  for (const json& document : read_yaml_file(reference_file(file))) {
    if (document.value("kind", "") == kind) return document;
  }
  throw std::runtime_error(file + " has no " + kind);
}

}  // namespace

TEST_CASE("every reference CRD loads with its names, scope and status subresource", "[schema][crd]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  SchemaRegistry registry;
  const KindInfo sm = registry.load_crd(reference_file(kCrdFiles[0]));
  CHECK(sm.group == "monitoring.coreos.com");
  CHECK(sm.version == "v1");
  CHECK(sm.kind == "ServiceMonitor");
  CHECK(sm.plural == "servicemonitors");
  CHECK(sm.namespaced);
  CHECK(sm.status_subresource);
  CHECK(registry.load_crd(reference_file(kCrdFiles[1])).kind == "PodMonitor");
  CHECK(registry.load_crd(reference_file(kCrdFiles[2])).kind == "PrometheusRule");
  const KindInfo pg = registry.load_crd(reference_file(kCrdFiles[3]));
  CHECK(pg.group == "acid.zalan.do");
  CHECK(pg.kind == "postgresql");
  CHECK(pg.plural == "postgresqls");

  REQUIRE(registry.kind_by_plural("monitoring.coreos.com", "v1", "prometheusrules") != nullptr);
  CHECK(registry.kind_by_plural("monitoring.coreos.com", "v1", "prometheusrules")->kind == "PrometheusRule");
  CHECK(registry.kind("acid.zalan.do/v1", "postgresql") != nullptr);
  CHECK(registry.kind("acid.zalan.do/v1", "Postgresql") == nullptr);
  CHECK(registry.schema("monitoring.coreos.com/v1", "PodMonitor") != nullptr);
  CHECK(registry.kinds().size() == 4);
}

TEST_CASE("a broken CRD is rejected with the file named", "[schema][crd]") {
  SchemaRegistry registry;
  CHECK_THROWS_WITH(registry.load_crd("/nonexistent/crd.yaml"), Catch::Contains("/nonexistent/crd.yaml"));
  CHECK_THROWS_WITH(registry.load_crd_text("apiVersion: v1\nkind: ConfigMap\n", "cm.yaml"),
                    Catch::Contains("cm.yaml") && Catch::Contains("CustomResourceDefinition"));
  CHECK_THROWS_WITH(registry.load_crd_text("a: [1,\n", "broken.yaml"), Catch::Contains("broken.yaml"));
  const std::string no_storage = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object}}
)";
  CHECK_THROWS_WITH(registry.load_crd_text(no_storage, "widget.yaml"),
                    Catch::Contains("widget.yaml") && Catch::Contains("storage"));
  const std::string bad_pattern = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: string, pattern: "(unclosed"}}}}
)";
  CHECK_THROWS_WITH(registry.load_crd_text(bad_pattern, "widget.yaml"),
                    Catch::Contains("properties.spec.pattern"));
  CHECK(registry.kinds().empty());
}

TEST_CASE("Zalando's example manifests validate clean against the postgresql CRD", "[schema][zalando]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("acid.zalan.do/v1", "postgresql");
  for (const char* file : {"zalando/complete-postgres-manifest.yaml",
                           "zalando/minimal-postgres-manifest.yaml", "zalando/standby-manifest.yaml"}) {
    INFO(file);
    const std::vector<json> documents = read_yaml_file(reference_file(file));
    REQUIRE(documents.size() == 1);
    const auto violations = validate(schema, documents.front());
    CHECK(describe(violations) == "");
  }
  const json cluster = first_of_kind("zalando/minimal-master-replica-svcmonitor.yaml", "postgresql");
  CHECK(describe(validate(schema, cluster)) == "");
}

TEST_CASE("the hand-written ServiceMonitor and Services of Zalando's example validate", "[schema][zalando]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  int service_monitors = 0, services = 0;
  for (const json& document :
       read_yaml_file(reference_file("zalando/minimal-master-replica-svcmonitor.yaml"))) {
    const std::string kind = document.value("kind", "");
    if (kind != "ServiceMonitor" && kind != "Service") continue;
    INFO(kind << " " << document["metadata"]["name"]);
    CHECK(describe(validate(schema_of(document["apiVersion"], kind), document)) == "");
    (kind == "Service" ? services : service_monitors)++;
  }
  CHECK(service_monitors == 2);
  CHECK(services == 2);
}

TEST_CASE("deliberate breakages are caught at the right field", "[schema][violations]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& sm_schema = schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json sm = first_of_kind("zalando/minimal-master-replica-svcmonitor.yaml", "ServiceMonitor");
  REQUIRE(validate(sm_schema, sm).empty());

  SECTION("wrong type") {
    json broken = sm;
    broken["spec"]["endpoints"][0]["honorLabels"] = "yes";
    CHECK(has_violation(validate(sm_schema, broken), ".spec.endpoints[0].honorLabels",
                        "must be of type boolean"));
  }
  SECTION("bad enum") {
    json broken = sm;
    broken["spec"]["endpoints"][0]["scheme"] = "ftp";
    CHECK(has_violation(validate(sm_schema, broken), ".spec.endpoints[0].scheme", "Unsupported value"));
  }
  SECTION("relabeling action outside the enum") {
    json broken = sm;
    broken["spec"]["endpoints"][0]["relabelings"] = {{{"action", "rename"}, {"targetLabel", "x"}}};
    CHECK(has_violation(validate(sm_schema, broken), ".spec.endpoints[0].relabelings[0].action", "rename"));
  }
  SECTION("bad scrapeTimeout pattern") {
    json broken = sm;
    broken["spec"]["endpoints"][0]["scrapeTimeout"] = "10 seconds";
    CHECK(has_violation(validate(sm_schema, broken), ".spec.endpoints[0].scrapeTimeout", "should match"));
    broken["spec"]["endpoints"][0]["scrapeTimeout"] = "1m30s";
    CHECK(validate(sm_schema, broken).empty());
  }
  SECTION("missing required selector") {
    json broken = sm;
    broken["spec"].erase("selector");
    CHECK(has_violation(validate(sm_schema, broken), ".spec.selector", "Required value"));
  }
  SECTION("unknown field in a CRD spec") {
    json broken = sm;
    broken["spec"]["endpoints"][0]["prot"] = "exporter";
    CHECK(has_violation(validate(sm_schema, broken), ".spec.endpoints[0].prot", "unknown field"));
  }
  SECTION("wrong apiVersion, kind and name") {
    json broken = sm;
    broken["apiVersion"] = "monitoring.coreos.com/v1alpha1";
    broken["kind"] = "PodMonitor";
    broken["metadata"]["name"] = "Acid_Minimal";
    const auto violations = validate(sm_schema, broken);
    CHECK(has_violation(violations, ".apiVersion", "Unsupported value"));
    CHECK(has_violation(violations, ".kind", "Unsupported value"));
    CHECK(has_violation(violations, ".metadata.name", "RFC 1123 subdomain"));
  }
  SECTION("a label value too long for Kubernetes") {
    json broken = sm;
    broken["metadata"]["labels"]["cluster-name"] = std::string(64, 'a');
    CHECK(has_violation(validate(sm_schema, broken), ".metadata.labels[cluster-name]", "63"));
  }
}

TEST_CASE("a PrometheusRule with two groups of one name is a duplicate list-map key",
          "[schema][violations]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("monitoring.coreos.com/v1", "PrometheusRule");
  json rule = json::parse(R"({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
    "metadata": {"name": "pgscope-mixin", "namespace": "monitoring"},
    "spec": {"groups": [{"name": "pgscope.alerts", "rules": [{"alert": "PgscopeDown", "expr": "up == 0", "for": "5m"}]},
                        {"name": "pgscope.rules", "rules": [{"record": "x:y", "expr": 1}]}]}})");
  REQUIRE(describe(validate(schema, rule)) == "");
  rule["spec"]["groups"][1]["name"] = "pgscope.alerts";
  CHECK(has_violation(validate(schema, rule), ".spec.groups[1]",
                      R"(Duplicate value: {"name":"pgscope.alerts"})"));
  rule["spec"]["groups"][1].erase("name");
  CHECK(has_violation(validate(schema, rule), ".spec.groups[1].name", "Required value"));
}

TEST_CASE("the postgresql CRD's combinators and int-or-string fields are enforced", "[schema][zalando]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = schema_of("acid.zalan.do/v1", "postgresql");
  const json standby = read_yaml_file(reference_file("zalando/standby-manifest.yaml")).front();

  json both_paths = standby;
  both_paths["spec"]["standby"] = {{"s3_wal_path", "s3://a"}, {"gs_wal_path", "gs://b"}};
  CHECK(has_violation(validate(schema, both_paths), ".spec.standby", "must not be"));

  json neither = standby;
  neither["spec"]["standby"] = {{"standby_port", "5432"}};
  CHECK(has_violation(validate(schema, neither), ".spec.standby", "at least one of"));

  json bad_instances = standby;
  bad_instances["spec"]["numberOfInstances"] = "two";
  CHECK(has_violation(validate(schema, bad_instances), ".spec.numberOfInstances", "integer"));

  json big_instances = standby;
  big_instances["spec"]["numberOfInstances"] = 4294967296LL;
  CHECK(has_violation(validate(schema, big_instances), ".spec.numberOfInstances", "int32"));
}

}  // namespace unity_file_schema_test_crds
