//! Objects in the [`Store`]: keys, encoding, reads and lists.
//!
//! # Key layout
//!
//! Kubernetes' etcd layout ([`crate`] docs have the table): `/registry/{segment}/{namespace}/{name}`
//! for namespaced kinds and `/registry/{segment}/{name}` for cluster-scoped ones, where the
//! segment is the resource's plural without its group (`pods`, `deployments`, `clusterroles`)
//! except for kube-apiserver's historical names: services are `services/specs`, endpoints
//! `services/endpoints`, nodes `minions`, replication controllers `controllers`.
//!
//! # Encoding
//!
//! Objects are stored as their JSON wire form with `apiVersion` and `kind` and without
//! `metadata.resourceVersion`; on the way out `resourceVersion` is set to the key's
//! `mod_revision` (never trusted from the stored bytes).

use crate::errors::{self, Result};
use crate::object::{labels, set_meta};
use crate::strategy::Strategy;
use base64::Engine as _;
use bytes::Bytes;
use kube_store::{KeyValue, ListOptions, Revision, Store};
use kubox_core::client::ListParams;
use kubox_core::selector::{FieldSelector, Selector};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The store and the decoding of what it holds.
#[derive(Clone)]
pub(crate) struct Storage {
    pub(crate) store: Arc<dyn Store>,
}

/// Decodes a stored object and stamps its resourceVersion.
pub(crate) fn decode(s: &Strategy, kv: &KeyValue) -> Result<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| errors::internal(format!("decoding {}: {e}", kv.key)))?;
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), Value::String(s.info.api_version()));
        m.insert("kind".into(), Value::String(s.info.kind.into()));
    }
    set_meta(
        &mut obj,
        "resourceVersion",
        Value::String(kv.mod_revision.to_string()),
    );
    Ok(obj)
}

/// Encodes an object for the store (without its resourceVersion).
pub(crate) fn encode(obj: &Value) -> Bytes {
    // The common shape (an object with a `metadata` object) is written as is, skipping
    // `metadata.resourceVersion` on the fly: the same bytes as clearing it in a copy, without
    // copying the object.
    let has_meta = obj
        .as_object()
        .and_then(|m| m.get("metadata"))
        .is_some_and(Value::is_object);
    if has_meta {
        return Bytes::from(serde_json::to_vec(&WithoutRv(obj)).unwrap_or_default());
    }
    let mut o = obj.clone();
    set_meta(&mut o, "resourceVersion", Value::Null);
    Bytes::from(serde_json::to_vec(&o).unwrap_or_default())
}

/// An object (with a `metadata` object) serialized without `metadata.resourceVersion`.
struct WithoutRv<'a>(&'a Value);

/// A `metadata` map serialized without `resourceVersion`.
struct MetaWithoutRv<'a>(&'a Map<String, Value>);

impl serde::Serialize for WithoutRv<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(m) = self.0 else {
            return self.0.serialize(ser);
        };
        let mut out = ser.serialize_map(Some(m.len()))?;
        for (k, v) in m {
            match v {
                Value::Object(meta) if k == "metadata" => {
                    out.serialize_entry(k, &MetaWithoutRv(meta))?
                }
                _ => out.serialize_entry(k, v)?,
            }
        }
        out.end()
    }
}

impl serde::Serialize for MetaWithoutRv<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let n = self.0.len() - usize::from(self.0.contains_key("resourceVersion"));
        let mut out = ser.serialize_map(Some(n))?;
        for (k, v) in self.0 {
            if k != "resourceVersion" {
                out.serialize_entry(k, v)?;
            }
        }
        out.end()
    }
}

/// A parsed label + field selector.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    label: Selector,
    field: FieldSelector,
}

impl Filter {
    /// Parses the selectors of a list or watch; 400 for a malformed one or an unsupported field.
    pub(crate) fn parse(s: &Strategy, label: Option<&str>, field: Option<&str>) -> Result<Filter> {
        let label = match label {
            Some(l) => Selector::parse(l).map_err(|e| errors::bad_request(e.to_string()))?,
            None => Selector::everything(),
        };
        let field = match field {
            Some(f) => FieldSelector::parse(f).map_err(|e| errors::bad_request(e.to_string()))?,
            None => FieldSelector::everything(),
        };
        for r in field.requirements() {
            if !s.supports_field(r.field()) {
                return Err(errors::bad_request(format!(
                    "field label not supported: {}",
                    r.field()
                )));
            }
        }
        Ok(Filter { label, field })
    }

    /// Whether the filter selects everything.
    pub(crate) fn is_empty(&self) -> bool {
        self.label.is_empty() && self.field.is_empty()
    }

    /// Whether `obj` is selected.
    pub(crate) fn matches(&self, s: &Strategy, obj: &Value) -> bool {
        if !self.label.is_empty() && !self.label.matches(&labels(obj)) {
            return false;
        }
        self.field.is_empty()
            || self.field.matches_with(|f| {
                if f == "metadata.name" || f == "metadata.namespace" {
                    if f == "metadata.namespace" && !s.info.namespaced {
                        return Some(String::new());
                    }
                    let key = &f["metadata.".len()..];
                    crate::object::meta_str(obj, key).map(str::to_string)
                } else {
                    s.field_value(obj, f)
                }
            })
    }
}

/// `ListOptions.meta.k8s.io "" is invalid: …` (422).
pub(crate) fn invalid_list_options(errs: &[errors::FieldError]) -> errors::Error {
    errors::invalid("meta.k8s.io", "ListOptions", "", errs)
}

/// Parses a resourceVersion parameter.
pub(crate) fn parse_rv(rv: &str) -> Result<Revision> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| errors::bad_request(format!("invalid resource version: {rv:?}")))
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";
const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Encodes a continue token (`{"v":"meta.k8s.io/v1","rv":N,"start":"<key relative to the
/// prefix>\u0000"}` in unpadded base64url, as apiserver's etcd3 store does).
pub(crate) fn encode_continue(last_key: &str, prefix: &str, rv: Revision) -> String {
    let rel = last_key.strip_prefix(prefix).unwrap_or(last_key);
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{rel}\u{0}")});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

/// Decodes a continue token into (the key to start after, the revision; -1: latest).
pub(crate) fn decode_continue(token: &str, prefix: &str) -> Result<(String, Revision)> {
    const INVALID: &str = "continue key is not valid";
    let bad = |m: String| errors::bad_request(format!("invalid continue token: {m}"));
    let data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|e| {
            bad(format!(
                "{INVALID}: incorrect encoded start resourceVersion (version meta.k8s.io/v1): {e}"
            ))
        })?;
    let v: Value = serde_json::from_slice(&data).map_err(|e| bad(format!("{INVALID}: {e}")))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad(format!(
            "{INVALID}: server does not recognize this encoded version {}",
            v.get("v").and_then(Value::as_str).unwrap_or("")
        )));
    }
    let rv = v.get("rv").and_then(Value::as_i64).unwrap_or(0);
    if rv == 0 || rv < -1 {
        return Err(bad(format!(
            "{INVALID}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )));
    }
    let start = v.get("start").and_then(Value::as_str).unwrap_or("");
    if start.is_empty() {
        return Err(bad(format!(
            "{INVALID}: encoded start key empty (version meta.k8s.io/v1)"
        )));
    }
    if start.split('/').any(|seg| seg == ".." || seg == ".") || start.starts_with('/') {
        return Err(bad(format!("{INVALID}: {INVALID}")));
    }
    let start = start.strip_suffix('\u{0}').unwrap_or(start);
    Ok((format!("{prefix}{start}"), rv))
}

impl Storage {
    /// Waits (up to 3 s, like the watch cache) for the store to reach `rv`; 504 otherwise.
    pub(crate) async fn wait_for(&self, rv: Revision) -> Result<Revision> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let current = self
                .store
                .current_revision()
                .await
                .map_err(errors::internal)?;
            if current >= rv {
                return Ok(current);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(errors::too_large_resource_version(rv, current));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads one object; `None` if absent.
    pub(crate) async fn get(&self, s: &Strategy, key: &str) -> Result<Option<(Value, Revision)>> {
        match self.store.get(key).await.map_err(errors::internal)? {
            Some(kv) => Ok(Some((decode(s, &kv)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    /// A LIST with Kubernetes' resourceVersion, selector and pagination semantics.
    pub(crate) async fn list(
        &self,
        s: &Strategy,
        namespace: Option<&str>,
        p: &ListParams,
    ) -> Result<Value> {
        validate_list_params(p)?;
        let filter = Filter::parse(s, p.label_selector.as_deref(), p.field_selector.as_deref())?;
        let prefix = s.prefix(namespace);
        let limit = p
            .limit
            .filter(|l| *l > 0)
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        let mut start_after = None;
        let mut revision = None;
        let mut continuing = false;
        if let Some(token) = p.continue_token.as_deref().filter(|t| !t.is_empty()) {
            let (start, rv) = decode_continue(token, &prefix)?;
            start_after = Some(start);
            revision = (rv > 0).then_some(rv);
            continuing = true;
        } else if let Some(rv) = p.resource_version.as_deref().filter(|r| !r.is_empty()) {
            let n = parse_rv(rv)?;
            let exact = match p.resource_version_match.as_deref() {
                Some("Exact") => true,
                Some(_) => false,
                None => limit.is_some() && n != 0,
            };
            if exact {
                let current = self
                    .store
                    .current_revision()
                    .await
                    .map_err(errors::internal)?;
                if n > current {
                    self.wait_for(n).await?;
                }
                revision = Some(n);
            } else if n > 0 {
                self.wait_for(n).await?;
            }
        }

        let mut items = Vec::new();
        let mut more = false;
        let mut last_key: Option<String> = None;
        let mut remaining = None;
        loop {
            let want = limit.map(|l| l - items.len());
            let page = match want {
                Some(w) if filter.is_empty() => Some(w),
                Some(w) => Some(w.max(500)),
                None => None,
            };
            let res = self
                .store
                .list(
                    &prefix,
                    ListOptions {
                        revision,
                        limit: page,
                        start_after: start_after.clone(),
                    },
                )
                .await;
            let res = match res {
                Ok(r) => r,
                Err(kube_store::Error::Compacted { .. }) if continuing => {
                    let mut e = errors::expired(INCONSISTENT_CONTINUE);
                    match &start_after {
                        Some(k) => e.0.metadata.continue_ = Some(encode_continue(k, &prefix, -1)),
                        None => e = errors::expired(CONTINUE_EXPIRED),
                    }
                    return Err(e);
                }
                Err(kube_store::Error::Compacted { .. }) => {
                    return Err(errors::expired(
                        "The resourceVersion for the provided list is too old.",
                    ))
                }
                Err(e) => return Err(errors::from_store(e, s.group(), s.resource(), "")),
            };
            revision = Some(res.revision);
            let n = res.kvs.len();
            for (i, kv) in res.kvs.iter().enumerate() {
                last_key = Some(kv.key.to_string());
                let mut obj = decode(s, kv)?;
                if !filter.matches(s, &obj) {
                    continue;
                }
                if let Value::Object(m) = &mut obj {
                    m.shift_remove("apiVersion");
                    m.shift_remove("kind");
                }
                items.push(obj);
                if Some(items.len()) == limit {
                    more = i + 1 < n || res.more;
                    if more && filter.is_empty() {
                        remaining = Some(res.count.saturating_sub(i + 1));
                    }
                    break;
                }
            }
            if Some(items.len()) == limit || !res.more {
                break;
            }
            start_after = last_key.clone();
        }
        let rev = revision.unwrap_or(0);
        let mut meta = Map::new();
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
        if more {
            if let Some(k) = &last_key {
                meta.insert(
                    "continue".into(),
                    Value::String(encode_continue(k, &prefix, rev)),
                );
            }
            if let Some(r) = remaining {
                meta.insert("remainingItemCount".into(), Value::from(r));
            }
        }
        Ok(json!({
            "kind": s.info.list_kind(),
            "apiVersion": s.info.api_version(),
            "metadata": meta,
            "items": items,
        }))
    }
}

/// `ValidateListOptions` for a list (not a watch).
fn validate_list_params(p: &ListParams) -> Result<()> {
    use errors::FieldError;
    let mut errs = Vec::new();
    if let Some(m) = p
        .resource_version_match
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        let f = "resourceVersionMatch";
        if p.resource_version.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::forbidden(
                f,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if p.continue_token.as_deref().is_some_and(|c| !c.is_empty()) {
            errs.push(FieldError::forbidden(
                f,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            errs.push(FieldError::not_supported(
                f,
                m,
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if m == "Exact" && p.resource_version.as_deref() == Some("0") {
            errs.push(FieldError::forbidden(
                f,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(invalid_list_options(&errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_drops_resource_version_without_copying() {
        for obj in [
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7", "uid": "u"}, "spec": {"x": [1, {"resourceVersion": "keep"}]}}),
            json!({"metadata": {"name": "a"}, "b": 1}),
            json!({"metadata": null, "a": 1}),
            json!({"a": 1}),
            json!([1, 2]),
        ] {
            let mut want = obj.clone();
            set_meta(&mut want, "resourceVersion", Value::Null);
            assert_eq!(
                encode(&obj),
                Bytes::from(serde_json::to_vec(&want).unwrap()),
                "{obj}"
            );
        }
    }

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue("/registry/pods/default/web", "/registry/pods/", 42);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t)
            .unwrap();
        let v: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(
            v,
            json!({"v": "meta.k8s.io/v1", "rv": 42, "start": "default/web\u{0}"})
        );
        assert_eq!(
            decode_continue(&t, "/registry/pods/").unwrap(),
            ("/registry/pods/default/web".to_string(), 42)
        );
        let bad = decode_continue("!!", "/registry/pods/").unwrap_err();
        assert_eq!(bad.code(), 400);
        let traversal = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../secrets/x"}"#);
        assert_eq!(
            decode_continue(&traversal, "/registry/pods/")
                .unwrap_err()
                .code(),
            400
        );
    }
}
