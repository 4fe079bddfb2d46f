//! Wire compatibility with k8s-openapi (the Rust mirror of `k8s.io/api` 1.33), for every kind.
//!
//! - k8s-openapi → ours: a k8s-openapi object with every field set (one element in every list
//!   and map) is serialized, read into our type and written back: the JSON must be identical,
//!   so we model every field Kubernetes has and lose nothing.
//! - ours → k8s-openapi: the same from our own fully-populated object, read into k8s-openapi and
//!   back into ours: equal JSON and equal values, so we have no field Kubernetes does not know.
//! - Our `Resource` consts agree with k8s-openapi's and with the registry.

mod common;

use common::{diff, leaves, Filler};
use kubox_core::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use kubox_core::meta::{List, Resource};
use kubox_core::registry;
use serde::de::DeserializeOwned;
use serde::Serialize;

use serde_json::Value;

fn filled<T: DeserializeOwned>(api_version: &'static str, kind: &'static str) -> T {
    T::deserialize(Filler::new(api_version, kind)).unwrap_or_else(|e| panic!("filling {kind}: {e}"))
}

fn assert_same_json(what: &str, a: &Value, b: &Value) {
    let d = diff(a, b);
    assert!(d.is_empty(), "{what}: JSON differs:\n{d}");
}

/// k8s-openapi → ours → JSON, for a fully-populated k8s-openapi object.
fn from_k8s<Ours, Theirs>(api_version: &'static str, kind: &'static str) -> usize
where
    Ours: Serialize + DeserializeOwned,
    Theirs: Serialize + DeserializeOwned,
{
    let theirs: Theirs = filled(api_version, kind);
    let theirs_json = serde_json::to_value(&theirs).unwrap();
    assert_eq!(theirs_json["apiVersion"], api_version);
    assert_eq!(theirs_json["kind"], kind);
    let ours: Ours = serde_json::from_value(theirs_json.clone())
        .unwrap_or_else(|e| panic!("{kind}: ours cannot read k8s-openapi's JSON: {e}"));
    let ours_json = serde_json::to_value(&ours).unwrap();
    assert_same_json(
        &format!("{kind} (k8s-openapi → ours)"),
        &theirs_json,
        &ours_json,
    );
    leaves(&theirs_json)
}

/// ours → k8s-openapi → ours, for a fully-populated object of ours.
fn to_k8s<Ours, Theirs>(api_version: &'static str, kind: &'static str) -> usize
where
    Ours: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    Theirs: Serialize + DeserializeOwned,
{
    let ours: Ours = filled(api_version, kind);
    let ours_json = serde_json::to_value(&ours).unwrap();
    let theirs: Theirs = serde_json::from_value(ours_json.clone())
        .unwrap_or_else(|e| panic!("{kind}: k8s-openapi cannot read our JSON: {e}"));
    let theirs_json = serde_json::to_value(&theirs).unwrap();
    assert_same_json(
        &format!("{kind} (ours → k8s-openapi)"),
        &ours_json,
        &theirs_json,
    );
    let back: Ours = serde_json::from_value(theirs_json).unwrap();
    assert_eq!(back, ours, "{kind}: value changed through k8s-openapi");
    leaves(&ours_json)
}

/// Both directions, plus the `Resource` consts against k8s-openapi's and the registry.
fn check_resource<Ours, Theirs>() -> usize
where
    Ours: Resource + PartialEq + std::fmt::Debug + Default,
    Theirs: k8s_openapi::Resource + Serialize + DeserializeOwned,
{
    assert_eq!(Ours::GROUP, Theirs::GROUP, "{}", Ours::KIND);
    assert_eq!(Ours::VERSION, Theirs::VERSION, "{}", Ours::KIND);
    assert_eq!(Ours::KIND, Theirs::KIND);
    assert_eq!(Ours::PLURAL, Theirs::URL_PATH_SEGMENT, "{}", Ours::KIND);
    assert_eq!(Ours::api_version(), Theirs::API_VERSION, "{}", Ours::KIND);
    let namespaced = std::any::type_name::<Theirs::Scope>().ends_with("NamespaceResourceScope");
    assert_eq!(Ours::NAMESPACED, namespaced, "{}", Ours::KIND);

    let info = registry::of::<Ours>();
    assert_eq!((info.kind, info.namespaced), (Ours::KIND, Ours::NAMESPACED));

    // Default fills apiVersion and kind.
    let empty = serde_json::to_value(Ours::default()).unwrap();
    assert_eq!(empty["apiVersion"], Theirs::API_VERSION);
    assert_eq!(empty["kind"], Theirs::KIND);
    let _: Theirs = serde_json::from_value(empty).unwrap();

    from_k8s::<Ours, Theirs>(Theirs::API_VERSION, Theirs::KIND)
        + to_k8s::<Ours, Theirs>(Theirs::API_VERSION, Theirs::KIND)
}

macro_rules! resource_tests {
    ($($test:ident: $ours:ty => $theirs:ty,)*) => {
        $(
            #[test]
            fn $test() {
                let n = check_resource::<$ours, $theirs>();
                // A filled object is big: make sure the filler really went deep.
                assert!(n > 20, "{} leaves only", n);
            }
        )*

        /// Every resource of the registry is covered above.
        #[test]
        fn every_registry_entry_has_a_kind_tested_here() {
            let tested = [$((<$ours as Resource>::GROUP, <$ours as Resource>::KIND)),*];
            // Reviews are answered, never stored: they have no Rust type.
            let typed: Vec<_> = registry::RESOURCES
                .iter()
                .filter(|r| !matches!(r.group, "authorization.k8s.io" | "authentication.k8s.io"))
                .collect();
            for r in &typed {
                assert!(tested.contains(&(r.group, r.kind)), "{} is not tested", r.plural);
            }
            assert_eq!(tested.len(), typed.len());
        }
    };
}

use k8s_openapi::api as k8s;

resource_tests! {
    namespace: core_v1::Namespace => k8s::core::v1::Namespace,
    node: core_v1::Node => k8s::core::v1::Node,
    pod: core_v1::Pod => k8s::core::v1::Pod,
    service: core_v1::Service => k8s::core::v1::Service,
    endpoints: core_v1::Endpoints => k8s::core::v1::Endpoints,
    service_account: core_v1::ServiceAccount => k8s::core::v1::ServiceAccount,
    secret: core_v1::Secret => k8s::core::v1::Secret,
    config_map: core_v1::ConfigMap => k8s::core::v1::ConfigMap,
    event: core_v1::Event => k8s::core::v1::Event,
    binding: core_v1::Binding => k8s::core::v1::Binding,
    replication_controller: core_v1::ReplicationController => k8s::core::v1::ReplicationController,
    replica_set: apps_v1::ReplicaSet => k8s::apps::v1::ReplicaSet,
    deployment: apps_v1::Deployment => k8s::apps::v1::Deployment,
    endpoint_slice: discovery_v1::EndpointSlice => k8s::discovery::v1::EndpointSlice,
    lease: coordination_v1::Lease => k8s::coordination::v1::Lease,
    role: rbac_v1::Role => k8s::rbac::v1::Role,
    cluster_role: rbac_v1::ClusterRole => k8s::rbac::v1::ClusterRole,
    role_binding: rbac_v1::RoleBinding => k8s::rbac::v1::RoleBinding,
    cluster_role_binding: rbac_v1::ClusterRoleBinding => k8s::rbac::v1::ClusterRoleBinding,
    priority_class: scheduling_v1::PriorityClass => k8s::scheduling::v1::PriorityClass,
    pod_disruption_budget: policy_v1::PodDisruptionBudget => k8s::policy::v1::PodDisruptionBudget,
}

#[test]
fn scale() {
    from_k8s::<autoscaling_v1::Scale, k8s::autoscaling::v1::Scale>("autoscaling/v1", "Scale");
    to_k8s::<autoscaling_v1::Scale, k8s::autoscaling::v1::Scale>("autoscaling/v1", "Scale");
    let s = autoscaling_v1::Scale::new("web");
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        serde_json::json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}})
    );
}

/// Lists read and written by k8s-openapi's `List<T>` are ours too.
#[test]
fn lists() {
    let mut list: k8s_openapi::List<k8s::core::v1::Pod> = k8s_openapi::List::default();
    list.metadata.resource_version = Some("42".into());
    list.items.push(filled("v1", "Pod"));
    let theirs = serde_json::to_value(&list).unwrap();
    assert_eq!(theirs["kind"], "PodList");
    let ours: core_v1::PodList = serde_json::from_value(theirs.clone()).unwrap();
    assert_eq!(ours.items.len(), 1);
    assert_same_json("PodList", &theirs, &serde_json::to_value(&ours).unwrap());
    let _: List<core_v1::Pod> = ours;
}

/// Kubernetes' own spelling of the irregular field names survives (`clusterIP`, `podIPs`, …).
#[test]
fn irregular_field_names() {
    let svc: core_v1::Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "externalIPs": ["1.2.3.4"],
                 "loadBalancerIP": "5.6.7.8", "type": "ClusterIP",
                 "ports": [{"port": 80, "targetPort": "http"}]}
    }))
    .unwrap();
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(spec.external_ips.as_ref().unwrap()[0], "1.2.3.4");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(
        spec.ports.as_ref().unwrap()[0].target_port,
        Some(kubox_core::IntOrString::String("http".into()))
    );
    let json = serde_json::to_value(&svc).unwrap();
    assert_eq!(json["spec"]["clusterIPs"][0], "10.0.0.1");
    assert_eq!(json["spec"]["loadBalancerIP"], "5.6.7.8");
}

/// Secret `data` is base64 on the wire and bytes in memory; `stringData` stays a string.
#[test]
fn secret_data_is_bytes() {
    let s: core_v1::Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "type": "Opaque", "data": {"password": "c2VjcmV0"}, "stringData": {"user": "admin"}
    }))
    .unwrap();
    assert_eq!(s.data.as_ref().unwrap()["password"].0, b"secret");
    assert_eq!(s.string_data.as_ref().unwrap()["user"], "admin");
    assert_eq!(
        serde_json::to_value(&s).unwrap()["data"]["password"],
        "c2VjcmV0"
    );
    assert!(
        serde_json::from_value::<core_v1::Secret>(serde_json::json!({"data": {"k": "%%%"}}))
            .is_err()
    );
}

/// Unset optional fields are not written; required ones are.
#[test]
fn no_added_nulls() {
    let pod = core_v1::Pod {
        spec: Some(core_v1::PodSpec {
            containers: vec![core_v1::Container {
                name: "c".into(),
                image: Some("nginx".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..core_v1::Pod::new("p")
    };
    assert_eq!(
        serde_json::to_value(&pod).unwrap(),
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        })
    );
    // An object without apiVersion/kind stays without them.
    let bare: core_v1::ConfigMap = serde_json::from_str(r#"{"metadata":{"name":"x"}}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&bare).unwrap(),
        r#"{"metadata":{"name":"x"}}"#
    );
}
