//! Small helpers over objects in their JSON form (the generic registry works on
//! `serde_json::Value`, as kube-apiserver's works on `runtime.Object` through accessors).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `metadata`, if the object has one.
pub(crate) fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata`, created when missing (the object itself must be a JSON object).
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("made an object above");
    let m = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("made an object above")
}

/// A string field of `metadata` (`name`, `namespace`, `uid`, …); `None` when absent or empty.
pub(crate) fn meta_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    meta(obj)
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Sets (or with `Value::Null`, removes) a field of `metadata`.
pub(crate) fn set_meta(obj: &mut Value, key: &str, value: Value) {
    let m = meta_mut(obj);
    if value.is_null() {
        m.shift_remove(key);
    } else {
        m.insert(key.to_string(), value);
    }
}

/// `metadata.labels` as a map (empty when absent).
pub(crate) fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(meta(obj).and_then(|m| m.get("labels")))
}

/// A JSON object of strings as a map.
pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a JSON array (non-strings skipped); empty when `v` is absent or not an array.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers` (empty when absent).
pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    strings(meta(obj).and_then(|m| m.get("finalizers")))
}

/// Sets `metadata.finalizers`, removing the field when empty.
pub(crate) fn set_finalizers(obj: &mut Value, f: &[String]) {
    let v = if f.is_empty() {
        Value::Null
    } else {
        Value::from(f.to_vec())
    };
    set_meta(obj, "finalizers", v);
}

/// The value at a dotted path (`spec.nodeName`) as a field selector sees it: strings as they
/// are, booleans and numbers printed, anything else (or nothing) as `None`.
pub(crate) fn field_text(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for seg in path.split('.') {
        cur = cur.get(seg)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `metadata.generation` (0 when absent).
pub(crate) fn generation(obj: &Value) -> i64 {
    meta(obj)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}
