//! Field sets: the paths a field manager owns, and their `FieldsV1` encoding.
//!
//! A path is a list of [`Element`]s: a field name (`f:spec`), a list-map item's key fields
//! (`k:{"name":"c"}`), a set item's value (`v:"a"`) or a list index (`i:0`). A set holds the
//! paths of its members; `FieldsV1` is the trie of those paths, where `{}` marks a leaf member
//! and `".": {}` marks an inner node that is itself a member.

use super::schema::{self, Field, ListType, TypeSchema};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// One step of a field path. The derived order (field, key, value, index) is the order
/// structured-merge-diff serializes children in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Element {
    /// `f:<name>`: an object field or map key.
    Field(String),
    /// `k:<json object>`: a list-map item, by its key fields (sorted by name).
    Key(String),
    /// `v:<json>`: a set item.
    Value(String),
    /// `i:<n>`: a list item by position.
    Index(usize),
}

/// A path from the object's root.
pub(crate) type Path = Vec<Element>;

/// A set of owned paths.
pub(crate) type FieldSet = BTreeSet<Path>;

/// Formats a path the way conflict messages show it: `.spec.containers[name="c"].image`.
pub(crate) struct Display<'a>(pub(crate) &'a [Element]);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            match e {
                Element::Field(name) => write!(f, ".{name}")?,
                Element::Key(json) => {
                    let fields: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                    let parts: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "[{}]", parts.join(","))?
                }
                Element::Value(json) => write!(f, "[={json}]")?,
                Element::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl Element {
    fn encode(&self) -> String {
        match self {
            Element::Field(name) => format!("f:{name}"),
            Element::Key(json) => format!("k:{json}"),
            Element::Value(json) => format!("v:{json}"),
            Element::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Option<Element> {
        let (kind, rest) = s.split_at_checked(2)?;
        Some(match kind {
            "f:" => Element::Field(rest.to_string()),
            "k:" => Element::Key(canonical_json(rest)?),
            "v:" => Element::Value(canonical_json(rest)?),
            "i:" => Element::Index(rest.parse().ok()?),
            _ => return None,
        })
    }
}

/// Re-serializes JSON compactly with object keys sorted, so equal keys compare equal.
fn canonical_json(s: &str) -> Option<String> {
    let v: Value = serde_json::from_str(s).ok()?;
    Some(canonical(&v))
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Decodes a `FieldsV1` trie. Malformed entries are skipped.
pub(crate) fn decode(fields_v1: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    decode_into(fields_v1, &mut Vec::new(), &mut set);
    set
}

fn decode_into(node: &Value, path: &mut Path, set: &mut FieldSet) {
    let Value::Object(children) = node else {
        return;
    };
    for (k, child) in children {
        if k == "." {
            set.insert(path.clone());
            continue;
        }
        let Some(e) = Element::decode(k) else {
            continue;
        };
        path.push(e);
        match child {
            Value::Object(c) if !c.is_empty() => decode_into(child, path, set),
            _ => {
                set.insert(path.clone());
            }
        }
        path.pop();
    }
}

/// Encodes a set as a `FieldsV1` trie.
pub(crate) fn encode(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: std::collections::BTreeMap<Element, Node>,
    }
    fn to_json(node: &Node) -> Value {
        let mut m = Map::new();
        if node.member && !node.children.is_empty() {
            m.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (e, child) in &node.children {
            m.insert(e.encode(), to_json(child));
        }
        Value::Object(m)
    }
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for e in path {
            node = node.children.entry(e.clone()).or_default();
        }
        node.member = true;
    }
    to_json(&root)
}

/// Whether `set` has `prefix` or any path below it.
pub(crate) fn has_prefix(set: &FieldSet, prefix: &[Element]) -> bool {
    set.range(prefix.to_vec()..)
        .next()
        .is_some_and(|p| p.starts_with(prefix))
}

/// Fields of the object root that no manager owns (identity and system metadata).
fn ignored(path: &[Element]) -> bool {
    match path {
        [Element::Field(f)] => f == "apiVersion" || f == "kind",
        [Element::Field(m), Element::Field(f)] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "selfLink"
                | "managedFields"
        ),
        _ => false,
    }
}

/// The key element of a list-map item: its key fields (defaulted where the API defaults them)
/// as a sorted JSON object. `None` when a key without default is missing.
pub(crate) fn item_key(item: &Value, keys: &[&str]) -> Option<Element> {
    let mut fields = Map::new();
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_unstable();
    for k in sorted {
        let v = item.get(k).cloned().or_else(|| schema::key_default(k))?;
        fields.insert(k.to_string(), v);
    }
    Some(Element::Key(canonical(&Value::Object(fields))))
}

/// The field set of an object: every leaf (scalar, atomic list or object, empty object or
/// list), every list-map item and every set item, following `schema`.
pub(crate) fn of_object(obj: &Value, schema: Option<&'static TypeSchema>) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(m) = obj {
        for (k, v) in m {
            let field = schema.and_then(|s| s.field(k));
            collect(v, field, &mut vec![Element::Field(k.clone())], &mut set);
        }
    }
    set.retain(|p| !ignored_prefix(p));
    set
}

fn ignored_prefix(path: &[Element]) -> bool {
    (1..=path.len().min(2)).any(|n| ignored(&path[..n]))
}

fn collect(v: &Value, field: Option<&'static Field>, path: &mut Path, set: &mut FieldSet) {
    let sub = field.and_then(|f| f.schema);
    match v {
        Value::Null => {}
        Value::Object(m) if !m.is_empty() && !field.is_some_and(|f| f.atomic) => {
            for (k, child) in m {
                path.push(Element::Field(k.clone()));
                collect(child, sub.and_then(|s| s.field(k)), path, set);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            match field.map_or(ListType::Atomic, |f| f.list_type) {
                ListType::Atomic => {
                    set.insert(path.clone());
                }
                ListType::Set => {
                    for item in items {
                        path.push(Element::Value(canonical(item)));
                        set.insert(path.clone());
                        path.pop();
                    }
                }
                ListType::Map(keys) => {
                    for item in items {
                        let Some(key) = item_key(item, keys) else {
                            continue;
                        };
                        path.push(key);
                        set.insert(path.clone());
                        if let Value::Object(m) = item {
                            for (k, child) in m {
                                path.push(Element::Field(k.clone()));
                                collect(child, sub.and_then(|s| s.field(k)), path, set);
                                path.pop();
                            }
                        }
                        path.pop();
                    }
                }
            }
        }
        _ => {
            set.insert(path.clone());
        }
    }
}

/// The value at `path` in `obj`, if any.
pub(crate) fn get<'a>(obj: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut cur = obj;
    for e in path {
        cur = match (e, cur) {
            (Element::Field(name), Value::Object(m)) => m.get(name)?,
            (Element::Key(_), Value::Array(items)) => items.iter().find(|i| key_matches(i, e))?,
            (Element::Value(json), Value::Array(items)) => {
                items.iter().find(|i| canonical(i) == *json)?
            }
            (Element::Index(n), Value::Array(items)) => items.get(*n)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn key_matches(item: &Value, key: &Element) -> bool {
    let Element::Key(json) = key else {
        return false;
    };
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
        return false;
    };
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    item_key(item, &keys).as_ref() == Some(key)
}

/// Removes the value at `path` from `obj`; returns whether something was removed.
pub(crate) fn remove(obj: &mut Value, path: &[Element]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut cur = obj;
    for e in parent_path {
        let next = match (e, cur) {
            (Element::Field(name), Value::Object(m)) => m.get_mut(name),
            (Element::Key(_), Value::Array(items)) => items.iter_mut().find(|i| key_matches(i, e)),
            (Element::Value(json), Value::Array(items)) => {
                items.iter_mut().find(|i| canonical(i) == *json)
            }
            (Element::Index(n), Value::Array(items)) => items.get_mut(*n),
            _ => None,
        };
        let Some(next) = next else { return false };
        cur = next;
    }
    match (last, cur) {
        (Element::Field(name), Value::Object(m)) => m.shift_remove(name).is_some(),
        (Element::Key(_), Value::Array(items)) => {
            let before = items.len();
            items.retain(|i| !key_matches(i, last));
            items.len() != before
        }
        (Element::Value(json), Value::Array(items)) => {
            let before = items.len();
            items.retain(|i| canonical(i) != *json);
            items.len() != before
        }
        (Element::Index(n), Value::Array(items)) if *n < items.len() => {
            items.remove(*n);
            true
        }
        _ => false,
    }
}
