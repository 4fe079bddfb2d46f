//! Per-resource REST strategies: the small facts that make the generic registry behave like
//! each of kube-apiserver's `pkg/registry/*/strategy.go` files (etcd key prefix, generation,
//! status handling, update and delete rules, field selectors).
//!
//! Everything else about a resource comes from kubox-core's static registry.

use crate::object::field_text;
use kubox_core::registry::ResourceInfo;
use serde_json::Value;

/// How `metadata.generation` follows changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generation {
    /// The kind has no generation.
    None,
    /// 1 on create, +1 whenever `spec` changes.
    Spec,
    /// 1 on create, +1 whenever `spec` or `metadata.annotations` change (Deployment).
    SpecOrAnnotations,
}

/// What happens to `status` on create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusOnCreate {
    /// Kept as sent (kinds without a status subresource, and Node: the kubelet registers with
    /// its status).
    Keep,
    /// Reset to `{}`.
    Clear,
    /// Pod: `{phase: Pending, qosClass: <computed>}`.
    Pod,
    /// Namespace: `{phase: Active}`.
    Namespace,
}

/// The garbage-collection policy applied when a delete names none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GcDefault {
    /// Background: no finalizer.
    Background,
    /// Orphan (core/v1 ReplicationController, for backward compatibility).
    Orphan,
}

/// The strategy of one resource.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strategy {
    /// The registry entry.
    pub(crate) info: &'static ResourceInfo,
    /// The etcd key segment after `/registry/` (Kubernetes' layout: `pods`,
    /// `services/specs`, `minions`, `controllers`, …).
    pub(crate) key_segment: &'static str,
    pub(crate) generation: Generation,
    pub(crate) status_on_create: StatusOnCreate,
    pub(crate) has_status: bool,
    pub(crate) allow_create_on_update: bool,
    pub(crate) allow_unconditional_update: bool,
    /// Graceful deletion (pods).
    pub(crate) graceful: bool,
    /// DELETE answers with the object rather than a `Status` (pods, services, namespaces).
    pub(crate) return_deleted_object: bool,
    pub(crate) gc_default: GcDefault,
    /// The status endpoint also keeps the old labels (apps kinds and ReplicationController).
    pub(crate) status_keeps_labels: bool,
    /// Extra field-selector fields beyond `metadata.name` / `metadata.namespace`.
    pub(crate) fields: &'static [&'static str],
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

impl Strategy {
    /// The strategy of a served resource.
    pub(crate) fn of(info: &'static ResourceInfo) -> Strategy {
        let has_status = info.subresource("status").is_some();
        let mut s = Strategy {
            info,
            key_segment: info.plural,
            generation: Generation::None,
            status_on_create: if has_status {
                StatusOnCreate::Clear
            } else {
                StatusOnCreate::Keep
            },
            has_status,
            allow_create_on_update: false,
            allow_unconditional_update: true,
            graceful: false,
            return_deleted_object: false,
            gc_default: GcDefault::Background,
            status_keeps_labels: false,
            fields: &[],
        };
        match (info.group, info.plural) {
            ("", "pods") => {
                s.generation = Generation::Spec;
                s.status_on_create = StatusOnCreate::Pod;
                s.graceful = true;
                s.return_deleted_object = true;
                s.fields = POD_FIELDS;
            }
            ("", "services") => {
                s.key_segment = "services/specs";
                s.return_deleted_object = true;
                s.fields = &["spec.clusterIP", "spec.type"];
            }
            ("", "endpoints") => {
                s.key_segment = "services/endpoints";
                s.allow_create_on_update = true;
            }
            ("", "nodes") => {
                s.key_segment = "minions";
                s.status_on_create = StatusOnCreate::Keep;
                s.fields = &["spec.unschedulable"];
            }
            ("", "namespaces") => {
                s.status_on_create = StatusOnCreate::Namespace;
                s.return_deleted_object = true;
                s.fields = &["status.phase"];
            }
            ("", "replicationcontrollers") => {
                s.key_segment = "controllers";
                s.generation = Generation::Spec;
                s.gc_default = GcDefault::Orphan;
                s.status_keeps_labels = true;
                s.fields = &["status.replicas"];
            }
            ("", "events") => {
                s.allow_create_on_update = true;
                s.fields = EVENT_FIELDS;
            }
            ("", "secrets") => s.fields = &["type"],
            ("apps", "deployments") => {
                s.generation = Generation::SpecOrAnnotations;
                s.status_keeps_labels = true;
            }
            ("apps", "replicasets") => {
                s.generation = Generation::Spec;
                s.status_keeps_labels = true;
                s.fields = &["status.replicas"];
            }
            ("policy", "poddisruptionbudgets") => s.generation = Generation::Spec,
            ("coordination.k8s.io", "leases") | ("discovery.k8s.io", "endpointslices") => {
                s.allow_create_on_update = true;
            }
            ("rbac.authorization.k8s.io", _) => s.allow_create_on_update = true,
            _ => {}
        }
        s
    }

    /// Group of the resource.
    pub(crate) fn group(&self) -> &'static str {
        self.info.group
    }

    /// Plural of the resource.
    pub(crate) fn resource(&self) -> &'static str {
        self.info.plural
    }

    /// The etcd key of an object: `/registry/pods/default/web`, `/registry/minions/n1`.
    pub(crate) fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.info.namespaced => {
                format!("/registry/{}/{ns}/{name}", self.key_segment)
            }
            _ => format!("/registry/{}/{name}", self.key_segment),
        }
    }

    /// The key prefix of a collection, ending in `/`: `/registry/pods/default/` (one
    /// namespace) or `/registry/pods/` (all namespaces, cluster-scoped kinds).
    pub(crate) fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.info.namespaced => format!("/registry/{}/{ns}/", self.key_segment),
            _ => format!("/registry/{}/", self.key_segment),
        }
    }

    /// Whether `field` can be used in a field selector on this resource.
    pub(crate) fn supports_field(&self, field: &str) -> bool {
        field == "metadata.name" || field == "metadata.namespace" || self.fields.contains(&field)
    }

    /// The value of a selectable field (`GetAttrs`); a missing field reads as `""`.
    pub(crate) fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        match field {
            "source" if self.info.plural == "events" => field_text(obj, "source.component"),
            "spec.hostNetwork" | "spec.unschedulable" => {
                Some(field_text(obj, field).unwrap_or_else(|| "false".into()))
            }
            "metadata.namespace" if !self.info.namespaced => Some(String::new()),
            _ => field_text(obj, field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::registry;

    #[test]
    fn keys_follow_kubernetes_layout() {
        let cases = [
            ("", "pods", Some("default"), "/registry/pods/default/web"),
            (
                "apps",
                "deployments",
                Some("default"),
                "/registry/deployments/default/web",
            ),
            (
                "",
                "services",
                Some("ns"),
                "/registry/services/specs/ns/web",
            ),
            (
                "",
                "endpoints",
                Some("ns"),
                "/registry/services/endpoints/ns/web",
            ),
            ("", "nodes", None, "/registry/minions/web"),
            (
                "",
                "replicationcontrollers",
                Some("a"),
                "/registry/controllers/a/web",
            ),
            ("", "namespaces", None, "/registry/namespaces/web"),
            (
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                "/registry/clusterroles/web",
            ),
        ];
        for (group, plural, ns, key) in cases {
            let s = Strategy::of(registry::find(group, "v1", plural).unwrap());
            assert_eq!(s.key(ns, "web"), key);
            assert!(key.starts_with(&s.prefix(ns)));
        }
        let pods = Strategy::of(registry::find("", "v1", "pods").unwrap());
        assert_eq!(pods.prefix(None), "/registry/pods/");
    }

    #[test]
    fn field_values() {
        let pods = Strategy::of(registry::find("", "v1", "pods").unwrap());
        let pod = serde_json::json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}});
        assert_eq!(
            pods.field_value(&pod, "spec.nodeName").as_deref(),
            Some("n1")
        );
        assert_eq!(
            pods.field_value(&pod, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert!(pods.supports_field("status.phase"));
        assert!(!pods.supports_field("spec.foo"));
        let events = Strategy::of(registry::find("", "v1", "events").unwrap());
        let ev = serde_json::json!({"source": {"component": "kubelet"}});
        assert_eq!(
            events.field_value(&ev, "source").as_deref(),
            Some("kubelet")
        );
    }
}
