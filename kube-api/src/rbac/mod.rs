//! Role-based access control: Kubernetes' RBAC authorizer, its default policy, the Node
//! authorizer and SelfSubjectAccessReview.
//!
//! # Tour
//!
//! - [`rules`]: pure matching of a `PolicyRule` against a request (verbs, API groups,
//!   resources with `*` and `*/subresource`, resourceNames, non-resource URLs with a trailing
//!   `*`) and of binding subjects against a user (User, Group, ServiceAccount).
//! - [`Policy`]: the RBAC objects in memory and Kubernetes' rule resolution over them
//!   (ClusterRoleBindings, then the RoleBindings of the request's namespace; ClusterRole
//!   aggregation), without IO.
//! - [`RbacAuthorizer`]: the [`Authorizer`](crate::auth::Authorizer) over a [`Policy`] that a
//!   background task keeps in step with the store (list + watch, re-list on compaction);
//!   [`RbacAuthorizer::wait_for_revision`] makes a write's effect awaitable.
//!   [`RbacAuthorizer::authorize_non_resource`] decides `/version`, `/healthz`, `/apis`, … .
//! - [`NodeAuthorizer`]: kubelets (`system:node:<name>`) get the `system:node` rules, but
//!   write only their own Node, Lease and the status of pods bound to them;
//!   [`NodeRestriction`] is the admission half that checks the objects they write.
//! - [`RbacEscalation`] (module [`escalation`]): the admission plugin that lets users grant
//!   only what they hold (or may `escalate`/`bind`).
//! - [`bootstrap`]: the default ClusterRoles and ClusterRoleBindings and
//!   [`ensure_bootstrap_policy`].
//! - [`self_subject_access_review`]: the answer of
//!   `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` (`kubectl auth can-i`),
//!   over any [`SubjectAccess`]; the [`ApiServer`](crate::ApiServer) answers it with its own
//!   authorizer through [`AuthorizerAccess`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use kube_api::rbac::{self, RbacAuthorizer};
//! use kube_api::{ApiServer, LocalClient, UserInfo};
//! use kube_store::embedded::EmbeddedStore;
//! use kubox_core::api::core_v1::Pod;
//! use kubox_core::client::Api;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn kube_store::Store> = Arc::new(EmbeddedStore::in_memory());
//! let rbac = RbacAuthorizer::new(store.clone());
//! let server = ApiServer::builder(store).authorizer(Arc::new(rbac.clone())).build();
//! server.ensure_system_namespaces().await?;
//! rbac::ensure_bootstrap_policy(&server).await?;
//!
//! let alice = UserInfo::new("alice", &["system:authenticated"]);
//! let pods: Api<Pod> = Api::namespaced(LocalClient::new(server, alice).into_client(), "default");
//! let err = pods.list(&Default::default()).await.unwrap_err();
//! assert_eq!(err.code(), Some(403));
//! # Ok(())
//! # }
//! ```

mod authorizer;
pub mod bootstrap;
pub mod escalation;
pub mod node;
mod policy;
pub mod rules;

pub use authorizer::{RbacAuthorizer, SYSTEM_MASTERS};
pub use bootstrap::{ensure_bootstrap_policy, BootstrapReport};
pub use escalation::RbacEscalation;
pub use node::{
    node_name, NodeAuthorizer, NodeRestriction, MIRROR_POD_ANNOTATION, NODES_GROUP,
    NODE_LEASE_NAMESPACE, NODE_USER_PREFIX,
};
pub use policy::{Policy, KEY_PREFIXES};
pub use rules::allows_non_resource;

use crate::auth::{Attributes, Decision, UserInfo};
use crate::errors::{self, FieldError};
use async_trait::async_trait;
use serde_json::{json, Value};

/// An authorizer's full answer, as a SubjectAccessReview reports it (`status.allowed`,
/// `status.denied`, `status.reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The request may proceed.
    pub allowed: bool,
    /// The request was explicitly denied (not merely left without an opinion).
    pub denied: bool,
    /// Why: `RBAC: allowed by …`, the resolution errors met, or a node restriction.
    pub reason: String,
}

impl Access {
    /// Allowed, for `reason`.
    pub fn allowed(reason: String) -> Self {
        Access {
            allowed: true,
            denied: false,
            reason,
        }
    }
    /// No rule allows it (RBAC's answer for everything it does not allow).
    pub fn no_opinion(reason: String) -> Self {
        Access {
            allowed: false,
            denied: false,
            reason,
        }
    }
    /// Explicitly denied.
    pub fn denied(reason: String) -> Self {
        Access {
            allowed: false,
            denied: true,
            reason,
        }
    }
    /// As an authorizer [`Decision`] (the allow reason is dropped: the server logs nothing of
    /// it).
    pub fn into_decision(self) -> Decision {
        match (self.allowed, self.denied) {
            (true, _) => Decision::Allow,
            (false, true) => Decision::Deny(self.reason),
            (false, false) => Decision::NoOpinion(self.reason),
        }
    }
}

/// An authorizer that can explain itself and also decides non-resource requests: what a
/// SubjectAccessReview needs. Implemented by [`RbacAuthorizer`] and [`NodeAuthorizer`].
#[async_trait]
pub trait SubjectAccess: Send + Sync {
    /// The answer for a resource request (`attrs.user` is the subject).
    async fn subject_access(&self, attrs: &Attributes<'_>) -> Access;
    /// The answer for `verb` on the non-resource `path`.
    async fn subject_access_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Access;
}

/// Any [`Authorizer`](crate::auth::Authorizer) as a [`SubjectAccess`]: its [`Decision`]
/// becomes the review's answer (an allow carries no reason). What the API server uses to answer
/// a SelfSubjectAccessReview with whatever authorizer it was built with.
#[derive(Clone, Copy)]
pub struct AuthorizerAccess<'a>(pub &'a dyn crate::auth::Authorizer);

impl std::fmt::Debug for AuthorizerAccess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizerAccess")
    }
}

fn decision_access(d: Decision) -> Access {
    match d {
        Decision::Allow => Access::allowed(String::new()),
        Decision::Deny(r) => Access::denied(r),
        Decision::NoOpinion(r) => Access::no_opinion(r),
    }
}

#[async_trait]
impl SubjectAccess for AuthorizerAccess<'_> {
    async fn subject_access(&self, attrs: &Attributes<'_>) -> Access {
        decision_access(self.0.authorize(attrs).await)
    }
    async fn subject_access_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Access {
        decision_access(self.0.authorize_non_resource(user, verb, path).await)
    }
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

/// The response to `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` with `body`,
/// asked by `user` (`kubectl auth can-i`): the review with `status.allowed` and, when set,
/// `status.denied` and `status.reason`.
///
/// `spec.resourceAttributes` (`namespace`, `verb`, `group`, `version`, `resource`,
/// `subresource`, `name`) or `spec.nonResourceAttributes` (`path`, `verb`) — exactly one — as
/// Kubernetes validates them (422 otherwise). The caller checks that `user` may create
/// `selfsubjectaccessreviews` (granted by `system:basic-user`) before calling this.
pub async fn self_subject_access_review<A: SubjectAccess + ?Sized>(
    authorizer: &A,
    user: &UserInfo,
    body: &Value,
) -> crate::Result<Value> {
    if !body.is_object() {
        return Err(errors::bad_request(
            "the request body must be a SelfSubjectAccessReview object",
        ));
    }
    let spec = &body["spec"];
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let access = match (resource, non_resource) {
        (Some(ra), None) => {
            let attrs = Attributes {
                user,
                verb: str_field(ra, "verb"),
                namespace: str_field(ra, "namespace"),
                api_group: str_field(ra, "group"),
                api_version: str_field(ra, "version"),
                resource: str_field(ra, "resource"),
                subresource: str_field(ra, "subresource"),
                name: str_field(ra, "name"),
            };
            authorizer.subject_access(&attrs).await
        }
        (None, Some(nra)) => {
            authorizer
                .subject_access_non_resource(user, str_field(nra, "verb"), str_field(nra, "path"))
                .await
        }
        (Some(_), Some(_)) => {
            return Err(errors::invalid(
                "authorization.k8s.io",
                "SelfSubjectAccessReview",
                "",
                &[FieldError::invalid(
                    "spec.nonResourceAttributes",
                    &nra_text(spec),
                    "cannot be specified in combination with resourceAttributes",
                )],
            ))
        }
        (None, None) => {
            return Err(errors::invalid(
                "authorization.k8s.io",
                "SelfSubjectAccessReview",
                "",
                &[FieldError::invalid(
                    "spec.resourceAttributes",
                    "null",
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )],
            ))
        }
    };
    let mut status = json!({"allowed": access.allowed});
    if access.denied {
        status["denied"] = json!(true);
    }
    if !access.reason.is_empty() {
        status["reason"] = json!(access.reason);
    }
    let mut metadata = body["metadata"].as_object().cloned().unwrap_or_default();
    metadata
        .entry("creationTimestamp".to_string())
        .or_insert(Value::Null);
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }))
}

fn nra_text(spec: &Value) -> String {
    spec["nonResourceAttributes"].to_string()
}
