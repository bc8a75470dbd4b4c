// ObjectMeta and the core kinds other than workloads, as schema data.
#include "support/kube_schema/core_schemas.hpp"

#include <stdexcept>

#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::kubefake::detail {
namespace {

// ObjectMeta (k8s.io/apimachinery meta/v1 types.go): ownerReferences is a map
// keyed by uid, finalizers a set; labels and annotations are granular maps.
const char kObjectMeta[] = R"yaml(
type: object
properties:
  name: {type: string}
  generateName: {type: string}
  namespace: {type: string, format: dns-1123-label}
  uid: {type: string}
  resourceVersion: {type: string}
  generation: {type: integer, format: int64}
  creationTimestamp: {type: string, format: date-time}
  deletionTimestamp: {type: string, format: date-time}
  deletionGracePeriodSeconds: {type: integer, format: int64}
  selfLink: {type: string}
  labels:
    type: object
    x-pgscope-key-format: qualified-name
    additionalProperties: {type: string, format: label-value}
  annotations:
    type: object
    x-pgscope-key-format: qualified-name
    additionalProperties: {type: string}
  ownerReferences:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [uid]
    items:
      type: object
      required: [apiVersion, kind, name, uid]
      properties:
        apiVersion: {type: string}
        kind: {type: string}
        name: {type: string}
        uid: {type: string}
        controller: {type: boolean}
        blockOwnerDeletion: {type: boolean}
  finalizers:
    type: array
    x-kubernetes-list-type: set
    items: {type: string}
  managedFields:
    type: array
    x-kubernetes-list-type: atomic
    items:
      type: object
      properties:
        manager: {type: string}
        operation: {type: string, enum: [Apply, Update]}
        apiVersion: {type: string}
        time: {type: string, format: date-time}
        fieldsType: {type: string, enum: [FieldsV1]}
        fieldsV1: {type: object, x-kubernetes-preserve-unknown-fields: true}
        subresource: {type: string}
)yaml";

const char kLabelSelector[] = R"yaml(
type: object
x-kubernetes-map-type: atomic
properties:
  matchLabels:
    type: object
    additionalProperties: {type: string}
  matchExpressions:
    type: array
    x-kubernetes-list-type: atomic
    items:
      type: object
      required: [key, operator]
      properties:
        key: {type: string}
        operator: {type: string, enum: [In, NotIn, Exists, DoesNotExist]}
        values:
          type: array
          x-kubernetes-list-type: atomic
          items: {type: string}
)yaml";

// Service: ports keyed by port+protocol (protocol defaults to TCP, which
// makes it a usable key when omitted); the selector is an atomic map.
const char kService[] = R"yaml(
type: object
x-pgscope-rules: [service-port-names]
properties:
  spec:
    type: object
    properties:
      type: {type: string, enum: [ClusterIP, NodePort, LoadBalancer, ExternalName]}
      clusterIP: {type: string}
      clusterIPs: {type: array, x-kubernetes-list-type: atomic, items: {type: string}}
      selector:
        type: object
        x-kubernetes-map-type: atomic
        additionalProperties: {type: string}
      ports:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [port, protocol]
        items:
          type: object
          required: [port]
          properties:
            name: {type: string, format: dns-1123-label}
            protocol: {type: string, enum: [TCP, UDP, SCTP], default: TCP}
            appProtocol: {type: string}
            port: {type: integer, format: int32, minimum: 1, maximum: 65535}
            targetPort:
              x-kubernetes-int-or-string: true
              minimum: 1
              maximum: 65535
              maxLength: 15
              pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
            nodePort: {type: integer, format: int32}
      sessionAffinity: {type: string, enum: [ClientIP, None]}
      externalName: {type: string}
      externalTrafficPolicy: {type: string, enum: [Cluster, Local]}
      internalTrafficPolicy: {type: string, enum: [Cluster, Local]}
      ipFamilies:
        type: array
        x-kubernetes-list-type: atomic
        items: {type: string, enum: [IPv4, IPv6]}
      ipFamilyPolicy: {type: string, enum: [SingleStack, PreferDualStack, RequireDualStack]}
      publishNotReadyAddresses: {type: boolean}
      loadBalancerSourceRanges: {type: array, x-kubernetes-list-type: atomic, items: {type: string}}
  status:
    type: object
    properties:
      loadBalancer: {type: object, x-kubernetes-preserve-unknown-fields: true}
      conditions: {type: array, x-kubernetes-list-type: atomic, items: {type: object, x-kubernetes-preserve-unknown-fields: true}}
)yaml";

const char kConfigMap[] = R"yaml(
type: object
properties:
  data:
    type: object
    x-pgscope-key-format: config-key
    additionalProperties: {type: string}
  binaryData:
    type: object
    x-pgscope-key-format: config-key
    additionalProperties: {type: string, format: byte}
  immutable: {type: boolean}
)yaml";

const char kSecret[] = R"yaml(
type: object
properties:
  data:
    type: object
    x-pgscope-key-format: config-key
    additionalProperties: {type: string, format: byte}
  stringData:
    type: object
    x-pgscope-key-format: config-key
    additionalProperties: {type: string}
  type: {type: string}
  immutable: {type: boolean}
)yaml";

// core/v1 Event: no spec, the fields sit at the top. involvedObject and
// related are ObjectReferences (structType=atomic). Limits as the events API
// enforces them: reason 128, message (note) 1 KiB.
const char kEvent[] = R"yaml(
type: object
required: [involvedObject]
properties:
  involvedObject: &reference
    type: object
    x-kubernetes-map-type: atomic
    properties:
      kind: {type: string}
      namespace: {type: string}
      name: {type: string}
      uid: {type: string}
      apiVersion: {type: string}
      resourceVersion: {type: string}
      fieldPath: {type: string}
  related: *reference
  reason: {type: string, maxLength: 128}
  message: {type: string, maxLength: 1024}
  type: {type: string, enum: [Normal, Warning]}
  action: {type: string, maxLength: 128}
  source:
    type: object
    properties:
      component: {type: string}
      host: {type: string}
  firstTimestamp: {type: string, format: date-time}
  lastTimestamp: {type: string, format: date-time}
  eventTime: {type: string, format: date-time}
  count: {type: integer, format: int32}
  series:
    type: object
    properties:
      count: {type: integer, format: int32}
      lastObservedTime: {type: string, format: date-time}
  reportingComponent: {type: string}
  reportingInstance: {type: string}
)yaml";

const char kLease[] = R"yaml(
type: object
properties:
  spec:
    type: object
    properties:
      holderIdentity: {type: string}
      leaseDurationSeconds: {type: integer, format: int32}
      acquireTime: {type: string, format: date-time}
      renewTime: {type: string, format: date-time}
      leaseTransitions: {type: integer, format: int32}
      strategy: {type: string}
      preferredHolder: {type: string}
)yaml";

const char kNamespace[] = R"yaml(
type: object
properties:
  spec:
    type: object
    properties:
      finalizers: {type: array, x-kubernetes-list-type: atomic, items: {type: string}}
  status:
    type: object
    properties:
      phase: {type: string, enum: [Active, Terminating]}
      conditions: {type: array, x-kubernetes-list-type: atomic, items: {type: object, x-kubernetes-preserve-unknown-fields: true}}
)yaml";

KindInfo core(const std::string& group, const std::string& kind, const std::string& plural, bool namespaced,
              bool status) {
  KindInfo info;
  info.group = group;
  info.version = "v1";
  info.kind = kind;
  info.plural = plural;
  info.namespaced = namespaced;
  info.status_subresource = status;
  return info;
}

}  // namespace

json schema_from_yaml(const char* text) {
  std::vector<json> documents = parse_yaml_documents(text, "embedded schema");
  if (documents.size() != 1) throw std::logic_error("embedded schema must be one YAML document");
  return documents.front();
}

json object_meta_schema(const std::string& name_format) {
  json schema = schema_from_yaml(kObjectMeta);
  if (!name_format.empty()) {
    schema["properties"]["name"]["format"] = name_format;
    schema["anyOf"] = json::array({{{"required", {"name"}}}, {{"required", {"generateName"}}}});
  }
  return schema;
}

json label_selector_schema() { return schema_from_yaml(kLabelSelector); }

std::vector<CoreKind> core_kinds() {
  std::vector<CoreKind> kinds = {
      {core("", "Service", "services", true, true), schema_from_yaml(kService), "dns-1035-label"},
      {core("", "ConfigMap", "configmaps", true, false), schema_from_yaml(kConfigMap), "dns-1123-subdomain"},
      {core("", "Secret", "secrets", true, false), schema_from_yaml(kSecret), "dns-1123-subdomain"},
      {core("", "Event", "events", true, false), schema_from_yaml(kEvent), "dns-1123-subdomain"},
      {core("coordination.k8s.io", "Lease", "leases", true, false), schema_from_yaml(kLease),
       "dns-1123-subdomain"},
      {core("", "Namespace", "namespaces", false, true), schema_from_yaml(kNamespace), "dns-1123-label"},
  };
  for (CoreKind& workload : workload_kinds()) kinds.push_back(std::move(workload));
  return kinds;
}

}  // namespace pgscope::kubefake::detail
