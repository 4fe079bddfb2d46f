//! [`Policy`]: a set of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in memory,
//! and the rule resolution of Kubernetes' `DefaultRuleResolver` over it (sans IO).

use super::rules::{self, applies_to, describe_subject};
use super::Access;
use crate::auth::{Attributes, UserInfo};
use kubox_core::api::rbac_v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kubox_core::selector::Selector;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

/// The etcd key prefixes of the four RBAC resources, as kube-api stores them.
pub const KEY_PREFIXES: [&str; 4] = [
    "/registry/roles/",
    "/registry/rolebindings/",
    "/registry/clusterroles/",
    "/registry/clusterrolebindings/",
];

/// Roles, ClusterRoles and their bindings, indexed for authorization: the state an
/// [`RbacAuthorizer`](super::RbacAuthorizer) keeps in memory, usable on its own for pure
/// evaluation (tests, tools).
///
/// Authorization walks ClusterRoleBindings first, then the RoleBindings of the request's
/// namespace, as Kubernetes' `DefaultRuleResolver.VisitRulesFor` does, and stops at the first
/// rule that allows. A ClusterRole with an `aggregationRule` contributes the rules of every
/// other ClusterRole its selectors match (recursively, as the aggregation controller would
/// have written them), not its own `rules`.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    roles: HashMap<String, HashMap<String, Arc<Role>>>,
    role_bindings: HashMap<String, BTreeMap<String, Arc<RoleBinding>>>,
    cluster_roles: BTreeMap<String, Arc<ClusterRole>>,
    cluster_role_bindings: BTreeMap<String, Arc<ClusterRoleBinding>>,
}

/// Which object a storage key names.
enum Key<'a> {
    Role(&'a str, &'a str),
    RoleBinding(&'a str, &'a str),
    ClusterRole(&'a str),
    ClusterRoleBinding(&'a str),
}

fn parse_key(key: &str) -> Option<Key<'_>> {
    let rest = key.strip_prefix("/registry/")?;
    let (segment, rest) = rest.split_once('/')?;
    fn namespaced(rest: &str) -> Option<(&str, &str)> {
        rest.split_once('/')
            .filter(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
    }
    match segment {
        "roles" => namespaced(rest).map(|(ns, n)| Key::Role(ns, n)),
        "rolebindings" => namespaced(rest).map(|(ns, n)| Key::RoleBinding(ns, n)),
        "clusterroles" if !rest.is_empty() && !rest.contains('/') => Some(Key::ClusterRole(rest)),
        "clusterrolebindings" if !rest.is_empty() && !rest.contains('/') => {
            Some(Key::ClusterRoleBinding(rest))
        }
        _ => None,
    }
}

fn name_of(meta: &kubox_core::meta::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace_of(meta: &kubox_core::meta::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

impl Policy {
    /// An empty policy (allows nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `key` is the storage key of an RBAC object.
    pub fn is_rbac_key(key: &str) -> bool {
        parse_key(key).is_some()
    }

    /// Adds or replaces a Role (keyed by `metadata.namespace` and `metadata.name`).
    pub fn add_role(&mut self, role: Role) {
        let (ns, name) = (namespace_of(&role.metadata), name_of(&role.metadata));
        self.roles
            .entry(ns)
            .or_default()
            .insert(name, Arc::new(role));
    }

    /// Adds or replaces a ClusterRole.
    pub fn add_cluster_role(&mut self, role: ClusterRole) {
        self.cluster_roles
            .insert(name_of(&role.metadata), Arc::new(role));
    }

    /// Adds or replaces a RoleBinding (keyed by `metadata.namespace` and `metadata.name`).
    pub fn add_role_binding(&mut self, binding: RoleBinding) {
        let (ns, name) = (namespace_of(&binding.metadata), name_of(&binding.metadata));
        self.role_bindings
            .entry(ns)
            .or_default()
            .insert(name, Arc::new(binding));
    }

    /// Adds or replaces a ClusterRoleBinding.
    pub fn add_cluster_role_binding(&mut self, binding: ClusterRoleBinding) {
        self.cluster_role_bindings
            .insert(name_of(&binding.metadata), Arc::new(binding));
    }

    /// Applies a stored object: `value` is the JSON at `key` (one of kube-api's RBAC keys, see
    /// [`KEY_PREFIXES`]) or `None` for a deletion. The key decides the object's identity; a
    /// value that does not decode removes the object (it could not grant anything). Returns
    /// whether `key` was an RBAC key.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> bool {
        let Some(k) = parse_key(key) else {
            return false;
        };
        fn decode<T: serde::de::DeserializeOwned>(key: &str, v: Option<&[u8]>) -> Option<T> {
            let v = v?;
            match serde_json::from_slice(v) {
                Ok(obj) => Some(obj),
                Err(e) => {
                    tracing::warn!(key, error = %e, "rbac: ignoring an undecodable object");
                    None
                }
            }
        }
        match k {
            Key::Role(ns, name) => match decode::<Role>(key, value) {
                Some(mut r) => {
                    r.metadata.namespace = Some(ns.into());
                    r.metadata.name = Some(name.into());
                    self.add_role(r);
                }
                None => {
                    if let Some(m) = self.roles.get_mut(ns) {
                        m.remove(name);
                        if m.is_empty() {
                            self.roles.remove(ns);
                        }
                    }
                }
            },
            Key::RoleBinding(ns, name) => match decode::<RoleBinding>(key, value) {
                Some(mut b) => {
                    b.metadata.namespace = Some(ns.into());
                    b.metadata.name = Some(name.into());
                    self.add_role_binding(b);
                }
                None => {
                    if let Some(m) = self.role_bindings.get_mut(ns) {
                        m.remove(name);
                        if m.is_empty() {
                            self.role_bindings.remove(ns);
                        }
                    }
                }
            },
            Key::ClusterRole(name) => match decode::<ClusterRole>(key, value) {
                Some(mut r) => {
                    r.metadata.name = Some(name.into());
                    self.add_cluster_role(r);
                }
                None => {
                    self.cluster_roles.remove(name);
                }
            },
            Key::ClusterRoleBinding(name) => match decode::<ClusterRoleBinding>(key, value) {
                Some(mut b) => {
                    b.metadata.name = Some(name.into());
                    self.add_cluster_role_binding(b);
                }
                None => {
                    self.cluster_role_bindings.remove(name);
                }
            },
        }
        true
    }

    /// The ClusterRole named `name`.
    pub fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.cluster_roles.get(name).map(|r| &**r)
    }

    /// The Role `name` in `namespace`.
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.roles.get(namespace)?.get(name).map(|r| &**r)
    }

    /// Number of objects of each kind: (roles, role bindings, cluster roles, cluster role
    /// bindings).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.roles.values().map(HashMap::len).sum(),
            self.role_bindings.values().map(BTreeMap::len).sum(),
            self.cluster_roles.len(),
            self.cluster_role_bindings.len(),
        )
    }

    /// The effective rules of the ClusterRole `name`: its `rules`, or for an aggregated role the
    /// union of the effective rules of the other ClusterRoles its selectors match (in name
    /// order, duplicates removed), as the ClusterRole aggregation controller computes them.
    /// `None` if there is no such ClusterRole.
    pub fn cluster_role_rules(&self, name: &str) -> Option<Vec<PolicyRule>> {
        self.cluster_roles.get(name)?;
        let mut out: Vec<PolicyRule> = Vec::new();
        let mut seen = vec![name.to_string()];
        self.for_each_cluster_role_rule(name, &mut seen, &mut |r| {
            if !out.contains(r) {
                out.push(r.clone());
            }
            true
        });
        Some(out)
    }

    /// Calls `f` with each effective rule of the ClusterRole `name` until it returns false;
    /// returns false if it did. `visiting` holds the roles on the current aggregation path
    /// (cycles contribute nothing).
    fn for_each_cluster_role_rule(
        &self,
        name: &str,
        visiting: &mut Vec<String>,
        f: &mut dyn FnMut(&PolicyRule) -> bool,
    ) -> bool {
        let Some(role) = self.cluster_roles.get(name) else {
            return true;
        };
        let Some(agg) = &role.aggregation_rule else {
            return role.rules.iter().flatten().all(&mut *f);
        };
        let selectors: Vec<Selector> = agg
            .cluster_role_selectors
            .iter()
            .flatten()
            .filter_map(|s| s.to_selector().ok())
            .collect();
        for (other, candidate) in &self.cluster_roles {
            if visiting.iter().any(|v| v == other) {
                continue;
            }
            if !selectors
                .iter()
                .any(|s| s.matches(&candidate.metadata.labels))
            {
                continue;
            }
            visiting.push(other.clone());
            let go_on = self.for_each_cluster_role_rule(other, visiting, f);
            visiting.pop();
            if !go_on {
                return false;
            }
        }
        true
    }

    /// Calls `f` with each rule of the role a binding refers to (`GetRoleReferenceRules`);
    /// `Err` with Kubernetes' message if the role does not exist or the kind is unknown.
    /// `Ok(false)` if `f` stopped the walk.
    fn for_each_ref_rule(
        &self,
        role_ref: &RoleRef,
        binding_namespace: &str,
        f: &mut dyn FnMut(&PolicyRule) -> bool,
    ) -> Result<bool, String> {
        match role_ref.kind.as_str() {
            "Role" => {
                let role = self
                    .role(binding_namespace, &role_ref.name)
                    .ok_or_else(|| {
                        format!(
                            "role.rbac.authorization.k8s.io {:?} not found",
                            role_ref.name
                        )
                    })?;
                Ok(role.rules.iter().flatten().all(&mut *f))
            }
            "ClusterRole" => {
                if !self.cluster_roles.contains_key(&role_ref.name) {
                    return Err(format!(
                        "clusterrole.rbac.authorization.k8s.io {:?} not found",
                        role_ref.name
                    ));
                }
                let mut visiting = vec![role_ref.name.clone()];
                Ok(self.for_each_cluster_role_rule(&role_ref.name, &mut visiting, f))
            }
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }

    /// The rules of the role a binding in `binding_namespace` (`""` for a
    /// ClusterRoleBinding) refers to (`GetRoleReferenceRules`), or Kubernetes' error message
    /// (`clusterrole.rbac.authorization.k8s.io "x" not found`).
    pub fn role_ref_rules(
        &self,
        role_ref: &RoleRef,
        binding_namespace: &str,
    ) -> Result<Vec<PolicyRule>, String> {
        let mut out = Vec::new();
        self.for_each_ref_rule(role_ref, binding_namespace, &mut |r| {
            out.push(r.clone());
            true
        })?;
        Ok(out)
    }

    /// Walks the rules that apply to `user` in `namespace` (`VisitRulesFor`) until `allows`
    /// accepts one: the answer carries Kubernetes' reason (`RBAC: allowed by …`, or the role
    /// resolution errors met on the way, as `RBAC: …`).
    pub fn check(
        &self,
        user: &UserInfo,
        namespace: &str,
        allows: &dyn Fn(&PolicyRule) -> bool,
    ) -> Access {
        let mut errors: Vec<String> = Vec::new();
        for (name, crb) in &self.cluster_role_bindings {
            let subjects = crb.subjects.as_deref().unwrap_or(&[]);
            let Some(i) = applies_to(subjects, user, "") else {
                continue;
            };
            let mut hit = false;
            match self.for_each_ref_rule(&crb.role_ref, "", &mut |r| {
                hit = allows(r);
                !hit
            }) {
                Err(e) => errors.push(e),
                Ok(_) if hit => {
                    return Access::allowed(format!(
                        "RBAC: allowed by ClusterRoleBinding {name:?} of {} {:?} to {}",
                        crb.role_ref.kind,
                        crb.role_ref.name,
                        describe_subject(&subjects[i], "")
                    ))
                }
                Ok(_) => {}
            }
        }
        if !namespace.is_empty() {
            for (name, rb) in self.role_bindings.get(namespace).into_iter().flatten() {
                let subjects: &[Subject] = rb.subjects.as_deref().unwrap_or(&[]);
                let Some(i) = applies_to(subjects, user, namespace) else {
                    continue;
                };
                let mut hit = false;
                match self.for_each_ref_rule(&rb.role_ref, namespace, &mut |r| {
                    hit = allows(r);
                    !hit
                }) {
                    Err(e) => errors.push(e),
                    Ok(_) if hit => {
                        return Access::allowed(format!(
                            "RBAC: allowed by RoleBinding {:?} of {} {:?} to {}",
                            format!("{name}/{namespace}"),
                            rb.role_ref.kind,
                            rb.role_ref.name,
                            describe_subject(&subjects[i], namespace)
                        ))
                    }
                    Ok(_) => {}
                }
            }
        }
        Access::no_opinion(aggregate_reason(&errors))
    }

    /// The decision for a resource request (`RBACAuthorizer.Authorize`).
    pub fn authorize(&self, attrs: &Attributes<'_>) -> Access {
        self.check(attrs.user, attrs.namespace, &|r| {
            rules::rule_allows(r, attrs)
        })
    }

    /// The decision for a non-resource request: `verb` (`get`, `post`, …) on `path`. Only
    /// ClusterRoleBindings grant non-resource URLs.
    pub fn authorize_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Access {
        self.check(user, "", &|r| {
            rules::rule_allows_non_resource(r, verb, path)
        })
    }

    /// Every rule that applies to `user` in `namespace` (`RulesFor`), with the resolution
    /// errors (what `SelfSubjectRulesReview` and `kubectl auth can-i --list` show).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let mut collect = |role_ref: &RoleRef, ns: &str, out: &mut Vec<PolicyRule>| {
            if let Err(e) = self.for_each_ref_rule(role_ref, ns, &mut |r| {
                out.push(r.clone());
                true
            }) {
                errors.push(e);
            }
        };
        for crb in self.cluster_role_bindings.values() {
            if applies_to(crb.subjects.as_deref().unwrap_or(&[]), user, "").is_some() {
                collect(&crb.role_ref, "", &mut out);
            }
        }
        if !namespace.is_empty() {
            for rb in self
                .role_bindings
                .get(namespace)
                .into_iter()
                .flatten()
                .map(|(_, b)| b)
            {
                if applies_to(rb.subjects.as_deref().unwrap_or(&[]), user, namespace).is_some() {
                    collect(&rb.role_ref, namespace, &mut out);
                }
            }
        }
        (out, errors)
    }
}

/// `RBAC: <errors>` as `utilerrors.NewAggregate` prints them (one error as is, several as
/// `[a, b]`), or `""` without errors.
fn aggregate_reason(errors: &[String]) -> String {
    match errors {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => {
            let mut s = String::from("RBAC: [");
            for (i, e) in many.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{e}");
            }
            s.push(']');
            s
        }
    }
}
