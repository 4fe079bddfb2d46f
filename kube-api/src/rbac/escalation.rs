//! Privilege-escalation prevention: a user may only create or update a Role or ClusterRole
//! whose rules they already hold, and only bind a role whose rules they already hold — unless
//! they may `escalate` (roles) or `bind` (bindings) it, or are in `system:masters`
//! (Kubernetes' `pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased`
//! and `ConfirmNoEscalation`). [`covers`] is the pure rule comparison; [`RbacEscalation`] the
//! admission plugin that applies it.

use super::authorizer::SYSTEM_MASTERS;
use super::RbacAuthorizer;
use crate::admission::{Admission, Operation, Request};
use crate::auth::{Attributes, UserInfo};
use crate::errors;
use async_trait::async_trait;
use kubox_core::api::rbac_v1::{PolicyRule, RoleRef};
use serde_json::Value;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(set, i))
}

/// One verb on one resource (or URL) of one group, and at most one name (`BreakdownRule`).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &str| Some(vec![s.to_string()]);
    let mut out = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..Default::default()
                };
                let names = list(&rule.resource_names);
                if names.is_empty() {
                    out.push(base);
                } else {
                    for name in names {
                        out.push(PolicyRule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..Default::default()
            });
        }
    }
    out
}

fn resources_cover_all(owner: &[String], requested: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, requested) {
        return true;
    }
    requested.iter().all(|path| {
        has(owner, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(owner, &format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, requested: &str) -> bool {
    owner == requested
        || (owner.ends_with('*') && requested.starts_with(owner.trim_end_matches('*')))
}

/// Whether `owner` grants everything `requested` does (`ruleCovers`).
fn rule_covers(owner: &PolicyRule, requested: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &requested.verbs);
    let groups = has(list(&owner.api_groups), "*")
        || has_all(list(&owner.api_groups), list(&requested.api_groups));
    let resources = resources_cover_all(list(&owner.resources), list(&requested.resources));
    let urls = list(&requested.non_resource_urls).iter().all(|u| {
        list(&owner.non_resource_urls)
            .iter()
            .any(|o| url_covers(o, u))
    });
    let (owned_names, names) = (list(&owner.resource_names), list(&requested.resource_names));
    let names_ok = if names.is_empty() {
        owned_names.is_empty()
    } else {
        owned_names.is_empty() || has_all(owned_names, names)
    };
    verbs && groups && resources && urls && names_ok
}

/// Whether `owner_rules` grant everything `requested` grants (`validation.Covers`), and the
/// broken-down rules that are missing.
pub fn covers(owner_rules: &[PolicyRule], requested: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let missing: Vec<PolicyRule> = requested
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner_rules.iter().any(|o| rule_covers(o, sub)))
        .collect();
    (missing.is_empty(), missing)
}

/// Merges the verbs of missing rules that differ only in their verb (`CompactRules`).
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let simple = list(&rule.api_groups).len() == 1
            && list(&rule.resources).len() == 1
            && list(&rule.resource_names).len() <= 1
            && list(&rule.non_resource_urls).is_empty();
        let same = |o: &PolicyRule| {
            o.api_groups == rule.api_groups
                && o.resources == rule.resources
                && o.resource_names == rule.resource_names
                && o.non_resource_urls.is_none()
        };
        match out.iter_mut().find(|o| simple && same(o)) {
            Some(existing) => existing.verbs.extend(rule.verbs),
            None => out.push(rule),
        }
    }
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", inner.join(" "))
}

/// A rule as Kubernetes prints it in escalation errors (`CompactString`):
/// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["create" "delete"]}`.
pub fn compact_string(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, items) in [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("ResourceNames", list(&rule.resource_names)),
        ("Verbs", &rule.verbs[..]),
    ] {
        if !items.is_empty() {
            parts.push(format!("{label}:{}", go_quoted(items)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// `ConfirmNoEscalation`: `Ok` if `user`'s rules in `namespace` cover `rules`, else
/// Kubernetes' message (`user "u" (groups=["g"]) is attempting to grant RBAC permissions not
/// currently held:` and one missing rule per line).
pub fn confirm_no_escalation(
    rbac: &RbacAuthorizer,
    user: &UserInfo,
    namespace: &str,
    rules: &[PolicyRule],
) -> Result<(), String> {
    let (owner, errors) = rbac.with_policy(|p| p.rules_for(user, namespace));
    let (ok, missing) = covers(&owner, rules);
    if ok {
        return Ok(());
    }
    let mut lines: Vec<String> = compact(missing).iter().map(compact_string).collect();
    lines.sort();
    lines.dedup();
    let mut msg = format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        go_quoted(&user.groups),
        lines.join("\n")
    );
    if !errors.is_empty() {
        msg.push_str(&format!("; resolution errors: [{}]", errors.join(" ")));
    }
    Err(msg)
}

/// The admission plugin that prevents privilege escalation through the RBAC API (see the
/// [module docs](self)). Add it to the admission chain of a server that uses the
/// [`RbacAuthorizer`]: `Chain::default_for(store).with(RbacEscalation::new(rbac))`.
///
/// - Role / ClusterRole create and update (when the rules change): the rules must be covered
///   by the user's, unless the user may `escalate` that role. A ClusterRole with an
///   `aggregationRule` needs cluster-admin powers.
/// - RoleBinding / ClusterRoleBinding create and update (when roleRef or subjects change): the
///   role's rules must be covered, unless the user may `bind` it; a missing role is 404.
/// - `system:masters` is exempt. Kubernetes checks every update except those touching only
///   garbage-collection fields; this plugin skips every update that leaves rules, roleRef and
///   subjects unchanged.
#[derive(Clone, Debug)]
pub struct RbacEscalation {
    rbac: RbacAuthorizer,
}

impl RbacEscalation {
    /// The plugin, reading the users' rules from `rbac`'s cache.
    pub fn new(rbac: RbacAuthorizer) -> Self {
        RbacEscalation { rbac }
    }

    async fn may(&self, req: &Request<'_>, verb: &str, resource: &str, name: &str) -> bool {
        let attrs = Attributes {
            user: req.user,
            verb,
            namespace: req.namespace,
            api_group: RBAC_GROUP,
            api_version: "v1",
            resource,
            subresource: "",
            name,
        };
        self.rbac.subject_access(&attrs).await.allowed
    }
}

fn changed(obj: &Value, old: Option<&Value>, fields: &[&str]) -> bool {
    old.is_none_or(|old| fields.iter().any(|f| obj[*f] != old[*f]))
}

#[async_trait]
impl Admission for RbacEscalation {
    fn name(&self) -> &str {
        "RBACEscalation"
    }

    async fn validate(&self, req: &Request<'_>, obj: &Value) -> crate::Result<()> {
        if req.group != RBAC_GROUP
            || !req.subresource.is_empty()
            || !matches!(req.operation, Operation::Create | Operation::Update)
            || req.user.groups.iter().any(|g| g == SYSTEM_MASTERS)
        {
            return Ok(());
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or(req.name);
        let forbid = |why: String| Err(errors::forbidden(req.group, req.resource, name, &why));
        let old = req.old_object;
        match req.resource {
            "roles" | "clusterroles" => {
                if !changed(obj, old, &["rules", "aggregationRule"]) {
                    return Ok(());
                }
                if self.may(req, "escalate", req.resource, name).await {
                    return Ok(());
                }
                if req.resource == "clusterroles" && !obj["aggregationRule"].is_null() {
                    let full = [
                        PolicyRule {
                            api_groups: Some(vec!["*".into()]),
                            resources: Some(vec!["*".into()]),
                            verbs: vec!["*".into()],
                            ..Default::default()
                        },
                        PolicyRule {
                            non_resource_urls: Some(vec!["*".into()]),
                            verbs: vec!["*".into()],
                            ..Default::default()
                        },
                    ];
                    if confirm_no_escalation(&self.rbac, req.user, "", &full).is_err() {
                        return forbid(
                            "must have cluster-admin privileges to use the aggregationRule"
                                .to_string(),
                        );
                    }
                    return Ok(());
                }
                let rules: Vec<PolicyRule> =
                    serde_json::from_value(obj["rules"].clone()).unwrap_or_default();
                if let Err(why) = confirm_no_escalation(&self.rbac, req.user, req.namespace, &rules)
                {
                    return forbid(why);
                }
            }
            "rolebindings" | "clusterrolebindings" => {
                if !changed(obj, old, &["roleRef", "subjects"]) {
                    return Ok(());
                }
                let role_ref: RoleRef =
                    serde_json::from_value(obj["roleRef"].clone()).unwrap_or_default();
                let role_resource = match role_ref.kind.as_str() {
                    "Role" => "roles",
                    _ => "clusterroles",
                };
                if self.may(req, "bind", role_resource, &role_ref.name).await {
                    return Ok(());
                }
                let rules = self
                    .rbac
                    .with_policy(|p| p.role_ref_rules(&role_ref, req.namespace));
                let rules = match rules {
                    Ok(rules) => rules,
                    Err(_) => {
                        let singular = role_resource.trim_end_matches('s');
                        return Err(errors::not_found(RBAC_GROUP, singular, &role_ref.name));
                    }
                };
                if let Err(why) = confirm_no_escalation(&self.rbac, req.user, req.namespace, &rules)
                {
                    return forbid(why);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
