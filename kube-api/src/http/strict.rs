//! Duplicate fields in request bodies, as kube-apiserver's strict decoding reports them
//! under `fieldValidation=Strict` (400) or `Warn` (the default: `Warning` headers):
//!
//! - JSON bodies are parsed once, by a [`serde::de::DeserializeSeed`] that builds the same
//!   `serde_json::Value` `serde_json::from_slice` would (last value wins, first position kept)
//!   and notes each repeated key with its path (`duplicate field "spec.paused"`). The note is
//!   the only extra work, on a key that is already being inserted: the pass costs what the
//!   plain parse costs, so it runs on every body that asks for validation (kubectl sends
//!   `Strict` on create, apply and patch).
//! - YAML bodies (and server-side apply bodies, which are read as YAML) report the line of
//!   each repeated key, as go-yaml does (`line 5: key "name" already set in map`); the line is
//!   found by parsing again up to that key (only when there are duplicates).
//! - JSON patches report repeated and unknown keys of their operations
//!   (`json patch duplicate field "[1].path"`, `json patch unknown field "[0].foo"`);
//!   duplicates inside the values are dropped as Kubernetes' json-patch library drops them.
//!
//! [`merge_object_issues`] puts duplicates and unknown fields of a create or update body in
//! document order, as sigs.k8s.io/json reports them (a field both unknown and duplicated is
//! reported as unknown only).

use super::route::{BodyFormat, BodyIssues, ResourcePath};
use crate::auth::UserInfo;
use crate::server::ApiServer;
use crate::typed::{render, Seg};
use kubox_core::client::{FieldValidation, Request, Verb};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// At most this many duplicates are reported (kube-apiserver keeps 100 strict errors).
const MAX_REPORTED: usize = 100;

/// A repeated key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dup {
    /// Its path (`spec.template.spec.containers[0].imagePullPolicy`).
    pub(crate) path: Vec<Seg>,
    /// How many distinct keys its object had when the repeat came (its place in the
    /// document: after the subtree of key `parent_len - 1`).
    pub(crate) parent_len: usize,
}

impl Dup {
    /// `duplicate field "<path>"`.
    pub(crate) fn message(&self) -> String {
        format!("duplicate field {:?}", render(&self.path))
    }
}

/// The path of the value being parsed: a chain of borrowed frames, no allocation per key.
#[derive(Clone, Copy)]
enum Frame<'a> {
    Root,
    Key(&'a Frame<'a>, &'a str),
    Index(&'a Frame<'a>, usize),
}

impl Frame<'_> {
    fn path(&self) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                Frame::Root => break,
                Frame::Key(p, k) => {
                    out.push(Seg::Key((*k).to_string()));
                    cur = p;
                }
                Frame::Index(p, i) => {
                    out.push(Seg::Index(*i));
                    cur = p;
                }
            }
        }
        out.reverse();
        out
    }
}

#[derive(Default)]
struct Ctx {
    dups: RefCell<Vec<Dup>>,
    /// YAML line search: fail on the `n`th repeated key (the deserializer then reports its
    /// position).
    fail_at: Option<usize>,
    repeats_seen: Cell<usize>,
    /// The key the line search stopped at.
    failed_key: RefCell<Option<String>>,
}

struct ValueSeed<'a> {
    ctx: &'a Ctx,
    frame: Frame<'a>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(ValueSeed {
            ctx: self.ctx,
            frame: Frame::Index(&self.frame, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed {
            ctx: self.ctx,
            existing: &out,
        })? {
            let value = map.next_value_seed(ValueSeed {
                ctx: self.ctx,
                frame: Frame::Key(&self.frame, &key),
            })?;
            let parent_len = out.len();
            match out.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(value);
                }
                serde_json::map::Entry::Occupied(mut e) => {
                    let mut dups = self.ctx.dups.borrow_mut();
                    if dups.len() < MAX_REPORTED {
                        let mut path = self.frame.path();
                        path.push(Seg::Key(e.key().clone()));
                        dups.push(Dup { path, parent_len });
                    }
                    e.insert(value);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

struct KeySeed<'a> {
    ctx: &'a Ctx,
    existing: &'a Map<String, Value>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl KeySeed<'_> {
    /// In a YAML line search, the repeat to stop at.
    fn check<E: de::Error>(&self, key: &str) -> Result<(), E> {
        if let Some(target) = self.ctx.fail_at {
            if self.existing.contains_key(key) {
                let n = self.ctx.repeats_seen.get();
                self.ctx.repeats_seen.set(n + 1);
                if n == target {
                    *self.ctx.failed_key.borrow_mut() = Some(key.to_string());
                    return Err(E::custom(format!("key {key:?} already set in map")));
                }
            }
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.check(v)?;
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.check(&v)?;
        Ok(v)
    }
}

/// Parses a JSON body as `serde_json::from_slice` does, with its repeated keys.
pub(crate) fn json_with_duplicates(body: &[u8]) -> serde_json::Result<(Value, Vec<Dup>)> {
    let ctx = Ctx::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = ValueSeed {
        ctx: &ctx,
        frame: Frame::Root,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((v, ctx.dups.into_inner()))
}

/// Parses a YAML body as `serde_norway::from_slice` into a `Value` does, with its repeated
/// keys.
pub(crate) fn yaml_with_duplicates(body: &[u8]) -> Result<(Value, Vec<Dup>), serde_norway::Error> {
    let ctx = Ctx::default();
    let v = ValueSeed {
        ctx: &ctx,
        frame: Frame::Root,
    }
    .deserialize(serde_norway::Deserializer::from_slice(body))?;
    Ok((v, ctx.dups.into_inner()))
}

/// go-yaml's messages for the `count` repeated keys of a YAML body, in order:
/// `line 5: key "name" already set in map` (one parse up to each of them).
pub(crate) fn yaml_duplicate_lines(body: &[u8], count: usize) -> Vec<String> {
    (0..count.min(MAX_REPORTED))
        .filter_map(|n| {
            let ctx = Ctx {
                fail_at: Some(n),
                ..Ctx::default()
            };
            let err = ValueSeed {
                ctx: &ctx,
                frame: Frame::Root,
            }
            .deserialize(serde_norway::Deserializer::from_slice(body))
            .err()?;
            let line = err.location()?.line();
            let key = ctx.failed_key.borrow_mut().take()?;
            Some(format!("line {line}: key {key:?} already set in map"))
        })
        .collect()
}

/// The operation fields of a JSON patch.
const JSON_PATCH_FIELDS: &[&str] = &["op", "path", "value", "from"];

/// `json patch duplicate field "[i].k"` and `json patch unknown field "[i].k"` for the
/// operations of a JSON patch, in document order.
pub(crate) fn json_patch_issues(patch: &Value, dups: &[Dup]) -> Vec<String> {
    let mut out = Vec::new();
    let Value::Array(ops) = patch else {
        return out;
    };
    for (i, op) in ops.iter().enumerate() {
        let Value::Object(m) = op else { continue };
        let here: Vec<&Dup> = dups
            .iter()
            .filter(|d| d.path.len() == 2 && d.path[0] == Seg::Index(i))
            .collect();
        let emit_dups = |upto: usize, out: &mut Vec<String>| {
            for d in here.iter().filter(|d| d.parent_len == upto) {
                out.push(format!("json patch {}", d.message()));
            }
        };
        for (k_index, k) in m.keys().enumerate() {
            emit_dups(k_index, &mut out);
            if !JSON_PATCH_FIELDS.contains(&k.as_str()) {
                out.push(format!("json patch unknown field \"[{i}].{k}\""));
            }
        }
        for d in here.iter().filter(|d| d.parent_len >= m.len()) {
            out.push(format!("json patch {}", d.message()));
        }
    }
    out
}

/// The strict-decoding errors of a create or update body in document order: its duplicates
/// and its `unknown` fields (a duplicated unknown field, and anything under an unknown
/// field, is reported as the unknown field only).
pub(crate) fn merge_object_issues(
    value: &Value,
    dups: &[Dup],
    unknown: &[Vec<Seg>],
) -> Vec<String> {
    // Keyed by rendered path (`Seg` paths are rare here: only bodies with duplicates).
    let mut by_parent: HashMap<String, Vec<&Dup>> = HashMap::new();
    for d in dups {
        if let Some((_, parent)) = d.path.split_last() {
            by_parent.entry(render(parent)).or_default().push(d);
        }
    }
    let unknown: HashSet<String> = unknown.iter().map(|p| render(p)).collect();
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(value, &mut path, &by_parent, &unknown, &mut out);
    let mut seen = HashSet::new();
    out.retain(|m| seen.insert(m.clone()));
    out
}

fn walk(
    v: &Value,
    path: &mut Vec<Seg>,
    by_parent: &HashMap<String, Vec<&Dup>>,
    unknown: &HashSet<String>,
    out: &mut Vec<String>,
) {
    match v {
        Value::Object(m) => {
            let here = by_parent.get(&render(path)).cloned().unwrap_or_default();
            let emit = |d: &Dup, out: &mut Vec<String>| {
                if !unknown.contains(&render(&d.path)) {
                    out.push(d.message());
                }
            };
            for (i, (k, child)) in m.iter().enumerate() {
                for d in here.iter().filter(|d| d.parent_len == i) {
                    emit(d, out);
                }
                path.push(Seg::Key(k.clone()));
                let rendered = render(path);
                if unknown.contains(&rendered) {
                    out.push(format!("unknown field {rendered:?}"));
                } else {
                    walk(child, path, by_parent, unknown, out);
                }
                path.pop();
            }
            for d in here.iter().filter(|d| d.parent_len >= m.len()) {
                emit(d, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(child, path, by_parent, unknown, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// What `fieldValidation` makes of a body's [`BodyIssues`] before the request runs: under
/// `Strict`, the 400 kube-apiserver answers (after authorization, with the unknown fields
/// too, as one strict decoding error); under `Warn` (the default), the warnings to send
/// before the request's own (`Ignore` never gets here: nothing is checked).
pub(crate) async fn field_validation(
    server: &ApiServer,
    user: &UserInfo,
    rp: &ResourcePath,
    request: &Request,
    issues: &BodyIssues,
) -> crate::Result<Vec<String>> {
    let mode = match &request.verb {
        Verb::Create(p) | Verb::Replace(p) => p.field_validation,
        Verb::Patch(_, p) => p.field_validation,
        _ => None,
    }
    .unwrap_or(FieldValidation::Warn);
    let info = rp.info;
    let body = request.body.as_ref().unwrap_or(&Value::Null);
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| match info.group {
            "" => info.version.to_string(),
            g => format!("{g}/{}", info.version),
        });
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(info.kind)
        .to_string();
    let unknown = || crate::typed::decode(&api_version, &kind, body).unknown;
    let sorted_unknown = || {
        let mut u: Vec<String> = unknown().iter().map(|p| render(p)).collect();
        u.sort();
        u.into_iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect::<Vec<_>>()
    };
    let dup_messages = || issues.dups.iter().map(Dup::message).collect::<Vec<_>>();
    let items: Vec<String> = match issues.format {
        BodyFormat::JsonObject => merge_object_issues(body, &issues.dups, &unknown()),
        BodyFormat::YamlObject => {
            let mut v = issues.yaml_lines.clone();
            v.extend(sorted_unknown());
            v
        }
        BodyFormat::Patch => dup_messages(),
        BodyFormat::JsonPatch => issues.patch_ops.clone(),
        BodyFormat::Apply => issues.yaml_lines.clone(),
    };
    if mode != FieldValidation::Strict {
        return Ok(items);
    }
    // Strict: a 400, but only for a request the user may make at all.
    let sub = request.subresource.as_deref().unwrap_or("");
    let ns = request.namespace.as_deref().filter(|n| !n.is_empty());
    server
        .authorize(
            user,
            crate::server::verb_name(&request.verb),
            info,
            ns,
            sub,
            request.name.as_deref(),
        )
        .await?;
    let version = api_version.rsplit('/').next().unwrap_or(&api_version);
    let object_prefix = format!("{kind} in version \"{version}\" cannot be handled as a {kind}: ");
    let message = match issues.format {
        BodyFormat::JsonObject => {
            format!("{object_prefix}strict decoding error: {}", items.join(", "))
        }
        BodyFormat::YamlObject => {
            let mut m = format!(
                "{object_prefix}strict decoding error: yaml: unmarshal errors:\n  {}",
                issues.yaml_lines.join("\n  ")
            );
            for u in sorted_unknown() {
                m.push_str(", ");
                m.push_str(&u);
            }
            m
        }
        BodyFormat::Apply => format!(
            "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  {}",
            issues.yaml_lines.join("\n  ")
        ),
        BodyFormat::Patch | BodyFormat::JsonPatch => {
            // The patched object's unknown fields follow: a dry run of the patch tells them
            // (and any error that comes first, such as a missing object).
            let mut dry = request.clone();
            if let Verb::Patch(_, p) = &mut dry.verb {
                p.dry_run = true;
                p.field_validation = Some(FieldValidation::Strict);
            }
            let mut m = format!("strict decoding error: {}", items.join(", "));
            match server.serve(user, dry).await {
                Ok(_) => {}
                Err(e) => match e.message().strip_prefix("strict decoding error: ") {
                    Some(rest) if e.code() == 400 => {
                        m.push_str(", ");
                        m.push_str(rest);
                    }
                    _ => return Err(e),
                },
            }
            m
        }
    };
    Err(crate::errors::bad_request(message))
}

/// The warnings of a response: the decoding ones first, then the request's own that are not
/// among them.
pub(crate) fn merge_warnings(decoding: Vec<String>, own: Vec<String>) -> Vec<String> {
    if decoding.is_empty() {
        return own;
    }
    let mut out = decoding;
    for w in own {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Kubernetes' field-validation integration test body (test/integration/apiserver/
    /// field_validation_test.go `invalidBodyJSON`).
    const INVALID_JSON: &str = r#"{
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "dupename",
            "name": "web",
            "labels": {"app": "nginx"},
            "unknownMeta": "metaVal"
        },
        "spec": {
            "unknown1": "val1",
            "unknownDupe": "valDupe",
            "unknownDupe": "valDupe2",
            "paused": true,
            "paused": false,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{
                        "name":  "nginx",
                        "image": "nginx:latest",
                        "unknownNested": "val1",
                        "imagePullPolicy": "Always",
                        "imagePullPolicy": "Never"
                    }]
                }
            }
        }
    }"#;

    #[test]
    fn json_is_parsed_as_serde_json_parses_it() {
        for body in [
            INVALID_JSON,
            r#"{"a": [1, -2, 3.5, 1e300, null, true, "s\u00e9"], "b": {"c": {}}, "a": 7}"#,
            "[]",
            "\"x\"",
            "18446744073709551615",
        ] {
            let plain: Value = serde_json::from_str(body).unwrap();
            let (v, _) = json_with_duplicates(body.as_bytes()).unwrap();
            assert_eq!(v, plain, "{body}");
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                serde_json::to_string(&plain).unwrap()
            );
        }
        assert!(json_with_duplicates(b"{\"a\": 1,}").is_err());
        assert!(json_with_duplicates(b"{} x").is_err());
        let (_, dups) = json_with_duplicates(br#"{"a": {"b": 1}, "c": 2}"#).unwrap();
        assert!(dups.is_empty());
    }

    #[test]
    fn duplicates_and_unknown_fields_in_document_order() {
        let (v, dups) = json_with_duplicates(INVALID_JSON.as_bytes()).unwrap();
        let rendered: Vec<String> = dups.iter().map(Dup::message).collect();
        assert_eq!(
            rendered,
            [
                r#"duplicate field "metadata.name""#,
                r#"duplicate field "spec.unknownDupe""#,
                r#"duplicate field "spec.paused""#,
                r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
            ]
        );
        assert_eq!(v["metadata"]["name"], "web");
        assert_eq!(v["spec"]["paused"], false);
        let unknown = crate::typed::decode("apps/v1", "Deployment", &v).unknown;
        // Kubernetes' expected message (field_validation_test.go, post-strict-validation).
        assert_eq!(
            merge_object_issues(&v, &dups, &unknown).join(", "),
            r#"duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#
        );
        // A repeat after the last key of its object comes after that key's subtree.
        let (v, dups) =
            json_with_duplicates(br#"{"a": 1, "b": {"x": 1, "y": 2}, "a": 2, "c": 3}"#).unwrap();
        assert_eq!(
            merge_object_issues(
                &v,
                &dups,
                &[vec![Seg::Key("b".into()), Seg::Key("y".into())]]
            ),
            [r#"unknown field "b.y""#, r#"duplicate field "a""#]
        );
    }

    #[test]
    fn yaml_duplicates_with_lines() {
        let body = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dupename\n  name: web\n  unknownMeta: metaVal\nspec:\n  paused: true\n  paused: false\n  template:\n    spec:\n      containers:\n      - name: nginx\n        imagePullPolicy: Always\n        imagePullPolicy: Never\n";
        let (v, dups) = yaml_with_duplicates(body.as_bytes()).unwrap();
        let plain: Value = serde_norway::from_slice(body.as_bytes()).unwrap();
        assert_eq!(v, plain);
        assert_eq!(v["metadata"]["name"], "web");
        assert_eq!(dups.len(), 3);
        assert_eq!(
            yaml_duplicate_lines(body.as_bytes(), dups.len()),
            [
                r#"line 5: key "name" already set in map"#,
                r#"line 9: key "paused" already set in map"#,
                r#"line 15: key "imagePullPolicy" already set in map"#,
            ]
        );
        // JSON read as YAML (server-side apply bodies).
        let json_body = b"{\n  \"spec\": {\n    \"paused\": false,\n    \"paused\": true\n  }\n}";
        let (_, dups) = yaml_with_duplicates(json_body).unwrap();
        assert_eq!(
            yaml_duplicate_lines(json_body, dups.len()),
            [r#"line 4: key "paused" already set in map"#]
        );
    }

    #[test]
    fn json_patch_operations() {
        let body = br#"[
            {"op": "add", "path": "/spec/unknown1", "value": "val1", "foo": "bar"},
            {"op": "add", "path": "/spec/unknown2", "path": "/spec/unknown3", "value": "val1"},
            {"op": "add", "path": "/spec/x", "value": {"a": 1, "a": 2}}
        ]"#;
        let (v, dups) = json_with_duplicates(body).unwrap();
        assert_eq!(
            json_patch_issues(&v, &dups),
            [
                r#"json patch unknown field "[0].foo""#,
                r#"json patch duplicate field "[1].path""#
            ]
        );
        assert!(json_patch_issues(&json!({"op": "add"}), &[]).is_empty());
    }
}
