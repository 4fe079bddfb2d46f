//! The remaining groups: coordination (Lease), rbac (Role, ClusterRole, RoleBinding,
//! ClusterRoleBinding), scheduling (PriorityClass), policy (PodDisruptionBudget), discovery
//! (EndpointSlice) and autoscaling (Scale).

use super::apps::{not_more_than_100_percent, positive_int_or_percent};
use super::core::{core_meta, non_special_ip};
use super::field::{BadValue, Error, ErrorList, Path};
use super::meta::{
    validate_label_selector, validate_labels, validate_nonnegative, validate_object_meta,
    validate_object_meta_update, MetaRules, FIELD_IMMUTABLE,
};
use super::names::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, name_is_dns_subdomain,
    parse_ip_sloppy, path_segment_name,
};
use super::pod::preemption_policy;
use crate::api::autoscaling_v1::Scale;
use crate::api::coordination_v1::Lease;
use crate::api::discovery_v1::EndpointSlice;
use crate::api::policy_v1::PodDisruptionBudget;
use crate::api::rbac_v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use crate::api::scheduling_v1::PriorityClass;
use std::collections::BTreeSet;

fn meta_path() -> Path {
    Path::new("metadata")
}

fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("")
}

fn dns_label(value: &str, path: &Path) -> ErrorList {
    is_dns1123_label(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Lease.

const LEASE_META: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: false,
};

pub(crate) fn validate_lease(lease: &Lease) -> ErrorList {
    let mut errs = validate_object_meta(&lease.metadata, LEASE_META, &meta_path());
    let sp = Path::new("spec");
    if let Some(spec) = &lease.spec {
        if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(Error::invalid(
                &sp.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(Error::invalid(
                &sp.child("leaseTransitions"),
                t,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(strategy) = &spec.strategy {
            // Kubernetes nests the field name twice here: `spec.strategy.strategy`.
            let p = sp.child("strategy").child("strategy");
            if !strategy.contains('/') {
                if strategy != "OldestEmulationVersion" {
                    errs.push(Error::not_supported(
                        &p,
                        strategy,
                        &["OldestEmulationVersion"],
                    ));
                }
            } else {
                for m in is_qualified_name(strategy) {
                    errs.push(Error::invalid(&p, strategy, &m));
                }
            }
        }
        if !s(&spec.preferred_holder).is_empty() && s(&spec.strategy).is_empty() {
            errs.push(Error::forbidden(
                &sp.child("preferredHolder"),
                "may only be specified if `strategy` is defined",
            ));
        }
    }
    errs
}

pub(crate) fn validate_lease_update(new: &Lease, old: &Lease) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, false, &meta_path());
    errs.extend(validate_lease(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// RBAC.

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

const fn rbac_meta(namespaced: bool) -> MetaRules {
    MetaRules {
        namespaced,
        name_fn: path_segment_name,
        kube_finalizers: false,
    }
}

fn policy_rule(rule: &PolicyRule, namespaced: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if rule.verbs.is_empty() {
        errs.push(Error::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = rule.non_resource_urls.as_deref().unwrap_or(&[]);
    let groups = rule.api_groups.as_deref().unwrap_or(&[]);
    let resources = rule.resources.as_deref().unwrap_or(&[]);
    let names = rule.resource_names.as_deref().unwrap_or(&[]);
    if !urls.is_empty() {
        if namespaced {
            errs.push(Error::invalid(
                &path.child("nonResourceURLs"),
                BadValue::json(urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
            errs.push(Error::invalid(
                &path.child("nonResourceURLs"),
                BadValue::json(urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if groups.is_empty() {
        errs.push(Error::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if resources.is_empty() {
        errs.push(Error::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

pub(crate) fn validate_role(role: &Role) -> ErrorList {
    let mut errs = validate_object_meta(&role.metadata, rbac_meta(true), &meta_path());
    for (i, r) in role.rules.iter().flatten().enumerate() {
        errs.extend(policy_rule(r, true, &Path::new("rules").index(i)));
    }
    errs
}

pub(crate) fn validate_role_update(new: &Role, old: &Role) -> ErrorList {
    let mut errs = validate_role(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        false,
        &meta_path(),
    ));
    errs
}

pub(crate) fn validate_cluster_role(role: &ClusterRole) -> ErrorList {
    let mut errs = validate_object_meta(&role.metadata, rbac_meta(false), &meta_path());
    for (i, r) in role.rules.iter().flatten().enumerate() {
        errs.extend(policy_rule(r, false, &Path::new("rules").index(i)));
    }
    if let Some(agg) = &role.aggregation_rule {
        let p = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = agg.cluster_role_selectors.as_deref().unwrap_or(&[]);
        if selectors.is_empty() {
            errs.push(Error::required(
                &p,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in selectors.iter().enumerate() {
            errs.extend(validate_label_selector(Some(sel), &p.index(i)));
        }
    }
    errs
}

pub(crate) fn validate_cluster_role_update(new: &ClusterRole, old: &ClusterRole) -> ErrorList {
    let mut errs = validate_cluster_role(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        false,
        &meta_path(),
    ));
    errs
}

fn role_ref(r: &RoleRef, kinds: &[&str]) -> ErrorList {
    let mut errs = ErrorList::new();
    let p = Path::new("roleRef");
    if r.api_group != RBAC_GROUP {
        errs.push(Error::not_supported(
            &p.child("apiGroup"),
            &r.api_group,
            &[RBAC_GROUP],
        ));
    }
    if !kinds.contains(&r.kind.as_str()) {
        errs.push(Error::not_supported(&p.child("kind"), &r.kind, kinds));
    }
    if r.name.is_empty() {
        errs.push(Error::required(&p.child("name"), ""));
    } else {
        for m in path_segment_name(&r.name, false) {
            errs.push(Error::invalid(&p.child("name"), &r.name, &m));
        }
    }
    errs
}

fn subject(sub: &Subject, namespaced: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if sub.name.is_empty() {
        errs.push(Error::required(&path.child("name"), ""));
    }
    let group = s(&sub.api_group);
    match sub.kind.as_str() {
        "ServiceAccount" => {
            if !sub.name.is_empty() {
                for m in name_is_dns_subdomain(&sub.name, false) {
                    errs.push(Error::invalid(&path.child("name"), &sub.name, &m));
                }
            }
            if !group.is_empty() {
                errs.push(Error::not_supported(&path.child("apiGroup"), group, &[""]));
            }
            if !namespaced && s(&sub.namespace).is_empty() {
                errs.push(Error::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != RBAC_GROUP {
                errs.push(Error::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(Error::not_supported(
            &path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

pub(crate) fn validate_role_binding(rb: &RoleBinding) -> ErrorList {
    let mut errs = validate_object_meta(&rb.metadata, rbac_meta(true), &meta_path());
    errs.extend(role_ref(&rb.role_ref, &["Role", "ClusterRole"]));
    for (i, sub) in rb.subjects.iter().flatten().enumerate() {
        errs.extend(subject(sub, true, &Path::new("subjects").index(i)));
    }
    errs
}

pub(crate) fn validate_role_binding_update(new: &RoleBinding, old: &RoleBinding) -> ErrorList {
    let mut errs = validate_role_binding(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        false,
        &meta_path(),
    ));
    if new.role_ref != old.role_ref {
        errs.push(Error::invalid(
            &Path::new("roleRef"),
            BadValue::json(&new.role_ref),
            "cannot change roleRef",
        ));
    }
    errs
}

pub(crate) fn validate_cluster_role_binding(rb: &ClusterRoleBinding) -> ErrorList {
    let mut errs = validate_object_meta(&rb.metadata, rbac_meta(false), &meta_path());
    errs.extend(role_ref(&rb.role_ref, &["ClusterRole"]));
    for (i, sub) in rb.subjects.iter().flatten().enumerate() {
        errs.extend(subject(sub, false, &Path::new("subjects").index(i)));
    }
    errs
}

pub(crate) fn validate_cluster_role_binding_update(
    new: &ClusterRoleBinding,
    old: &ClusterRoleBinding,
) -> ErrorList {
    let mut errs = validate_cluster_role_binding(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        false,
        &meta_path(),
    ));
    if new.role_ref != old.role_ref {
        errs.push(Error::invalid(
            &Path::new("roleRef"),
            BadValue::json(&new.role_ref),
            "cannot change roleRef",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// PriorityClass.

/// The highest priority a user-defined PriorityClass may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The built-in system priority classes: (name, value).
pub const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] = [
    (
        "system-node-critical",
        2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000,
    ),
    (
        "system-cluster-critical",
        2 * HIGHEST_USER_DEFINABLE_PRIORITY,
    ),
];

pub(crate) fn validate_priority_class(pc: &PriorityClass) -> ErrorList {
    let mut errs = validate_object_meta(
        &pc.metadata,
        core_meta(false, name_is_dns_subdomain),
        &meta_path(),
    );
    let name = s(&pc.metadata.name);
    let global_default = pc.global_default.unwrap_or(false);
    if name.starts_with("system-") {
        let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != pc.value => {
                Some(format!("value of {n} PriorityClass must be {v}"))
            }
            Some((n, _)) if global_default => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(Error::forbidden(
                &meta_path().child("name"),
                &format!("priority class names with 'system-' prefix are reserved for system use only. error: {p}"),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(Error::forbidden(
            &Path::new("value"),
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    if let Some(p) = &pc.preemption_policy {
        errs.extend(preemption_policy(p, &Path::new("preemptionPolicy")));
    }
    errs
}

pub(crate) fn validate_priority_class_update(
    new: &PriorityClass,
    old: &PriorityClass,
) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    if new.value != old.value {
        errs.push(Error::forbidden(
            &Path::new("value"),
            "may not be changed in an update.",
        ));
    }
    if new.preemption_policy != old.preemption_policy {
        errs.push(Error::invalid(
            &Path::new("preemptionPolicy"),
            new.preemption_policy.clone(),
            FIELD_IMMUTABLE,
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// PodDisruptionBudget.

pub(crate) fn validate_pdb(pdb: &PodDisruptionBudget) -> ErrorList {
    let mut errs = ErrorList::new();
    let sp = Path::new("spec");
    let spec = pdb.spec.clone().unwrap_or_default();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errs.push(Error::invalid(
            &sp,
            BadValue::json(&spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (field, v) in [
        ("minAvailable", &spec.min_available),
        ("maxUnavailable", &spec.max_unavailable),
    ] {
        if let Some(v) = v {
            errs.extend(positive_int_or_percent(v, &sp.child(field)));
            errs.extend(not_more_than_100_percent(v, &sp.child(field)));
        }
    }
    errs.extend(validate_label_selector(
        spec.selector.as_ref(),
        &sp.child("selector"),
    ));
    if let Some(p) = &spec.unhealthy_pod_eviction_policy {
        const POLICIES: [&str; 2] = ["AlwaysAllow", "IfHealthyBudget"];
        if !POLICIES.contains(&p.as_str()) {
            errs.push(Error::not_supported(
                &sp.child("unhealthyPodEvictionPolicy"),
                p,
                &POLICIES,
            ));
        }
    }
    errs
}

pub(crate) fn validate_pdb_update(
    new: &PodDisruptionBudget,
    old: &PodDisruptionBudget,
) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(validate_pdb(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// EndpointSlice.

fn fqdn(path: &Path, name: &str) -> ErrorList {
    if name.is_empty() {
        return Error::required(path, "").into();
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return Error::invalid(path, name, &errs.join(",")).into();
    }
    if name.split('.').count() < 2 {
        return Error::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )
        .into();
    }
    for label in name.split('.') {
        let errs = is_dns1123_label(label);
        if !errs.is_empty() {
            return Error::invalid(path, label, &errs.join(",")).into();
        }
    }
    ErrorList::new()
}

pub(crate) fn validate_endpoint_slice(es: &EndpointSlice) -> ErrorList {
    let mut errs = validate_object_meta(
        &es.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    const TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];
    let at = es.address_type.as_str();
    if at.is_empty() {
        errs.push(Error::required(&Path::new("addressType"), ""));
    } else if !TYPES.contains(&at) {
        errs.push(Error::not_supported(&Path::new("addressType"), at, &TYPES));
    }
    let ep = Path::new("endpoints");
    if es.endpoints.len() > 1000 {
        errs.push(Error::too_many(&ep, es.endpoints.len(), 1000));
    } else {
        for (i, e) in es.endpoints.iter().enumerate() {
            let idx = ep.index(i);
            let ap = idx.child("addresses");
            if e.addresses.is_empty() {
                errs.push(Error::required(&ap, "must contain at least 1 address"));
            } else if e.addresses.len() > 100 {
                errs.push(Error::too_many(&ap, e.addresses.len(), 100));
            }
            for (j, a) in e.addresses.iter().enumerate() {
                let p = ap.index(j);
                match at {
                    "IPv4" | "IPv6" => {
                        let family_ok =
                            parse_ip_sloppy(a).is_some_and(|ip| ip.is_ipv4() == (at == "IPv4"));
                        if !family_ok {
                            let msg = if at == "IPv4" {
                                "must be a valid IPv4 address"
                            } else {
                                "must be a valid IPv6 address"
                            };
                            errs.push(Error::invalid(&p, a, msg));
                        } else {
                            errs.extend(non_special_ip(a, &p));
                        }
                    }
                    "FQDN" => errs.extend(fqdn(&p, a)),
                    _ => {}
                }
            }
            if let Some(n) = &e.node_name {
                for m in name_is_dns_subdomain(n, false) {
                    errs.push(Error::invalid(&idx.child("nodeName"), n, &m));
                }
            }
            let tp = idx.child("deprecatedTopology");
            if let Some(t) = &e.deprecated_topology {
                if t.len() > 16 {
                    errs.push(Error::too_many(&tp, t.len(), 16));
                }
                errs.extend(validate_labels(Some(t), &tp));
                if t.contains_key("topology.kubernetes.io/zone") {
                    errs.push(Error::internal(
                        &tp.key("topology.kubernetes.io/zone"),
                        "zone should be set in zone field, not in deprecatedTopology",
                    ));
                }
            }
            if let Some(h) = &e.hostname {
                errs.extend(dns_label(h, &idx.child("hostname")));
            }
        }
    }
    let pp = Path::new("ports");
    let ports = es.ports.as_deref().unwrap_or(&[]);
    if ports.len() > 20000 {
        errs.push(Error::too_many(&pp, ports.len(), 20000));
    } else {
        let mut names = BTreeSet::new();
        for (i, p) in ports.iter().enumerate() {
            let idx = pp.index(i);
            let name = s(&p.name);
            if !name.is_empty() {
                errs.extend(dns_label(name, &idx.child("name")));
            }
            if !names.insert(name.to_string()) {
                errs.push(Error::duplicate(&idx.child("name"), name));
            }
            const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
            match &p.protocol {
                None => errs.push(Error::required(&idx.child("protocol"), "")),
                Some(proto) if !PROTOCOLS.contains(&proto.as_str()) => {
                    errs.push(Error::not_supported(
                        &idx.child("protocol"),
                        proto,
                        &PROTOCOLS,
                    ));
                }
                Some(_) => {}
            }
            if let Some(ap) = &p.app_protocol {
                for m in is_qualified_name(ap) {
                    errs.push(Error::invalid(&idx.child("appProtocol"), ap, &m));
                }
            }
        }
    }
    errs
}

pub(crate) fn validate_endpoint_slice_update(
    new: &EndpointSlice,
    old: &EndpointSlice,
) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(validate_endpoint_slice(new));
    if new.address_type != old.address_type {
        errs.push(Error::invalid(
            &Path::new("addressType"),
            &new.address_type,
            FIELD_IMMUTABLE,
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Scale.

pub(crate) fn validate_scale(scale: &Scale) -> ErrorList {
    let replicas = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    validate_nonnegative(i64::from(replicas), &Path::new("spec").child("replicas"))
}
