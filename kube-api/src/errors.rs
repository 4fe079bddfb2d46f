//! Kubernetes `Status` errors, built as apimachinery's `api/errors` package builds them.
//!
//! Every failure of the API server is an [`Error`]: a boxed `metav1.Status` with
//! `status: Failure`, the `reason`, the HTTP `code`, the `message` and `details` exactly as
//! kube-apiserver writes them. The constructors here are the only place those messages are
//! spelled out.
//!
//! | constructor | code | reason |
//! |---|---|---|
//! | [`bad_request`] | 400 | `BadRequest` |
//! | [`unauthorized`] | 401 | `Unauthorized` |
//! | [`forbidden`] | 403 | `Forbidden` |
//! | [`not_found`], [`resource_not_found`] | 404 | `NotFound` |
//! | [`method_not_supported`] | 405 | `MethodNotAllowed` |
//! | [`already_exists`], [`conflict`] | 409 | `AlreadyExists`, `Conflict` |
//! | [`expired`], [`gone`] | 410 | `Expired`, `Gone` |
//! | [`request_entity_too_large`] | 413 | `RequestEntityTooLarge` |
//! | [`unsupported_media_type`] | 415 | `UnsupportedMediaType` |
//! | [`invalid`] | 422 | `Invalid` |
//! | [`internal`] | 500 | `InternalError` |
//! | [`not_implemented`] | 501 | `NotImplemented` |
//! | [`timeout`], [`too_large_resource_version`] | 504 | `Timeout` |
//!
//! ```
//! use kube_api::errors;
//!
//! let err = errors::not_found("apps", "deployments", "web");
//! assert_eq!(err.code(), 404);
//! assert_eq!(err.message(), r#"deployments.apps "web" not found"#);
//! ```

use kubox_core::meta::{ListMeta, Status, StatusCause, StatusDetails, TypeMeta};

/// `Result` with the API server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed API operation: a Kubernetes `Status` (boxed: it is large).
///
/// Whether retrying helps depends on the reason, as for any Kubernetes client: `Conflict` after
/// re-reading the object, `Expired`/`Gone` after a re-list, `Timeout` after
/// `details.retryAfterSeconds`; the others need a different request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} ({}): {}", self.reason(), self.code(), self.message())]
pub struct Error(pub Box<Status>);

impl Error {
    /// Wraps a `Status` as it is.
    pub fn from_status(status: Status) -> Self {
        Error(Box::new(status))
    }
    /// The `Status` object (the HTTP body of the error response).
    pub fn status(&self) -> &Status {
        &self.0
    }
    /// The `Status`, by value.
    pub fn into_status(self) -> Status {
        *self.0
    }
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.0
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500)
    }
    /// `Status.reason` (`NotFound`, `Conflict`, …).
    pub fn reason(&self) -> &str {
        self.0.reason.as_deref().unwrap_or("")
    }
    /// `Status.message`.
    pub fn message(&self) -> &str {
        self.0.message.as_deref().unwrap_or("")
    }
    /// The `Status` as JSON.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&*self.0).unwrap_or_default()
    }
}

impl From<Error> for kubox_core::client::Error {
    fn from(e: Error) -> Self {
        kubox_core::client::Error::Api(e.0)
    }
}

/// `group/resource` as apimachinery prints a `GroupResource`: `pods`, `deployments.apps`.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn failure(code: u16, reason: &str, message: String, details: Option<StatusDetails>) -> Error {
    Error(Box::new(Status {
        types: TypeMeta {
            api_version: "v1".into(),
            kind: "Status".into(),
        },
        metadata: ListMeta::default(),
        status: Some("Failure".into()),
        message: Some(message),
        reason: if reason.is_empty() {
            None
        } else {
            Some(reason.into())
        },
        details,
        code: Some(i32::from(code)),
    }))
}

fn details(group: &str, kind: &str, name: &str) -> Option<StatusDetails> {
    Some(StatusDetails {
        name: (!name.is_empty()).then(|| name.to_string()),
        group: (!group.is_empty()).then(|| group.to_string()),
        kind: (!kind.is_empty()).then(|| kind.to_string()),
        ..Default::default()
    })
}

/// A `Status{status: Success}` (delete responses, bindings).
pub fn success(code: Option<i32>, details: Option<StatusDetails>) -> Status {
    Status {
        types: TypeMeta {
            api_version: "v1".into(),
            kind: "Status".into(),
        },
        status: Some("Success".into()),
        details,
        code,
        ..Default::default()
    }
}

/// 404 `pods "x" not found` (`deployments.apps "x" not found` for a named group).
pub fn not_found(group: &str, resource: &str, name: &str) -> Error {
    failure(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualified(group, resource)),
        details(group, resource, name),
    )
}

/// 404 `the server could not find the requested resource` (unknown resource or subresource).
pub fn resource_not_found() -> Error {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        Some(StatusDetails::default()),
    )
}

/// 409 `pods "x" already exists`.
pub fn already_exists(group: &str, resource: &str, name: &str) -> Error {
    failure(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", qualified(group, resource)),
        details(group, resource, name),
    )
}

/// 409 AlreadyExists for a name made from `generateName` that collided:
/// `… already exists, the server was not able to generate a unique name for the object`,
/// with `retryAfterSeconds: 1`.
pub fn generate_name_conflict(group: &str, resource: &str, name: &str) -> Error {
    let mut e = failure(
        409,
        "AlreadyExists",
        format!(
            "{} \"{name}\" already exists, the server was not able to generate a unique name for the object",
            qualified(group, resource)
        ),
        details(group, resource, name),
    );
    if let Some(d) = e.0.details.as_mut() {
        d.retry_after_seconds = Some(1);
    }
    e
}

/// The message of a stale-resourceVersion conflict.
pub const OPTIMISTIC_LOCK_ERROR: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// 409 `Operation cannot be fulfilled on pods "x": <msg>`.
pub fn conflict(group: &str, resource: &str, name: &str, msg: &str) -> Error {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": {msg}",
            qualified(group, resource)
        ),
        details(group, resource, name),
    )
}

/// One field error of an [`invalid`] Status: `{type, message, field}` plus its rendered text
/// (`spec.replicas: Invalid value: -1: must be greater than or equal to 0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The cause type (`FieldValueInvalid`, `FieldValueRequired`, `FieldValueForbidden`,
    /// `FieldValueNotSupported`).
    pub cause: &'static str,
    /// The field path (`metadata.name`).
    pub field: String,
    /// The error as Kubernetes prints it, including the path.
    pub text: String,
    /// The error without the path (the cause's message).
    pub message: String,
}

impl FieldError {
    fn new(cause: &'static str, field: &str, message: String) -> Self {
        FieldError {
            cause,
            field: field.to_string(),
            text: format!("{field}: {message}"),
            message,
        }
    }
    /// `<field>: Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        let msg = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self::new("FieldValueRequired", field, msg)
    }
    /// `<field>: Invalid value: <value>: detail`; `value` is already rendered (`"x"`, `-1`).
    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Self::new(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {value}: {detail}"),
        )
    }
    /// `<field>: Forbidden: detail`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new("FieldValueForbidden", field, format!("Forbidden: {detail}"))
    }
    /// `<field>: Unsupported value: "v": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: {value:?}: supported values: {}",
                list.join(", ")
            ),
        )
    }
}

/// 422 `<Kind[.group]> "<name>" is invalid: <errors>` with one cause per error (`details.kind`
/// is the Kind, as in Kubernetes).
pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Error {
    let rendered = match errors {
        [one] => one.text.clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|e| e.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut e = failure(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: {rendered}",
            qualified(group, kind)
        ),
        details(group, kind, name),
    );
    if let Some(d) = e.0.details.as_mut() {
        d.causes = Some(
            errors
                .iter()
                .map(|f| StatusCause {
                    reason: Some(f.cause.to_string()),
                    message: Some(f.message.clone()),
                    field: Some(f.field.clone()),
                })
                .collect(),
        );
    }
    e
}

/// 400 BadRequest with `message`.
pub fn bad_request(message: impl Into<String>) -> Error {
    failure(400, "BadRequest", message.into(), None)
}

/// 401 `Unauthorized`.
pub fn unauthorized() -> Error {
    failure(401, "Unauthorized", "Unauthorized".into(), None)
}

/// 403 `pods "x" is forbidden: <why>` (`pods is forbidden: …` without a name).
pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Error {
    let q = qualified(group, resource);
    let message = if name.is_empty() {
        format!("{q} is forbidden: {why}")
    } else {
        format!("{q} \"{name}\" is forbidden: {why}")
    };
    failure(403, "Forbidden", message, details(group, resource, name))
}

/// 405 `the server does not allow this method on the requested resource`.
pub fn method_not_supported(group: &str, resource: &str, verb: &str) -> Error {
    failure(
        405,
        "MethodNotAllowed",
        format!(
            "{verb} is not supported on resources of kind {:?}",
            qualified(group, resource)
        ),
        details(group, resource, ""),
    )
}

/// 410 Expired with `message` (a compacted resourceVersion or continue token).
pub fn expired(message: impl Into<String>) -> Error {
    failure(410, "Expired", message.into(), None)
}

/// 410 Gone with `message`.
pub fn gone(message: impl Into<String>) -> Error {
    failure(410, "Gone", message.into(), None)
}

/// 413 `Request entity too large: <message>`.
pub fn request_entity_too_large(message: &str) -> Error {
    failure(
        413,
        "RequestEntityTooLarge",
        format!("Request entity too large: {message}"),
        None,
    )
}

/// 415 `the body of the request was in an unknown format - accepted media types include: …`.
pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Error {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
        Some(StatusDetails {
            causes: Some(vec![StatusCause {
                reason: Some("UnexpectedServerResponse".into()),
                message: Some(content_type.to_string()),
                field: None,
            }]),
            ..Default::default()
        }),
    )
}

/// 500 `Internal error occurred: <message>`.
pub fn internal(message: impl std::fmt::Display) -> Error {
    failure(
        500,
        "InternalError",
        format!("Internal error occurred: {message}"),
        Some(StatusDetails {
            causes: Some(vec![StatusCause {
                message: Some(message.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    )
}

/// 501 `<what> is not implemented` (subresources a later layer provides: log, exec, …).
pub fn not_implemented(what: &str) -> Error {
    failure(
        501,
        "NotImplemented",
        format!("{what} is not implemented by this server yet"),
        None,
    )
}

/// 504 `Timeout: <message>` with `retryAfterSeconds`.
pub fn timeout(message: &str, retry_after_seconds: i32) -> Error {
    failure(
        504,
        "Timeout",
        format!("Timeout: {message}"),
        Some(StatusDetails {
            retry_after_seconds: Some(retry_after_seconds),
            ..Default::default()
        }),
    )
}

/// 504 `Timeout: Too large resource version: N, current: M` (a read or watch from the future).
pub fn too_large_resource_version(requested: i64, current: i64) -> Error {
    let mut e = timeout(
        &format!("Too large resource version: {requested}, current: {current}"),
        1,
    );
    if let Some(d) = e.0.details.as_mut() {
        d.causes = Some(vec![StatusCause {
            reason: Some("ResourceVersionTooLarge".into()),
            message: Some("Too large resource version".into()),
            field: None,
        }]);
    }
    e
}

/// A store error on the object `name` of `group/resource`, as the API reports it.
pub(crate) fn from_store(err: kube_store::Error, group: &str, resource: &str, name: &str) -> Error {
    use kube_store::Error as S;
    match err {
        S::NotFound { .. } => not_found(group, resource, name),
        S::AlreadyExists { .. } => already_exists(group, resource, name),
        S::Conflict { .. } => conflict(group, resource, name, OPTIMISTIC_LOCK_ERROR),
        S::Compacted { .. } => expired("The resourceVersion for the provided list is too old."),
        S::FutureRevision { requested, current } => too_large_resource_version(requested, current),
        S::InvalidKey { .. } => bad_request(format!("invalid object key for {resource} {name:?}")),
        S::ValueTooLarge { .. } => request_entity_too_large("limit is 3145728"),
        other => internal(other),
    }
}

/// A failure Status with any `code`, `reason` and `message` (for errors whose text comes
/// from elsewhere, e.g. a patch that can't be applied).
pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Error {
    failure(code, reason, message.into(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_kube_apiserver() {
        let cases = [
            (
                not_found("", "pods", "x"),
                404,
                "NotFound",
                r#"pods "x" not found"#,
            ),
            (
                already_exists("apps", "deployments", "d"),
                409,
                "AlreadyExists",
                r#"deployments.apps "d" already exists"#,
            ),
            (
                conflict("", "pods", "x", OPTIMISTIC_LOCK_ERROR),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
            (
                forbidden("", "pods", "", "nope"),
                403,
                "Forbidden",
                "pods is forbidden: nope",
            ),
            (unauthorized(), 401, "Unauthorized", "Unauthorized"),
            (
                method_not_supported("", "bindings", "get"),
                405,
                "MethodNotAllowed",
                r#"get is not supported on resources of kind "bindings""#,
            ),
            (expired("gone"), 410, "Expired", "gone"),
            (
                internal("boom"),
                500,
                "InternalError",
                "Internal error occurred: boom",
            ),
            (
                too_large_resource_version(9, 3),
                504,
                "Timeout",
                "Timeout: Too large resource version: 9, current: 3",
            ),
        ];
        for (err, code, reason, message) in cases {
            assert_eq!(
                (err.code(), err.reason(), err.message()),
                (code, reason, message)
            );
            let v = err.to_value();
            assert_eq!(
                (v["kind"].as_str(), v["status"].as_str()),
                (Some("Status"), Some("Failure"))
            );
        }
    }

    #[test]
    fn invalid_lists_every_cause() {
        let one = invalid(
            "",
            "Pod",
            "x",
            &[FieldError::required("spec.containers[0].image", "")],
        );
        assert_eq!(
            one.message(),
            r#"Pod "x" is invalid: spec.containers[0].image: Required value"#
        );
        let two = invalid(
            "apps",
            "Deployment",
            "d",
            &[
                FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0"),
                FieldError::not_supported(
                    "spec.strategy.type",
                    "Nope",
                    &["Recreate", "RollingUpdate"],
                ),
            ],
        );
        assert_eq!(
            two.message(),
            r#"Deployment.apps "d" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.strategy.type: Unsupported value: "Nope": supported values: "Recreate", "RollingUpdate"]"#
        );
        let causes = two
            .status()
            .details
            .as_ref()
            .unwrap()
            .causes
            .as_ref()
            .unwrap();
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[1].reason.as_deref(), Some("FieldValueNotSupported"));
        assert_eq!(
            two.status().details.as_ref().unwrap().kind.as_deref(),
            Some("Deployment")
        );
    }
}
