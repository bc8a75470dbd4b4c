// Pod and Deployment schemas: the PodSpec subset that pgscope-operator and its
// deploy manifests write, with the list keys of core/v1 types.go (containers,
// volumes and env by name, ports by containerPort+protocol, volumeMounts by
// mountPath; command, args and capabilities atomic).
#include "support/kube_schema/core_schemas.hpp"

namespace pgscope::kubefake::detail {
namespace {

const char kPodSpec[] = R"yaml(
type: object
required: [containers]
properties:
  containers: &containers
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name]
    items:
      type: object
      required: [name]
      properties:
        name: {type: string, format: dns-1123-label}
        image: {type: string}
        imagePullPolicy: {type: string, enum: [Always, Never, IfNotPresent]}
        command: &strings {type: array, x-kubernetes-list-type: atomic, items: {type: string}}
        args: *strings
        workingDir: {type: string}
        env:
          type: array
          x-kubernetes-list-type: map
          x-kubernetes-list-map-keys: [name]
          items:
            type: object
            required: [name]
            properties:
              name: {type: string, minLength: 1}
              value: {type: string}
              valueFrom:
                type: object
                properties:
                  secretKeyRef: &keyref
                    type: object
                    x-kubernetes-map-type: atomic
                    required: [key]
                    properties:
                      name: {type: string}
                      key: {type: string}
                      optional: {type: boolean}
                  configMapKeyRef: *keyref
                  fieldRef:
                    type: object
                    x-kubernetes-map-type: atomic
                    required: [fieldPath]
                    properties:
                      apiVersion: {type: string}
                      fieldPath: {type: string}
                  resourceFieldRef:
                    type: object
                    x-kubernetes-map-type: atomic
                    required: [resource]
                    properties:
                      containerName: {type: string}
                      resource: {type: string}
                      divisor: &quantity
                        x-kubernetes-int-or-string: true
                        anyOf: [{type: integer}, {type: string}]
                        pattern: '^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$'
        envFrom:
          type: array
          x-kubernetes-list-type: atomic
          items:
            type: object
            properties:
              prefix: {type: string}
              configMapRef: &localref
                type: object
                x-kubernetes-map-type: atomic
                properties:
                  name: {type: string}
                  optional: {type: boolean}
              secretRef: *localref
        ports:
          type: array
          x-kubernetes-list-type: map
          x-kubernetes-list-map-keys: [containerPort, protocol]
          items:
            type: object
            required: [containerPort]
            properties:
              name: &portname {type: string, maxLength: 15, pattern: '^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}
              containerPort: {type: integer, format: int32, minimum: 1, maximum: 65535}
              protocol: {type: string, enum: [TCP, UDP, SCTP], default: TCP}
              hostPort: {type: integer, format: int32}
              hostIP: {type: string}
        resources:
          type: object
          properties:
            limits: &resourcelist {type: object, additionalProperties: *quantity}
            requests: *resourcelist
        livenessProbe: &probe
          type: object
          properties:
            httpGet:
              type: object
              required: [port]
              properties:
                path: {type: string}
                port: &portref
                  x-kubernetes-int-or-string: true
                  minimum: 1
                  maximum: 65535
                  maxLength: 15
                  pattern: '^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
                host: {type: string}
                scheme: {type: string, enum: [HTTP, HTTPS]}
                httpHeaders:
                  type: array
                  x-kubernetes-list-type: atomic
                  items:
                    type: object
                    required: [name, value]
                    properties:
                      name: {type: string}
                      value: {type: string}
            tcpSocket:
              type: object
              required: [port]
              properties:
                port: *portref
                host: {type: string}
            exec:
              type: object
              properties:
                command: *strings
            grpc:
              type: object
              required: [port]
              properties:
                port: {type: integer, format: int32}
                service: {type: string}
            initialDelaySeconds: {type: integer, format: int32, minimum: 0}
            timeoutSeconds: {type: integer, format: int32, minimum: 1}
            periodSeconds: {type: integer, format: int32, minimum: 1}
            successThreshold: {type: integer, format: int32, minimum: 1}
            failureThreshold: {type: integer, format: int32, minimum: 1}
            terminationGracePeriodSeconds: {type: integer, format: int64}
        readinessProbe: *probe
        startupProbe: *probe
        securityContext:
          type: object
          properties:
            runAsNonRoot: {type: boolean}
            runAsUser: {type: integer, format: int64, minimum: 0}
            runAsGroup: {type: integer, format: int64, minimum: 0}
            readOnlyRootFilesystem: {type: boolean}
            allowPrivilegeEscalation: {type: boolean}
            privileged: {type: boolean}
            capabilities:
              type: object
              properties:
                add: *strings
                drop: *strings
            seccompProfile: &seccomp
              type: object
              required: [type]
              properties:
                type: {type: string, enum: [RuntimeDefault, Localhost, Unconfined]}
                localhostProfile: {type: string}
        volumeMounts:
          type: array
          x-kubernetes-list-type: map
          x-kubernetes-list-map-keys: [mountPath]
          items:
            type: object
            required: [name, mountPath]
            properties:
              name: {type: string}
              mountPath: {type: string}
              readOnly: {type: boolean}
              subPath: {type: string}
              subPathExpr: {type: string}
              mountPropagation: {type: string, enum: [None, HostToContainer, Bidirectional]}
        terminationMessagePath: {type: string}
        terminationMessagePolicy: {type: string, enum: [File, FallbackToLogsOnError]}
  initContainers: *containers
  volumes:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name]
    items:
      type: object
      required: [name]
      properties:
        name: {type: string, format: dns-1123-label}
        secret:
          type: object
          properties:
            secretName: {type: string}
            items: &keypaths
              type: array
              x-kubernetes-list-type: atomic
              items:
                type: object
                required: [key, path]
                properties:
                  key: {type: string}
                  path: {type: string}
                  mode: {type: integer, format: int32, minimum: 0, maximum: 511}
            defaultMode: &mode {type: integer, format: int32, minimum: 0, maximum: 511}
            optional: {type: boolean}
        configMap:
          type: object
          properties:
            name: {type: string}
            items: *keypaths
            defaultMode: *mode
            optional: {type: boolean}
        emptyDir:
          type: object
          properties:
            medium: {type: string, enum: ['', Memory]}
            sizeLimit: *quantity
  serviceAccountName: {type: string}
  automountServiceAccountToken: {type: boolean}
  securityContext:
    type: object
    properties:
      runAsNonRoot: {type: boolean}
      runAsUser: {type: integer, format: int64, minimum: 0}
      runAsGroup: {type: integer, format: int64, minimum: 0}
      fsGroup: {type: integer, format: int64, minimum: 0}
      supplementalGroups: {type: array, x-kubernetes-list-type: atomic, items: {type: integer, format: int64}}
      seccompProfile: *seccomp
  nodeSelector:
    type: object
    x-kubernetes-map-type: atomic
    additionalProperties: {type: string}
  tolerations:
    type: array
    x-kubernetes-list-type: atomic
    items:
      type: object
      properties:
        key: {type: string}
        operator: {type: string, enum: [Exists, Equal]}
        value: {type: string}
        effect: {type: string, enum: [NoSchedule, PreferNoSchedule, NoExecute]}
        tolerationSeconds: {type: integer, format: int64}
  affinity: {type: object, x-kubernetes-preserve-unknown-fields: true}
  imagePullSecrets:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name]
    items:
      type: object
      required: [name]
      properties:
        name: {type: string}
  priorityClassName: {type: string}
  restartPolicy: {type: string, enum: [Always, OnFailure, Never]}
  terminationGracePeriodSeconds: {type: integer, format: int64, minimum: 0}
  dnsPolicy: {type: string, enum: [ClusterFirst, ClusterFirstWithHostNet, Default, None]}
  enableServiceLinks: {type: boolean}
  hostNetwork: {type: boolean}
  nodeName: {type: string}
  schedulerName: {type: string}
)yaml";

const char kPodStatus[] = R"yaml(
type: object
properties:
  phase: {type: string, enum: [Pending, Running, Succeeded, Failed, Unknown]}
  podIP: {type: string}
  podIPs:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [ip]
    items:
      type: object
      required: [ip]
      properties:
        ip: {type: string}
  hostIP: {type: string}
  startTime: {type: string, format: date-time}
  conditions:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [type]
    items: &condition
      type: object
      required: [type, status]
      properties:
        type: {type: string}
        status: {type: string, enum: ['True', 'False', Unknown]}
        lastProbeTime: {type: string, format: date-time}
        lastTransitionTime: {type: string, format: date-time}
        reason: {type: string}
        message: {type: string}
  containerStatuses:
    type: array
    x-kubernetes-list-type: atomic
    items: {type: object, x-kubernetes-preserve-unknown-fields: true}
)yaml";

const char kDeploymentSpec[] = R"yaml(
type: object
required: [selector, template]
properties:
  replicas: {type: integer, format: int32, minimum: 0}
  template:
    type: object
    properties: {}
  strategy:
    type: object
    properties:
      type: {type: string, enum: [Recreate, RollingUpdate]}
      rollingUpdate:
        type: object
        properties:
          maxSurge: {x-kubernetes-int-or-string: true}
          maxUnavailable: {x-kubernetes-int-or-string: true}
  revisionHistoryLimit: {type: integer, format: int32, minimum: 0}
  minReadySeconds: {type: integer, format: int32, minimum: 0}
  progressDeadlineSeconds: {type: integer, format: int32, minimum: 0}
  paused: {type: boolean}
)yaml";

const char kDeploymentStatus[] = R"yaml(
type: object
properties:
  observedGeneration: {type: integer, format: int64}
  replicas: {type: integer, format: int32}
  updatedReplicas: {type: integer, format: int32}
  readyReplicas: {type: integer, format: int32}
  availableReplicas: {type: integer, format: int32}
  unavailableReplicas: {type: integer, format: int32}
  collisionCount: {type: integer, format: int32}
  conditions:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [type]
    items:
      type: object
      required: [type, status]
      properties:
        type: {type: string}
        status: {type: string, enum: ['True', 'False', Unknown]}
        lastUpdateTime: {type: string, format: date-time}
        lastTransitionTime: {type: string, format: date-time}
        reason: {type: string}
        message: {type: string}
)yaml";

KindInfo workload(const std::string& group, const std::string& kind, const std::string& plural) {
  KindInfo info;
  info.group = group;
  info.version = "v1";
  info.kind = kind;
  info.plural = plural;
  info.namespaced = true;
  info.status_subresource = true;
  return info;
}

}  // namespace

json pod_spec_schema() { return schema_from_yaml(kPodSpec); }

std::vector<CoreKind> workload_kinds() {
  json pod = {{"type", "object"},
              {"properties", {{"spec", pod_spec_schema()}, {"status", schema_from_yaml(kPodStatus)}}}};

  json deployment_spec = schema_from_yaml(kDeploymentSpec);
  deployment_spec["properties"]["selector"] = label_selector_schema();
  deployment_spec["properties"]["template"]["properties"] = {{"metadata", object_meta_schema("")},
                                                             {"spec", pod_spec_schema()}};
  json deployment = {
      {"type", "object"},
      {"x-pgscope-rules", {"deployment-selector-matches-template"}},
      {"properties", {{"spec", deployment_spec}, {"status", schema_from_yaml(kDeploymentStatus)}}}};

  return {{workload("", "Pod", "pods"), pod, "dns-1123-subdomain"},
          {workload("apps", "Deployment", "deployments"), deployment, "dns-1123-subdomain"}};
}

}  // namespace pgscope::kubefake::detail
