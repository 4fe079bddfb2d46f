//! Who is asking and whether they may: [`UserInfo`], the [`Authorizer`] trait and its
//! reference implementation [`AllowAll`].
//!
//! Authentication happens outside the [`crate::ApiServer`] (the HTTP layer maps a bearer token
//! or a client certificate to a [`UserInfo`]; the in-process client is configured with one).
//! Authorization is the first step of [`crate::ApiServer::handle`]: the server builds the
//! request's [`Attributes`] and asks its authorizer; a [`Decision::Deny`] or
//! [`Decision::NoOpinion`] becomes kube-apiserver's 403 Forbidden. Non-resource requests
//! (`/version`, `/api`, `/metrics`, …) are decided by [`Authorizer::authorize_non_resource`],
//! which the HTTP layer asks through [`crate::ApiServer::authorize_non_resource`].

use async_trait::async_trait;
use std::collections::BTreeMap;

/// An authenticated identity (`user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (`system:admin`, `system:serviceaccount:ns:sa`, `system:anonymous`).
    pub name: String,
    /// Unique id, if the authenticator knows one.
    pub uid: String,
    /// Groups (`system:masters`, `system:authenticated`, …).
    pub groups: Vec<String>,
    /// Extra attributes from the authenticator.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user named `name` in `groups`.
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }
    /// The cluster administrator: `system:admin` in `system:masters` and
    /// `system:authenticated`.
    pub fn admin() -> Self {
        Self::new("system:admin", &["system:masters", "system:authenticated"])
    }
}

/// The attributes of a resource request that an authorizer decides on
/// (`authorizer.Attributes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// Who.
    pub user: &'a UserInfo,
    /// Kubernetes verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`.
    pub verb: &'a str,
    /// Namespace (empty for cluster-scoped resources and all-namespace lists).
    pub namespace: &'a str,
    /// API group (`""` for core).
    pub api_group: &'a str,
    /// API version.
    pub api_version: &'a str,
    /// Resource plural (`pods`).
    pub resource: &'a str,
    /// Subresource (`status`, `scale`, …; empty for none).
    pub subresource: &'a str,
    /// Object name (empty for collection requests).
    pub name: &'a str,
}

impl Attributes<'_> {
    /// kube-apiserver's denial text: `User "u" cannot get resource "pods" in API group "" in
    /// the namespace "ns"` (or `… at the cluster scope`).
    pub fn forbidden_message(&self) -> String {
        let resource = if self.subresource.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        if self.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                self.user.name, self.verb, self.api_group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                self.user.name, self.verb, self.api_group, self.namespace
            )
        }
    }
}

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allow,
    /// The request is denied; the reason (may be empty) is appended to the 403 message.
    Deny(String),
    /// The authorizer has no opinion (the next one in a chain decides; at the end: denied).
    NoOpinion(String),
}

/// Decides whether a request may proceed (`authorizer.Authorizer`).
///
/// # Contract
///
/// - `authorize` has no side effects and may be called concurrently; it is called once per
///   request, before admission and before any store access.
/// - Anything but [`Decision::Allow`] is answered with 403 Forbidden, carrying the reason.
/// - It is object safe (`Arc<dyn Authorizer>`), via `async-trait` (RBAC reads its roles from an
///   informer cache, which may need to wait for sync).
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// The decision for `attrs`.
    async fn authorize(&self, attrs: &Attributes<'_>) -> Decision;

    /// The decision for a non-resource request: `verb` is the lower-case HTTP method (`get`
    /// for GET and HEAD, `post`, `put`, …) on `path` (`/version`, `/healthz`, `/api`,
    /// `/apis/apps/v1`, `/openapi/v3`, `/metrics`, …). Anything but [`Decision::Allow`] is
    /// answered with 403 `forbidden: User "u" cannot get path "/x"` (see
    /// [`non_resource_forbidden_message`]).
    ///
    /// The default allows everything, which keeps authorizers written for resources only (and
    /// [`AllowAll`]) serving discovery; RBAC-like authorizers override it.
    async fn authorize_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Decision {
        let _ = (user, verb, path);
        Decision::Allow
    }

    /// Every rule `user` holds in `namespace` (`authorizer.RuleResolver.RulesFor`): what a
    /// SelfSubjectRulesReview (`kubectl auth can-i --list`) answers.
    ///
    /// The default cannot enumerate anything: no rules, [`Rules::incomplete`], and an
    /// evaluation error saying so. Authorizers that can list their rules override it.
    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let _ = (user, namespace);
        Rules {
            incomplete: true,
            errors: vec!["this authorizer does not support user rule resolution".into()],
            ..Rules::default()
        }
    }
}

/// What [`Authorizer::rules_for`] found: the rules (resource rules have `resources`,
/// non-resource rules `nonResourceURLs`), whether the list is incomplete, and the errors met.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    /// The rules, in resolution order.
    pub rules: Vec<kubox_core::api::rbac_v1::PolicyRule>,
    /// Some rules could not be listed (`status.incomplete`).
    pub incomplete: bool,
    /// Errors met while resolving (joined into `status.evaluationError`).
    pub errors: Vec<String>,
}

impl Rules {
    /// Everything: `*` verbs on `*` resources of `*` groups and on the non-resource URL `*`
    /// (what an always-allow or privileged-group authorizer holds).
    pub fn everything() -> Self {
        let all = || Some(vec!["*".to_string()]);
        Rules {
            rules: vec![
                kubox_core::api::rbac_v1::PolicyRule {
                    verbs: vec!["*".into()],
                    api_groups: all(),
                    resources: all(),
                    ..Default::default()
                },
                kubox_core::api::rbac_v1::PolicyRule {
                    verbs: vec!["*".into()],
                    non_resource_urls: all(),
                    ..Default::default()
                },
            ],
            incomplete: false,
            errors: Vec::new(),
        }
    }

    /// `other`'s rules, incompleteness and errors added after these (a union authorizer).
    pub fn extend(&mut self, other: Rules) {
        self.rules.extend(other.rules);
        self.incomplete |= other.incomplete;
        self.errors.extend(other.errors);
    }

    /// The errors as `utilerrors.NewAggregate` prints them (one as is, several as `[a, b]`),
    /// `None` without errors.
    pub fn evaluation_error(&self) -> Option<String> {
        match self.errors.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => Some(format!("[{}]", many.join(", "))),
        }
    }
}

/// kube-apiserver's denial text for a non-resource request: `User "u" cannot get path "/x"`.
pub fn non_resource_forbidden_message(user: &UserInfo, verb: &str, path: &str) -> String {
    format!("User {:?} cannot {verb} path {path:?}", user.name)
}

/// The reference authorizer: allows everything (kube-apiserver's `AlwaysAllow` mode).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(&self, _attrs: &Attributes<'_>) -> Decision {
        Decision::Allow
    }
    async fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::everything()
    }
}
