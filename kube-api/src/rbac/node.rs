//! [`NodeAuthorizer`]: the Node authorizer and the NodeRestriction admission rules, as one
//! authorizer in front of RBAC for kubelet identities.
//!
//! A kubelet authenticates as `system:node:<name>` in the group `system:nodes`. For such a
//! user, Kubernetes runs the Node authorizer (which grants the `system:node` rules, and reads
//! of secrets, configmaps and persistent volume claims only when a pod bound to the node uses
//! them) and the NodeRestriction admission plugin (which limits writes to the node's own Node,
//! its own Lease and the pods bound to it). [`NodeAuthorizer`] does both at authorization time:
//!
//! | request | allowed for node `n` |
//! |---|---|
//! | `update`/`patch` `nodes` or `nodes/status` named `x` | `x == n` |
//! | `create` `nodes` | yes (the body is not visible here; admission would require `metadata.name == n`) |
//! | `leases.coordination.k8s.io` | only in `kube-node-lease`, and only named `n` (creates: the namespace only) |
//! | `update`/`patch` `pods/status`, `delete` `pods`, `create` `pods/eviction` | only if the pod's `spec.nodeName == n` (looked up in the store) |
//! | `create` `pods` (mirror pods) | yes (admission would require a mirror pod bound to `n`) |
//! | `get` `secrets`, `configmaps`, `persistentvolumeclaims` | if a pod bound to `n` in that namespace refers to it; otherwise RBAC decides |
//! | other verbs on those three | not by the node rules (`list`/`watch` need a name Kubernetes takes from a field selector); RBAC may still allow |
//! | anything else the `system:node` role allows | yes |
//! | anything else | RBAC decides |
//!
//! Every other user goes straight to RBAC. What needs the written object — a Node or Lease
//! created under another node's name, label and taint changes on its own Node, pods that are
//! not mirror pods bound to it — is checked by the [`NodeRestriction`] admission plugin, which
//! belongs in the admission chain of a server that uses this authorizer. Two differences
//! from Kubernetes remain: a node's denied write to another node's object is answered by the
//! authorizer, so its 403 message has the `User "system:node:n1" cannot …` prefix before the
//! NodeRestriction reason; and reads of Node objects are not narrowed to the node's own (newer
//! Kubernetes versions do that with field-selector authorization).

use super::bootstrap::node_rules;
use super::rules::rules_allow;
use super::{Access, RbacAuthorizer, SubjectAccess};
use crate::auth::{Attributes, Authorizer, Decision, UserInfo};
use async_trait::async_trait;
use kube_store::ListOptions;
use kubox_core::api::rbac_v1::PolicyRule;
use serde_json::Value;

/// The group of every kubelet (`user.NodesGroup`).
pub const NODES_GROUP: &str = "system:nodes";
/// The user-name prefix of a kubelet (`system:node:<name>`).
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The namespace of node heartbeats.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node name of a kubelet identity (`NodeIdentifier`): `Some("n1")` for
/// `system:node:n1` in `system:nodes`, `None` for everyone else (and for an empty name).
pub fn node_name(user: &UserInfo) -> Option<&str> {
    if !user.groups.iter().any(|g| g == NODES_GROUP) {
        return None;
    }
    user.name
        .strip_prefix(NODE_USER_PREFIX)
        .filter(|n| !n.is_empty())
}

/// The Node authorizer plus NodeRestriction for kubelets, over RBAC for everyone (see the
/// [module docs](self)).
#[derive(Clone, Debug)]
pub struct NodeAuthorizer {
    rbac: RbacAuthorizer,
    rules: Vec<PolicyRule>,
}

impl NodeAuthorizer {
    /// Node rules in front of `rbac` (whose store is also where pods are looked up).
    pub fn new(rbac: RbacAuthorizer) -> Self {
        NodeAuthorizer {
            rbac,
            rules: node_rules(),
        }
    }

    /// The RBAC authorizer behind.
    pub fn rbac(&self) -> &RbacAuthorizer {
        &self.rbac
    }

    async fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        let kv = self
            .rbac
            .store()
            .get(&format!("/registry/pods/{namespace}/{name}"))
            .await
            .ok()??;
        serde_json::from_slice(&kv.value).ok()
    }

    async fn pod_bound_to(&self, namespace: &str, name: &str, node: &str) -> bool {
        self.pod(namespace, name)
            .await
            .is_some_and(|p| p["spec"]["nodeName"].as_str() == Some(node))
    }

    /// Whether a pod bound to `node` in `namespace` refers to the `resource` named `name`.
    async fn referenced_by_bound_pod(
        &self,
        node: &str,
        namespace: &str,
        resource: &str,
        name: &str,
    ) -> bool {
        let prefix = format!("/registry/pods/{namespace}/");
        let Ok(list) = self
            .rbac
            .store()
            .list(&prefix, ListOptions::default())
            .await
        else {
            return false;
        };
        list.kvs.iter().any(|kv| {
            serde_json::from_slice::<Value>(&kv.value).is_ok_and(|pod| {
                pod["spec"]["nodeName"].as_str() == Some(node)
                    && pod_refers_to(&pod, resource, name)
            })
        })
    }

    /// The node part of the decision: `Ok` when the node rules decide, `Err(reason)` to ask
    /// RBAC (with the Node authorizer's reason for its own "no").
    async fn decide(&self, node: &str, attrs: &Attributes<'_>) -> Result<Access, String> {
        let (verb, ns, name) = (attrs.verb, attrs.namespace, attrs.name);
        let writes = matches!(
            verb,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        );
        // The pod a pod-scoped write addresses must be bound to the node (NodeRestriction:
        // final, whatever RBAC says).
        let pod_rule = match (attrs.api_group, attrs.resource, attrs.subresource) {
            ("", "pods", "status") if writes => Some("update pod status for"),
            ("", "pods", "") if verb == "delete" || verb == "deletecollection" => Some("delete"),
            ("", "pods", "eviction") => Some("evict"),
            _ => None,
        };
        if let Some(what) = pod_rule {
            if name.is_empty() || !self.pod_bound_to(ns, name, node).await {
                return Ok(Access::denied(format!(
                    "node {node:?} can only {what} pods with spec.nodeName set to itself"
                )));
            }
        }
        match (attrs.api_group, attrs.resource, attrs.subresource) {
            ("", "nodes", "" | "status") if writes && verb != "create" && name != node => {
                return Ok(Access::denied(format!(
                    "node {node:?} is not allowed to modify node {name:?}"
                )));
            }
            ("coordination.k8s.io", "leases", _) if ns != NODE_LEASE_NAMESPACE => {
                return Ok(Access::denied(format!(
                    "can only access leases in the {NODE_LEASE_NAMESPACE:?} namespace"
                )));
            }
            ("coordination.k8s.io", "leases", _) if !name.is_empty() && name != node => {
                return Ok(Access::denied(
                    "can only access node lease with the same name as the requesting node"
                        .to_string(),
                ));
            }
            // The Node authorizer's graph: only what a bound pod uses; otherwise RBAC decides.
            ("", resource @ ("secrets" | "configmaps" | "persistentvolumeclaims"), "") => {
                return if verb != "get" || name.is_empty() {
                    Err("can only get individual resources of this type".to_string())
                } else if self.referenced_by_bound_pod(node, ns, resource, name).await {
                    Ok(Access::allowed(String::new()))
                } else {
                    Err(format!(
                        "no relationship found between node '{node}' and this object"
                    ))
                };
            }
            _ => {}
        }
        if rules_allow(&self.rules, attrs) {
            Ok(Access::allowed(String::new()))
        } else {
            Err(String::new())
        }
    }

    /// The full answer for a resource request (see [`RbacAuthorizer::subject_access`]).
    pub async fn subject_access(&self, attrs: &Attributes<'_>) -> Access {
        let Some(node) = node_name(attrs.user) else {
            return self.rbac.subject_access(attrs).await;
        };
        match self.decide(node, attrs).await {
            Ok(access) => access,
            Err(reason) => {
                let rbac = self.rbac.subject_access(attrs).await;
                if rbac.allowed || reason.is_empty() {
                    return rbac;
                }
                // As Kubernetes' union authorizer joins the reasons of the authorizers asked.
                let reason = [reason, rbac.reason]
                    .into_iter()
                    .filter(|r| !r.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
                Access { reason, ..rbac }
            }
        }
    }
}

/// Whether `pod` uses the `resource` (`secrets`, `configmaps`, `persistentvolumeclaims`)
/// named `name`: volumes (also projected), env and envFrom of every container, image pull
/// secrets.
fn pod_refers_to(pod: &Value, resource: &str, name: &str) -> bool {
    fn items(v: &Value) -> impl Iterator<Item = &Value> {
        v.as_array().into_iter().flatten()
    }
    let spec = &pod["spec"];
    let is = |v: &Value| v.as_str() == Some(name);
    let (vol_key, vol_field, env_key, env_from_key) = match resource {
        "secrets" => ("secret", "secretName", "secretKeyRef", "secretRef"),
        "configmaps" => ("configMap", "name", "configMapKeyRef", "configMapRef"),
        "persistentvolumeclaims" => {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or("");
            return items(&spec["volumes"]).any(|v| {
                is(&v["persistentVolumeClaim"]["claimName"])
                    || (!v["ephemeral"].is_null()
                        && v["name"]
                            .as_str()
                            .is_some_and(|vol| name == format!("{pod_name}-{vol}")))
            });
        }
        _ => return false,
    };
    if resource == "secrets" && items(&spec["imagePullSecrets"]).any(|s| is(&s["name"])) {
        return true;
    }
    let volumes = items(&spec["volumes"]).any(|v| {
        is(&v[vol_key][vol_field])
            || items(&v["projected"]["sources"]).any(|s| is(&s[vol_key]["name"]))
    });
    volumes
        || ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .flat_map(|list| items(&spec[*list]))
            .any(|c| {
                items(&c["env"]).any(|e| is(&e["valueFrom"][env_key]["name"]))
                    || items(&c["envFrom"]).any(|e| is(&e[env_from_key]["name"]))
            })
}

#[async_trait]
impl Authorizer for NodeAuthorizer {
    async fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        NodeAuthorizer::subject_access(self, attrs)
            .await
            .into_decision()
    }
    async fn authorize_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Decision {
        self.rbac.authorize_non_resource(user, verb, path).await
    }
    /// Kubernetes' union of the Node and RBAC rule resolvers: a node's rules cannot be
    /// enumerated (its graph-based grants), so they are incomplete with the Node
    /// authorizer's error; RBAC's rules follow.
    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> crate::auth::Rules {
        let mut out = crate::auth::Rules::default();
        if node_name(user).is_some() {
            out.incomplete = true;
            out.errors
                .push("node authorizer does not support user rule resolution".into());
        }
        out.extend(self.rbac.rules_for(user, namespace).await);
        out
    }
}

#[async_trait]
impl SubjectAccess for NodeAuthorizer {
    async fn subject_access(&self, attrs: &Attributes<'_>) -> Access {
        NodeAuthorizer::subject_access(self, attrs).await
    }
    async fn subject_access_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Access {
        self.rbac
            .subject_access_non_resource(user, verb, path)
            .await
    }
}

/// The annotation that marks a mirror pod (the API copy of a static pod).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Label namespaces a kubelet may set on its Node besides non-Kubernetes ones
/// (`kubeletapis.IsKubeletLabel`).
const KUBELET_LABEL_NAMESPACES: [&str; 2] = ["kubelet.kubernetes.io", "node.kubernetes.io"];
/// Kubernetes labels a kubelet may set on its Node.
const KUBELET_LABELS: [&str; 11] = [
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];

fn in_domain(namespace: &str, domain: &str) -> bool {
    namespace == domain || namespace.ends_with(&format!(".{domain}"))
}

/// Whether a kubelet may not set or change the Node label `key`: `node-restriction.kubernetes.io/`
/// labels and every other `kubernetes.io` / `k8s.io` label that is not a kubelet label.
fn forbidden_node_label(key: &str) -> bool {
    let Some((namespace, _)) = key.split_once('/') else {
        return false;
    };
    if in_domain(namespace, "node-restriction.kubernetes.io") {
        return true;
    }
    let kubernetes = in_domain(namespace, "kubernetes.io") || in_domain(namespace, "k8s.io");
    let kubelet = KUBELET_LABELS.contains(&key)
        || KUBELET_LABEL_NAMESPACES
            .iter()
            .any(|d| in_domain(namespace, d));
    kubernetes && !kubelet
}

/// The labels that differ between `new` and `old` and that a kubelet may not change, sorted.
fn forbidden_label_changes(new: &Value, old: Option<&Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let labels = |v: Option<&Value>| {
        v.and_then(|v| v["metadata"]["labels"].as_object())
            .unwrap_or(&empty)
            .clone()
    };
    let (new, old) = (labels(Some(new)), labels(old));
    let mut out: Vec<String> = new
        .keys()
        .chain(old.keys())
        .filter(|k| new.get(*k) != old.get(*k) && forbidden_node_label(k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The NodeRestriction admission plugin: the checks on kubelet writes that need the object,
/// which [`NodeAuthorizer`] cannot see. Add it to the admission chain next to a
/// [`NodeAuthorizer`] (`Chain::default_for(store).with(NodeRestriction)`).
///
/// For a user `system:node:<n>` in `system:nodes`:
///
/// - Node create or update: the Node must be named `n`; it may not set or change
///   `node-restriction.kubernetes.io/` labels or Kubernetes labels other than the kubelet's
///   own (`kubernetes.io/hostname`, `topology.kubernetes.io/zone`, `node.kubernetes.io/…`,
///   …), and on update may not change `spec.taints` or `metadata.ownerReferences`.
/// - Pod create: only mirror pods (annotation `kubernetes.io/config.mirror`) with
///   `spec.nodeName: n`.
/// - Lease create or update: only `kube-node-lease/n`.
///
/// Messages are Kubernetes': `nodes "n2" is forbidden: node "n1" is not allowed to modify
/// node "n2"`, `… is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeRestriction;

#[async_trait]
impl crate::admission::Admission for NodeRestriction {
    fn name(&self) -> &str {
        "NodeRestriction"
    }

    async fn validate(
        &self,
        req: &crate::admission::Request<'_>,
        obj: &Value,
    ) -> crate::Result<()> {
        use crate::admission::Operation;
        let Some(node) = node_name(req.user) else {
            return Ok(());
        };
        let name = obj["metadata"]["name"].as_str().unwrap_or(req.name);
        let forbid = |why: String| {
            Err(crate::errors::forbidden(
                req.group,
                req.resource,
                name,
                &why,
            ))
        };
        match (req.group, req.resource, req.operation) {
            ("", "nodes", Operation::Create | Operation::Update) => {
                if name != node {
                    return forbid(format!(
                        "node {node:?} is not allowed to modify node {name:?}"
                    ));
                }
                if req.operation == Operation::Update && req.subresource.is_empty() {
                    let old = req.old_object.unwrap_or(&Value::Null);
                    if obj["spec"]["taints"] != old["spec"]["taints"] {
                        return forbid(format!("node {node:?} is not allowed to modify taints"));
                    }
                    if obj["metadata"]["ownerReferences"] != old["metadata"]["ownerReferences"] {
                        return forbid(format!(
                            "node {node:?} is not allowed to modify ownerReferences"
                        ));
                    }
                }
                let bad = forbidden_label_changes(obj, req.old_object);
                if !bad.is_empty() {
                    return forbid(if req.operation == Operation::Create {
                        format!(
                            "node {node:?} is not allowed to set the following labels: {}",
                            bad.join(", ")
                        )
                    } else {
                        format!("is not allowed to modify labels: {}", bad.join(", "))
                    });
                }
            }
            ("", "pods", Operation::Create) if req.subresource.is_empty() => {
                let mirror = obj["metadata"]["annotations"][MIRROR_POD_ANNOTATION].is_string();
                if !mirror {
                    return forbid(format!(
                        "pod does not have {MIRROR_POD_ANNOTATION:?} annotation, node {node:?} can only create mirror pods"
                    ));
                }
                if obj["spec"]["nodeName"].as_str() != Some(node) {
                    return forbid(format!(
                        "node {node:?} can only create pods with spec.nodeName set to itself"
                    ));
                }
            }
            ("coordination.k8s.io", "leases", Operation::Create | Operation::Update) => {
                if req.namespace != NODE_LEASE_NAMESPACE {
                    return forbid(format!(
                        "can only access leases in the {NODE_LEASE_NAMESPACE:?} namespace"
                    ));
                }
                if name != node {
                    return forbid(
                        "can only access node lease with the same name as the requesting node"
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}
