//! Pure rule and subject matching, exactly as Kubernetes evaluates a `PolicyRule`
//! (`pkg/apis/rbac/v1/evaluation_helpers.go`, `plugin/pkg/auth/authorizer/rbac/rbac.go`) and a
//! binding's subjects (`pkg/registry/rbac/validation/rule.go`).
//!
//! A few facts worth knowing (all covered by the tests):
//!
//! - `*` in `verbs`, `apiGroups` and `resources` matches everything; `*` in `resources` also
//!   matches every subresource (`pods/log`), while `pods` alone never matches `pods/status`.
//! - `*/scale` matches the `scale` subresource of every resource. `pods/*` is **not** a
//!   wildcard: Kubernetes compares it literally, so it matches nothing a real request asks for.
//! - `resourceNames` restrict a rule to named requests: a collection request (`list`, `watch`,
//!   `create`, `deletecollection`) has no name and so never matches a rule with
//!   `resourceNames`.
//! - A `nonResourceURLs` entry ending in `*` is a prefix match (`/apis/*` matches `/apis/v1`,
//!   not `/apis`); `*` alone matches every path.
//! - Verbs, groups and resources are compared case-sensitively.

use crate::auth::{Attributes, UserInfo};
use kubox_core::api::rbac_v1::{PolicyRule, Subject};

/// `*`: every verb, API group, resource or non-resource URL (`rbacv1.VerbAll`, …).
pub const ALL: &str = "*";

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// Whether the rule names `verb` or `*` (`VerbMatches`).
#[doc(alias = "VerbMatches")]
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// Whether the rule names the API `group` (`""` for core) or `*` (`APIGroupMatches`).
#[doc(alias = "APIGroupMatches")]
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == ALL || g == group)
}

/// Whether the rule covers `resource` with `subresource` (`""` for none) (`ResourceMatches`):
/// `*`, the exact `resource` or `resource/subresource`, or `*/subresource`.
#[doc(alias = "ResourceMatches")]
pub fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        if r == ALL {
            return true;
        }
        let exact = if subresource.is_empty() {
            r == resource
        } else {
            r.len() == resource.len() + 1 + subresource.len()
                && r.starts_with(resource)
                && r[resource.len()..].starts_with('/')
                && r.ends_with(subresource)
        };
        exact
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// Whether the rule allows the object `name` (`ResourceNameMatches`): a rule without
/// `resourceNames` allows every name; one with them only the names listed, so never a
/// collection request (empty `name`).
#[doc(alias = "ResourceNameMatches")]
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Whether the rule covers the non-resource `path` (`NonResourceURLMatches`): `*`, the exact
/// path, or a prefix given as `prefix*`.
#[doc(alias = "NonResourceURLMatches")]
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        u == ALL || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// Whether `rule` allows the resource request `attrs` (`RuleAllows` for a resource request).
#[doc(alias = "RuleAllows")]
pub fn rule_allows(rule: &PolicyRule, attrs: &Attributes<'_>) -> bool {
    verb_matches(rule, attrs.verb)
        && api_group_matches(rule, attrs.api_group)
        && resource_matches(rule, attrs.resource, attrs.subresource)
        && resource_name_matches(rule, attrs.name)
}

/// Whether `rule` allows `verb` on the non-resource `path` (`RuleAllows` for a non-resource
/// request).
pub fn rule_allows_non_resource(rule: &PolicyRule, verb: &str, path: &str) -> bool {
    verb_matches(rule, verb) && non_resource_url_matches(rule, path)
}

/// Whether any of `rules` allows the resource request `attrs` (`RulesAllow`).
#[doc(alias = "RulesAllow")]
pub fn rules_allow(rules: &[PolicyRule], attrs: &Attributes<'_>) -> bool {
    rules.iter().any(|r| rule_allows(r, attrs))
}

/// Whether any of `rules` allows `verb` (`get`, `post`, `put`, … — the lower-case HTTP method
/// for non-resource requests) on `path`.
pub fn allows_non_resource(rules: &[PolicyRule], verb: &str, path: &str) -> bool {
    rules
        .iter()
        .any(|r| rule_allows_non_resource(r, verb, path))
}

/// The user name of a service account: `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Whether `username` is `system:serviceaccount:<namespace>:<name>` (`MatchesUsername`, without
/// allocating).
#[doc(alias = "MatchesUsername")]
pub fn matches_service_account(namespace: &str, name: &str, username: &str) -> bool {
    username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.strip_prefix(namespace))
        .and_then(|rest| rest.strip_prefix(':'))
        == Some(name)
}

/// Whether the binding `subject` applies to `user` (`appliesToUser`). `namespace` is the
/// binding's namespace (`""` for a ClusterRoleBinding): a `ServiceAccount` subject without a
/// namespace means the binding's namespace, and never matches in a ClusterRoleBinding. Unknown
/// kinds never match.
#[doc(alias = "appliesToUser")]
pub fn subject_matches(subject: &Subject, user: &UserInfo, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !ns.is_empty() && matches_service_account(ns, &subject.name, &user.name)
        }
        _ => false,
    }
}

/// The index of the first of `subjects` that applies to `user` (`appliesTo`).
#[doc(alias = "appliesTo")]
pub fn applies_to(subjects: &[Subject], user: &UserInfo, namespace: &str) -> Option<usize> {
    subjects
        .iter()
        .position(|s| subject_matches(s, user, namespace))
}

/// A subject as Kubernetes describes it in an RBAC reason: `User "alice"`, `Group "devs"`,
/// `ServiceAccount "builder/ci"` (name, then namespace, as Kubernetes prints it).
pub fn describe_subject(subject: &Subject, binding_namespace: &str) -> String {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            format!("{} {:?}", subject.kind, format!("{}/{ns}", subject.name))
        }
        _ => format!("{} {:?}", subject.kind, subject.name),
    }
}
