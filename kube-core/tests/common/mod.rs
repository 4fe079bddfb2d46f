//! Test helpers: a deserializer that fills every field of any serde type, and a JSON diff.

#![allow(dead_code)]

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

/// Field names (and map fields whose values are) `metav1.Time` / `MicroTime`.
const TIME_FIELDS: &[&str] = &[
    "acquireTime",
    "creationTimestamp",
    "deletionTimestamp",
    "disruptedPods",
    "eventTime",
    "finishedAt",
    "firstTimestamp",
    "lastHeartbeatTime",
    "lastObservedTime",
    "lastProbeTime",
    "lastTimestamp",
    "lastTransitionTime",
    "lastUpdateTime",
    "renewTime",
    "startTime",
    "startedAt",
    "time",
    "timeAdded",
    // newtype names used by k8s-openapi
    "Time",
    "MicroTime",
];

/// Field names (and map fields whose values are) `resource.Quantity`.
const QUANTITY_FIELDS: &[&str] = &[
    "allocatable",
    "allocatedResources",
    "capacity",
    "divisor",
    "limits",
    "overhead",
    "requests",
    "sizeLimit",
    // newtype name used by k8s-openapi
    "Quantity",
];

/// A `Deserializer` that produces a value with every field set: each struct field present,
/// each `Option` `Some`, each list and map with one element. Strings are chosen by the field
/// they fill: a timestamp for time fields, a canonical quantity for quantity fields, `"abcd"`
/// (which is also valid base64) otherwise; `apiVersion` and `kind` get the values given.
///
/// Works for serde-derived types and for k8s-openapi's hand-written impls (which pass their
/// field lists to `deserialize_struct` and name their newtypes).
#[derive(Clone, Copy)]
pub(crate) struct Filler {
    hint: &'static str,
    api_version: &'static str,
    kind: &'static str,
    depth: usize,
}

impl Filler {
    /// A filler for a top-level object of `apiVersion` / `kind`.
    pub(crate) fn new(api_version: &'static str, kind: &'static str) -> Self {
        Filler {
            hint: "",
            api_version,
            kind,
            depth: 0,
        }
    }

    fn child(self, hint: &'static str) -> Self {
        Filler {
            hint,
            depth: self.depth + 1,
            ..self
        }
    }

    fn string(&self) -> &'static str {
        match self.hint {
            "apiVersion" => self.api_version,
            "kind" => self.kind,
            h if TIME_FIELDS.contains(&h) => "2024-01-02T03:04:05Z",
            h if QUANTITY_FIELDS.contains(&h) => "500m",
            _ => "abcd",
        }
    }
}

type Error = de::value::Error;

impl<'de> Deserializer<'de> for Filler {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(self.string())
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bool(true)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.5)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.5)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_char('x')
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(self.string())
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(self.string())
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bytes(b"abcd")
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bytes(b"abcd")
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        match name {
            "Time" | "MicroTime" | "Quantity" => {
                v.visit_newtype_struct(Filler { hint: name, ..self })
            }
            _ => v.visit_newtype_struct(self),
        }
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.guard()?;
        v.visit_seq(Seq {
            filler: self.child(self.hint),
            left: 1,
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Error> {
        self.guard()?;
        v.visit_seq(Seq {
            filler: self.child(self.hint),
            left: len,
        })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.guard()?;
        v.visit_map(Map {
            filler: self.child(self.hint),
            keys: &["key"],
            next: 0,
            map_values_inherit: true,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.guard()?;
        v.visit_map(Map {
            filler: self.child(self.hint),
            keys: fields,
            next: 0,
            map_values_inherit: false,
        })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!(
            "Filler does not fill enums ({name})"
        )))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(self.hint)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

impl Filler {
    fn guard(&self) -> Result<(), Error> {
        if self.depth > 40 {
            Err(de::Error::custom("Filler: recursion too deep"))
        } else {
            Ok(())
        }
    }
}

struct Seq {
    filler: Filler,
    left: usize,
}

impl<'de> SeqAccess<'de> for Seq {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.filler).map(Some)
    }
}

struct Map {
    filler: Filler,
    keys: &'static [&'static str],
    next: usize,
    map_values_inherit: bool,
}

impl<'de> MapAccess<'de> for Map {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = self.keys.get(self.next) else {
            return Ok(None);
        };
        let key: de::value::StrDeserializer<'_, Error> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let key = self.keys[self.next];
        self.next += 1;
        let hint = if self.map_values_inherit {
            self.filler.hint
        } else {
            key
        };
        seed.deserialize(Filler {
            hint,
            ..self.filler
        })
    }
}

/// Every JSON path where `a` and `b` differ, one per line (empty when equal).
pub(crate) fn diff(a: &Value, b: &Value) -> String {
    let mut out = Vec::new();
    diff_at("$", a, b, &mut out);
    out.join("\n")
}

fn diff_at(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => diff_at(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: only on the left ({v})")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: only on the right ({w})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff_at(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

/// Counts the leaves (scalars) of a JSON value: how much a filled object carries.
pub(crate) fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(leaves).sum(),
        Value::Array(a) => a.iter().map(leaves).sum(),
        _ => 1,
    }
}
