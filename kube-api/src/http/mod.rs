//! The HTTP(S) front of the API server: Kubernetes' REST paths over an [`ApiServer`].
//!
//! - [`serve`] / [`bind`]: accept TCP connections, terminate TLS (rustls, ALPN `h2` and
//!   `http/1.1`), serve HTTP/1.1 and HTTP/2 (hyper 1 through axum 0.8).
//! - Authentication ([`Authenticator`], reference implementation [`StaticTokens`]): a bearer
//!   token becomes a [`UserInfo`]; a bad token is 401 `Unauthorized`; no token is
//!   `system:anonymous` (group `system:unauthenticated`) only when [`Config::anonymous`] is on.
//!   `/version`, `/healthz`, `/livez` and `/readyz` are served to requests without credentials
//!   even then (as `system:anonymous`: probes), subject to authorization like any other.
//! - Authorization of non-resource paths (`/version`, `/healthz`, `/api`, `/apis/…`,
//!   `/openapi/…`, `/metrics`, unknown paths): [`ApiServer::authorize_non_resource`] with the
//!   lower-case method as verb (403 `forbidden: User "u" cannot get path "/x"`); RBAC's
//!   bootstrap roles open discovery to `system:authenticated` and health and version to
//!   everyone (`system:discovery`, `system:public-info-viewer`). Resource requests are
//!   authorized by the [`ApiServer`] itself, including SelfSubjectAccessReview and the
//!   `serviceaccounts/token` TokenRequest ([`crate::tokens`]).
//! - Discovery ([`crate::discovery`]), OpenAPI ([`crate::openapi`]), `/metrics`
//!   ([`crate::metrics`]), health.
//! - Resources: [`route`] maps method, path, query and body to a
//!   [`kubox_core::client::Request`] (or a watch); responses become Tables ([`crate::table`])
//!   when the `Accept` header asks for `as=Table;v=v1;g=meta.k8s.io`, and
//!   `PartialObjectMetadata(List)` for `as=PartialObjectMetadata(List)`; watches stream one
//!   JSON event per line.
//! - `fieldValidation` on duplicate fields: the body parse that builds the object notes
//!   repeated keys (module `strict`); `Strict` answers kube-apiserver's 400 `strict decoding
//!   error: duplicate field "spec.paused", unknown field …` (document order; YAML and apply
//!   bodies as go-yaml's `line N: key "k" already set in map`), `Warn` (the default) adds a
//!   `Warning` header each, `Ignore` skips the check. TokenReviews are answered with
//!   [`Config::authenticator`] ([`router`] installs it on the server).
//! - Every error is a Kubernetes `Status` with its code: 404 unknown path, 405 wrong method,
//!   413 body over [`Config::max_body_bytes`], 415 unknown Content-Type (including protobuf
//!   for the kinds [`crate::protobuf`] does not decode), 401 bad credentials.
//!
//! axum is used for its glue (tower `Service`, bodies, responses), with one fallback handler
//! that resolves paths against kubox-core's registry: the REST paths are data, not a route
//! table, and exact 404/405 `Status` answers are easier that way.

pub mod query;
pub mod route;
pub(crate) mod strict;

use crate::auth::UserInfo;
use crate::discovery::{self, VersionInfo};
use crate::errors;
use crate::metrics::Metrics;
use crate::server::ApiServer;
use crate::table::{self, IncludeObject, Target};
use crate::{openapi, Error};
use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, Method, StatusCode};
use kubox_core::client::Verb;
use kubox_core::meta::WatchEventType;
use query::Query;
use route::Action;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// Maps a bearer token to a user (`authenticator.Token`).
///
/// # Contract
///
/// - `authenticate` returns `None` for a token it does not know (the server answers 401); it
///   has no side effects and may be called concurrently, once per request.
/// - The returned user should include the `system:authenticated` group, as kube-apiserver's
///   authenticators add it.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The user `token` belongs to, if any.
    async fn authenticate(&self, token: &str) -> Option<UserInfo>;

    /// What a TokenReview asks: the user `token` belongs to when presented for `audiences`
    /// (empty: the API's own), with the audiences it is valid for among them — `None` for an
    /// audience-agnostic authenticator (the default, e.g. [`StaticTokens`]), whose tokens the
    /// API's audiences apply to.
    async fn authenticate_for(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Option<(UserInfo, Option<Vec<String>>)> {
        let _ = audiences;
        self.authenticate(token).await.map(|u| (u, None))
    }
}

/// Several authenticators tried in order; the first that knows the token wins
/// (kube-apiserver's union authenticator: static tokens, then service-account tokens, …).
#[derive(Clone, Default)]
pub struct Union(pub Vec<Arc<dyn Authenticator>>);

impl std::fmt::Debug for Union {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Union({} authenticators)", self.0.len())
    }
}

#[async_trait]
impl Authenticator for Union {
    async fn authenticate(&self, token: &str) -> Option<UserInfo> {
        for a in &self.0 {
            if let Some(u) = a.authenticate(token).await {
                return Some(u);
            }
        }
        None
    }
    async fn authenticate_for(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Option<(UserInfo, Option<Vec<String>>)> {
        for a in &self.0 {
            if let Some(found) = a.authenticate_for(token, audiences).await {
                return Some(found);
            }
        }
        None
    }
}

/// The static token file authenticator (kube-apiserver `--token-auth-file`): a fixed map from
/// token to user.
#[derive(Clone, Debug, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, UserInfo>,
}

impl StaticTokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `token` for `user` (`system:authenticated` is added to its groups).
    pub fn with(mut self, token: impl Into<String>, mut user: UserInfo) -> Self {
        if !user.groups.iter().any(|g| g == "system:authenticated") {
            user.groups.push("system:authenticated".into());
        }
        self.tokens.insert(token.into(), user);
        self
    }

    /// Parses the token file format: one `token,user,uid[,"group1,group2"]` per line (blank
    /// lines and `#` comments skipped).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = StaticTokens::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            for c in line.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            fields.push(cur);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(format!(
                    "line {}: want token,user,uid[,\"groups\"], got {line:?}",
                    i + 1
                ));
            }
            let groups: Vec<&str> = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mut user = UserInfo::new(fields[1].trim(), &groups);
            user.uid = fields[2].trim().to_string();
            out = out.with(fields[0].trim(), user);
        }
        Ok(out)
    }

    /// Reads a token file (see [`StaticTokens::parse`]).
    pub fn read(path: &std::path::Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Self::parse(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

#[async_trait]
impl Authenticator for StaticTokens {
    async fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }
}

/// How the HTTP front is set up.
#[derive(Clone)]
pub struct Config {
    /// TLS (`None`: plain HTTP — kubectl then sends no credentials, so switch on
    /// [`Config::anonymous`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Bearer-token authentication.
    pub authenticator: Arc<dyn Authenticator>,
    /// Serve requests without credentials as `system:anonymous`.
    pub anonymous: bool,
    /// What `/version` reports.
    pub version: VersionInfo,
    /// Request metrics (shared, so an embedding application can read them).
    pub metrics: Arc<Metrics>,
    /// Largest request body accepted (3 MiB, as kube-apiserver); larger ones get 413.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tls", &self.tls.is_some())
            .field("anonymous", &self.anonymous)
            .field("version", &self.version)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// 3 MiB: kube-apiserver's request body limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

impl Config {
    /// HTTPS with `tls`, tokens checked by `authenticator`, no anonymous access, version 1.33.
    pub fn new(tls: Arc<rustls::ServerConfig>, authenticator: Arc<dyn Authenticator>) -> Self {
        Config {
            tls: Some(tls),
            authenticator,
            anonymous: false,
            version: VersionInfo::default(),
            metrics: Arc::new(Metrics::default()),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

struct State {
    server: ApiServer,
    cfg: Config,
    /// `/openapi/v3` and its per-group-version documents, built once.
    openapi_root: Value,
    openapi_docs: HashMap<String, Value>,
}

/// The axum router serving the whole API over `server` (TLS is the caller's business; see
/// [`serve`]).
pub fn router(server: ApiServer, cfg: Config) -> axum::Router {
    // TokenReviews are answered with the authenticator requests are (unless one is set).
    server.set_token_authenticator(cfg.authenticator.clone());
    let git = cfg.version.git_version.clone();
    let openapi_docs = kubox_core::registry::GROUP_VERSIONS
        .iter()
        .map(|gv| (openapi::v3_key(*gv), openapi::v3_group_version(*gv, &git)))
        .collect();
    let state = Arc::new(State {
        openapi_root: openapi::v3_root(&git),
        openapi_docs,
        server,
        cfg,
    });
    axum::Router::new().fallback(handle).with_state(state)
}

/// A running server started by [`bind`]; dropping it stops accepting connections.
#[derive(Debug)]
pub struct Running {
    local_addr: SocketAddr,
    tls: bool,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Stops accepting connections (open connections finish on their own).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves in a background task.
pub async fn bind(addr: SocketAddr, server: ApiServer, cfg: Config) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let tls = cfg.tls.is_some();
    let task = tokio::spawn(serve(listener, server, cfg));
    Ok(Running {
        local_addr,
        tls,
        task,
    })
}

/// Serves the API on `listener` until the task is dropped: TLS when configured, HTTP/1.1 and
/// HTTP/2.
pub async fn serve(listener: TcpListener, server: ApiServer, cfg: Config) -> std::io::Result<()> {
    let acceptor = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let app = router(server, cfg);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => serve_connection(tls, app).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                },
                None => serve_connection(tcp, app).await,
            }
        });
    }
}

async fn serve_connection<I>(io: I, app: axum::Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper_util::service::TowerToHyperService::new(app);
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(io), svc)
        .await
    {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn json_response(code: u16, body: &Value, content_type: &str) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn status_response(e: &Error) -> Response {
    json_response(e.code(), &e.to_value(), "application/json")
}

fn text_response(code: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn header_str(parts: &http::request::Parts, name: header::HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn method_not_allowed() -> Error {
    errors::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

fn anonymous() -> UserInfo {
    UserInfo::new("system:anonymous", &["system:unauthenticated"])
}

/// Paths kube-apiserver's `system:public-info-viewer` role opens to everyone.
fn is_public(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    matches!(p, "/version" | "/healthz" | "/livez" | "/readyz")
        || p.starts_with("/healthz/")
        || p.starts_with("/livez/")
        || p.starts_with("/readyz/")
}

async fn authenticate(state: &State, parts: &http::request::Parts) -> Result<UserInfo, Error> {
    let auth = header_str(parts, header::AUTHORIZATION).map(str::trim);
    match auth {
        Some(a) if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") => {
            let token = a[7..].trim();
            state
                .cfg
                .authenticator
                .authenticate(token)
                .await
                .ok_or_else(errors::unauthorized)
        }
        Some(_) => Err(errors::unauthorized()),
        None if state.cfg.anonymous || is_public(parts.uri.path()) => Ok(anonymous()),
        None => Err(errors::unauthorized()),
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    req: axum::extract::Request,
) -> Response {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    // Taken out for pods/exec (the only upgrade served; `crate::proxy`).
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let (verb, resource, resp) = dispatch(&state, &parts, body, upgrade).await;
    let took = start.elapsed();
    let code = resp.status().as_u16();
    state
        .cfg
        .metrics
        .observe_request(verb, &resource, code, took);
    tracing::debug!(method = %parts.method, uri = %parts.uri, code, ?took, "request");
    resp
}

/// Handles one request; returns the metrics verb and resource labels with the response.
async fn dispatch(
    state: &Arc<State>,
    parts: &http::request::Parts,
    body: Body,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> (&'static str, String, Response) {
    let method_label = |m: &Method| match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    };
    let user = match authenticate(state, parts).await {
        Ok(u) => u,
        Err(e) => {
            return (
                method_label(&parts.method),
                String::new(),
                status_response(&e),
            )
        }
    };
    let path = parts.uri.path();
    let rp = match route::parse_resource_path(path) {
        Ok(Some(rp)) => rp,
        Ok(None) => {
            let verb = match parts.method {
                Method::HEAD => "get".to_string(),
                ref m => m.as_str().to_ascii_lowercase(),
            };
            if let Err(e) = state
                .server
                .authorize_non_resource(&user, &verb, path)
                .await
            {
                return (
                    method_label(&parts.method),
                    String::new(),
                    status_response(&e),
                );
            }
            let resp = non_resource(state, parts).unwrap_or_else(|e| status_response(&e));
            return (method_label(&parts.method), String::new(), resp);
        }
        Err(e) => {
            return (
                method_label(&parts.method),
                String::new(),
                status_response(&e),
            )
        }
    };
    let resource_label = match &rp.subresource {
        Some(s) => format!("{}/{s}", rp.info.plural),
        None => rp.info.plural.to_string(),
    };
    // pods/log and pods/exec: proxied to the kubelet (`CONNECT` in metrics, as Kubernetes).
    if let Some(r) = crate::proxy::serve_http(&state.server, &user, &rp, parts, upgrade).await {
        return (
            "CONNECT",
            resource_label,
            r.unwrap_or_else(|e| status_response(&e)),
        );
    }
    // Body: refuse early on a declared length over the limit, then read with the limit.
    let limit = state.cfg.max_body_bytes;
    let too_large = || {
        status_response(&errors::request_entity_too_large(&format!(
            "limit is {limit}"
        )))
    };
    let declared = header_str(parts, header::CONTENT_LENGTH).and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return (method_label(&parts.method), resource_label, too_large());
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return (method_label(&parts.method), resource_label, too_large()),
    };
    let q = Query::parse(parts.uri.query());
    let content_type = header_str(parts, header::CONTENT_TYPE);
    let (action, issues) = match route::build_checked(&rp, &parts.method, &q, content_type, &bytes)
    {
        Ok(a) => a,
        Err(e) => {
            return (
                method_label(&parts.method),
                resource_label,
                status_response(&e),
            )
        }
    };
    let verb = route::metrics_verb(&action);
    let accept = header_str(parts, header::ACCEPT);
    let target = table::negotiate_target(accept);
    let include = match q.get("includeObject").filter(|s| !s.is_empty()) {
        None => IncludeObject::default(),
        Some(s) => match IncludeObject::parse(s) {
            Some(i) => i,
            None => {
                let e = errors::bad_request(format!(
                    "includeObject must be one of None, Metadata, Object; got {s:?}"
                ));
                return (verb, resource_label, status_response(&e));
            }
        },
    };
    let resp = match action {
        Action::Call(request) => {
            let tableable = matches!(request.verb, Verb::Get | Verb::GetWith(_) | Verb::List(_))
                && request.subresource.is_none();
            let is_list = matches!(request.verb, Verb::List(_));
            // Repeated keys in the body (`fieldValidation`): 400 under Strict, else warnings.
            let mut decoding_warnings = Vec::new();
            if !issues.is_empty() {
                match strict::field_validation(&state.server, &user, &rp, &request, &issues).await {
                    Ok(w) => decoding_warnings = w,
                    Err(e) => return (verb, resource_label, status_response(&e)),
                }
            }
            match state.server.serve(&user, *request).await {
                Ok(r) if r.body.is_string() => {
                    // Text subresources (pods/log) are written as they are.
                    let text = r.body.as_str().unwrap_or_default().to_string();
                    let mut resp = text_response(StatusCode::OK, "text/plain", text);
                    *resp.status_mut() = StatusCode::from_u16(r.code).unwrap_or(StatusCode::OK);
                    resp
                }
                Ok(r) => {
                    let is_status = r.body.get("kind").and_then(Value::as_str) == Some("Status");
                    let body = match target {
                        _ if !tableable || is_status => r.body,
                        Target::Plain => r.body,
                        Target::Table(tv) => {
                            let now = jiff::Timestamp::now();
                            let mut t = if is_list {
                                table::list_table(rp.info, &r.body, include, now)
                            } else {
                                table::object_table(rp.info, &r.body, include, now)
                            };
                            t["apiVersion"] = Value::from(tv);
                            t
                        }
                        Target::Metadata(v) if is_list => table::partial_metadata_list(&r.body, v),
                        Target::Metadata(v) => table::partial_metadata(&r.body, v),
                    };
                    let mut resp = json_response(r.code, &body, "application/json");
                    for w in &strict::merge_warnings(decoding_warnings, r.warnings) {
                        // `299 - "<text>"`, the text quoted as Go's strconv.Quote does.
                        if let Ok(v) = HeaderValue::from_str(&format!("299 - {w:?}")) {
                            resp.headers_mut().append(header::WARNING, v);
                        }
                    }
                    resp
                }
                Err(e) => status_response(&e),
            }
        }
        Action::Watch {
            resource,
            namespace,
            params,
        } => match state
            .server
            .watch(&user, &resource, namespace.as_deref(), &params)
            .await
        {
            Ok(stream) => {
                let guard = state.cfg.metrics.watch_opened(rp.info.plural);
                let info = rp.info;
                let lines = stream.map(move |ev| {
                    let _keep = &guard;
                    let object = match (target, ev.type_) {
                        (_, WatchEventType::Error) | (Target::Plain, _) => ev.object,
                        (Target::Table(tv), WatchEventType::Bookmark) => json!({
                            "kind": "Table",
                            "apiVersion": tv,
                            "metadata": {"resourceVersion": ev.object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)},
                            "columnDefinitions": [],
                            "rows": [],
                        }),
                        (Target::Table(tv), _) => {
                            let mut t = table::object_table(info, &ev.object, include, jiff::Timestamp::now());
                            t["apiVersion"] = Value::from(tv);
                            t
                        }
                        (Target::Metadata(v), _) => table::partial_metadata(&ev.object, v),
                    };
                    let mut line = serde_json::to_vec(&json!({"type": ev.type_, "object": object}))
                        .unwrap_or_default();
                    line.push(b'\n');
                    Ok::<_, std::convert::Infallible>(Bytes::from(line))
                });
                let mut r = Response::new(Body::from_stream(lines));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache, private"),
                );
                r
            }
            Err(e) => status_response(&e),
        },
    };
    (verb, resource_label, resp)
}

/// Discovery, OpenAPI, health, metrics, version; 404/405 Status otherwise.
fn non_resource(state: &State, parts: &http::request::Parts) -> Result<Response, Error> {
    let path = parts.uri.path();
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    let accept = header_str(parts, header::ACCEPT);
    let segs: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let known = matches!(
        segs.as_slice(),
        ["version"]
            | ["healthz" | "livez" | "readyz", ..]
            | ["metrics"]
            | ["openapi", "v2"]
            | ["openapi", "v3", ..]
            | ["api"]
            | ["apis"]
            | ["api", _]
            | ["apis", _]
            | ["apis", _, _]
    );
    if !known {
        return Err(errors::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    if !get {
        return Err(method_not_allowed());
    }
    let json = |v: &Value| json_response(200, v, "application/json");
    let host = header_str(parts, header::HOST)
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let nf = || errors::resource_not_found();
    Ok(match segs.as_slice() {
        ["version"] => json(&state.cfg.version.to_json()),
        ["healthz" | "livez" | "readyz", ..] => {
            text_response(StatusCode::OK, "text/plain; charset=utf-8", "ok")
        }
        ["metrics"] => text_response(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.cfg.metrics.render(),
        ),
        ["openapi", "v2"] => text_response(StatusCode::OK, openapi::V2_CONTENT_TYPE, Body::empty()),
        ["openapi", "v3"] => json(&state.openapi_root),
        ["openapi", "v3", rest @ ..] => {
            json(state.openapi_docs.get(&rest.join("/")).ok_or_else(nf)?)
        }
        ["api"] => match discovery::negotiate(accept) {
            discovery::Format::Legacy => json(&discovery::api_versions(&host)),
            f => json_response(200, &discovery::aggregated(true, f), f.content_type()),
        },
        ["apis"] => match discovery::negotiate(accept) {
            discovery::Format::Legacy => json(&discovery::api_group_list()),
            f => json_response(200, &discovery::aggregated(false, f), f.content_type()),
        },
        ["api", v] => {
            let gv = discovery::find_group_version("", v).ok_or_else(nf)?;
            json(&discovery::api_resource_list(gv))
        }
        ["apis", g] => json(&discovery::api_group_doc(g).ok_or_else(nf)?),
        ["apis", g, v] => {
            let gv = discovery::find_group_version(g, v).ok_or_else(nf)?;
            json(&discovery::api_resource_list(gv))
        }
        _ => return Err(nf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_token_file() {
        let t = StaticTokens::parse("# comment\nabc,alice,1,\"dev,ops\"\nxyz,bob,2\n").unwrap();
        let a = t.authenticate("abc").await.unwrap();
        assert_eq!(a.name, "alice");
        assert_eq!(a.uid, "1");
        assert_eq!(a.groups, ["dev", "ops", "system:authenticated"]);
        assert_eq!(
            t.authenticate("xyz").await.unwrap().groups,
            ["system:authenticated"]
        );
        assert!(t.authenticate("nope").await.is_none());
        assert!(StaticTokens::parse("onlytoken").is_err());
        let other = StaticTokens::new().with("zzz", UserInfo::new("carol", &[]));
        let u = Union(vec![Arc::new(t), Arc::new(other)]);
        assert_eq!(u.authenticate("zzz").await.unwrap().name, "carol");
        assert_eq!(u.authenticate("abc").await.unwrap().name, "alice");
        assert!(u.authenticate("nope").await.is_none());
    }

    #[test]
    fn public_paths() {
        assert!(is_public("/version"));
        assert!(is_public("/healthz/ping"));
        assert!(!is_public("/api"));
    }
}
