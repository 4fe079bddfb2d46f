//! Decoding checks: a body must decode as its kind's typed struct (kubox-core's `api`), as
//! kube-apiserver decodes every body into its Go type; a body that doesn't is a 400.

use kubox_core::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use serde_json::Value;

fn check<T: serde::de::DeserializeOwned>(v: &Value) -> Option<String> {
    T::deserialize(v).err().map(|e| e.to_string())
}

/// Why `obj` does not decode as `api_version`/`kind`, if it doesn't (unknown kinds pass).
pub(crate) fn decode_error(api_version: &str, kind: &str, obj: &Value) -> Option<String> {
    match (api_version, kind) {
        ("v1", "Namespace") => check::<core_v1::Namespace>(obj),
        ("v1", "Node") => check::<core_v1::Node>(obj),
        ("v1", "Pod") => check::<core_v1::Pod>(obj),
        ("v1", "Service") => check::<core_v1::Service>(obj),
        ("v1", "Endpoints") => check::<core_v1::Endpoints>(obj),
        ("v1", "ServiceAccount") => check::<core_v1::ServiceAccount>(obj),
        ("v1", "Secret") => check::<core_v1::Secret>(obj),
        ("v1", "ConfigMap") => check::<core_v1::ConfigMap>(obj),
        ("v1", "Event") => check::<core_v1::Event>(obj),
        ("v1", "Binding") => check::<core_v1::Binding>(obj),
        ("v1", "ReplicationController") => check::<core_v1::ReplicationController>(obj),
        ("apps/v1", "Deployment") => check::<apps_v1::Deployment>(obj),
        ("apps/v1", "ReplicaSet") => check::<apps_v1::ReplicaSet>(obj),
        ("autoscaling/v1", "Scale") => check::<autoscaling_v1::Scale>(obj),
        ("coordination.k8s.io/v1", "Lease") => check::<coordination_v1::Lease>(obj),
        ("discovery.k8s.io/v1", "EndpointSlice") => check::<discovery_v1::EndpointSlice>(obj),
        ("policy/v1", "PodDisruptionBudget") => check::<policy_v1::PodDisruptionBudget>(obj),
        ("rbac.authorization.k8s.io/v1", "Role") => check::<rbac_v1::Role>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => check::<rbac_v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => check::<rbac_v1::RoleBinding>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            check::<rbac_v1::ClusterRoleBinding>(obj)
        }
        ("scheduling.k8s.io/v1", "PriorityClass") => check::<scheduling_v1::PriorityClass>(obj),
        _ => None,
    }
}
