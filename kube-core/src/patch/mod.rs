//! Patching objects: JSON merge patch, JSON patch, strategic merge patch and server-side apply.
//!
//! The API server stores objects as JSON and applies `PATCH` bodies to them; this module is that
//! logic, pure functions over [`serde_json::Value`] (no IO, no typed structs):
//!
//! | `Content-Type` | function | notes |
//! |---|---|---|
//! | `application/merge-patch+json` | [`merge_patch`] | RFC 7396; `kubectl label`, `scale`, kube-rs `Patch::Merge` |
//! | `application/json-patch+json` | [`json_patch()`] | RFC 6902 (`add remove replace move copy test`) |
//! | `application/strategic-merge-patch+json` | [`strategic_merge_patch`] | built-in kinds only (custom resources: 415) |
//! | `application/apply-patch+yaml` | [`apply::apply`] | server-side apply with `metadata.managedFields` |
//!
//! [`PatchType::from_content_type`] picks the row for a request, and [`PatchType::patch`]
//! applies the first three.
//!
//! The strategic merge patch and server-side apply need to know how each list of a kind merges
//! (by which key) — that is the [`schema`] module, one static tree per built-in kind, keyed like
//! the registry by `apiVersion` + `kind`.
//!
//! Errors are [`Error`] (and [`apply::ApplyError`] for server-side apply); each knows the HTTP
//! status Kubernetes answers with ([`Error::code`]): a malformed patch is 400 BadRequest, a patch
//! that can't be applied to this object is 422 Invalid, a strategic merge patch for a kind
//! without a schema is 415 UnsupportedMediaType. None of them is retryable: the same patch
//! against the same object fails the same way.
//!
//! ```
//! use kubox_core::patch;
//! use serde_json::json;
//!
//! let live = json!({
//!     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "log", "image": "log:1"}]}
//! });
//! // Containers merge by name: only `app` changes, `log` stays.
//! let body = json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}});
//! let patched = patch::strategic_merge_patch_for(&live, &body).unwrap();
//! assert_eq!(patched["spec"]["containers"][0]["image"], "app:2");
//! assert_eq!(patched["spec"]["containers"][1]["image"], "log:1");
//!
//! // A JSON merge patch replaces the whole list instead.
//! let merged = patch::merge_patch(&live, &body).unwrap();
//! assert_eq!(merged["spec"]["containers"].as_array().unwrap().len(), 1);
//! ```

pub mod apply;
mod fields;
mod json;
pub mod schema;
mod strategic;

#[cfg(test)]
mod tests;

pub use json::{json_patch, merge_patch};
pub use schema::TypeSchema;
pub use strategic::{strategic_merge_patch, strategic_merge_patch_for};

/// The kind of a `PATCH` request, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7396).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply ([`apply::apply`]).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value (parameters such as `; charset=utf-8`
    /// are ignored); `None` for anything else, which the API answers with 415.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        Some(match media.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => PatchType::Json,
            "application/merge-patch+json" => PatchType::Merge,
            "application/strategic-merge-patch+json" => PatchType::StrategicMerge,
            "application/apply-patch+yaml" => PatchType::Apply,
            _ => return None,
        })
    }

    /// The `Content-Type` of this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }

    /// Applies a decoded `body` of this type to `original`. A strategic merge patch uses the
    /// schema of `original`'s `apiVersion` and `kind`.
    ///
    /// # Errors
    /// Those of [`json_patch()`], [`merge_patch`] and [`strategic_merge_patch_for`];
    /// [`PatchType::Apply`] is [`Error::BadRequest`] here: server-side apply needs a field
    /// manager, see [`apply::apply`].
    pub fn patch(
        self,
        original: &serde_json::Value,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        match self {
            PatchType::Json => json_patch(original, body),
            PatchType::Merge => merge_patch(original, body),
            PatchType::StrategicMerge => strategic_merge_patch_for(original, body),
            PatchType::Apply => Err(Error::BadRequest(
                "server-side apply needs a field manager: use patch::apply::apply".to_string(),
            )),
        }
    }
}

/// Result of the patch functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a patch could not be applied. None of these is retryable: the same patch fails the same
/// way against the same object; the client has to send a different patch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not a well-formed patch of its type (a JSON patch that is not an array of
    /// operations, a merge patch that is not an object, a malformed `$` directive).
    /// HTTP 400 BadRequest.
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch operation could not be applied: its `path` (or `from`) does not exist or is
    /// not a valid JSON pointer for the document, or a `test` operation did not match.
    /// HTTP 422 (reason Invalid).
    #[error("the JSON patch operation {index} ({op} {path}) failed: {reason}")]
    JsonPatchFailed {
        /// Index of the failing operation in the patch.
        index: usize,
        /// The operation (`add`, `remove`, `replace`, `move`, `copy`, `test`).
        op: String,
        /// The operation's `path`.
        path: String,
        /// What went wrong (`path is invalid`, `value did not match`, …).
        reason: String,
    },
    /// A strategic merge patch that is well-formed but can't be merged into this object (a list
    /// item without its merge key, list element types that differ, lists of lists, `$patch`
    /// items that contradict the schema). HTTP 422 (reason Invalid).
    #[error("{path}: {message}")]
    Unprocessable {
        /// The field path where merging failed (`.spec.containers`).
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Strategic merge patch is not supported for this kind (custom resources, unknown kinds):
    /// HTTP 415 UnsupportedMediaType, with Kubernetes' message for custom resources.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )]
    UnsupportedKind {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
}

impl Error {
    /// The HTTP status code the API answers with (400, 415 or 422).
    pub fn code(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::JsonPatchFailed { .. } | Error::Unprocessable { .. } => 422,
            Error::UnsupportedKind { .. } => 415,
        }
    }

    /// The `Status.reason` the API answers with (`BadRequest`, `Invalid`,
    /// `UnsupportedMediaType`).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "BadRequest",
            Error::JsonPatchFailed { .. } | Error::Unprocessable { .. } => "Invalid",
            Error::UnsupportedKind { .. } => "UnsupportedMediaType",
        }
    }

    /// Always `false`: a patch that fails fails again against the same object.
    pub fn is_retryable(&self) -> bool {
        false
    }
}
