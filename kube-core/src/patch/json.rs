//! JSON merge patch (RFC 7396) and JSON patch (RFC 6902).

use super::{Error, Result};
use serde_json::{Map, Value};

/// Applies a JSON merge patch (RFC 7396, `application/merge-patch+json`) to `original`.
///
/// Objects merge recursively, `null` deletes a key, everything else (lists included) replaces.
/// Keys keep their order; new keys are appended. The patch must be a JSON object, as the
/// Kubernetes API requires (any other body is 400 BadRequest).
///
/// ```
/// use kubox_core::patch::merge_patch;
/// use serde_json::json;
///
/// let pod = json!({"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}}});
/// let patched = merge_patch(&pod, &json!({"metadata": {"labels": {"tier": null, "v": "2"}}})).unwrap();
/// assert_eq!(patched, json!({"metadata": {"name": "web", "labels": {"app": "web", "v": "2"}}}));
/// ```
#[doc(alias = "MergePatch")]
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value> {
    if !patch.is_object() {
        return Err(Error::BadRequest(format!(
            "a merge patch must be a JSON object, got {}",
            type_name(patch)
        )));
    }
    let mut doc = original.clone();
    merge_into(&mut doc, patch);
    Ok(doc)
}

/// RFC 7396 `MergePatch(Target, Patch)`, in place.
fn merge_into(doc: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Value::Object(map) = doc else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.shift_remove(key);
        } else {
            merge_into(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a JSON patch (RFC 6902, `application/json-patch+json`) to `original`.
///
/// `patch` is the decoded body: an array of operations (`add`, `remove`, `replace`, `move`,
/// `copy`, `test`) whose `path`/`from` are JSON pointers (`~0` is `~`, `~1` is `/`, `-` is the
/// end of an array). The operations apply in order and all or nothing.
///
/// Errors: a body that is not an array of well-formed operations is [`Error::BadRequest`]
/// (400); an operation that fails (missing path, index out of range, `test` mismatch) is
/// [`Error::JsonPatchFailed`] (422).
///
/// ```
/// use kubox_core::patch::json_patch;
/// use serde_json::json;
///
/// let obj = json!({"metadata": {"annotations": {"a/b": "1"}}, "spec": {"ports": [80]}});
/// let ops = json!([
///     {"op": "test", "path": "/metadata/annotations/a~1b", "value": "1"},
///     {"op": "add", "path": "/spec/ports/-", "value": 443},
/// ]);
/// let patched = json_patch(&obj, &ops).unwrap();
/// assert_eq!(patched["spec"]["ports"], json!([80, 443]));
/// ```
#[doc(alias = "JSONPatch")]
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| Error::BadRequest(format!("invalid JSON patch: {e}")))?;
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| {
        let op = ops.0.get(e.operation);
        Error::JsonPatchFailed {
            index: e.operation,
            op: op.map(op_name).unwrap_or("?").to_string(),
            path: e.path.to_string(),
            reason: match e.kind {
                json_patch::PatchErrorKind::TestFailed => match op {
                    Some(json_patch::PatchOperation::Test(t)) => format!(
                        "testing value {} at {} failed",
                        t.value,
                        if t.path.is_root() {
                            "/"
                        } else {
                            t.path.as_str()
                        }
                    ),
                    _ => "test failed".to_string(),
                },
                json_patch::PatchErrorKind::InvalidFromPointer => match op {
                    Some(json_patch::PatchOperation::Move(m)) => {
                        format!("\"from\" path {} does not exist", m.from)
                    }
                    Some(json_patch::PatchOperation::Copy(c)) => {
                        format!("\"from\" path {} does not exist", c.from)
                    }
                    _ => "\"from\" path is invalid".to_string(),
                },
                json_patch::PatchErrorKind::InvalidPointer => {
                    "path does not exist or is not valid for the document".to_string()
                }
                json_patch::PatchErrorKind::CannotMoveInsideItself => {
                    "cannot move a value inside itself".to_string()
                }
                ref other => other.to_string(),
            },
        }
    })?;
    Ok(doc)
}

fn op_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation as P;
    match op {
        P::Add(_) => "add",
        P::Remove(_) => "remove",
        P::Replace(_) => "replace",
        P::Move(_) => "move",
        P::Copy(_) => "copy",
        P::Test(_) => "test",
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
