//! apps/v1 ReplicaSet and Deployment (`pkg/apis/apps/validation/validation.go`).

use super::core::core_meta;
use super::field::{BadValue, Error, ErrorList, Path};
use super::meta::{
    validate_label_selector, validate_nonnegative, validate_object_meta,
    validate_object_meta_update, FIELD_IMMUTABLE,
};
use super::names::{is_valid_percent, name_is_dns_subdomain};
use super::pod::validate_pod_template_spec;
use crate::api::apps_v1::{Deployment, DeploymentStrategy, ReplicaSet};
use crate::api::core_v1::PodTemplateSpec;
use crate::meta::LabelSelector;
use crate::IntOrString;

fn meta_path() -> Path {
    Path::new("metadata")
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a `N%` string.
pub(crate) fn positive_int_or_percent(v: &IntOrString, path: &Path) -> ErrorList {
    match v {
        IntOrString::String(s) => is_valid_percent(s)
            .iter()
            .map(|m| Error::invalid(path, v, m))
            .collect(),
        IntOrString::Int(i) => validate_nonnegative(i64::from(*i), path),
    }
}

fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::String(s) => s.strip_suffix('%')?.parse().ok(),
        IntOrString::Int(_) => None,
    }
}

fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(_) => percent_value(v).unwrap_or(0),
    }
}

/// `IsNotMoreThan100Percent`.
pub(crate) fn not_more_than_100_percent(v: &IntOrString, path: &Path) -> ErrorList {
    match percent_value(v) {
        Some(p) if p > 100 => Error::invalid(path, v, "must not be greater than 100%").into(),
        _ => ErrorList::new(),
    }
}

/// Whether the labels satisfy the selector (a selector that fails to parse matches nothing).
fn selector_matches(
    selector: &LabelSelector,
    labels: &std::collections::BTreeMap<String, String>,
) -> Option<bool> {
    let sel = selector.to_selector().ok()?;
    Some(sel.matches(labels))
}

fn validate_selector(selector: &LabelSelector, path: &Path) -> ErrorList {
    let mut errs = validate_label_selector(Some(selector), path);
    let n = selector.match_labels.as_ref().map_or(0, |m| m.len())
        + selector.match_expressions.as_ref().map_or(0, |m| m.len());
    if n == 0 {
        errs.push(Error::invalid(
            path,
            BadValue::json(selector),
            "empty selector is invalid for deployment",
        ));
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn template_for_replica_set(
    t: Option<&PodTemplateSpec>,
    selector: &LabelSelector,
    kind: &str,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(t) = t else {
        errs.push(Error::required(path, ""));
        return errs;
    };
    let labels = t
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|m| m.is_empty());
    if !empty && selector_matches(selector, &labels) == Some(false) {
        errs.push(Error::invalid(
            &path.child("metadata").child("labels"),
            BadValue::json(&labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template_spec(t, path));
    let spec = t.spec.clone().unwrap_or_default();
    let rp = spec.restart_policy.as_deref().unwrap_or("");
    if rp != "Always" {
        errs.push(Error::not_supported(
            &path.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(Error::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            &format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errs
}

fn selector_parse_error(selector: &LabelSelector, path: &Path) -> Option<Error> {
    selector
        .to_selector()
        .err()
        .map(|_| Error::invalid(path, BadValue::json(selector), "invalid label selector"))
}

fn replica_set_spec(rs: &ReplicaSet) -> ErrorList {
    let mut errs = ErrorList::new();
    let sp = Path::new("spec");
    let spec = rs.spec.clone().unwrap_or_default();
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &sp.child("replicas"),
    ));
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &sp.child("minReadySeconds"),
    ));
    errs.extend(validate_selector(&spec.selector, &sp.child("selector")));
    match selector_parse_error(&spec.selector, &sp.child("selector")) {
        Some(e) => errs.push(e),
        None => errs.extend(template_for_replica_set(
            spec.template.as_ref(),
            &spec.selector,
            "ReplicaSet",
            &sp.child("template"),
        )),
    }
    errs
}

pub(crate) fn validate_replica_set(rs: &ReplicaSet) -> ErrorList {
    let mut errs = validate_object_meta(
        &rs.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    errs.extend(replica_set_spec(rs));
    errs
}

pub(crate) fn validate_replica_set_update(new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(replica_set_spec(new));
    let (ns, os) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    if ns.selector != os.selector {
        errs.push(Error::invalid(
            &Path::new("spec").child("selector"),
            BadValue::json(&ns.selector),
            FIELD_IMMUTABLE,
        ));
    }
    errs
}

fn deployment_strategy(strategy: Option<&DeploymentStrategy>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let default = DeploymentStrategy::default();
    let strategy = strategy.unwrap_or(&default);
    match strategy.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(Error::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(Error::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = path.child("rollingUpdate");
                let max_unavailable = ru.max_unavailable.clone().unwrap_or_default();
                let max_surge = ru.max_surge.clone().unwrap_or_default();
                errs.extend(positive_int_or_percent(
                    &max_unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(positive_int_or_percent(&max_surge, &rp.child("maxSurge")));
                if int_or_percent_value(&max_unavailable) == 0
                    && int_or_percent_value(&max_surge) == 0
                {
                    errs.push(Error::invalid(
                        &rp.child("maxUnavailable"),
                        &max_unavailable,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(
                    &max_unavailable,
                    &rp.child("maxUnavailable"),
                ));
            }
        },
        _ => errs.push(Error::not_supported(
            path,
            BadValue::json(strategy),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

fn deployment_spec(d: &Deployment) -> ErrorList {
    let mut errs = ErrorList::new();
    let sp = Path::new("spec");
    let spec = d.spec.clone().unwrap_or_default();
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &sp.child("replicas"),
    ));
    errs.extend(validate_selector(&spec.selector, &sp.child("selector")));
    match selector_parse_error(&spec.selector, &sp.child("selector")) {
        Some(e) => errs.push(e),
        None => errs.extend(template_for_replica_set(
            Some(&spec.template),
            &spec.selector,
            "ReplicaSet",
            &sp.child("template"),
        )),
    }
    errs.extend(deployment_strategy(
        spec.strategy.as_ref(),
        &sp.child("strategy"),
    ));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(validate_nonnegative(
        i64::from(min_ready),
        &sp.child("minReadySeconds"),
    ));
    if let Some(r) = spec.revision_history_limit {
        errs.extend(validate_nonnegative(
            i64::from(r),
            &sp.child("revisionHistoryLimit"),
        ));
    }
    if let Some(p) = spec.progress_deadline_seconds {
        errs.extend(validate_nonnegative(
            i64::from(p),
            &sp.child("progressDeadlineSeconds"),
        ));
        if p <= min_ready {
            errs.push(Error::invalid(
                &sp.child("progressDeadlineSeconds"),
                p,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

pub(crate) fn validate_deployment(d: &Deployment) -> ErrorList {
    let mut errs = validate_object_meta(
        &d.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    errs.extend(deployment_spec(d));
    errs
}

pub(crate) fn validate_deployment_update(new: &Deployment, old: &Deployment) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(deployment_spec(new));
    let (ns, os) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    if ns.selector != os.selector {
        errs.push(Error::invalid(
            &Path::new("spec").child("selector"),
            BadValue::json(&ns.selector),
            FIELD_IMMUTABLE,
        ));
    }
    errs
}
