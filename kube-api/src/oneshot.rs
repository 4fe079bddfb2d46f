//! `pods/log` and `pods/exec` through the one-shot [`ApiServer::serve`] (the in-process
//! [`LocalClient`](crate::LocalClient) path, no HTTP).
//!
//! Both are streams in Kubernetes. What a one-shot request can and cannot carry decides what
//! it gets:
//!
//! - `GET pods/{name}/log` is answered like `kubectl logs` without `-f`: the server reads the
//!   container's log from the kubelet with its [`KubeletClientConfig`](crate::KubeletClientConfig)
//!   (the same path as HTTPS, [`crate::proxy`]) and answers the whole text as a JSON string
//!   body (the HTTP layer writes string bodies as `text/plain`). Options ride in the request
//!   body as a `PodLogOptions` object (`container`, `previous`, `timestamps`, `sinceSeconds`,
//!   `sinceTime`, `tailLines`, `limitBytes`, `insecureSkipTLSVerifyBackend`); `follow: true`
//!   is 400, since a one-shot answer never ends a followed stream — use
//!   [`ApiServer::pod_logs`] for that. Every other error is the one HTTPS gives (422 for bad
//!   options, 400 for a missing container name, the kubelet's errors).
//! - `pods/exec` needs a bidirectional connection: a one-shot request has none, so it gets
//!   kube-apiserver's answer to an exec request that is not an upgrade, 400 BadRequest
//!   `Upgrade request required` (after authorization, as there).

use crate::errors::{self, Result};
use crate::proxy::{self, PodLogOptions};
use crate::server::{ApiServer, Response};
use futures::StreamExt;
use serde_json::Value;

/// The largest log a one-shot `pods/log` answer carries (64 MiB); longer logs are cut there
/// (ask for `limitBytes` or `tailLines`, or stream with [`ApiServer::pod_logs`]).
pub const MAX_ONESHOT_LOG_BYTES: usize = 64 << 20;

/// `PodLogOptions` from a one-shot request's body (absent or `null`: the defaults).
pub(crate) fn log_options(body: Option<&Value>) -> Result<PodLogOptions> {
    let Some(body) = body.filter(|b| !b.is_null()) else {
        return Ok(PodLogOptions::default());
    };
    let Value::Object(m) = body else {
        return Err(errors::bad_request(
            "the body of a pods/log request must be a PodLogOptions object",
        ));
    };
    let wrong =
        |k: &str, want: &str| errors::bad_request(format!("PodLogOptions.{k}: want {want}"));
    let bool_of = |k: &str| -> Result<bool> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(wrong(k, "a boolean")),
        }
    };
    let int_of = |k: &str| -> Result<Option<i64>> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| wrong(k, "an integer")),
        }
    };
    let container = match m.get("container") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(wrong("container", "a string")),
    };
    let since_time = match m.get("sinceTime") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<jiff::Timestamp>().map_err(|e| {
            errors::bad_request(format!(
                "parsing time {s:?} as \"2006-01-02T15:04:05Z07:00\": {e}"
            ))
        })?),
        Some(_) => return Err(wrong("sinceTime", "an RFC 3339 time")),
    };
    Ok(PodLogOptions {
        container,
        follow: bool_of("follow")?,
        previous: bool_of("previous")?,
        timestamps: bool_of("timestamps")?,
        since_seconds: int_of("sinceSeconds")?,
        since_time,
        tail_lines: int_of("tailLines")?,
        limit_bytes: int_of("limitBytes")?,
        insecure_skip_tls_verify_backend: bool_of("insecureSkipTLSVerifyBackend")?,
    })
}

/// `GET pods/{name}/log` through `serve` (authorized by the caller): the whole log as a
/// string body.
pub(crate) async fn pod_log(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    body: Option<&Value>,
) -> Result<Response> {
    let opts = log_options(body)?;
    if opts.follow {
        return Err(errors::bad_request(
            "follow=true needs a stream: a one-shot request answers once \
             (use ApiServer::pod_logs or the HTTP API)",
        ));
    }
    let mut stream = proxy::open_logs(server, namespace, name, &opts).await?;
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            errors::new(
                500,
                "InternalError",
                format!("reading the log of pod {name:?}: {e}"),
            )
        })?;
        let room = MAX_ONESHOT_LOG_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ONESHOT_LOG_BYTES {
            break;
        }
    }
    Ok(Response::new(
        200,
        Value::String(String::from_utf8_lossy(&out).into_owned()),
    ))
}

/// `pods/exec` through `serve`: kube-apiserver's answer to an exec that is not an upgrade.
pub(crate) fn exec_needs_upgrade() -> errors::Error {
    errors::bad_request("Upgrade request required")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_options_from_a_body() {
        assert_eq!(log_options(None).unwrap(), PodLogOptions::default());
        assert_eq!(
            log_options(Some(&Value::Null)).unwrap(),
            PodLogOptions::default()
        );
        let o = log_options(Some(&json!({
            "container": "c", "previous": true, "tailLines": 3, "limitBytes": 10,
            "sinceTime": "2026-01-01T00:00:00Z", "timestamps": true
        })))
        .unwrap();
        assert_eq!(o.container.as_deref(), Some("c"));
        assert!(o.previous && o.timestamps && !o.follow);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(3), Some(10)));
        assert!(o.since_time.is_some());
        let e = log_options(Some(&json!({"tailLines": "x"}))).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (400, "PodLogOptions.tailLines: want an integer")
        );
        assert_eq!(log_options(Some(&json!([1]))).unwrap_err().code(), 400);
        assert_eq!(
            log_options(Some(&json!({"sinceTime": "yesterday"})))
                .unwrap_err()
                .code(),
            400
        );
    }
}
