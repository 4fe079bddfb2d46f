//! Server-side apply (`application/apply-patch+yaml`) and field ownership
//! (`metadata.managedFields`).
//!
//! Every field of an object is owned by the field managers that set it. [`apply`] merges an
//! applied configuration into the live object and makes the applying manager the owner of
//! exactly the fields in the configuration; [`record_update`] records ownership for ordinary
//! writes (create, update, non-apply patches), so that a later apply that would change those
//! fields conflicts.
//!
//! Semantics (structured-merge-diff, simplified):
//! - objects merge field by field; lists follow the schema's [`ListType`]: `atomic` lists (the
//!   default) are replaced whole, `set`s are unions, `map` lists merge item by item on their
//!   key fields (`containers` by `name`, `ports` by `containerPort`+`protocol`);
//! - an apply that would change a field another manager owns fails with 409 Conflict listing
//!   each such field, unless `force`, which moves the fields to the applier;
//! - a field the same manager applied before but leaves out now is removed, unless another
//!   manager owns it (or something below it);
//! - fields set to `null` in the configuration are ignored, and the identity fields
//!   (`apiVersion`, `kind`, `metadata.name`, `namespace`, `uid`, `resourceVersion`, …) are
//!   never owned;
//! - `Update` entries record the fields the write changed, and take them from other managers.
//!
//! The configuration's `status` is merged like any other field: the API server strips it (or
//! everything but it, for `/status`) before calling [`apply`], as Kubernetes' strategies do.
//!
//! ```
//! use kubox_core::patch::{apply, schema};
//! use kubox_core::Time;
//! use serde_json::json;
//!
//! let now = Time::from_unix_seconds(1_700_000_000);
//! let config = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
//!     "spec": {"replicas": 2}
//! });
//! let created = apply::apply(None, &config, "kubectl", false, Some(&schema::DEPLOYMENT), now).unwrap();
//! assert_eq!(created["metadata"]["managedFields"][0]["manager"], "kubectl");
//!
//! // Another manager changes replicas with an ordinary update...
//! let mut scaled = created.clone();
//! scaled["spec"]["replicas"] = json!(5);
//! let scaled = apply::record_update(
//!     Some(&created), &scaled, "hpa", "Update", "apps/v1", Some(&schema::DEPLOYMENT), now,
//! );
//! // ...so re-applying replicas 2 conflicts.
//! let err = apply::apply(Some(&scaled), &config, "kubectl", false, Some(&schema::DEPLOYMENT), now)
//!     .unwrap_err();
//! assert_eq!(err.to_string(), r#"Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas"#);
//! ```

use super::fields::{self, Display, FieldSet};
use super::schema::{Field, ListType, TypeSchema};
use crate::meta::{ManagedFieldsEntry, StatusCause};
use crate::time::Time;
use serde_json::{Map, Value};

/// One field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager as conflict messages print it: `"kubectl"`, or
    /// `"kube-controller-manager" using apps/v1` for an `Update` manager.
    pub manager: String,
    /// The field path: `.spec.replicas`, `.spec.containers[name="c"].image`.
    pub field: String,
}

impl Conflict {
    /// The `StatusCause` Kubernetes reports for it
    /// (`{reason: FieldManagerConflict, message: "conflict with …", field}`).
    pub fn cause(&self) -> StatusCause {
        StatusCause {
            reason: Some("FieldManagerConflict".to_string()),
            message: Some(format!("conflict with {}", self.manager)),
            field: Some(self.field.clone()),
        }
    }
}

/// Why an apply failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The apply would change fields other managers own: HTTP 409, reason Conflict. Not
    /// retryable as is: the client re-applies with `force=true` to take the fields, or drops
    /// them from its configuration.
    #[error("{message}")]
    Conflict {
        /// `Apply failed with 1 conflict: conflict with "m": .spec.replicas`, or the multi-line
        /// form for several.
        message: String,
        /// Each conflicting field.
        conflicts: Vec<Conflict>,
    },
    /// The configuration is not acceptable (not an object, no `apiVersion`/`kind`, a different
    /// kind than the live object, or it carries `metadata.managedFields`): HTTP 400, not
    /// retryable.
    #[error("{0}")]
    BadRequest(String),
}

impl ApplyError {
    /// The HTTP status code (409 or 400).
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflict { .. } => 409,
            ApplyError::BadRequest(_) => 400,
        }
    }

    /// The `Status.reason` (`Conflict` or `BadRequest`).
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Conflict { .. } => "Conflict",
            ApplyError::BadRequest(_) => "BadRequest",
        }
    }

    /// The `Status.details.causes`: one `FieldManagerConflict` per conflicting field.
    pub fn causes(&self) -> Vec<StatusCause> {
        match self {
            ApplyError::Conflict { conflicts, .. } => {
                conflicts.iter().map(Conflict::cause).collect()
            }
            ApplyError::BadRequest(_) => Vec::new(),
        }
    }

    /// Always `false`: the same apply fails the same way until the object or the request
    /// changes.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// One `managedFields` entry, decoded.
struct Manager {
    entry: ManagedFieldsEntry,
    set: FieldSet,
}

impl Manager {
    fn is(&self, name: &str, operation: &str) -> bool {
        self.entry.manager.as_deref() == Some(name)
            && self.entry.operation.as_deref() == Some(operation)
            && self.entry.subresource.is_none()
    }

    /// How conflict messages name this manager.
    fn display(&self) -> String {
        let name = format!("{:?}", self.entry.manager.as_deref().unwrap_or(""));
        let name = match &self.entry.subresource {
            Some(s) => format!("{name} with subresource {s:?}"),
            None => name,
        };
        if self.entry.operation.as_deref() == Some("Update") {
            format!(
                "{name} using {}",
                self.entry.api_version.as_deref().unwrap_or("")
            )
        } else {
            name
        }
    }
}

fn managers_of(obj: Option<&Value>) -> Vec<Manager> {
    let Some(entries) = obj
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| serde_json::from_value::<ManagedFieldsEntry>(e.clone()).ok())
        .map(|entry| Manager {
            set: entry
                .fields_v1
                .as_ref()
                .map(fields::decode)
                .unwrap_or_default(),
            entry,
        })
        .collect()
}

/// Writes `managers` into `obj.metadata.managedFields`, dropping empty ones, in Kubernetes'
/// order (operation, time, manager, apiVersion, subresource).
fn store_managers(obj: &mut Value, managers: Vec<Manager>) {
    let mut entries: Vec<ManagedFieldsEntry> = managers
        .into_iter()
        .filter(|m| !m.set.is_empty())
        .map(|mut m| {
            m.entry.fields_type = Some("FieldsV1".to_string());
            m.entry.fields_v1 = Some(fields::encode(&m.set));
            m.entry
        })
        .collect();
    entries.sort_by(|p, q| {
        (
            &p.operation,
            p.time.map(|t| t.unix_seconds()),
            &p.manager,
            &p.api_version,
            &p.subresource,
        )
            .cmp(&(
                &q.operation,
                q.time.map(|t| t.unix_seconds()),
                &q.manager,
                &q.api_version,
                &q.subresource,
            ))
    });
    let Value::Object(root) = obj else { return };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        let entries = entries
            .into_iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect();
        meta.insert("managedFields".to_string(), Value::Array(entries));
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    obj
}

/// Applies `config` (the body of an `application/apply-patch+yaml` PATCH, decoded) as field
/// manager `manager`, to `live` (`None`: the object does not exist yet and is created).
///
/// `schema` gives list semantics ([`crate::patch::schema::for_kind`]); `None` (custom
/// resources) means every list is atomic. `now` stamps the manager's `managedFields` entry.
/// Returns the new object, `metadata.managedFields` included; re-applying the same
/// configuration returns the live object unchanged.
///
/// # Errors
/// [`ApplyError::Conflict`] (409) when the apply would change fields that other managers own
/// and `force` is false; [`ApplyError::BadRequest`] (400) for an unacceptable configuration.
#[doc(alias = "ServerSideApply")]
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    schema: Option<&'static TypeSchema>,
    now: Time,
) -> Result<Value, ApplyError> {
    let api_version = check_config(live, config, schema)?;
    let live_obj = live
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut managers = managers_of(live);

    let new_set = fields::of_object(config, schema);
    let mut merged = merge(&live_obj, config, None, schema);

    // The fields whose value this apply changes (or removes, by replacing a parent).
    let live_set = fields::of_object(&live_obj, schema);
    let merged_set = fields::of_object(&merged, schema);
    let changed: FieldSet = changed_paths(&new_set, &live_obj, &merged)
        .chain(live_set.iter().filter(|p| !merged_set.contains(*p)))
        .cloned()
        .collect();

    let mut conflicts = Vec::new();
    for m in managers.iter_mut().filter(|m| !m.is(manager, "Apply")) {
        let theirs: Vec<_> = m.set.intersection(&changed).cloned().collect();
        if theirs.is_empty() {
            continue;
        }
        if force {
            for p in &theirs {
                m.set.remove(p);
            }
        } else {
            let who = m.display();
            conflicts.extend(theirs.iter().map(|p| Conflict {
                manager: who.clone(),
                field: Display(p).to_string(),
            }));
        }
    }
    if !conflicts.is_empty() {
        return Err(ApplyError::Conflict {
            message: conflict_message(&conflicts),
            conflicts,
        });
    }

    // Fields this manager applied before and leaves out now go, unless someone else owns them.
    let previous = managers
        .iter()
        .find(|m| m.is(manager, "Apply"))
        .map(|m| m.set.clone())
        .unwrap_or_default();
    let others: FieldSet = managers
        .iter()
        .filter(|m| !m.is(manager, "Apply"))
        .flat_map(|m| m.set.iter().cloned())
        .collect();
    // Parents come before their children in the set's order; once a parent is removed its
    // children are gone with it.
    let mut removed: Vec<&[fields::Element]> = Vec::new();
    for p in previous.difference(&new_set) {
        let owned = |q: &[fields::Element]| {
            fields::has_prefix(&others, q) || fields::has_prefix(&new_set, q)
        };
        if removed.iter().any(|r| p.starts_with(r)) || owned(p) || !fields::remove(&mut merged, p) {
            continue;
        }
        removed.push(p);
        // Parents left empty that nobody owns go too (a label map whose last label went).
        let mut parent = &p[..p.len() - 1];
        while !parent.is_empty() && !owned(parent) && is_empty(fields::get(&merged, parent)) {
            fields::remove(&mut merged, parent);
            parent = &parent[..parent.len() - 1];
        }
    }

    // Ownership: other managers lose what no longer exists; this manager owns the config.
    let result_set = fields::of_object(&merged, schema);
    for m in managers.iter_mut() {
        m.set
            .retain(|p| result_set.contains(p) || fields::get(&merged, p).is_some());
    }
    let unchanged_object = merged == live_obj;
    match managers.iter_mut().find(|m| m.is(manager, "Apply")) {
        Some(m) => {
            if m.set != new_set || !unchanged_object {
                m.set = new_set;
                m.entry.api_version = Some(api_version);
                m.entry.time = Some(now);
            }
        }
        None => managers.push(Manager {
            entry: ManagedFieldsEntry {
                manager: Some(manager.to_string()),
                operation: Some("Apply".to_string()),
                api_version: Some(api_version),
                time: Some(now),
                ..ManagedFieldsEntry::default()
            },
            set: new_set,
        }),
    }
    store_managers(&mut merged, managers);
    if let Some(live) = live {
        // A no-op apply leaves the object as it was, managedFields timestamps included.
        if unchanged_object && managed_sets_equal(live, &merged) {
            return Ok(live.clone());
        }
    }
    Ok(merged)
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn managed_sets_equal(a: &Value, b: &Value) -> bool {
    let sets = |v: &Value| -> Vec<(Option<String>, Option<String>, FieldSet)> {
        managers_of(Some(v))
            .into_iter()
            .map(|m| (m.entry.manager, m.entry.operation, m.set))
            .collect()
    };
    sets(a) == sets(b)
}

/// The members of `set` that `before` → `after` changes: leaves whose value differs, and inner
/// members (list-map items) that did not exist before.
fn changed_paths<'a>(
    set: &'a FieldSet,
    before: &'a Value,
    after: &'a Value,
) -> impl Iterator<Item = &'a fields::Path> + 'a {
    set.iter().filter(move |p| {
        let old = fields::get(before, p);
        let inner = set
            .range((*p).clone()..)
            .nth(1)
            .is_some_and(|next| next.starts_with(p));
        if inner {
            old.is_none()
        } else {
            old != fields::get(after, p)
        }
    })
}

fn check_config(
    live: Option<&Value>,
    config: &Value,
    schema: Option<&'static TypeSchema>,
) -> Result<String, ApplyError> {
    let Value::Object(c) = config else {
        return Err(ApplyError::BadRequest(
            "the applied configuration must be an object".to_string(),
        ));
    };
    let api_version = c.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = c.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version.is_empty() || kind.is_empty() {
        return Err(ApplyError::BadRequest(
            "the applied configuration must set apiVersion and kind".to_string(),
        ));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    check_lists(config, None, schema, &mut Vec::new())?;
    if let Some(live_kind) = live.and_then(|l| l.get("kind")).and_then(Value::as_str) {
        if live_kind != kind {
            return Err(ApplyError::BadRequest(format!(
                "the applied configuration is a {kind}, the object is a {live_kind}"
            )));
        }
    }
    Ok(api_version.to_string())
}

/// Every list-map item of the configuration has its key fields, and keys and set values are
/// unique, as structured-merge-diff requires of an applied configuration.
fn check_lists(
    v: &Value,
    field: Option<&'static Field>,
    schema: Option<&'static TypeSchema>,
    path: &mut fields::Path,
) -> Result<(), ApplyError> {
    let child = |k: &str| schema.and_then(|s| s.field(k));
    match v {
        Value::Object(m) if !field.is_some_and(|f| f.atomic) => {
            for (k, c) in m {
                let f = child(k);
                path.push(fields::Element::Field(k.clone()));
                check_lists(c, f, f.and_then(|f| f.schema), path)?;
                path.pop();
            }
        }
        Value::Array(items) => match field.map_or(ListType::Atomic, |f| f.list_type) {
            ListType::Atomic => {}
            ListType::Set => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        return Err(ApplyError::BadRequest(format!(
                            "{}: duplicate entries for value {item}",
                            Display(path)
                        )));
                    }
                }
            }
            ListType::Map(keys) => {
                let mut seen = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let Some(key) = fields::item_key(item, keys) else {
                        let missing = keys
                            .iter()
                            .find(|k| item.get(**k).is_none())
                            .copied()
                            .unwrap_or_default();
                        return Err(ApplyError::BadRequest(format!(
                            "{}: element {i}: associative list with keys has an element that omits key field {missing:?}",
                            Display(path)
                        )));
                    };
                    path.push(key.clone());
                    if seen.contains(&key) {
                        return Err(ApplyError::BadRequest(format!(
                            "{}: duplicate entries for key",
                            Display(path)
                        )));
                    }
                    check_lists(item, None, schema, path)?;
                    path.pop();
                    seen.push(key);
                }
            }
        },
        _ => {}
    }
    Ok(())
}

fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.field
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Merges an applied value into a live one (`field` describes both; `schema` their fields).
fn merge(
    live: &Value,
    config: &Value,
    field: Option<&'static Field>,
    schema: Option<&'static TypeSchema>,
) -> Value {
    let atomic = field.is_some_and(|f| f.atomic);
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !atomic => {
            let mut out = l.clone();
            for (k, cv) in c {
                if cv.is_null() {
                    continue;
                }
                let f = schema.and_then(|s| s.field(k));
                let sub = f.and_then(|f| f.schema);
                let merged = merge(out.get(k).unwrap_or(&Value::Null), cv, f, sub);
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match field.map_or(ListType::Atomic, |f| f.list_type)
        {
            ListType::Atomic => strip_nulls(config),
            ListType::Set => {
                let mut out = l.clone();
                for v in c {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let mut out = l.clone();
                for item in c {
                    let key = fields::item_key(item, keys);
                    let existing = key.as_ref().and_then(|k| {
                        out.iter()
                            .position(|o| fields::item_key(o, keys).as_ref() == Some(k))
                    });
                    match existing {
                        Some(i) => out[i] = merge(&out[i], item, None, schema),
                        None => out.push(merge(&Value::Null, item, None, schema)),
                    }
                }
                Value::Array(out)
            }
        },
        (_, Value::Object(c)) if !atomic => merge(
            &Value::Object(Map::new()),
            &Value::Object(c.clone()),
            field,
            schema,
        ),
        _ => strip_nulls(config),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Records a non-apply write (create, update, strategic/merge/JSON patch) by `manager` in
/// `new`'s `metadata.managedFields`, and returns the object to store.
///
/// Ownership comes from `old` (`None` on create): the fields whose value the write set or
/// changed move to `manager`'s entry for `operation` (`Update`), and fields the write removed
/// are dropped from every entry. The entry's `apiVersion` is `api_version` and its time `now`
/// (kept when the write changed none of its fields). `new`'s own `managedFields` are ignored.
#[allow(clippy::too_many_arguments)]
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    schema: Option<&'static TypeSchema>,
    now: Time,
) -> Value {
    let old_obj = old
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut new_obj = without_managed_fields(new);
    let mut managers = managers_of(old);

    let new_set = fields::of_object(&new_obj, schema);
    let changed: FieldSet = changed_paths(&new_set, &old_obj, &new_obj)
        .cloned()
        .collect();

    for m in managers.iter_mut() {
        m.set
            .retain(|p| new_set.contains(p) || fields::get(&new_obj, p).is_some());
        if !m.is(manager, operation) {
            m.set.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        match managers.iter_mut().find(|m| m.is(manager, operation)) {
            Some(m) => {
                m.set.extend(changed);
                m.entry.api_version = Some(api_version.to_string());
                m.entry.time = Some(now);
            }
            None => managers.push(Manager {
                entry: ManagedFieldsEntry {
                    manager: Some(manager.to_string()),
                    operation: Some(operation.to_string()),
                    api_version: Some(api_version.to_string()),
                    time: Some(now),
                    ..ManagedFieldsEntry::default()
                },
                set: changed,
            }),
        }
    }
    store_managers(&mut new_obj, managers);
    new_obj
}
