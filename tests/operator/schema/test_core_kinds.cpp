// The hand-written core schemas accept what the operator writes and catch
// typos, bad names and broken list keys; pruning and defaulting behave as the
// API server's.
#include <catch2/catch.hpp>

#include "reference_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_schema_test_core_kinds {

using namespace pgscope::kubefake;

namespace {

const SchemaRegistry& core_registry() {
  static const SchemaRegistry registry = [] {
    SchemaRegistry r;
    r.add_core_kinds();
    return r;
  }();
  return registry;
}

const json& core_schema(const std::string& api_version, const std::string& kind) {
  const json* schema = core_registry().schema(api_version, kind);
  if (schema == nullptr) throw std::runtime_error("no core schema for " + kind);
  return *schema;
}

bool has_violation(const std::vector<SchemaViolation>& violations, const std::string& field,
                   const std::string& message_part = "") {
  for (const SchemaViolation& v : violations) {
    if (v.field == field && v.message.find(message_part) != std::string::npos) return true;
  }
  return false;
}

json exporter_deployment() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "acid-minimal-cluster-pooler-exporter", "namespace": "test-pg",
                 "labels": {"app.kubernetes.io/name": "pgscope-exporter", "cluster-name": "acid-minimal-cluster"},
                 "ownerReferences": [{"apiVersion": "acid.zalan.do/v1", "kind": "postgresql",
                                      "name": "acid-minimal-cluster", "uid": "0b7c3c1e-6a2f-4e57-9a8e-5c1d2b3a4f50",
                                      "controller": true, "blockOwnerDeletion": false}]},
    "spec": {
      "replicas": 1,
      "selector": {"matchLabels": {"app.kubernetes.io/name": "pgscope-exporter", "cluster-name": "acid-minimal-cluster"}},
      "template": {
        "metadata": {"labels": {"app.kubernetes.io/name": "pgscope-exporter", "cluster-name": "acid-minimal-cluster"},
                     "annotations": {"kubectl.kubernetes.io/default-container": "exporter"}},
        "spec": {
          "serviceAccountName": "default",
          "automountServiceAccountToken": false,
          "securityContext": {"runAsNonRoot": true, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{
            "name": "exporter", "image": "ghcr.io/pgscope/exporter:0.1.0",
            "args": ["--web.listen-address=:9187", "--patroni.url=http://localhost:8008"],
            "env": [{"name": "PGSCOPE_POOLER_PASSWORD",
                     "valueFrom": {"secretKeyRef": {"name": "pooler.acid-minimal-cluster.credentials.postgresql.acid.zalan.do", "key": "password"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "ports": [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}, "requests": {"cpu": "50m", "memory": 64000000}},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "metrics", "scheme": "HTTP"},
                               "initialDelaySeconds": 2, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 9187}},
            "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true,
                                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": true}]}],
          "volumes": [{"name": "tls", "secret": {"secretName": "acid-minimal-cluster-tls", "defaultMode": 288,
                                                  "items": [{"key": "tls.crt", "path": "tls.crt"}]}},
                      {"name": "tmp", "emptyDir": {}},
                      {"name": "queries", "configMap": {"name": "pgscope-queries"}}]}}}})");
}

}  // namespace

TEST_CASE("the core kinds are registered with their REST names", "[schema][core]") {
  const SchemaRegistry& registry = core_registry();
  for (const auto& [api_version, kind, plural] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"v1", "Service", "services"},
           {"v1", "ConfigMap", "configmaps"},
           {"v1", "Secret", "secrets"},
           {"v1", "Pod", "pods"},
           {"v1", "Event", "events"},
           {"apps/v1", "Deployment", "deployments"},
           {"coordination.k8s.io/v1", "Lease", "leases"}}) {
    INFO(kind);
    const KindInfo* info = registry.kind(api_version, kind);
    REQUIRE(info != nullptr);
    CHECK(info->plural == plural);
    CHECK(api_version_of(*info) == api_version);
    CHECK(registry.kind_by_plural(info->group, info->version, plural) == info);
    CHECK(registry.schema(api_version, kind) != nullptr);
  }
  CHECK(registry.kind("v1", "Service")->status_subresource);
  CHECK_FALSE(registry.kind("v1", "ConfigMap")->status_subresource);
  CHECK_FALSE(registry.kind("v1", "Namespace")->namespaced);
}

TEST_CASE("a Deployment as the operator writes it validates; typos and broken keys do not",
          "[schema][core]") {
  const json& schema = core_schema("apps/v1", "Deployment");
  const json deployment = exporter_deployment();
  REQUIRE(describe(validate(schema, deployment)) == "");
  json broken = deployment;
  json& container = broken["spec"]["template"]["spec"]["containers"][0];

  SECTION("unknown field") {
    container["readinessProbe"]["httpGet"]["paht"] = "/readyz";
    CHECK(has_violation(validate(schema, broken),
                        ".spec.template.spec.containers[0].readinessProbe.httpGet.paht", "unknown field"));
  }
  SECTION("duplicate env name") {
    container["env"].push_back({{"name", "POD_NAME"}, {"value", "x"}});
    CHECK(has_violation(validate(schema, broken), ".spec.template.spec.containers[0].env[2]",
                        R"(Duplicate value: {"name":"POD_NAME"})"));
  }
  SECTION("duplicate container port, protocol defaulted") {
    container["ports"].push_back({{"name", "again"}, {"containerPort", 9187}});
    CHECK(has_violation(validate(schema, broken), ".spec.template.spec.containers[0].ports[1]",
                        "Duplicate value"));
  }
  SECTION("bad quantity") {
    container["resources"]["limits"]["cpu"] = "200 millicores";
    CHECK(has_violation(validate(schema, broken), ".spec.template.spec.containers[0].resources.limits.cpu",
                        "should match"));
  }
  SECTION("port name too long for IANA_SVC_NAME") {
    container["ports"][0]["name"] = "pgscope-metrics-port";
    CHECK(has_violation(validate(schema, broken), ".spec.template.spec.containers[0].ports[0].name",
                        "Too long"));
  }
  SECTION("selector not matching the template labels") {
    broken["spec"]["selector"]["matchLabels"]["cluster-name"] = "other";
    CHECK(has_violation(validate(schema, broken), ".spec.template.metadata.labels", "does not match"));
  }
  SECTION("secretKeyRef without a key") {
    container["env"][0]["valueFrom"]["secretKeyRef"].erase("key");
    CHECK(has_violation(validate(schema, broken),
                        ".spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key",
                        "Required value"));
  }
  SECTION("ownerReference without uid") {
    broken["metadata"]["ownerReferences"][0].erase("uid");
    CHECK(has_violation(validate(schema, broken), ".metadata.ownerReferences[0].uid", "Required value"));
  }
}

TEST_CASE("Service, ConfigMap, Secret, Event, Lease and Pod shapes", "[schema][core]") {
  const json service = json::parse(R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "acid-minimal-cluster-pgscope", "namespace": "test-pg", "labels": {"release": "kps"}},
    "spec": {"type": "ClusterIP", "clusterIP": "None",
             "selector": {"application": "spilo", "cluster-name": "acid-minimal-cluster"},
             "ports": [{"name": "pgscope", "port": 9187, "targetPort": 9187, "protocol": "TCP"}]}})");
  const json& service_schema = core_schema("v1", "Service");
  CHECK(describe(validate(service_schema, service)) == "");

  json bad_service = service;
  bad_service["metadata"]["name"] = "9187-metrics";  // a ConfigMap may be called that, a Service may not
  bad_service["spec"]["ports"][0]["protocol"] = "HTTP";
  bad_service["spec"]["ports"].push_back({{"port", 8008}});
  bad_service["spec"]["sessionAfinity"] = "None";
  auto violations = validate(service_schema, bad_service);
  CHECK(has_violation(violations, ".metadata.name", "DNS-1035"));
  CHECK(has_violation(violations, ".spec.ports[0].protocol", "Unsupported value"));
  CHECK(has_violation(violations, ".spec.ports[1].name", "Required value"));
  CHECK(has_violation(violations, ".spec.sessionAfinity", "unknown field"));

  const json configmap = json::parse(R"({"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "9187-metrics", "namespace": "monitoring", "labels": {"grafana_dashboard": "1"}},
    "data": {"pgscope-overview.json": "{}"}})");
  CHECK(describe(validate(core_schema("v1", "ConfigMap"), configmap)) == "");
  json bad_configmap = configmap;
  bad_configmap["data"]["dash board.json"] = "{}";
  bad_configmap["data"]["count"] = 1;
  violations = validate(core_schema("v1", "ConfigMap"), bad_configmap);
  CHECK(has_violation(violations, ".data[dash board.json]", "config key"));
  CHECK(has_violation(violations, ".data.count", "must be of type string"));

  const json secret = json::parse(R"({"apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "s", "namespace": "test-pg"}, "type": "Opaque",
    "data": {"password": "c2VjcmV0"}, "stringData": {"user": "pooler"}})");
  CHECK(describe(validate(core_schema("v1", "Secret"), secret)) == "");
  json bad_secret = secret;
  bad_secret["data"]["password"] = "secret!";
  CHECK(has_violation(validate(core_schema("v1", "Secret"), bad_secret), ".data.password", "base64"));

  const json event = json::parse(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "acid-minimal-cluster.17a3b2c4d5e6f708", "namespace": "test-pg"},
    "involvedObject": {"apiVersion": "acid.zalan.do/v1", "kind": "postgresql", "name": "acid-minimal-cluster",
                       "namespace": "test-pg", "uid": "0b7c3c1e-6a2f-4e57-9a8e-5c1d2b3a4f50"},
    "reason": "MonitoringReady", "message": "ServiceMonitor test-pg/acid-minimal-cluster-pgscope applied",
    "type": "Normal", "source": {"component": "pgscope-operator", "host": "node-1"}, "count": 1,
    "firstTimestamp": "2026-08-01T10:00:00Z", "lastTimestamp": "2026-08-01T10:00:00Z",
    "reportingComponent": "pgscope-operator", "reportingInstance": "pgscope-operator-7d9f-x2"})");
  CHECK(describe(validate(core_schema("v1", "Event"), event)) == "");
  json bad_event = event;
  bad_event["type"] = "Info";
  bad_event["message"] = std::string(1025, 'x');
  bad_event["lastTimestamp"] = "yesterday";
  violations = validate(core_schema("v1", "Event"), bad_event);
  CHECK(has_violation(violations, ".type", "Unsupported value"));
  CHECK(has_violation(violations, ".message", "Too long"));
  CHECK(has_violation(violations, ".lastTimestamp", "RFC 3339"));

  const json lease = json::parse(R"({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
    "metadata": {"name": "pgscope-operator", "namespace": "pgscope"},
    "spec": {"holderIdentity": "pgscope-operator-7d9f-x2", "leaseDurationSeconds": 15,
             "acquireTime": "2026-08-01T10:00:00.000000Z", "renewTime": "2026-08-01T10:00:10.123456Z",
             "leaseTransitions": 2}})");
  CHECK(describe(validate(core_schema("coordination.k8s.io/v1", "Lease"), lease)) == "");
  json bad_lease = lease;
  bad_lease["spec"]["leaseDurationSeconds"] = "15s";
  CHECK(has_violation(validate(core_schema("coordination.k8s.io/v1", "Lease"), bad_lease),
                      ".spec.leaseDurationSeconds", "integer"));

  const json pod = json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "acid-minimal-cluster-0", "namespace": "test-pg",
                 "labels": {"application": "spilo", "cluster-name": "acid-minimal-cluster", "spilo-role": "master"}},
    "spec": {"containers": [{"name": "postgres", "image": "ghcr.io/zalando/spilo-18:4.1-p2",
                             "ports": [{"containerPort": 8008}, {"containerPort": 5432}, {"containerPort": 8080}]}]},
    "status": {"phase": "Running", "podIP": "10.0.0.12"}})");
  CHECK(describe(validate(core_schema("v1", "Pod"), pod)) == "");
  json bad_pod = pod;
  bad_pod["status"]["phase"] = "Started";
  bad_pod["metadata"].erase("name");
  violations = validate(core_schema("v1", "Pod"), bad_pod);
  CHECK(has_violation(violations, ".status.phase", "Unsupported value"));
  CHECK(has_violation(violations, ".metadata", "name"));
}

TEST_CASE("pruning keeps what a structural-schema server stores", "[schema][prune]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = testing::schema_of("acid.zalan.do/v1", "postgresql");
  json cluster = read_yaml_file(testing::reference_file("zalando/complete-postgres-manifest.yaml")).front();
  cluster["spec"]["unknownKnob"] = true;
  cluster["spec"]["additionalVolumes"][0]["volumeSource"]["emptyDir"]["sizeLimit"] = "1Gi";
  cluster["metadata"]["bogus"] = "x";
  cluster["spec"]["allowedSourceRanges"] = nullptr;  // nullable: kept
  cluster["spec"]["teamId"] = nullptr;               // not nullable: dropped
  const json pruned = prune_unknown(schema, cluster);
  CHECK_FALSE(pruned["spec"].contains("unknownKnob"));
  CHECK_FALSE(pruned["metadata"].contains("bogus"));
  CHECK(pruned["spec"]["additionalVolumes"][0]["volumeSource"]["emptyDir"]["sizeLimit"] == "1Gi");
  CHECK(pruned["spec"].contains("allowedSourceRanges"));
  CHECK_FALSE(pruned["spec"].contains("teamId"));
  CHECK(pruned["spec"]["patroni"]["ttl"] == 30);
  CHECK(pruned["metadata"]["name"] == "acid-test-cluster");
}

TEST_CASE("defaulting fills what prometheus-operator's CRD defaults", "[schema][defaults]") {
  PGSCOPE_REQUIRE_REFERENCE_FILES();
  const json& schema = testing::schema_of("monitoring.coreos.com/v1", "ServiceMonitor");
  const json sm = json::parse(R"({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
    "metadata": {"name": "m", "namespace": "n"},
    "spec": {"selector": {}, "endpoints": [{"port": "pgscope",
             "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_label_spilo_role"], "targetLabel": "role"},
                             {"action": "labeldrop", "regex": "pod_template_hash"}]}]}})");
  const json defaulted = apply_defaults(schema, sm);
  CHECK(defaulted["spec"]["endpoints"][0]["relabelings"][0]["action"] == "replace");
  CHECK(defaulted["spec"]["endpoints"][0]["relabelings"][1]["action"] == "labeldrop");
  CHECK_FALSE(defaulted["spec"]["endpoints"][0].contains("scheme"));

  const json service = json::parse(R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
    "spec": {"ports": [{"port": 9187}]}})");
  CHECK(apply_defaults(core_schema("v1", "Service"), service)["spec"]["ports"][0]["protocol"] == "TCP");
}

TEST_CASE("JSON merge patch follows RFC 7386", "[schema][merge-patch]") {
  const json target = json::parse(R"({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]})");
  const json patch = json::parse(R"({"a": "z", "c": {"f": null}, "list": [3], "new": {"x": null, "y": 1}})");
  CHECK(merge_patch(target, patch) ==
        json::parse(R"({"a": "z", "c": {"d": "e"}, "list": [3], "new": {"y": 1}})"));
  CHECK(merge_patch(target, json("replaced")) == json("replaced"));
  CHECK(target["c"]["f"] == "g");
}

}  // namespace unity_file_schema_test_core_kinds
