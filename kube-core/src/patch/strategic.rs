//! Strategic merge patch (`application/strategic-merge-patch+json`), as apimachinery's
//! `strategicpatch.StrategicMergePatch` applies it on the server.
//!
//! Semantics:
//! - objects merge key by key; `null` deletes a key; scalars and values of another type replace;
//! - lists with the `merge` strategy merge: lists of objects by their merge key (a patch item
//!   merges into the live item with the same key, or is appended), lists of scalars as a set
//!   (union, no duplicates); every other list is replaced whole;
//! - the order of a merged list: the patch's items in patch order, the live-only items in their
//!   live order, interleaved where both were ordered in the live list;
//! - directives: `$patch: replace` (in an object: replace it; as a list item: replace the list),
//!   `$patch: delete` (in an object: empty it; as a list item with the merge key: remove every
//!   item with that key), `$patch: merge` (the default, a no-op), `$deleteFromPrimitiveList/<f>`,
//!   `$setElementOrder/<f>` (the order of the merged list; the patch's items must appear in it
//!   in the same order) and `$retainKeys` (clear every field not listed).
//!
//! Unlike the Go implementation, which decodes the result into typed structs that drop
//! leftovers, directives and `null`s inside newly added objects are resolved here too (a new
//! object is merged into an empty one). Lists that are replaced whole are taken as sent, as in
//! apimachinery and RFC 7396.

use super::json::type_name;
use super::schema::{self, Field, Strategy, TypeSchema};
use super::{Error, Result};
use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_PREFIX: &str = "$deleteFromPrimitiveList/";
const ORDER_PREFIX: &str = "$setElementOrder/";

type Object = Map<String, Value>;

/// Applies a strategic merge patch to `original`, with `schema` (the kind's, from
/// [`schema::for_kind`]) telling which lists merge and by which key.
///
/// Both `original` and `patch` must be JSON objects (a `null` original counts as `{}`).
///
/// # Errors
/// [`Error::BadRequest`] for a malformed patch (not an object, a directive of the wrong shape,
/// an unknown `$patch` value, a `$setElementOrder` list that contradicts the patch's order,
/// fields outside `$retainKeys`); [`Error::Unprocessable`] when the patch does not fit the
/// object (a merging-list item without its merge key, element types that differ, lists of
/// lists).
#[doc(alias = "StrategicMergePatch")]
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schema: &'static TypeSchema,
) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(Error::BadRequest(format!(
            "a strategic merge patch must be a JSON object, got {}",
            type_name(patch)
        )));
    };
    let original = match original {
        Value::Object(o) => o.clone(),
        Value::Null => Object::new(),
        other => {
            return Err(Error::BadRequest(format!(
                "can only patch an object, got {}",
                type_name(other)
            )))
        }
    };
    merge_map(original, patch, Some(schema), "").map(Value::Object)
}

/// [`strategic_merge_patch`] with the schema of `original`'s own `apiVersion` and `kind`.
///
/// # Errors
/// [`Error::UnsupportedKind`] (415) for kinds without a schema (custom resources), and the
/// errors of [`strategic_merge_patch`].
pub fn strategic_merge_patch_for(original: &Value, patch: &Value) -> Result<Value> {
    strategic_merge_patch(original, patch, schema::for_object(original)?)
}

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        ".".to_string()
    } else {
        path.to_string()
    }
}

fn bad(path: &str, message: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("{}: {message}", display_path(path)))
}

fn unprocessable(path: &str, message: impl Into<String>) -> Error {
    Error::Unprocessable {
        path: display_path(path),
        message: message.into(),
    }
}

fn missing_key(path: &str, item: &Value, key: &str) -> Error {
    unprocessable(
        path,
        format!("map: {item} does not contain declared merge key: {key}"),
    )
}

fn merge_map(
    mut original: Object,
    patch: &Object,
    ty: Option<&'static TypeSchema>,
    path: &str,
) -> Result<Object> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.shift_remove(DIRECTIVE);
                return merge_map(Object::new(), &rest, ty, path);
            }
            Some("delete") => return Ok(Object::new()),
            Some("merge") => {}
            _ => {
                return Err(bad(
                    path,
                    format!("unknown patch type {directive} in a map"),
                ))
            }
        }
    }

    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keep = retain
            .as_array()
            .and_then(|l| l.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .ok_or_else(|| {
                bad(
                    path,
                    "invalid patch: $retainKeys must be a list of field names",
                )
            })?;
        for (k, v) in patch {
            if !v.is_null() && !k.starts_with('$') && !keep.contains(&k.as_str()) {
                return Err(bad(
                    path,
                    format!("invalid patch: field {k:?} is set by the patch but not listed in $retainKeys"),
                ));
            }
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
    }

    // `$setElementOrder/<f>` first: it merges `<f>` itself, then orders the result.
    let mut ordered: Vec<&str> = Vec::new();
    for (k, order) in patch {
        let Some(name) = k.strip_prefix(ORDER_PREFIX) else {
            continue;
        };
        if name.is_empty() {
            return Err(bad(path, format!("invalid patch: bad directive {k:?}")));
        }
        let Value::Array(order) = order else {
            return Err(bad(path, format!("invalid patch: {k} must be a list")));
        };
        if set_element_order(&mut original, patch, name, order, ty, path)? {
            ordered.push(name);
        }
    }

    for (k, value) in patch {
        let k = k.as_str();
        if k == DIRECTIVE || k == RETAIN_KEYS || k.starts_with(ORDER_PREFIX) || ordered.contains(&k)
        {
            continue;
        }
        if let Some(name) = k.strip_prefix(DELETE_PREFIX) {
            let Value::Array(remove) = value else {
                return Err(bad(path, format!("invalid patch: {k} must be a list")));
            };
            if let Some(Value::Array(list)) = original.get_mut(name) {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if k.starts_with('$') {
            return Err(bad(path, format!("invalid patch: unknown directive {k:?}")));
        }
        if value.is_null() {
            original.shift_remove(k);
            continue;
        }
        let field = ty.and_then(|t| t.field(k));
        let child = join(path, k);
        let old = original
            .get_mut(k)
            .map(std::mem::take)
            .unwrap_or(Value::Null);
        let merged = merge_value(old, value, field, &child)?;
        original.insert(k.to_string(), merged);
    }
    Ok(original)
}

/// Merges one patch value into the live value of a field (`Null` when absent).
fn merge_value(
    old: Value,
    patch: &Value,
    field: Option<&'static Field>,
    path: &str,
) -> Result<Value> {
    let strategy = field.map_or(Strategy::Default, |f| f.strategy);
    let sub = field.and_then(|f| f.schema);
    match (old, patch) {
        (Value::Object(old), Value::Object(p)) if strategy != Strategy::Replace => {
            merge_map(old, p, sub, path).map(Value::Object)
        }
        (Value::Array(old), Value::Array(p)) => merge_list_field(old, p, field, path),
        (_, Value::Object(p)) => merge_map(Object::new(), p, sub, path).map(Value::Object),
        (_, Value::Array(p)) => merge_list_field(Vec::new(), p, field, path),
        (_, scalar) => Ok(scalar.clone()),
    }
}

fn merge_list_field(
    old: Vec<Value>,
    patch: &[Value],
    field: Option<&'static Field>,
    path: &str,
) -> Result<Value> {
    match field {
        Some(f) if f.strategy == Strategy::Merge => {
            merge_list(old, patch, f.merge_key, f.schema, path).map(Value::Array)
        }
        // Replaced whole, as sent (apimachinery and RFC 7396 alike).
        _ => Ok(Value::Array(patch.to_vec())),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElemKind {
    Scalar,
    Map,
}

fn json_type(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The common element type of two lists (`None` when both are empty).
fn element_kind(a: &[Value], b: &[Value], path: &str) -> Result<Option<ElemKind>> {
    let mut first: Option<&Value> = None;
    for v in a.iter().chain(b) {
        if v.is_array() {
            return Err(unprocessable(path, "lists of lists are not supported"));
        }
        match first {
            None => first = Some(v),
            Some(f) if json_type(f) != json_type(v) => {
                return Err(unprocessable(
                    path,
                    format!("list element types are not identical: {f} and {v}"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|f| {
        if f.is_object() {
            ElemKind::Map
        } else {
            ElemKind::Scalar
        }
    }))
}

/// The identity of a list item: its merge-key value (lists of objects) or itself (scalars).
fn ident<'a>(v: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => v.get(k),
        None => Some(v),
    }
}

fn position(order: &[&Value], v: &Value, key: Option<&str>) -> Option<usize> {
    let id = ident(v, key)?;
    order.iter().position(|o| *o == id)
}

fn idents<'a>(list: &'a [Value], key: Option<&str>) -> Vec<&'a Value> {
    list.iter().filter_map(|v| ident(v, key)).collect()
}

/// Merges a list with the `merge` strategy.
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    key: Option<&'static str>,
    items: Option<&'static TypeSchema>,
    path: &str,
) -> Result<Vec<Value>> {
    let Some(kind) = element_kind(&original, patch, path)? else {
        return Ok(original);
    };
    if kind == ElemKind::Scalar {
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let patch_order: Vec<&Value> = patch.iter().collect();
        let server_order: Vec<&Value> = original.iter().collect();
        return Ok(order_merged(merged, &patch_order, &server_order, None));
    }

    let Some(key) = key else {
        return Err(unprocessable(
            path,
            "cannot merge lists of objects without a merge key",
        ));
    };
    let mut original = original;
    let mut plain: Vec<&Object> = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = v else { continue };
        let Some(directive) = m.get(DIRECTIVE) else {
            plain.push(m);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let id = m.get(key).ok_or_else(|| missing_key(path, v, key))?;
                original.retain(|o| o.get(key) != Some(id));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(unprocessable(
                    path,
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => {
                return Err(bad(
                    path,
                    format!("unknown patch type {directive} in a list"),
                ))
            }
        }
    }
    if replace {
        return plain
            .into_iter()
            .map(|m| merge_map(Object::new(), m, items, path).map(Value::Object))
            .collect();
    }

    let server_order_values = original.clone();
    let mut merged = original;
    for m in &plain {
        let id = m
            .get(key)
            .ok_or_else(|| missing_key(path, &Value::Object((*m).clone()), key))?;
        let item_path = format!("{path}[{key}={id}]");
        match merged.iter().position(|o| o.get(key) == Some(id)) {
            Some(i) => {
                let old = match std::mem::take(&mut merged[i]) {
                    Value::Object(o) => o,
                    _ => Object::new(),
                };
                merged[i] = Value::Object(merge_map(old, m, items, &item_path)?);
            }
            None => merged.push(Value::Object(merge_map(
                Object::new(),
                m,
                items,
                &item_path,
            )?)),
        }
    }
    let patch_order: Vec<&Value> = plain.iter().filter_map(|m| m.get(key)).collect();
    let server_order = idents(&server_order_values, Some(key));
    Ok(order_merged(merged, &patch_order, &server_order, Some(key)))
}

/// Orders a merged list: the items named in `patch_order` in that order, the others in
/// `server_order`, interleaved where both appear in `server_order` (apimachinery's
/// `normalizeElementOrder` + `mergeSortedSlice`).
fn order_merged(
    merged: Vec<Value>,
    patch_order: &[&Value],
    server_order: &[&Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut patch_items, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| position(patch_order, v, key).is_some());
    patch_items.sort_by_key(|v| position(patch_order, v, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| position(server_order, v, key).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, key), position(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Handles `$setElementOrder/<name>`: merges the patch's `<name>` list (if any) into the live
/// one and orders the result. Returns whether `<name>` was handled (so the caller skips it).
fn set_element_order(
    original: &mut Object,
    patch: &Object,
    name: &str,
    order: &[Value],
    ty: Option<&'static TypeSchema>,
    path: &str,
) -> Result<bool> {
    let field = ty.and_then(|t| t.field(name));
    let Some(field) = field.filter(|f| f.strategy == Strategy::Merge) else {
        // Only merging lists have an order to keep; others are replaced by the patch anyway.
        return Ok(false);
    };
    let key = field.merge_key;
    let child = join(path, name);
    let patch_list = match patch.get(name) {
        Some(Value::Array(l)) => Some(l),
        None => None,
        Some(_) => return Ok(false),
    };
    let list_kind = element_kind(order, patch_list.map_or(&[][..], |l| &l[..]), &child)?;
    let key = if list_kind == Some(ElemKind::Map) {
        key
    } else {
        None
    };
    if let Some(k) = key {
        if let Some(item) = order.iter().find(|o| o.get(k).is_none()) {
            return Err(missing_key(&child, item, k));
        }
    }
    if let Some(p) = patch_list {
        validate_order(p, order, key, &child)?;
    }
    let original_list = match original.get(name) {
        Some(Value::Array(l)) => Some(l.clone()),
        _ => None,
    };
    let merged = match (&original_list, patch_list) {
        (None, None) => return Ok(false),
        (Some(o), None) => o.clone(),
        (o, Some(p)) => merge_list(
            o.clone().unwrap_or_default(),
            p,
            field.merge_key,
            field.schema,
            &child,
        )?,
    };
    let order_ids = idents(order, key);
    let server = match (original_list, key, patch_list) {
        (Some(o), Some(k), Some(p)) => go_server_order(o, p, k),
        (o, _, _) => o.unwrap_or_default(),
    };
    let server_order = idents(&server, key);
    let ordered = order_merged(merged, &order_ids, &server_order, key);
    original.insert(name.to_string(), Value::Array(ordered));
    Ok(true)
}

/// The patch list's items (deletions and directives aside) must appear in the
/// `$setElementOrder` list, in the same relative order.
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>, path: &str) -> Result<()> {
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| v.get(DIRECTIVE).is_none())
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        let id = match key {
            Some(k) => items[p]
                .get(k)
                .ok_or_else(|| missing_key(path, items[p], k))?,
            None => items[p],
        };
        if ident(&order[o], key) == Some(id) {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(bad(
            path,
            format!(
                "the order in patch list {} doesn't match $setElementOrder list {}",
                Value::Array(patch.to_vec()),
                Value::Array(order.to_vec())
            ),
        ));
    }
    Ok(())
}

/// The live order `$setElementOrder` interleaves server-only items by, for a list of objects.
///
/// apimachinery merges the list in place first: deleted items shift the live list left and
/// appended patch items land in the freed slots of the same backing array, so the order it
/// compares against is "live items minus deletions, then new items", cut to the live list's
/// length. Kubernetes' results (and its tests) depend on that; this reproduces it.
fn go_server_order(original: Vec<Value>, patch: &[Value], key: &str) -> Vec<Value> {
    if patch
        .iter()
        .any(|v| v.get(DIRECTIVE).and_then(Value::as_str) == Some("replace"))
    {
        return original;
    }
    let len = original.len();
    let mut order = original.clone();
    for v in patch {
        if v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
            if let Some(id) = v.get(key) {
                order.retain(|o| o.get(key) != Some(id));
            }
        }
    }
    for v in patch.iter().filter(|v| v.get(DIRECTIVE).is_none()) {
        if let Some(id) = v.get(key) {
            if !order.iter().any(|o| o.get(key) == Some(id)) {
                order.push(v.clone());
            }
        }
    }
    order.truncate(len);
    while order.len() < len {
        order.push(original[order.len()].clone());
    }
    order
}
