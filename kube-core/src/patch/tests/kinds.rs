//! Strategic merge patches against the built-in kinds' schemas: what kubectl and controllers
//! actually send.

use super::yaml;
use crate::patch::{schema, strategic_merge_patch, strategic_merge_patch_for, Error};
use crate::registry;
use serde_json::json;

/// Every served kind has a schema (strategic merge patch must never answer 415 for them).
#[test]
fn every_registry_kind_has_a_schema() {
    for r in registry::RESOURCES {
        assert!(
            schema::for_kind(&r.api_version(), r.kind).is_some(),
            "{} {} has no patch schema",
            r.api_version(),
            r.kind
        );
    }
    assert!(schema::for_kind("autoscaling/v1", "Scale").is_some());
    assert!(schema::for_kind("example.com/v1", "Widget").is_none());
}

#[test]
fn custom_resources_are_unsupported_media_type() {
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = strategic_merge_patch_for(&cr, &json!({"spec": {"size": 2}})).unwrap_err();
    assert!(matches!(err, Error::UnsupportedKind { .. }), "{err:?}");
    assert_eq!((err.code(), err.reason()), (415, "UnsupportedMediaType"));
    assert_eq!(
        err.to_string(),
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    assert_eq!(
        err,
        Error::UnsupportedKind {
            api_version: "example.com/v1".into(),
            kind: "Widget".into()
        }
    );
    let err = strategic_merge_patch_for(&json!({}), &json!({})).unwrap_err();
    assert_eq!(err.code(), 415);
}

/// The body stock kubectl sends for `kubectl apply` (client-side) after changing a label and
/// the image (shared/compat.md).
#[test]
fn kubectl_client_side_apply_body() {
    let live = yaml(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"old":true}'
spec:
  containers:
  - name: nginx
    image: nginx:1.24
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 80, protocol: TCP}]
  dnsPolicy: ClusterFirst
status: {phase: Running}
"#,
    );
    let body: serde_json::Value = serde_json::from_str(
        r#"{"metadata":{"labels":{"tier":"fe"}},"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.25","name":"nginx"}]}}"#,
    )
    .unwrap();
    let got = strategic_merge_patch_for(&live, &body).unwrap();
    let mut want = live.clone();
    want["metadata"]["labels"]["tier"] = json!("fe");
    want["spec"]["containers"][0]["image"] = json!("nginx:1.25");
    assert_eq!(got, want);
    // Key order of the live object is kept; the new label is appended.
    let labels: Vec<_> = got["metadata"]["labels"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(labels, ["app", "tier"]);
}

/// `[kind manifest, patch, expected]` on real kinds.
const KIND_CASES: &str = r#"
- description: deployment containers merge by name inside the pod template
  live:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 3
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - {name: app, image: "app:1", env: [{name: A, value: "1"}, {name: B, value: "2"}]}
          - {name: sidecar, image: "side:1"}
  patch:
    spec:
      template:
        spec:
          containers:
          - {name: app, image: "app:2", env: [{name: B, value: "3"}, {name: C, value: "4"}]}
  want:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 3
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - {name: app, image: "app:2", env: [{name: A, value: "1"}, {name: B, value: "3"}, {name: C, value: "4"}]}
          - {name: sidecar, image: "side:1"}
- description: deployment strategy switches type with retainKeys (what kubectl apply sends)
  live:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}
  patch:
    spec: {strategy: {$retainKeys: [type], type: Recreate, rollingUpdate: null}}
  want:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {strategy: {type: Recreate}}
- description: a volume changes its source with retainKeys
  live:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      volumes: [{name: data, emptyDir: {}}, {name: cfg, configMap: {name: c}}]
  patch:
    spec:
      $setElementOrder/volumes: [{name: data}, {name: cfg}]
      volumes: [{$retainKeys: [name, secret], name: data, secret: {secretName: s}}]
  want:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      volumes: [{name: data, secret: {secretName: s}}, {name: cfg, configMap: {name: c}}]
- description: container ports merge by containerPort, volumeMounts by mountPath
  live:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - name: c
        ports: [{containerPort: 80, name: http}]
        volumeMounts: [{name: a, mountPath: /a}]
  patch:
    spec:
      containers:
      - name: c
        ports: [{containerPort: 443, name: https}, {containerPort: 80, hostPort: 8080}]
        volumeMounts: [{mountPath: /a, $patch: delete}, {name: b, mountPath: /b}]
  want:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - name: c
        ports: [{containerPort: 443, name: https}, {containerPort: 80, name: http, hostPort: 8080}]
        volumeMounts: [{name: b, mountPath: /b}]
- description: tolerations are replaced, imagePullSecrets merge by name (new items first, as in Kubernetes)
  live:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]
      imagePullSecrets: [{name: one}]
  patch:
    spec:
      tolerations: [{key: c, operator: Exists}]
      imagePullSecrets: [{name: two}]
  want:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      tolerations: [{key: c, operator: Exists}]
      imagePullSecrets: [{name: two}, {name: one}]
- description: pod status conditions merge by type (kubelet status patch)
  live:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    status:
      phase: Pending
      conditions: [{type: PodScheduled, status: "True"}, {type: Ready, status: "False"}]
  patch:
    status:
      $setElementOrder/conditions: [{type: PodScheduled}, {type: Initialized}, {type: Ready}]
      conditions: [{type: Initialized, status: "True"}, {type: Ready, status: "True"}]
      phase: Running
      podIPs: [{ip: 10.0.0.5}]
      podIP: 10.0.0.5
  want:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    status:
      phase: Running
      conditions: [{type: PodScheduled, status: "True"}, {type: Initialized, status: "True"}, {type: Ready, status: "True"}]
      podIPs: [{ip: 10.0.0.5}]
      podIP: 10.0.0.5
- description: finalizers merge as a set and are deleted with $deleteFromPrimitiveList
  live:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c, finalizers: [a, b]}
  patch:
    metadata:
      finalizers: [c, a]
      $deleteFromPrimitiveList/finalizers: [b]
  want:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c, finalizers: [c, a]}
- description: ownerReferences merge by uid
  live:
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: rs
      ownerReferences: [{uid: u1, name: d1, kind: Deployment, apiVersion: apps/v1}]
  patch:
    metadata:
      ownerReferences: [{uid: u2, name: d2, kind: Deployment, apiVersion: apps/v1}, {uid: u1, controller: true}]
  want:
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: rs
      ownerReferences: [{uid: u2, name: d2, kind: Deployment, apiVersion: apps/v1}, {uid: u1, name: d1, kind: Deployment, apiVersion: apps/v1, controller: true}]
- description: service ports merge by port, selector merges as a map
  live:
    apiVersion: v1
    kind: Service
    metadata: {name: s}
    spec:
      selector: {app: web}
      ports: [{port: 80, targetPort: 8080, protocol: TCP}]
  patch:
    spec:
      selector: {tier: fe}
      ports: [{port: 443, targetPort: 8443}, {port: 80, targetPort: 9090}]
  want:
    apiVersion: v1
    kind: Service
    metadata: {name: s}
    spec:
      selector: {app: web, tier: fe}
      ports: [{port: 443, targetPort: 8443}, {port: 80, targetPort: 9090, protocol: TCP}]
- description: node taints are replaced, podCIDRs (new values first) and addresses merge
  live:
    apiVersion: v1
    kind: Node
    metadata: {name: n}
    spec: {podCIDRs: [10.0.0.0/24], taints: [{key: a, effect: NoSchedule}]}
    status:
      addresses: [{type: InternalIP, address: 10.1.1.1}, {type: Hostname, address: n}]
      conditions: [{type: Ready, status: "False"}]
  patch:
    spec: {podCIDRs: ["fd00::/64"], taints: []}
    status:
      addresses: [{type: InternalIP, address: 10.1.1.2}]
      conditions: [{type: Ready, status: "True"}, {type: MemoryPressure, status: "False"}]
  want:
    apiVersion: v1
    kind: Node
    metadata: {name: n}
    spec: {podCIDRs: ["fd00::/64", 10.0.0.0/24], taints: []}
    status:
      addresses: [{type: InternalIP, address: 10.1.1.2}, {type: Hostname, address: n}]
      conditions: [{type: Ready, status: "True"}, {type: MemoryPressure, status: "False"}]
- description: replication controller template shares the PodSpec schema
  live:
    apiVersion: v1
    kind: ReplicationController
    metadata: {name: rc}
    spec:
      selector: {app: a}
      template: {spec: {initContainers: [{name: i, image: "i:1"}], containers: [{name: c, image: "c:1"}]}}
  patch:
    spec: {template: {spec: {$setElementOrder/initContainers: [{name: i}, {name: j}], initContainers: [{name: j, image: "j:1"}]}}}
  want:
    apiVersion: v1
    kind: ReplicationController
    metadata: {name: rc}
    spec:
      selector: {app: a}
      template: {spec: {initContainers: [{name: i, image: "i:1"}, {name: j, image: "j:1"}], containers: [{name: c, image: "c:1"}]}}
- description: the garbage collector removes an owner reference (its exact body)
  live:
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
      uid: pod-uid
      ownerReferences:
      - {apiVersion: apps/v1, kind: ReplicaSet, name: rs1, uid: u1, controller: true}
      - {apiVersion: v1, kind: ConfigMap, name: cm, uid: u2}
  patch: {metadata: {ownerReferences: [{$patch: delete, uid: u1}], uid: pod-uid}}
  want:
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
      uid: pod-uid
      ownerReferences:
      - {apiVersion: v1, kind: ConfigMap, name: cm, uid: u2}
- description: kubectl rollout restart
  live:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {template: {metadata: {labels: {app: web}}}}
  patch: {spec: {template: {metadata: {annotations: {kubectl.kubernetes.io/restartedAt: "2024-01-01T00:00:00Z"}}}}}
  want:
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {template: {metadata: {labels: {app: web}, annotations: {kubectl.kubernetes.io/restartedAt: "2024-01-01T00:00:00Z"}}}}
- description: endpoint slices replace their endpoints
  live:
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: e, labels: {kubernetes.io/service-name: s}}
    addressType: IPv4
    endpoints: [{addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}]
  patch:
    endpoints: [{addresses: [10.0.0.3]}]
  want:
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: e, labels: {kubernetes.io/service-name: s}}
    addressType: IPv4
    endpoints: [{addresses: [10.0.0.3]}]
- description: topology spread constraints merge by topologyKey
  live:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      topologySpreadConstraints:
      - {topologyKey: zone, maxSkew: 1, whenUnsatisfiable: DoNotSchedule}
  patch:
    spec:
      topologySpreadConstraints:
      - {topologyKey: zone, maxSkew: 2}
      - {topologyKey: host, maxSkew: 1, whenUnsatisfiable: ScheduleAnyway}
  want:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      topologySpreadConstraints:
      - {topologyKey: zone, maxSkew: 2, whenUnsatisfiable: DoNotSchedule}
      - {topologyKey: host, maxSkew: 1, whenUnsatisfiable: ScheduleAnyway}
"#;

#[test]
fn kind_cases() {
    let cases = yaml(KIND_CASES);
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["description"].as_str().unwrap();
        let got = strategic_merge_patch_for(&case["live"], &case["patch"])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, case["want"], "{name}");
    }
}

#[test]
fn patch_must_be_an_object() {
    let err = strategic_merge_patch(&json!({}), &json!([1]), &schema::POD).unwrap_err();
    assert_eq!(err.code(), 400);
    let err = strategic_merge_patch(&json!([]), &json!({}), &schema::POD).unwrap_err();
    assert_eq!(err.code(), 400);
    assert_eq!(
        strategic_merge_patch(&json!(null), &json!({"a": 1}), &schema::POD).unwrap(),
        json!({"a": 1})
    );
}

#[test]
fn errors_name_the_field() {
    let live = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a"}]}});
    let err = strategic_merge_patch_for(&live, &json!({"spec": {"containers": [{"image": "x"}]}}))
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), (422, "Invalid"));
    assert!(err.to_string().starts_with(".spec.containers: "), "{err}");
    assert!(
        err.to_string()
            .contains("does not contain declared merge key: name"),
        "{err}"
    );
}
