//! JSON merge patch (RFC 7396 appendix A) and JSON patch (RFC 6902 appendix A) tables.

use super::yaml;
use crate::patch::{json_patch, merge_patch, Error};
use serde_json::{json, Value};

/// RFC 7396 appendix A, plus Kubernetes-flavoured cases: `[original, patch, result]`.
const MERGE_CASES: &str = r#"
- [{a: b}, {a: c}, {a: c}]
- [{a: b}, {b: c}, {a: b, b: c}]
- [{a: b}, {a: null}, {}]
- [{a: b, b: c}, {a: null}, {b: c}]
- [{a: [b]}, {a: c}, {a: c}]
- [{a: c}, {a: [b]}, {a: [b]}]
- [{a: {b: c}}, {a: {b: d, c: null}}, {a: {b: d}}]
- [{a: [{b: c}]}, {a: [1]}, {a: [1]}]
- [{e: null}, {a: 1}, {e: null, a: 1}]
- [{}, {a: {bb: {ccc: null}}}, {a: {bb: {}}}]
- [{metadata: {labels: {app: web}}}, {metadata: {labels: {tier: fe}}}, {metadata: {labels: {app: web, tier: fe}}}]
- [{spec: {replicas: 1, template: {x: 1}}}, {spec: {replicas: 3}}, {spec: {replicas: 3, template: {x: 1}}}]
- [{spec: {containers: [{name: a}, {name: b}]}}, {spec: {containers: [{name: c}]}}, {spec: {containers: [{name: c}]}}]
- [{a: 1}, {}, {a: 1}]
- [null, {a: 1}, {a: 1}]
- [{a: 1}, {a: {b: null}}, {a: {}}]
"#;

#[test]
fn merge_patch_table() {
    let cases = yaml(MERGE_CASES);
    for case in cases.as_array().unwrap() {
        let [original, patch, want] = [&case[0], &case[1], &case[2]];
        let got = merge_patch(original, patch).unwrap();
        assert_eq!(&got, want, "merge_patch({original}, {patch})");
    }
}

#[test]
fn merge_patch_keeps_key_order() {
    let got = merge_patch(
        &json!({"a": 1, "b": 2, "c": 3}),
        &json!({"a": null, "d": 4}),
    )
    .unwrap();
    let keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["b", "c", "d"]);
}

#[test]
fn merge_patch_rejects_non_objects() {
    for patch in [json!([1]), json!("x"), json!(1), Value::Null] {
        let err = merge_patch(&json!({}), &patch).unwrap_err();
        assert_eq!((err.code(), err.reason()), (400, "BadRequest"), "{patch}");
    }
}

/// RFC 6902 appendix A (A.1–A.16) and pointer escaping: `[document, patch, result]`, or
/// `[document, patch, null, error substring]` for failures.
const JSON_PATCH_CASES: &str = r#"
# A.1 add an object member
- [{foo: bar}, [{op: add, path: /baz, value: qux}], {baz: qux, foo: bar}]
# A.2 add an array element
- [{foo: [bar, baz]}, [{op: add, path: /foo/1, value: qux}], {foo: [bar, qux, baz]}]
# A.3 remove an object member
- [{baz: qux, foo: bar}, [{op: remove, path: /baz}], {foo: bar}]
# A.4 remove an array element
- [{foo: [bar, qux, baz]}, [{op: remove, path: /foo/1}], {foo: [bar, baz]}]
# A.5 replace a value
- [{baz: qux, foo: bar}, [{op: replace, path: /baz, value: boo}], {baz: boo, foo: bar}]
# A.6 move a value
- [{foo: {bar: baz, waldo: fred}, qux: {corge: grault}}, [{op: move, from: /foo/waldo, path: /qux/thud}], {foo: {bar: baz}, qux: {corge: grault, thud: fred}}]
# A.7 move an array element
- [{foo: [all, grass, cows, eat]}, [{op: move, from: /foo/1, path: /foo/3}], {foo: [all, cows, eat, grass]}]
# A.8 test a value: success
- [{baz: qux, foo: [a, 2, c]}, [{op: test, path: /baz, value: qux}, {op: test, path: /foo/1, value: 2}], {baz: qux, foo: [a, 2, c]}]
# A.9 test a value: error
- [{baz: qux}, [{op: test, path: /baz, value: bar}], null, "testing value \"bar\" at /baz failed"]
# A.10 add a nested member object
- [{foo: bar}, [{op: add, path: /child, value: {grandchild: {}}}], {foo: bar, child: {grandchild: {}}}]
# A.11 ignore unrecognized elements
- [{foo: bar}, [{op: add, path: /baz, value: qux, xyz: 123}], {foo: bar, baz: qux}]
# A.12 add to a nonexistent target
- [{foo: bar}, [{op: add, path: /baz/bat, value: qux}], null, "operation 0 (add /baz/bat) failed"]
# A.14 ~ escape ordering
- [{"/": 9, "~1": 10}, [{op: test, path: /~01, value: 10}], {"/": 9, "~1": 10}]
# A.15 comparing strings and numbers
- [{"/": 9, "~1": 10}, [{op: test, path: /~01, value: "10"}], null, "failed"]
# A.16 add an array value
- [{foo: [bar]}, [{op: add, path: /foo/-, value: [abc, def]}], {foo: [bar, [abc, def]]}]
# annotation keys with slashes (kubectl patch --type=json)
- [{metadata: {annotations: {a/b: "1"}}}, [{op: replace, path: /metadata/annotations/a~1b, value: "2"}], {metadata: {annotations: {a/b: "2"}}}]
- [{metadata: {labels: {x~y: "1"}}}, [{op: remove, path: /metadata/labels/x~0y}], {metadata: {labels: {}}}]
# append with -
- [{spec: {containers: [{name: a}]}}, [{op: add, path: /spec/containers/-, value: {name: b}}], {spec: {containers: [{name: a}, {name: b}]}}]
# copy
- [{spec: {replicas: 2}}, [{op: copy, from: /spec/replicas, path: /status}], {spec: {replicas: 2}, status: 2}]
# remove a missing path
- [{foo: bar}, [{op: remove, path: /baz}], null, "operation 0 (remove /baz) failed"]
# replace a missing path
- [{foo: bar}, [{op: replace, path: /baz, value: 1}], null, "(replace /baz) failed"]
# index out of range
- [{foo: [1]}, [{op: add, path: /foo/5, value: 1}], null, "(add /foo/5) failed"]
# move from a missing path
- [{foo: 1}, [{op: move, from: /nope, path: /bar}], null, "\"from\" path /nope does not exist"]
# all or nothing: the first op's effect is discarded when the second fails
- [{a: 1}, [{op: add, path: /b, value: 2}, {op: test, path: /a, value: 2}], null, "operation 1 (test /a) failed"]
"#;

#[test]
fn json_patch_table() {
    let cases = yaml(JSON_PATCH_CASES);
    for case in cases.as_array().unwrap() {
        let [doc, patch, want] = [&case[0], &case[1], &case[2]];
        let got = json_patch(doc, patch);
        match case.get(3).and_then(Value::as_str) {
            None => assert_eq!(&got.unwrap(), want, "json_patch({doc}, {patch})"),
            Some(msg) => {
                let err = got.unwrap_err();
                assert!(matches!(err, Error::JsonPatchFailed { .. }), "{err:?}");
                assert_eq!((err.code(), err.reason()), (422, "Invalid"));
                assert!(
                    err.to_string().contains(msg),
                    "{err} does not contain {msg}"
                );
            }
        }
    }
}

#[test]
fn json_patch_rejects_malformed_bodies() {
    for body in [
        json!({"op": "add"}),
        json!([{"op": "frobnicate", "path": "/a"}]),
        json!([{"op": "add", "value": 1}]),
        json!([{"op": "add", "path": "a", "value": 1}]),
    ] {
        let err = json_patch(&json!({}), &body).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{body}: {err:?}");
        assert_eq!(err.code(), 400);
        assert!(!err.is_retryable());
    }
}
