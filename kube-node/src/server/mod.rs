//! The kubelet's HTTP API (Kubernetes' `pkg/kubelet/server/server.go`), the part the API
//! server proxies to: container logs and exec.
//!
//! Routes:
//!
//! - `GET /containerLogs/{ns}/{pod}/{container}` with `follow`, `previous`, `timestamps`,
//!   `sinceSeconds`, `sinceTime`, `tailLines` (legacy `tail`, `tail=all`) and `limitBytes`;
//!   chunked `text/plain`. Errors: 400 on undecodable parameters or when the log cannot be
//!   read, 422 on invalid options, 404 `pod "x" does not exist` /
//!   `container "c" not found in pod "x"`.
//! - `GET|POST /exec/{ns}/{pod}[/{uid}]/{container}?command=…&stdin=1&stdout=1&stderr=1&tty=1`:
//!   a WebSocket with subprotocol `v5.channel.k8s.io` (or `v4.channel.k8s.io`); binary frames
//!   whose first byte is the channel: 0 stdin, 1 stdout, 2 stderr, 3 error (a `metav1.Status`:
//!   `Success`, or `Failure` with reason `NonZeroExitCode` and an `ExitCode` cause), 4 resize
//!   (`{"Width":…,"Height":…}`), 255 close (v5: `[255, 0]` closes stdin).
//! - `GET /healthz` → `ok`; `GET /pods` → a `PodList` of the pods whose sandboxes this node's
//!   runtime holds (metadata only).
//!
//! Containers are found through the [`Runtime`] by the kubelet's labels
//! ([`crate::labels`]: pod namespace, pod name, container name and this node's name), so the
//! server does not depend on the kubelet's internals. The newest attempt of a container is
//! the current one; `previous` reads the one before it.
//!
//! Authentication is pluggable ([`Authenticator`]): requests must carry
//! `Authorization: Bearer <token>` accepted by it (401 otherwise); without one, every request
//! is served (a test or loopback setup). [`KubeletServer::serve_tls`] serves HTTPS with a
//! rustls config.

mod exec;

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jiff::{SignedDuration, Timestamp};

use crate::clock::{Clock, TokioClock};
use crate::labels;
use crate::logs::{self, LogOptions};
use crate::runtime::{Container, ContainerFilter, ContainerState, Labels, Runtime, SandboxFilter};

/// Decides whether a bearer token may use the kubelet API (for example through a
/// TokenReview and SubjectAccessReview against the API server, or a fixed token).
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(user)` when the token is accepted.
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

/// Accepts exactly one bearer token (the API server's kubelet-client credential).
#[derive(Debug, Clone)]
pub struct StaticToken {
    token: String,
    user: String,
}

impl StaticToken {
    /// Accepts `token` as `user`.
    pub fn new(token: impl Into<String>, user: impl Into<String>) -> Self {
        StaticToken {
            token: token.into(),
            user: user.into(),
        }
    }
}

impl Authenticator for StaticToken {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        let ok = constant_time_eq(token.as_bytes(), self.token.as_bytes());
        let user = self.user.clone();
        Box::pin(async move {
            if ok {
                Ok(user)
            } else {
                Err("invalid bearer token".into())
            }
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The kubelet's HTTP server.
#[derive(Clone)]
pub struct KubeletServer {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<dyn Runtime>,
    node_name: String,
    clock: Arc<dyn Clock>,
    auth: Option<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer")
            .field("node_name", &self.inner.node_name)
            .field("authenticated", &self.inner.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl KubeletServer {
    /// A server for the containers `runtime` holds for node `node_name`.
    pub fn new(runtime: Arc<dyn Runtime>, node_name: impl Into<String>) -> Self {
        Self::build(runtime, node_name.into(), Arc::new(TokioClock::new()), None)
    }

    fn build(
        runtime: Arc<dyn Runtime>,
        node_name: String,
        clock: Arc<dyn Clock>,
        auth: Option<Arc<dyn Authenticator>>,
    ) -> Self {
        KubeletServer {
            inner: Arc::new(Inner {
                runtime,
                node_name,
                clock,
                auth,
            }),
        }
    }

    /// Uses `clock` for `sinceSeconds`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let i = &self.inner;
        Self::build(
            i.runtime.clone(),
            i.node_name.clone(),
            clock,
            i.auth.clone(),
        )
    }

    /// Requires a bearer token accepted by `auth`.
    pub fn with_authenticator(self, auth: Arc<dyn Authenticator>) -> Self {
        let i = &self.inner;
        Self::build(
            i.runtime.clone(),
            i.node_name.clone(),
            i.clock.clone(),
            Some(auth),
        )
    }

    /// The routes, for embedding in another server or serving with [`serve`](Self::serve).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/pods", get(pods))
            .route("/pods/", get(pods))
            .route("/containerLogs/{ns}/{pod}/{container}", get(container_logs))
            .route(
                "/exec/{ns}/{pod}/{container}",
                get(exec::exec3).post(exec::exec3),
            )
            .route(
                "/exec/{ns}/{pod}/{uid}/{container}",
                get(exec::exec4).post(exec::exec4),
            )
            .layer(axum::middleware::from_fn_with_state(
                self.inner.clone(),
                authenticate,
            ))
            .with_state(self.inner.clone())
    }

    /// Serves plain HTTP on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves HTTPS on `listener` with `tls` until `shutdown` completes.
    pub async fn serve_tls(
        &self,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let router = self.router();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, _) = tokio::select! {
                conn = listener.accept() => conn?,
                () = &mut shutdown => return Ok(()),
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let router = router.clone();
                        async move {
                            use tower::ServiceExt as _;
                            router.oneshot(req.map(Body::new)).await
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    }
}

async fn authenticate(
    State(inner): State<Arc<Inner>>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let Some(auth) = &inner.auth else {
        return next.run(req).await;
    };
    let token = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    match auth.authenticate(token).await {
        Ok(_user) => next.run(req).await,
        Err(_) => (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
    }
}

/// A plain-text error, as the kubelet writes them.
#[derive(Debug)]
struct HttpError(StatusCode, String);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn error(code: StatusCode, message: impl Into<String>) -> HttpError {
    HttpError(code, message.into())
}

fn error_response(code: StatusCode, message: impl Into<String>) -> Response {
    error(code, message).into_response()
}

/// Splits a raw query into decoded key/value pairs (repeated keys kept in order).
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid escape in {s:?}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in {s:?}"))
}

/// Kubernetes' boolean query parameter parsing (`strconv.ParseBool`).
fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{key}: invalid boolean value {v:?}")),
    }
}

/// The container attempts of one container of one pod, newest first.
async fn find_attempts(
    inner: &Inner,
    ns: &str,
    pod: &str,
    container: &str,
) -> Result<Vec<Container>, HttpError> {
    let mut want = Labels::new();
    want.insert(labels::POD_NAMESPACE.into(), ns.into());
    want.insert(labels::POD_NAME.into(), pod.into());
    want.insert(labels::NODE_NAME.into(), inner.node_name.clone());
    let sandboxes = inner
        .runtime
        .list_pod_sandboxes(&SandboxFilter {
            labels: want.clone(),
            ..Default::default()
        })
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut all = inner
        .runtime
        .list_containers(&ContainerFilter {
            labels: want,
            ..Default::default()
        })
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if sandboxes.is_empty() && all.is_empty() {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("pod {pod:?} does not exist"),
        ));
    }
    all.retain(|c| c.labels.get(labels::CONTAINER_NAME).map(String::as_str) == Some(container));
    if all.is_empty() {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("container {container:?} not found in pod {pod:?}"),
        ));
    }
    all.sort_by(|a, b| {
        b.attempt
            .cmp(&a.attempt)
            .then(b.created_at.cmp(&a.created_at))
    });
    Ok(all)
}

fn parse_log_options(raw: Option<&str>, now: Timestamp) -> Result<(LogOptions, bool), HttpError> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let invalid = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, m.to_string());
    let mut opts = LogOptions::default();
    let mut previous = false;
    let mut since_seconds: Option<i64> = None;
    let mut since_time: Option<Timestamp> = None;
    for (k, v) in query_pairs(raw).map_err(bad)? {
        match k.as_str() {
            "follow" => opts.follow = parse_bool(&k, &v).map_err(bad)?,
            "previous" => previous = parse_bool(&k, &v).map_err(bad)?,
            "timestamps" => opts.timestamps = parse_bool(&k, &v).map_err(bad)?,
            "sinceSeconds" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("sinceSeconds: invalid value {v:?}")))?;
                if n < 1 {
                    return Err(invalid(
                        "sinceSeconds: Invalid value: must be greater than 0",
                    ));
                }
                since_seconds = Some(n);
            }
            "sinceTime" => {
                since_time = Some(
                    v.parse()
                        .map_err(|_| bad(format!("sinceTime: invalid time {v:?}")))?,
                )
            }
            "tailLines" | "tail" => {
                if k == "tail" && v == "all" {
                    opts.tail_lines = None;
                    continue;
                }
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("{k}: invalid value {v:?}")))?;
                if n < 0 {
                    return Err(invalid(
                        "tailLines: Invalid value: must be greater than or equal to 0",
                    ));
                }
                opts.tail_lines = Some(n as u64);
            }
            "limitBytes" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("limitBytes: invalid value {v:?}")))?;
                if n < 1 {
                    return Err(invalid("limitBytes: Invalid value: must be greater than 0"));
                }
                opts.limit_bytes = Some(n as u64);
            }
            _ => {}
        }
    }
    if since_seconds.is_some() && since_time.is_some() {
        return Err(invalid(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if let Some(s) = since_seconds {
        opts.since_time = now.checked_sub(SignedDuration::from_secs(s)).ok();
    }
    if since_time.is_some() {
        opts.since_time = since_time;
    }
    Ok((opts, previous))
}

async fn container_logs(
    State(inner): State<Arc<Inner>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (opts, previous) = match parse_log_options(raw.as_deref(), inner.clock.now()) {
        Ok(v) => v,
        Err(resp) => return resp.into_response(),
    };
    let attempts = match find_attempts(&inner, &ns, &pod, &container).await {
        Ok(a) => a,
        Err(resp) => return resp.into_response(),
    };
    let chosen = if previous {
        match attempts.get(1) {
            Some(c) => c.clone(),
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("previous terminated container {container:?} in pod {pod:?} not found"),
                )
            }
        }
    } else {
        attempts[0].clone()
    };
    let status = match inner.runtime.container_status(&chosen.id).await {
        Ok(s) => s,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if status.log_path.as_os_str().is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            format!("container {container:?} in pod {pod:?} has no log file"),
        );
    }
    // Open the file before answering so that a missing file is an error status.
    if let Err(e) = tokio::fs::metadata(&status.log_path).await {
        return error_response(
            StatusCode::BAD_REQUEST,
            format!(
                "failed to try resolving symlinks in path {:?}: {e}",
                status.log_path
            ),
        );
    }
    let (mut tx, rx) = tokio::io::duplex(64 * 1024);
    let runtime = inner.runtime.clone();
    let id = chosen.id.clone();
    let path = status.log_path.clone();
    tokio::spawn(async move {
        let running = || {
            let runtime = runtime.clone();
            let id = id.clone();
            async move {
                matches!(
                    runtime.container_status(&id).await.map(|s| s.state),
                    Ok(ContainerState::Running | ContainerState::Created)
                )
            }
        };
        if let Err(e) = logs::read_logs(&path, &opts, &mut tx, running).await {
            tracing::debug!(error = %e, "container log stream ended");
        }
    });
    let stream = tokio_util_reader(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| error_response(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}

/// Turns the read half of a pipe into a stream of chunks.
fn tokio_util_reader(
    rx: tokio::io::DuplexStream,
) -> impl futures::Stream<Item = io::Result<bytes::Bytes>> + Send {
    futures::stream::unfold(rx, |mut rx| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 16 * 1024];
        match rx.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), rx))
            }
            Err(e) => Some((Err(e), rx)),
        }
    })
}

async fn pods(State(inner): State<Arc<Inner>>, _headers: HeaderMap) -> Response {
    let mut want = Labels::new();
    want.insert(labels::NODE_NAME.into(), inner.node_name.clone());
    let sandboxes = match inner
        .runtime
        .list_pod_sandboxes(&SandboxFilter {
            labels: want,
            ..Default::default()
        })
        .await
    {
        Ok(s) => s,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    for sb in sandboxes {
        let m = &sb.metadata;
        if !seen.insert((m.namespace.clone(), m.name.clone(), m.uid.clone())) {
            continue;
        }
        items.push(serde_json::json!({
            "metadata": {"name": m.name, "namespace": m.namespace, "uid": m.uid},
            "spec": {"nodeName": inner.node_name},
        }));
    }
    let body = serde_json::json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": items,
    });
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_decodes_and_keeps_repeats() {
        let q = query_pairs(Some("command=sh&command=-c&command=echo%20hi+there&tty")).unwrap();
        assert_eq!(
            q,
            vec![
                ("command".into(), "sh".into()),
                ("command".into(), "-c".into()),
                ("command".into(), "echo hi there".into()),
                ("tty".into(), "".into()),
            ]
        );
        assert!(query_pairs(Some("a=%zz")).is_err());
    }

    #[test]
    fn log_options_follow_kubernetes_validation() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let (o, prev) = parse_log_options(
            Some(
                "follow=true&previous=1&timestamps=true&tailLines=5&limitBytes=10&sinceSeconds=60",
            ),
            now,
        )
        .unwrap();
        assert!(o.follow && prev && o.timestamps);
        assert_eq!(o.tail_lines, Some(5));
        assert_eq!(o.limit_bytes, Some(10));
        assert_eq!(o.since_time, Some("2026-01-01T00:09:00Z".parse().unwrap()));
        let code = |q: &str| parse_log_options(Some(q), now).unwrap_err().0;
        assert_eq!(code("sinceSeconds=0"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code("tailLines=-1"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code("limitBytes=0"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            code("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(code("follow=maybe"), StatusCode::BAD_REQUEST);
        assert_eq!(code("tailLines=x"), StatusCode::BAD_REQUEST);
        let (o, _) = parse_log_options(Some("tail=all"), now).unwrap();
        assert_eq!(o.tail_lines, None);
    }
}
