//! `ObjectMeta`, labels, annotations, finalizers, owner references and label selectors
//! (apimachinery's `api/validation/objectmeta.go` and `apis/meta/v1/validation`).

use super::field::{BadValue, Error, ErrorList, Path};
use super::names::{is_qualified_name, is_valid_label_value, name_is_dns_label, NameFn};
use crate::meta::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use std::collections::BTreeMap;

/// `field is immutable`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// `must be greater than or equal to 0`.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// The most bytes (keys plus values) all annotations of an object may hold: 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `ValidateNonnegativeField`.
pub fn validate_nonnegative(value: i64, path: &Path) -> ErrorList {
    if value < 0 {
        Error::invalid(path, value, IS_NEGATIVE).into()
    } else {
        ErrorList::new()
    }
}

/// `ValidateLabelName`: a label key (qualified name).
pub fn validate_label_name(name: &str, path: &Path) -> ErrorList {
    is_qualified_name(name)
        .iter()
        .map(|msg| Error::invalid(path, name, msg))
        .collect()
}

/// `ValidateLabels`: keys are qualified names, values label values; errors name the map's path
/// (not the key's), as Kubernetes does.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in is_valid_label_value(v) {
            errs.push(Error::invalid(path, v, &msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names after lowercasing, and all keys and values
/// together hold at most 256 KiB (`Too long: must have at most 262144 bytes`).
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(annotations) = annotations else {
        return errs;
    };
    for k in annotations.keys() {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(Error::invalid(path, k, &msg));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(Error::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// `ValidateFinalizers`: qualified names, and not both `orphan` and `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in finalizers {
        for msg in is_qualified_name(f) {
            errs.push(Error::invalid(path, f, &msg));
        }
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(Error::invalid(
            path,
            BadValue::json(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// core's `validateKubeFinalizerName`: a finalizer without `/` must be a standard one
/// (`kubernetes`, `orphan`, `foregroundDeletion`).
pub fn validate_kube_finalizer_name(name: &str, path: &Path) -> ErrorList {
    if !name.contains('/') && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") {
        Error::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )
        .into()
    } else {
        ErrorList::new()
    }
}

fn validate_owner_references(meta: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(refs) = meta.owner_references.as_ref() else {
        return errs;
    };
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = match r.api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", r.api_version.as_str()),
        };
        if version.is_empty() {
            errs.push(Error::invalid(
                &path.child("apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(Error::invalid(
                &path.child("kind"),
                &r.kind,
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(Error::invalid(
                &path.child("name"),
                &r.name,
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(Error::invalid(
                &path.child("uid"),
                &r.uid,
                "must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(Error::invalid(
                path,
                BadValue::json(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(Error::invalid(
                    path,
                    BadValue::json(refs),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

fn validate_meta_common(
    meta: &ObjectMeta,
    namespaced: bool,
    kube_finalizers: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(Error::required(&path.child("namespace"), ""));
        } else {
            for msg in name_is_dns_label(namespace, false) {
                errs.push(Error::invalid(&path.child("namespace"), namespace, &msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(Error::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(validate_nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta,
        &path.child("ownerReferences"),
    ));
    let finalizers = meta.finalizers.as_deref().unwrap_or(&[]);
    errs.extend(validate_finalizers(finalizers, &path.child("finalizers")));
    if kube_finalizers {
        for (i, f) in finalizers.iter().enumerate() {
            errs.extend(validate_kube_finalizer_name(
                f,
                &path.child("finalizers").index(i),
            ));
        }
    }
    errs
}

/// How a kind's `ObjectMeta` is checked on create.
#[derive(Clone, Copy, Debug)]
pub struct MetaRules {
    /// Whether the kind lives in a namespace (`metadata.namespace` required) or not (forbidden).
    pub namespaced: bool,
    /// The kind's name check.
    pub name_fn: NameFn,
    /// Whether core's extra finalizer rule applies (core, apps, discovery, scheduling kinds use
    /// core's `ValidateObjectMeta`; RBAC and coordination use apimachinery's, without it).
    pub kube_finalizers: bool,
}

/// `ValidateObjectMeta` on create: generateName (with the trailing `-` masked), name required
/// (`name or generateName is required`) and valid for the kind, namespace, generation, labels,
/// annotations, owner references, finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, rules: MetaRules, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(gen) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in (rules.name_fn)(gen, true) {
            errs.push(Error::invalid(&path.child("generateName"), gen, &msg));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(Error::required(
            &path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in (rules.name_fn)(name, false) {
                errs.push(Error::invalid(&path.child("name"), name, &msg));
            }
        }
    }
    errs.extend(validate_meta_common(
        meta,
        rules.namespaced,
        rules.kube_finalizers,
        path,
    ));
    errs
}

/// A timestamp as Go's `time.Time.String()` prints it: `2006-01-02 15:04:05.999999999 +0000 UTC`.
fn time_value(t: &Option<crate::Time>) -> BadValue {
    match t {
        None => BadValue::Null,
        Some(t) => {
            let mut s = t.0.strftime("%Y-%m-%d %H:%M:%S").to_string();
            let nanos = t.0.subsec_nanosecond();
            if nanos != 0 {
                let frac = format!("{nanos:09}");
                s.push('.');
                s.push_str(frac.trim_end_matches('0'));
            }
            s.push_str(" +0000 UTC");
            BadValue::Text(s)
        }
    }
}

/// `ValidateObjectMetaUpdate`: no new finalizers while deleting, resourceVersion required,
/// generation not decremented, name, namespace, uid, creationTimestamp, deletionTimestamp and
/// deletionGracePeriodSeconds immutable (`field is immutable`), plus the create-time checks of
/// labels, annotations, owner references and finalizers.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    kube_finalizers: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let new_finalizers = new.finalizers.as_deref().unwrap_or(&[]);
    if old.deletion_timestamp.is_some() {
        let old_finalizers = old.finalizers.as_deref().unwrap_or(&[]);
        let mut extra: Vec<&String> = new_finalizers
            .iter()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| super::field::go_quote(f)).collect();
            errs.push(Error::forbidden(
                &path.child("finalizers"),
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    let rv = new.resource_version.as_deref().unwrap_or("");
    if rv.is_empty() {
        errs.push(Error::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    if new.generation.unwrap_or(0) < old.generation.unwrap_or(0) {
        errs.push(Error::invalid(
            &path.child("generation"),
            new.generation.unwrap_or(0),
            "must not be decremented",
        ));
    }
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    if s(&new.name) != s(&old.name) {
        errs.push(Error::invalid(
            &path.child("name"),
            s(&new.name),
            FIELD_IMMUTABLE,
        ));
    }
    if s(&new.namespace) != s(&old.namespace) {
        errs.push(Error::invalid(
            &path.child("namespace"),
            s(&new.namespace),
            FIELD_IMMUTABLE,
        ));
    }
    if s(&new.uid) != s(&old.uid) {
        errs.push(Error::invalid(
            &path.child("uid"),
            s(&new.uid),
            FIELD_IMMUTABLE,
        ));
    }
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(Error::invalid(
            &path.child("creationTimestamp"),
            time_value(&new.creation_timestamp),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(Error::invalid(
            &path.child("deletionTimestamp"),
            time_value(&new.deletion_timestamp),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        errs.push(Error::invalid(
            &path.child("deletionGracePeriodSeconds"),
            new.deletion_grace_period_seconds,
            FIELD_IMMUTABLE,
        ));
    }
    errs.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        new,
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        new_finalizers,
        &path.child("finalizers"),
    ));
    if kube_finalizers {
        for (i, f) in new_finalizers.iter().enumerate() {
            errs.extend(validate_kube_finalizer_name(
                f,
                &path.child("finalizers").index(i),
            ));
        }
    }
    errs
}

/// `ValidateLabelSelectorRequirement`.
pub fn validate_label_selector_requirement(
    req: &LabelSelectorRequirement,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(Error::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(Error::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        op => errs.push(Error::invalid(
            &path.child("operator"),
            op,
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&req.key, &path.child("key")));
    for (i, v) in values.iter().enumerate() {
        for msg in is_valid_label_value(v) {
            errs.push(Error::invalid(&path.child("values").index(i), v, &msg));
        }
    }
    errs
}

/// `ValidateLabelSelector`: matchLabels as labels, each matchExpression's operator, key and
/// values.
pub fn validate_label_selector(selector: Option<&LabelSelector>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(selector) = selector else {
        return errs;
    };
    errs.extend(validate_labels(
        selector.match_labels.as_ref(),
        &path.child("matchLabels"),
    ));
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_label_selector_requirement(
            req,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}
