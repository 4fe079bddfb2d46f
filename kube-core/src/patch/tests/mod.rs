//! Tests of the patch module: data-driven tables (YAML parsed with serde_norway).

mod apply;
mod json;
mod kinds;
mod props;
mod strategic_cases;

use serde_json::Value;

/// Parses a YAML (or JSON) document into a JSON value.
pub(super) fn yaml(s: &str) -> Value {
    serde_norway::from_str(s).unwrap_or_else(|e| panic!("bad test YAML: {e}\n{s}"))
}

#[test]
fn patch_types_by_content_type() {
    use crate::patch::PatchType;
    use serde_json::json;
    for t in [
        PatchType::Json,
        PatchType::Merge,
        PatchType::StrategicMerge,
        PatchType::Apply,
    ] {
        assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
    }
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
        Some(PatchType::Merge)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a"}]}});
    let body = json!({"spec": {"containers": [{"name": "b"}]}});
    let smp = PatchType::StrategicMerge.patch(&pod, &body).unwrap();
    assert_eq!(smp["spec"]["containers"].as_array().unwrap().len(), 2);
    let merge = PatchType::Merge.patch(&pod, &body).unwrap();
    assert_eq!(merge["spec"]["containers"].as_array().unwrap().len(), 1);
    let json = PatchType::Json
        .patch(&pod, &json!([{"op": "remove", "path": "/spec"}]))
        .unwrap();
    assert!(json.get("spec").is_none());
    assert_eq!(PatchType::Apply.patch(&pod, &body).unwrap_err().code(), 400);
}
