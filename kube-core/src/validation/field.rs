//! Field-level validation errors, as apimachinery's `util/validation/field` models them.
//!
//! An [`Error`] names a [`Path`] (`spec.containers[0].image`), an [`ErrorType`], the offending
//! value ([`BadValue`]) and a detail; it displays exactly as Kubernetes prints it:
//!
//! ```
//! use kubox_core::validation::field::{Error, Path};
//!
//! let err = Error::required(&Path::new("spec").child("containers").index(0).child("image"), "");
//! assert_eq!(err.to_string(), "spec.containers[0].image: Required value");
//! let err = Error::invalid(&Path::new("metadata").child("name"), "Bad_Name", "bad");
//! assert_eq!(err.to_string(), r#"metadata.name: Invalid value: "Bad_Name": bad"#);
//! ```
//!
//! An [`ErrorList`] becomes the 422 `Status` the API server returns with
//! [`ErrorList::to_status`].

use crate::meta::{ListMeta, Status, StatusCause, StatusDetails, TypeMeta};
use std::fmt;

/// A field path: `spec.containers[0].ports[1].containerPort`, `metadata.labels[app]`.
///
/// Built from the root with [`child`](Path::child), [`index`](Path::index) and
/// [`key`](Path::key); each call returns a new path.
#[doc(alias = "FieldPath")]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path(String);

impl Path {
    /// A path starting at the field `name` (`field.NewPath`); `""` is the whole object.
    pub fn new(name: &str) -> Path {
        Path(name.to_string())
    }

    /// The path of a child field: `spec` → `spec.containers`.
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// The path of a list item: `spec.containers` → `spec.containers[0]`.
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// The path of a map entry: `metadata.labels` → `metadata.labels[app]` (the key is not
    /// quoted, as in Kubernetes).
    pub fn key(&self, key: &str) -> Path {
        Path(format!("{}[{key}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a field is invalid (`field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `Not found`: a referenced value does not exist (`FieldValueNotFound`).
    NotFound,
    /// `Required value`: a required value is missing (`FieldValueRequired`).
    Required,
    /// `Duplicate value`: a value that must be unique is not (`FieldValueDuplicate`).
    Duplicate,
    /// `Invalid value`: a malformed or out-of-range value (`FieldValueInvalid`).
    Invalid,
    /// `Unsupported value`: a value outside an enumeration (`FieldValueNotSupported`).
    NotSupported,
    /// `Forbidden`: a well-formed value not allowed here (`FieldValueForbidden`).
    Forbidden,
    /// `Too long`: a value longer than allowed; the value is not shown (`FieldValueTooLong`).
    TooLong,
    /// `Too many`: a list with too many items (`FieldValueTooMany`).
    TooMany,
    /// `Internal error`: a failure not caused by the input (`InternalError`).
    Internal,
}

impl ErrorType {
    /// The human-readable name: `Required value`, `Invalid value`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }

    /// The machine-readable cause type used in `Status.details.causes[].reason`:
    /// `FieldValueRequired`, `FieldValueInvalid`, …
    pub fn cause_type(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The offending value of an [`Error`], printed as Go's `field.Error` prints it.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// Not shown at all (`Too many` without a count, and the types that never show a value).
    Omitted,
    /// `null` (a nil pointer).
    Null,
    /// A string, printed quoted as Go's `%q` does: `"Bad_Name"`.
    String(String),
    /// An integer, printed bare: `0`.
    Int(i64),
    /// A boolean, printed bare: `true`.
    Bool(bool),
    /// A value with its own text form (Go's `fmt.Stringer`: quantities, int-or-strings), printed
    /// bare: `25%`, `500m`.
    Text(String),
    /// Any other value (a map, a list, a struct), printed as compact JSON: `{"app":"web"}`.
    Json(serde_json::Value),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Omitted => Ok(()),
            BadValue::Null => f.write_str("null"),
            BadValue::String(s) => f.write_str(&go_quote(s)),
            BadValue::Int(i) => write!(f, "{i}"),
            BadValue::Bool(b) => write!(f, "{b}"),
            BadValue::Text(s) => f.write_str(s),
            BadValue::Json(v) => write!(f, "{v}"),
        }
    }
}

impl From<&str> for BadValue {
    fn from(v: &str) -> Self {
        BadValue::String(v.to_string())
    }
}

impl From<String> for BadValue {
    fn from(v: String) -> Self {
        BadValue::String(v)
    }
}

impl From<&String> for BadValue {
    fn from(v: &String) -> Self {
        BadValue::String(v.clone())
    }
}

impl From<i64> for BadValue {
    fn from(v: i64) -> Self {
        BadValue::Int(v)
    }
}

impl From<i32> for BadValue {
    fn from(v: i32) -> Self {
        BadValue::Int(i64::from(v))
    }
}

impl From<usize> for BadValue {
    fn from(v: usize) -> Self {
        BadValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for BadValue {
    fn from(v: bool) -> Self {
        BadValue::Bool(v)
    }
}

impl<T: Into<BadValue>> From<Option<T>> for BadValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(BadValue::Null, Into::into)
    }
}

impl From<&crate::IntOrString> for BadValue {
    fn from(v: &crate::IntOrString) -> Self {
        match v {
            crate::IntOrString::Int(i) => BadValue::Text(i.to_string()),
            crate::IntOrString::String(s) => BadValue::Text(s.clone()),
        }
    }
}

impl From<&crate::Quantity> for BadValue {
    fn from(v: &crate::Quantity) -> Self {
        BadValue::Text(v.to_string())
    }
}

impl BadValue {
    /// Any serializable value, printed as compact JSON (maps, lists, structs).
    pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> BadValue {
        serde_json::to_value(v).map_or(BadValue::Null, BadValue::Json)
    }
}

/// Go's `strconv.Quote` (`%q`): double quotes, `\"`, `\\`, `\n`…, `\x..` / `\u....` for
/// non-printable characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One field-level validation error (`field.Error`).
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// Why the field is invalid.
    pub type_: ErrorType,
    /// The field's path (`spec.containers[0].image`).
    pub field: String,
    /// The offending value (not shown for Required, Forbidden, Too long and Internal).
    pub bad_value: BadValue,
    /// Extra explanation, appended after `: `.
    pub detail: String,
}

impl Error {
    fn new(type_: ErrorType, field: &Path, bad_value: BadValue, detail: &str) -> Error {
        Error {
            type_,
            field: field.to_string(),
            bad_value,
            detail: detail.to_string(),
        }
    }

    /// `field.Required`: `spec.containers: Required value`.
    pub fn required(field: &Path, detail: &str) -> Error {
        Error::new(ErrorType::Required, field, BadValue::Omitted, detail)
    }

    /// `field.Invalid`: `metadata.name: Invalid value: "x": <detail>`.
    pub fn invalid(field: &Path, value: impl Into<BadValue>, detail: &str) -> Error {
        Error::new(ErrorType::Invalid, field, value.into(), detail)
    }

    /// `field.NotSupported`: `…: Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: &Path, value: impl Into<BadValue>, valid: &[&str]) -> Error {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Error::new(ErrorType::NotSupported, field, value.into(), &detail)
    }

    /// `field.Forbidden`: `spec: Forbidden: <detail>`.
    pub fn forbidden(field: &Path, detail: &str) -> Error {
        Error::new(ErrorType::Forbidden, field, BadValue::Omitted, detail)
    }

    /// `field.Duplicate`: `…: Duplicate value: "x"`.
    pub fn duplicate(field: &Path, value: impl Into<BadValue>) -> Error {
        Error::new(ErrorType::Duplicate, field, value.into(), "")
    }

    /// `field.NotFound`: `…: Not found: "x"`.
    pub fn not_found(field: &Path, value: impl Into<BadValue>) -> Error {
        Error::new(ErrorType::NotFound, field, value.into(), "")
    }

    /// `field.TooLong`: `…: Too long: must have at most <max> bytes`.
    pub fn too_long(field: &Path, max_length: usize) -> Error {
        Error::new(
            ErrorType::TooLong,
            field,
            BadValue::Omitted,
            &format!("must have at most {max_length} bytes"),
        )
    }

    /// `field.TooMany`: `…: Too many: <actual>: must have at most <max> items`.
    pub fn too_many(field: &Path, actual: usize, max: usize) -> Error {
        Error::new(
            ErrorType::TooMany,
            field,
            BadValue::from(actual),
            &format!("must have at most {max} items"),
        )
    }

    /// `field.InternalError`: `…: Internal error: <detail>`.
    pub fn internal(field: &Path, detail: &str) -> Error {
        Error::new(ErrorType::Internal, field, BadValue::Null, detail)
    }

    /// The message without the field path (`field.Error.ErrorBody`), used as a Status cause
    /// message: `Invalid value: "x": <detail>`.
    pub fn body(&self) -> String {
        let mut s = match (self.type_, &self.bad_value) {
            (
                ErrorType::Required
                | ErrorType::Forbidden
                | ErrorType::TooLong
                | ErrorType::Internal,
                _,
            )
            | (_, BadValue::Omitted) => self.type_.as_str().to_string(),
            (t, v) => format!("{t}: {v}"),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for Error {}

/// A list of field errors (`field.ErrorList`); empty means valid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorList(pub Vec<Error>);

impl ErrorList {
    /// An empty list.
    pub fn new() -> ErrorList {
        ErrorList(Vec::new())
    }

    /// Adds one error.
    pub fn push(&mut self, err: Error) {
        self.0.push(err);
    }

    /// True when there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, Error> {
        self.0.iter()
    }

    /// The messages, one per error, as `to_string` prints them.
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// The aggregate message (`ToAggregate().Error()`): duplicates dropped, one error printed
    /// alone, several as `[e1, e2]`; `None` when empty.
    pub fn aggregate(&self) -> Option<String> {
        let mut unique: Vec<String> = Vec::new();
        for msg in self.messages() {
            if !unique.contains(&msg) {
                unique.push(msg);
            }
        }
        match unique.len() {
            0 => None,
            1 => unique.pop(),
            _ => Some(format!("[{}]", unique.join(", "))),
        }
    }

    /// The 422 `Invalid` Status for these errors on the object `name` of `group`/`kind`
    /// (`errors.NewInvalid`): message `Pod "x" is invalid: …` (`Deployment.apps "x" …` for a
    /// named group), details `{name, group, kind, causes}` with one cause per error.
    pub fn to_status(&self, group: &str, kind: &str, name: &str) -> Status {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let message = match self.aggregate() {
            None => format!("{qualified} {} is invalid", go_quote(name)),
            Some(agg) => format!("{qualified} {} is invalid: {agg}", go_quote(name)),
        };
        let causes = self
            .0
            .iter()
            .map(|e| StatusCause {
                reason: Some(e.type_.cause_type().to_string()),
                message: Some(e.body()),
                field: Some(e.field.clone()),
            })
            .collect();
        Status {
            types: TypeMeta {
                api_version: "v1".to_string(),
                kind: "Status".to_string(),
            },
            metadata: ListMeta::default(),
            status: Some("Failure".to_string()),
            message: Some(message),
            reason: Some("Invalid".to_string()),
            details: Some(StatusDetails {
                name: (!name.is_empty()).then(|| name.to_string()),
                group: (!group.is_empty()).then(|| group.to_string()),
                kind: Some(kind.to_string()),
                uid: None,
                causes: Some(causes),
                retry_after_seconds: None,
            }),
            code: Some(422),
        }
    }
}

impl From<Vec<Error>> for ErrorList {
    fn from(v: Vec<Error>) -> Self {
        ErrorList(v)
    }
}

impl From<Error> for ErrorList {
    fn from(e: Error) -> Self {
        ErrorList(vec![e])
    }
}

impl IntoIterator for ErrorList {
    type Item = Error;
    type IntoIter = std::vec::IntoIter<Error>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ErrorList {
    type Item = &'a Error;
    type IntoIter = std::slice::Iter<'a, Error>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Extend<Error> for ErrorList {
    fn extend<I: IntoIterator<Item = Error>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl FromIterator<Error> for ErrorList {
    fn from_iter<I: IntoIterator<Item = Error>>(iter: I) -> Self {
        ErrorList(iter.into_iter().collect())
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.aggregate().unwrap_or_default())
    }
}
