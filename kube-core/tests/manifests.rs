//! Real manifests (from the Kubernetes docs, and objects as a cluster reports them) read into
//! our types and written back unchanged.
//!
//! Each YAML document in `tests/manifests/` is parsed twice: directly into a
//! `serde_json::Value`, and into the kind named by its `apiVersion`/`kind`; the kind serialized
//! back must equal the direct parse, and k8s-openapi's type must read and write it the same way
//! (so the manifests are valid Kubernetes, not just shaped like our types). Explicit `null`s (`lastProbeTime: null`, which Kubernetes
//! itself writes) mean "unset" in Kubernetes and are not written back; the comparison removes
//! them from the expected side.

mod common;

use common::diff;
use kubox_core::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Reads `doc` into our `T` and into k8s-openapi's `K` and writes both back: they must agree.
fn round_trip<T: Serialize + DeserializeOwned, K: Serialize + DeserializeOwned>(
    doc: &Value,
) -> Value {
    let what = format!("{} {}", doc["kind"], doc["metadata"]["name"]);
    let ours: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let ours = serde_json::to_value(&ours).unwrap();
    let theirs: K =
        serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{what}: k8s-openapi: {e}"));
    let theirs = serde_json::to_value(&theirs).unwrap();
    let d = diff(&theirs, &ours);
    assert!(d.is_empty(), "{what}: k8s-openapi and ours disagree:\n{d}");
    ours
}

/// Reads `doc` into the kind its `apiVersion`/`kind` name and writes it back.
fn through_kind(doc: &Value) -> Value {
    use k8s_openapi::api as k8s;
    let api_version = doc["apiVersion"].as_str().expect("apiVersion");
    let kind = doc["kind"].as_str().expect("kind");
    macro_rules! dispatch {
        ($($api_version:literal, $kind:literal => $ours:ty, $theirs:ty;)*) => {
            match (api_version, kind) {
                $(($api_version, $kind) => round_trip::<$ours, $theirs>(doc),)*
                other => panic!("no kind for {other:?}"),
            }
        };
    }
    dispatch! {
        "v1", "Namespace" => core_v1::Namespace, k8s::core::v1::Namespace;
        "v1", "Node" => core_v1::Node, k8s::core::v1::Node;
        "v1", "Pod" => core_v1::Pod, k8s::core::v1::Pod;
        "v1", "Service" => core_v1::Service, k8s::core::v1::Service;
        "v1", "Endpoints" => core_v1::Endpoints, k8s::core::v1::Endpoints;
        "v1", "ServiceAccount" => core_v1::ServiceAccount, k8s::core::v1::ServiceAccount;
        "v1", "Secret" => core_v1::Secret, k8s::core::v1::Secret;
        "v1", "ConfigMap" => core_v1::ConfigMap, k8s::core::v1::ConfigMap;
        "v1", "Event" => core_v1::Event, k8s::core::v1::Event;
        "v1", "Binding" => core_v1::Binding, k8s::core::v1::Binding;
        "v1", "ReplicationController" => core_v1::ReplicationController, k8s::core::v1::ReplicationController;
        "apps/v1", "ReplicaSet" => apps_v1::ReplicaSet, k8s::apps::v1::ReplicaSet;
        "apps/v1", "Deployment" => apps_v1::Deployment, k8s::apps::v1::Deployment;
        "discovery.k8s.io/v1", "EndpointSlice" => discovery_v1::EndpointSlice, k8s::discovery::v1::EndpointSlice;
        "coordination.k8s.io/v1", "Lease" => coordination_v1::Lease, k8s::coordination::v1::Lease;
        "rbac.authorization.k8s.io/v1", "Role" => rbac_v1::Role, k8s::rbac::v1::Role;
        "rbac.authorization.k8s.io/v1", "ClusterRole" => rbac_v1::ClusterRole, k8s::rbac::v1::ClusterRole;
        "rbac.authorization.k8s.io/v1", "RoleBinding" => rbac_v1::RoleBinding, k8s::rbac::v1::RoleBinding;
        "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" => rbac_v1::ClusterRoleBinding, k8s::rbac::v1::ClusterRoleBinding;
        "scheduling.k8s.io/v1", "PriorityClass" => scheduling_v1::PriorityClass, k8s::scheduling::v1::PriorityClass;
        "policy/v1", "PodDisruptionBudget" => policy_v1::PodDisruptionBudget, k8s::policy::v1::PodDisruptionBudget;
        "autoscaling/v1", "Scale" => autoscaling_v1::Scale, k8s::autoscaling::v1::Scale;
    }
}

/// `null` means unset: drop null-valued keys (recursively).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Every document of a multi-document YAML file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn check_file(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(name);
    let docs = documents(&path);
    assert!(!docs.is_empty(), "{name} has no documents");
    let mut kinds = Vec::new();
    for doc in &docs {
        let expected = without_nulls(doc);
        let got = through_kind(doc);
        let d = diff(&expected, &got);
        assert!(
            d.is_empty(),
            "{name}: {} {} does not round-trip:\n{d}",
            doc["kind"],
            doc["metadata"]["name"]
        );
        kinds.push(doc["kind"].as_str().unwrap().to_string());
    }
    kinds
}

#[test]
fn deployment_nginx() {
    assert_eq!(
        check_file("deployment-nginx.yaml"),
        ["Deployment", "Deployment"]
    );
}

#[test]
fn replicaset_and_replicationcontroller() {
    assert_eq!(
        check_file("replicaset.yaml"),
        ["ReplicaSet", "ReplicationController"]
    );
}

#[test]
fn pod_with_everything() {
    assert_eq!(check_file("pod-everything.yaml"), ["Pod"]);
}

#[test]
fn services_endpoints_and_slices() {
    assert_eq!(
        check_file("service.yaml"),
        [
            "Service",
            "Service",
            "Service",
            "Service",
            "Endpoints",
            "EndpointSlice"
        ]
    );
}

#[test]
fn configmaps_secrets_serviceaccounts() {
    assert_eq!(
        check_file("config.yaml"),
        ["ConfigMap", "Secret", "Secret", "ServiceAccount"]
    );
}

#[test]
fn rbac() {
    assert_eq!(
        check_file("rbac.yaml"),
        [
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding"
        ]
    );
}

#[test]
fn cluster_objects() {
    assert_eq!(
        check_file("cluster.yaml"),
        [
            "Namespace",
            "Node",
            "Lease",
            "Lease",
            "Event",
            "Event",
            "Binding",
            "PriorityClass",
            "PodDisruptionBudget",
            "PodDisruptionBudget",
            "Scale"
        ]
    );
}

/// Every manifest file is covered by a test above.
#[test]
fn every_manifest_file_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cluster.yaml",
            "config.yaml",
            "deployment-nginx.yaml",
            "pod-everything.yaml",
            "rbac.yaml",
            "replicaset.yaml",
            "service.yaml"
        ]
    );
}

/// Typed access to what the manifests carry: the values land in the right fields.
#[test]
fn typed_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/pod-everything.yaml");
    let pod: core_v1::Pod = serde_json::from_value(documents(&path).remove(0)).unwrap();
    let spec = pod.spec.as_ref().unwrap();
    let web = &spec.containers[0];
    assert_eq!(web.name, "web");
    let probe = web
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(probe.port, kubox_core::IntOrString::Int(8080));
    let ready = web
        .readiness_probe
        .as_ref()
        .unwrap()
        .tcp_socket
        .as_ref()
        .unwrap();
    assert_eq!(ready.port, kubox_core::IntOrString::String("http".into()));
    assert_eq!(
        spec.containers[1]
            .liveness_probe
            .as_ref()
            .unwrap()
            .grpc
            .as_ref()
            .unwrap()
            .port,
        2379
    );
    let tol = &spec.tolerations.as_ref().unwrap()[1];
    assert_eq!(tol.toleration_seconds, Some(300));
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.qos_class.as_deref(), Some("Burstable"));
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(
        cs.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        137
    );
    assert_eq!(
        pod.metadata.creation_timestamp.unwrap().to_string(),
        "2024-05-01T12:00:00Z"
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/deployment-nginx.yaml");
    let d: apps_v1::Deployment = serde_json::from_value(documents(&path).remove(0)).unwrap();
    let ru = d
        .spec
        .as_ref()
        .unwrap()
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(
        ru.max_surge,
        Some(kubox_core::IntOrString::String("25%".into()))
    );
    assert_eq!(ru.max_unavailable, Some(kubox_core::IntOrString::Int(1)));

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/cluster.yaml");
    let lease: coordination_v1::Lease = serde_json::from_value(documents(&path).remove(2)).unwrap();
    assert_eq!(
        lease.spec.unwrap().renew_time.unwrap().to_string(),
        "2024-05-01T12:00:07.123456Z"
    );
}
