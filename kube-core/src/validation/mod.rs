//! Kubernetes' API validation: the checks the API server runs after defaulting and before
//! storing, with Kubernetes' exact field paths and messages.
//!
//! - [`field`]: [`field::Error`] / [`field::ErrorList`] (`spec.containers[0].image: Required
//!   value`), the [`field::Path`] builder and the 422 `Invalid` [`Status`] an error list becomes.
//! - [`names`]: DNS labels and subdomains, qualified names, ports, config keys… and the per-kind
//!   name rules (with `generateName`'s trailing `-` masked).
//! - [`meta`]: `ObjectMeta` on create and update, labels, annotations (256 KiB), finalizers,
//!   label selectors.
//! - [`Validate`]: create and update rules of every kind in [`crate::api`].
//! - [`validate_create_value`] / [`validate_update_value`]: the same, keyed by group and kind
//!   over JSON, for the API server; a body that does not decode is an [`Error`], never a panic.
//!
//! Objects are validated as the API server sees them: **after** defaulting
//! ([`crate::defaults`]). Fields the defaulting fills (`restartPolicy`, `imagePullPolicy`,
//! port `protocol`, Service `type`…) are `Required` when missing.
//!
//! # Fidelity notes
//!
//! - Errors about map entries come in key order (Go iterates maps randomly).
//! - Bad values that are maps, lists or structs print as compact JSON of the v1 wire form
//!   (`{"app":"web"}`, as current Kubernetes prints maps); Go prints some structs in Go syntax.
//! - The Pod update `Forbidden` message has Kubernetes' exact first line; the diff after it
//!   lists the changed spec fields as JSON instead of go-cmp's output.
//! - What the registry does before validating is folded in: Service `clusterIPs` is filled from
//!   `clusterIP`, and a Secret's `stringData` counts as `data`.
//! - Not modeled: hugepage divisibility, pod-level resources, OS-specific (Windows/Linux) pod
//!   checks, AppArmor and seccomp annotations, the sysctl name pattern, the fields of legacy
//!   volume plugins (only their presence counts), status subresource rules, feature-gated
//!   relaxations for gated pods.
//!
//! ```
//! use kubox_core::api::core_v1::{Container, Pod, PodSpec};
//! use kubox_core::defaults::SetDefaults;
//! use kubox_core::validation::Validate;
//!
//! let mut pod = Pod::new("web");
//! pod.metadata.namespace = Some("default".into());
//! pod.spec = Some(PodSpec { containers: vec![Container { name: "app".into(), ..Default::default() }], ..Default::default() });
//! pod.set_defaults();
//! let errs = pod.validate_create();
//! assert_eq!(errs.to_string(), "spec.containers[0].image: Required value");
//! let status = errs.to_status("", "Pod", "web");
//! assert_eq!(status.message.as_deref(), Some("Pod \"web\" is invalid: spec.containers[0].image: Required value"));
//! assert_eq!(status.code, Some(422));
//! ```

pub mod field;
pub mod meta;
pub mod names;

mod apps;
mod core;
mod other;
mod pod;

#[cfg(test)]
mod tests;

pub use self::core::{validate_node_port_range, MAX_SECRET_SIZE};
pub use field::{Error as FieldError, ErrorList, ErrorType, Path as FieldPath};
pub use other::{HIGHEST_USER_DEFINABLE_PRIORITY, SYSTEM_PRIORITY_CLASSES};
pub use pod::UPDATABLE_POD_SPEC_FIELDS;

use crate::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use crate::meta::{ListMeta, ObjectMeta, Resource, Status, StatusDetails, TypeMeta};
use serde::de::DeserializeOwned;

/// The create and update rules of a kind (its registry strategy's `Validate` and
/// `ValidateUpdate`).
pub trait Validate {
    /// The errors of creating this object; empty when valid.
    fn validate_create(&self) -> ErrorList;
    /// The errors of replacing `old` with this object; empty when valid.
    fn validate_update(&self, old: &Self) -> ErrorList;
}

macro_rules! validate_impl {
    ($($t:ty => $create:path, $update:path;)*) => {
        $(
            impl Validate for $t {
                fn validate_create(&self) -> ErrorList {
                    $create(self)
                }
                fn validate_update(&self, old: &Self) -> ErrorList {
                    $update(self, old)
                }
            }
        )*
    };
}

fn binding_update(new: &core_v1::Binding, _old: &core_v1::Binding) -> ErrorList {
    core::validate_binding(new)
}

fn scale_update(new: &autoscaling_v1::Scale, _old: &autoscaling_v1::Scale) -> ErrorList {
    other::validate_scale(new)
}

validate_impl! {
    core_v1::Pod => pod::validate_pod_create, pod::validate_pod_update;
    core_v1::Service => core::validate_service, core::validate_service_update;
    core_v1::Namespace => core::validate_namespace, core::validate_namespace_update;
    core_v1::Node => core::validate_node, core::validate_node_update;
    core_v1::ConfigMap => core::validate_config_map, core::validate_config_map_update;
    core_v1::Secret => core::validate_secret, core::validate_secret_update;
    core_v1::ServiceAccount => core::validate_service_account, core::validate_service_account_update;
    core_v1::Endpoints => core::validate_endpoints, core::validate_endpoints_update;
    core_v1::Event => core::validate_event, core::validate_event_update;
    core_v1::ReplicationController => core::validate_replication_controller, core::validate_replication_controller_update;
    core_v1::Binding => core::validate_binding, binding_update;
    apps_v1::ReplicaSet => apps::validate_replica_set, apps::validate_replica_set_update;
    apps_v1::Deployment => apps::validate_deployment, apps::validate_deployment_update;
    coordination_v1::Lease => other::validate_lease, other::validate_lease_update;
    rbac_v1::Role => other::validate_role, other::validate_role_update;
    rbac_v1::ClusterRole => other::validate_cluster_role, other::validate_cluster_role_update;
    rbac_v1::RoleBinding => other::validate_role_binding, other::validate_role_binding_update;
    rbac_v1::ClusterRoleBinding => other::validate_cluster_role_binding, other::validate_cluster_role_binding_update;
    scheduling_v1::PriorityClass => other::validate_priority_class, other::validate_priority_class_update;
    policy_v1::PodDisruptionBudget => other::validate_pdb, other::validate_pdb_update;
    discovery_v1::EndpointSlice => other::validate_endpoint_slice, other::validate_endpoint_slice_update;
    autoscaling_v1::Scale => other::validate_scale, scale_update;
}

/// The generic create check every object gets after its kind's own rules pass (apiserver's
/// `BeforeCreate`): the name (or generateName) must be a valid URL path segment, plus the
/// common `ObjectMeta` rules.
pub fn validate_generic_create(meta: &ObjectMeta, namespaced: bool) -> ErrorList {
    meta::validate_object_meta(
        meta,
        meta::MetaRules {
            namespaced,
            name_fn: names::path_segment_name,
            kube_finalizers: false,
        },
        &FieldPath::new("metadata"),
    )
}

/// Validates a typed create: the kind's rules, then the generic ones; `Err` is the 422 Status
/// the API server returns.
#[allow(clippy::result_large_err)]
pub fn check_create<T: Validate + Resource>(obj: &T) -> Result<(), Status> {
    let mut errs = obj.validate_create();
    if errs.is_empty() {
        errs = validate_generic_create(obj.meta(), T::NAMESPACED);
    }
    invalid_result::<T>(obj.meta(), errs)
}

/// Validates a typed update; `Err` is the 422 Status the API server returns.
#[allow(clippy::result_large_err)]
pub fn check_update<T: Validate + Resource>(new: &T, old: &T) -> Result<(), Status> {
    invalid_result::<T>(new.meta(), new.validate_update(old))
}

#[allow(clippy::result_large_err)]
fn invalid_result<T: Resource>(meta: &ObjectMeta, errs: ErrorList) -> Result<(), Status> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.to_status(T::GROUP, T::KIND, meta.name.as_deref().unwrap_or("")))
    }
}

/// Why a JSON object could not be validated.
///
/// Neither variant is retryable: the request has to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No validation is known for this group and kind.
    #[error("no kind {kind:?} is registered for group {group:?}")]
    UnknownKind {
        /// The API group (`""` for core).
        group: String,
        /// The kind.
        kind: String,
    },
    /// The body is not a valid object of the kind (wrong field types, bad base64, bad
    /// quantity…).
    #[error("{kind} in version {version:?} cannot be handled as a {kind}: {message}")]
    Decode {
        /// The kind.
        kind: String,
        /// The version the body was decoded as.
        version: String,
        /// The decoder's message.
        message: String,
    },
}

impl Error {
    /// The Status the API server answers with: 400 `BadRequest`.
    pub fn to_status(&self) -> Status {
        Status {
            types: TypeMeta {
                api_version: "v1".into(),
                kind: "Status".into(),
            },
            metadata: ListMeta::default(),
            status: Some("Failure".into()),
            message: Some(self.to_string()),
            reason: Some("BadRequest".into()),
            details: None::<StatusDetails>,
            code: Some(400),
        }
    }
}

/// The version `kind` of `group` is decoded as.
fn version_of(group: &str, kind: &str) -> &'static str {
    crate::registry::for_kind(group, kind).map_or("v1", |r| r.version)
}

/// Decodes a JSON object as a kind (shared with [`crate::defaults`]).
pub(crate) fn decode<T: DeserializeOwned>(
    group: &str,
    kind: &str,
    v: &serde_json::Value,
) -> Result<T, Error> {
    T::deserialize(v).map_err(|e| Error::Decode {
        kind: kind.to_string(),
        version: version_of(group, kind).to_string(),
        message: e.to_string(),
    })
}

fn create_typed<T: Validate + Resource>(
    group: &str,
    kind: &str,
    v: &serde_json::Value,
) -> Result<ErrorList, Error> {
    let obj: T = decode(group, kind, v)?;
    let errs = obj.validate_create();
    Ok(if errs.is_empty() {
        validate_generic_create(obj.meta(), T::NAMESPACED)
    } else {
        errs
    })
}

fn update_typed<T: Validate + DeserializeOwned>(
    group: &str,
    kind: &str,
    new: &serde_json::Value,
    old: &serde_json::Value,
) -> Result<ErrorList, Error> {
    let new: T = decode(group, kind, new)?;
    let old: T = decode(group, kind, old)?;
    Ok(new.validate_update(&old))
}

macro_rules! dispatch {
    ($group:expr, $kind:expr, $f:ident, $($arg:expr),*) => {
        match ($group, $kind) {
            ("", "Pod") => $f::<core_v1::Pod>($group, $kind, $($arg),*),
            ("", "Service") => $f::<core_v1::Service>($group, $kind, $($arg),*),
            ("", "Namespace") => $f::<core_v1::Namespace>($group, $kind, $($arg),*),
            ("", "Node") => $f::<core_v1::Node>($group, $kind, $($arg),*),
            ("", "ConfigMap") => $f::<core_v1::ConfigMap>($group, $kind, $($arg),*),
            ("", "Secret") => $f::<core_v1::Secret>($group, $kind, $($arg),*),
            ("", "ServiceAccount") => $f::<core_v1::ServiceAccount>($group, $kind, $($arg),*),
            ("", "Endpoints") => $f::<core_v1::Endpoints>($group, $kind, $($arg),*),
            ("", "Event") => $f::<core_v1::Event>($group, $kind, $($arg),*),
            ("", "ReplicationController") => $f::<core_v1::ReplicationController>($group, $kind, $($arg),*),
            ("", "Binding") => $f::<core_v1::Binding>($group, $kind, $($arg),*),
            ("apps", "ReplicaSet") => $f::<apps_v1::ReplicaSet>($group, $kind, $($arg),*),
            ("apps", "Deployment") => $f::<apps_v1::Deployment>($group, $kind, $($arg),*),
            ("coordination.k8s.io", "Lease") => $f::<coordination_v1::Lease>($group, $kind, $($arg),*),
            ("rbac.authorization.k8s.io", "Role") => $f::<rbac_v1::Role>($group, $kind, $($arg),*),
            ("rbac.authorization.k8s.io", "ClusterRole") => $f::<rbac_v1::ClusterRole>($group, $kind, $($arg),*),
            ("rbac.authorization.k8s.io", "RoleBinding") => $f::<rbac_v1::RoleBinding>($group, $kind, $($arg),*),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding") => $f::<rbac_v1::ClusterRoleBinding>($group, $kind, $($arg),*),
            ("scheduling.k8s.io", "PriorityClass") => $f::<scheduling_v1::PriorityClass>($group, $kind, $($arg),*),
            ("policy", "PodDisruptionBudget") => $f::<policy_v1::PodDisruptionBudget>($group, $kind, $($arg),*),
            ("discovery.k8s.io", "EndpointSlice") => $f::<discovery_v1::EndpointSlice>($group, $kind, $($arg),*),
            _ => Err(Error::UnknownKind { group: $group.to_string(), kind: $kind.to_string() }),
        }
    };
}

/// Validates a create of a JSON object of `group`/`kind` (core group `""`): the kind's rules,
/// then (if they pass) the generic name and metadata rules. `Ok` holds the errors, empty when
/// valid; `Err` is an unknown kind or a body that does not decode as the kind.
///
/// ```
/// use kubox_core::validation::validate_create_value;
///
/// let cm = serde_json::json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a b": "x"}});
/// let errs = validate_create_value("", "ConfigMap", &cm).unwrap();
/// assert!(errs.to_string().starts_with("data[a b]: Invalid value: \"a b\": a valid config key"));
/// let bad = serde_json::json!({"metadata": {"name": 5}});
/// assert!(validate_create_value("", "ConfigMap", &bad).is_err());
/// ```
pub fn validate_create_value(
    group: &str,
    kind: &str,
    obj: &serde_json::Value,
) -> Result<ErrorList, Error> {
    if (group, kind) == ("autoscaling", "Scale") {
        let scale: autoscaling_v1::Scale = decode(group, kind, obj)?;
        return Ok(scale.validate_create());
    }
    dispatch!(group, kind, create_typed, obj)
}

/// Validates an update of a JSON object of `group`/`kind` from `old` (see
/// [`validate_create_value`]).
pub fn validate_update_value(
    group: &str,
    kind: &str,
    new: &serde_json::Value,
    old: &serde_json::Value,
) -> Result<ErrorList, Error> {
    if (group, kind) == ("autoscaling", "Scale") {
        return update_typed::<autoscaling_v1::Scale>(group, kind, new, old);
    }
    dispatch!(group, kind, update_typed, new, old)
}
