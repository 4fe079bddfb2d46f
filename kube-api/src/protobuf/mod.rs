//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded into the
//! JSON form the rest of the server works on.
//!
//! kubectl 1.32+ sends protobuf for `create deployment|namespace|configmap|secret|service|job`
//! and does not fall back to JSON on 415 (shared/compat.md §1 "Protobuf"). A body is the magic
//! `"k8s\0"` followed by a `runtime.Unknown`: `typeMeta(1){apiVersion(1), kind(2)}`, `raw(2)`
//! (the object, encoded with k8s.io/api `generated.proto`), `contentEncoding(3)`,
//! `contentType(4)`.
//!
//! No prost at runtime: [`decode`] walks the wire format (varint, 64-bit, length-delimited,
//! 32-bit) against a static schema generated from k8s-pb and k8s-openapi by
//! `kube-api/tools/gen_proto_schema.py` (`schema.rs`: the messages reachable from the kinds
//! kubox serves, with each field's tag, JSON name and kind). The output is what the same
//! object would look like in JSON:
//!
//! - `Time` → RFC 3339 seconds (`"2024-01-01T00:00:00Z"`; the zero time, an empty message,
//!   → `null` as in Go's JSON),
//!   `MicroTime` → with microseconds, `Duration` → Go duration string (`"1m30s"`),
//!   `Quantity` → its string, `IntOrString` → number or string, `bytes` → base64,
//!   `RawExtension`/`FieldsV1` → the embedded JSON (base64 string if it is not JSON);
//! - maps → objects, repeated → arrays (packed or not), Go embedded structs
//!   (`Volume.VolumeSource`, …) flattened into their parent;
//! - proto2 presence: a field appears only when it is on the wire, so `replicas: 0` is kept.
//!   Go's generated marshallers also write non-pointer fields at their zero value; empty
//!   strings are dropped (Go's `omitempty` JSON never carries them, and defaulting treats
//!   them as unset), other zero scalars are kept (they may be pointers set to zero).
//!
//! Unknown fields are skipped and counted ([`Decoded::unknown_fields`]); malformed input is a
//! [`DecodeError`] (→ 400), never a panic; nesting depth is limited to [`MAX_DEPTH`]. A kind
//! outside the schema is [`DecodeError::UnsupportedKind`] (→ 415).

mod schema;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The magic prefix of a Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The deepest message nesting accepted (the served kinds nest about 12 deep).
pub const MAX_DEPTH: usize = 64;

/// The wire kind of a field, generated into `schema.rs`.
// The generator maps every proto scalar and special type; the messages reachable from the
// served kinds happen not to use a few of them (uint, double, Duration) today.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug)]
enum Kind {
    String,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Double,
    Float,
    Bytes,
    /// An index into `schema::MESSAGES`.
    Message(u16),
    /// A `map<string, V>`.
    Map(&'static Kind),
    /// `meta.v1.Time` {seconds=1, nanos=2}.
    Time,
    /// `meta.v1.MicroTime` {seconds=1, nanos=2}.
    MicroTime,
    /// `meta.v1.Duration` {duration=1 (nanoseconds)}.
    Duration,
    /// `resource.Quantity` {string=1}.
    Quantity,
    /// `intstr.IntOrString` {type=1, intVal=2, strVal=3}.
    IntOrString,
    /// `runtime.RawExtension` / `meta.v1.FieldsV1` {raw=1}: embedded JSON.
    RawJson,
}

/// One field of a message.
#[derive(Debug)]
struct Field {
    tag: u32,
    /// The JSON name; `""` for a Go embedded struct, merged into the parent.
    json: &'static str,
    kind: Kind,
    repeated: bool,
}

/// One message: full proto name and fields sorted by tag.
#[derive(Debug)]
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

/// Why a protobuf body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with `"k8s\0"`.
    #[error("protobuf body does not start with the \"k8s\\x00\" magic")]
    BadMagic,
    /// The envelope names no apiVersion/kind.
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    /// The envelope carries an encoding or inner content type this server does not read.
    #[error("protobuf envelope with unsupported contentEncoding/contentType {0:?}")]
    UnsupportedEncoding(String),
    /// No schema for this apiVersion/kind.
    #[error("protobuf bodies of {api_version}/{kind} are not supported by this server; send JSON")]
    UnsupportedKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The wire format is broken.
    #[error("malformed protobuf at byte {offset}: {what}")]
    Malformed {
        /// Offset in the buffer being read (the envelope or a nested message).
        offset: usize,
        /// What went wrong.
        what: &'static str,
    },
    /// Messages nest deeper than [`MAX_DEPTH`].
    #[error("protobuf message nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// A decoded body.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The object in its JSON form, with `apiVersion` and `kind` from the envelope.
    pub object: Value,
    /// Fields skipped because the schema does not know their tag.
    pub unknown_fields: usize,
}

type Result<T> = std::result::Result<T, DecodeError>;

/// The full proto name of the message for `apiVersion`/`kind`, if kubox has its schema.
pub fn message_name(api_version: &str, kind: &str) -> Option<&'static str> {
    find_kind(api_version, kind).map(|i| schema::MESSAGES[i].name)
}

fn find(name: &str) -> Option<usize> {
    schema::MESSAGES.binary_search_by(|m| m.name.cmp(name)).ok()
}

fn find_kind(api_version: &str, kind: &str) -> Option<usize> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    // `rbac.authorization.k8s.io` → `rbac`; `""` → `core`.
    let short = match group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    // v1beta1 SelfSubjectReview (served for kubectl 1.27) has v1's fields and numbers.
    let version = match (short, version, kind) {
        ("authentication", "v1beta1", "SelfSubjectReview") => "v1",
        _ => version,
    };
    find(&format!("k8s.io.api.{short}.{version}.{kind}"))
}

/// Decodes a whole request body: magic, `runtime.Unknown` envelope, then the object.
pub fn decode(body: &[u8]) -> Result<Decoded> {
    let rest = body.strip_prefix(MAGIC).ok_or(DecodeError::BadMagic)?;
    let mut r = Reader::new(rest);
    let (mut api_version, mut kind) = (String::new(), String::new());
    let mut raw: &[u8] = &[];
    let mut encoding = String::new();
    let mut content_type = String::new();
    let mut unknown = 0;
    while !r.done() {
        let (tag, wt) = r.key()?;
        match (tag, wt) {
            (1, 2) => {
                let mut tm = Reader::new(r.bytes()?);
                while !tm.done() {
                    match tm.key()? {
                        (1, 2) => api_version = tm.string()?,
                        (2, 2) => kind = tm.string()?,
                        (_, wt) => {
                            tm.skip(wt)?;
                            unknown += 1;
                        }
                    }
                }
            }
            (2, 2) => raw = r.bytes()?,
            (3, 2) => encoding = r.string()?,
            (4, 2) => content_type = r.string()?,
            (_, wt) => {
                r.skip(wt)?;
                unknown += 1;
            }
        }
    }
    if api_version.is_empty() || kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta);
    }
    if !encoding.is_empty() || !(content_type.is_empty() || content_type == MEDIA_TYPE) {
        return Err(DecodeError::UnsupportedEncoding(format!(
            "{encoding}/{content_type}"
        )));
    }
    let idx = find_kind(&api_version, &kind).ok_or_else(|| DecodeError::UnsupportedKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let mut d = Decoder { unknown };
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(api_version));
    obj.insert("kind".into(), Value::String(kind));
    d.message_into(idx, raw, 0, &mut obj)?;
    Ok(Decoded {
        object: Value::Object(obj),
        unknown_fields: d.unknown,
    })
}

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A cursor over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError::Malformed {
            offset: self.pos,
            what,
        }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| self.err("truncated varint"))?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| self.err("truncated fixed-width value"))?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.err("length past end"))?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| self.err("length past end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }

    fn key(&mut self) -> Result<(u32, u8)> {
        let k = self.varint()?;
        let tag = u32::try_from(k >> 3).map_err(|_| self.err("field number too large"))?;
        if tag == 0 {
            return Err(self.err("field number 0"));
        }
        Ok((tag, (k & 7) as u8))
    }

    fn skip(&mut self, wt: u8) -> Result<()> {
        match wt {
            0 => self.varint().map(drop),
            1 => self.fixed::<8>().map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed::<4>().map(drop),
            _ => Err(self.err("unsupported wire type (groups are not used by Kubernetes)")),
        }
    }
}

struct Decoder {
    unknown: usize,
}

impl Decoder {
    /// Decodes message `idx` from `buf` into `out` (fields merged: inline structs share it).
    fn message_into(
        &mut self,
        idx: usize,
        buf: &[u8],
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let msg = &schema::MESSAGES[idx];
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            let Ok(fi) = msg.fields.binary_search_by_key(&tag, |f| f.tag) else {
                r.skip(wt)?;
                self.unknown += 1;
                continue;
            };
            let f = &msg.fields[fi];
            if f.json.is_empty() {
                // A Go embedded struct: its fields land in this object.
                let Kind::Message(sub) = f.kind else {
                    r.skip(wt)?;
                    continue;
                };
                if wt != 2 {
                    return Err(r.err("embedded message with a non length-delimited wire type"));
                }
                let b = r.bytes()?;
                self.message_into(usize::from(sub), b, depth + 1, out)?;
                continue;
            }
            if let Kind::Map(vk) = f.kind {
                if wt != 2 {
                    return Err(r.err("map entry with a non length-delimited wire type"));
                }
                let (k, v) = self.map_entry(vk, r.bytes()?, depth + 1)?;
                let slot = out
                    .entry(f.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = slot {
                    m.insert(k, v);
                }
                continue;
            }
            if f.repeated {
                let mut vals = Vec::new();
                if wt == 2 && is_packable(f.kind) {
                    let mut p = Reader::new(r.bytes()?);
                    while !p.done() {
                        vals.push(self.value(f.kind, packed_wire_type(f.kind), &mut p, depth)?);
                    }
                } else {
                    vals.push(self.value(f.kind, wt, &mut r, depth)?);
                }
                let slot = out
                    .entry(f.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = slot {
                    a.extend(vals.into_iter().map(|v| v.unwrap_or(Value::Null)));
                }
                continue;
            }
            match self.value(f.kind, wt, &mut r, depth)? {
                Some(v) => {
                    out.insert(f.json.to_string(), v);
                }
                None => {
                    out.remove(f.json);
                }
            }
        }
        Ok(())
    }

    fn map_entry(&mut self, vk: &Kind, buf: &[u8], depth: usize) -> Result<(String, Value)> {
        let mut r = Reader::new(buf);
        let mut key = String::new();
        let mut val = None;
        while !r.done() {
            match r.key()? {
                (1, 2) => key = r.string()?,
                (2, wt) => val = self.value(*vk, wt, &mut r, depth)?,
                (_, wt) => {
                    r.skip(wt)?;
                    self.unknown += 1;
                }
            }
        }
        // A missing value is the zero value of its kind.
        let val = val.unwrap_or_else(|| match vk {
            Kind::Message(_) => Value::Object(Map::new()),
            Kind::Quantity => Value::String("0".into()),
            Kind::Bool => Value::Bool(false),
            Kind::String | Kind::Bytes => Value::String(String::new()),
            Kind::RawJson | Kind::Time | Kind::MicroTime => Value::Null,
            _ => Value::from(0),
        });
        Ok((key, val))
    }

    /// One value of `kind` read with wire type `wt`; `None` when it is Go's "unset" form (an
    /// empty string, a zero IntOrString).
    fn value(
        &mut self,
        kind: Kind,
        wt: u8,
        r: &mut Reader<'_>,
        depth: usize,
    ) -> Result<Option<Value>> {
        let want = match kind {
            Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 => 0,
            Kind::Double => 1,
            Kind::Float => 5,
            _ => 2,
        };
        if wt != want {
            return Err(r.err("wire type does not match the field's type"));
        }
        Ok(match kind {
            Kind::String => Some(r.string()?)
                .filter(|s| !s.is_empty())
                .map(Value::String),
            Kind::Bool => Some(Value::Bool(r.varint()? != 0)),
            // int32 is sign-extended to 64 bits on the wire; truncation is the proto rule.
            Kind::Int32 => Some(Value::from(r.varint()? as i32)),
            Kind::Int64 => Some(Value::from(r.varint()? as i64)),
            Kind::Uint32 => Some(Value::from(r.varint()? as u32)),
            Kind::Uint64 => Some(Value::from(r.varint()?)),
            Kind::Double => Some(float(f64::from_le_bytes(r.fixed::<8>()?))),
            Kind::Float => Some(float(f64::from(f32::from_le_bytes(r.fixed::<4>()?)))),
            Kind::Bytes => Some(Value::String(
                base64::engine::general_purpose::STANDARD.encode(r.bytes()?),
            )),
            Kind::Message(idx) => {
                let mut m = Map::new();
                self.message_into(usize::from(idx), r.bytes()?, depth + 1, &mut m)?;
                Some(Value::Object(m))
            }
            Kind::Map(_) => return Err(r.err("nested map")),
            Kind::Time | Kind::MicroTime => {
                let b = r.bytes()?;
                if b.is_empty() {
                    // `metav1.Time.Marshal` writes the zero time as an empty message.
                    Some(Value::Null)
                } else {
                    let (secs, nanos) = self.time_fields(b)?;
                    Some(time_json(secs, nanos, matches!(kind, Kind::MicroTime)))
                }
            }
            Kind::Duration => {
                let mut d = Reader::new(r.bytes()?);
                let mut ns = 0i64;
                while !d.done() {
                    match d.key()? {
                        (1, 0) => ns = d.varint()? as i64,
                        (_, wt) => self.skip_unknown(&mut d, wt)?,
                    }
                }
                Some(Value::String(go_duration(ns)))
            }
            Kind::Quantity => {
                let mut q = Reader::new(r.bytes()?);
                let mut s = String::new();
                while !q.done() {
                    match q.key()? {
                        (1, 2) => s = q.string()?,
                        (_, wt) => self.skip_unknown(&mut q, wt)?,
                    }
                }
                Some(Value::String(if s.is_empty() { "0".into() } else { s }))
            }
            Kind::IntOrString => {
                let mut q = Reader::new(r.bytes()?);
                let (mut ty, mut iv, mut sv) = (0i64, 0i32, String::new());
                while !q.done() {
                    match q.key()? {
                        (1, 0) => ty = q.varint()? as i64,
                        (2, 0) => iv = q.varint()? as i32,
                        (3, 2) => sv = q.string()?,
                        (_, wt) => self.skip_unknown(&mut q, wt)?,
                    }
                }
                match ty {
                    1 => Some(Value::String(sv)),
                    // The zero IntOrString (Go's non-pointer default) reads as unset.
                    _ if iv == 0 => None,
                    _ => Some(Value::from(iv)),
                }
            }
            Kind::RawJson => {
                let mut q = Reader::new(r.bytes()?);
                let mut raw: &[u8] = &[];
                while !q.done() {
                    match q.key()? {
                        (1, 2) => raw = q.bytes()?,
                        (_, wt) => self.skip_unknown(&mut q, wt)?,
                    }
                }
                if raw.is_empty() {
                    None
                } else {
                    Some(serde_json::from_slice(raw).unwrap_or_else(|_| {
                        Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
                    }))
                }
            }
        })
    }

    fn skip_unknown(&mut self, r: &mut Reader<'_>, wt: u8) -> Result<()> {
        self.unknown += 1;
        r.skip(wt)
    }

    fn time_fields(&mut self, buf: &[u8]) -> Result<(i64, i32)> {
        let mut r = Reader::new(buf);
        let (mut secs, mut nanos) = (0i64, 0i32);
        while !r.done() {
            match r.key()? {
                (1, 0) => secs = r.varint()? as i64,
                (2, 0) => nanos = r.varint()? as i32,
                (_, wt) => self.skip_unknown(&mut r, wt)?,
            }
        }
        Ok((secs, nanos))
    }
}

fn is_packable(k: Kind) -> bool {
    matches!(
        k,
        Kind::Bool
            | Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Double
            | Kind::Float
    )
}

fn packed_wire_type(k: Kind) -> u8 {
    match k {
        Kind::Double => 1,
        Kind::Float => 5,
        _ => 0,
    }
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// `metav1.Time` (seconds) or `MicroTime` (microseconds) as Kubernetes writes it in JSON.
fn time_json(secs: i64, nanos: i32, micro: bool) -> Value {
    if secs == GO_ZERO_TIME && nanos == 0 {
        return Value::Null;
    }
    let Ok(ts) = jiff::Timestamp::new(secs, if micro { nanos } else { 0 }) else {
        return Value::Null;
    };
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Value::String(if micro {
        format!("{base}.{:06}Z", nanos.clamp(0, 999_999_999) / 1000)
    } else {
        format!("{base}Z")
    })
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64| -> String {
        let whole = v / unit;
        let rem = v % unit;
        if rem == 0 {
            whole.to_string()
        } else {
            let width = unit.to_string().len() - 1;
            let f = format!("{rem:0width$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    let s = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let total_secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
        let secs = frac(s * 1_000_000_000 + sub, 1_000_000_000);
        match (h, m) {
            (0, 0) => format!("{secs}s"),
            (0, m) => format!("{m}m{secs}s"),
            (h, m) => format!("{h}h{m}m{secs}s"),
        }
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
