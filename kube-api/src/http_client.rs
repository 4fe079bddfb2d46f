//! [`HttpClient`]: kubox-core's [`Client`] over HTTPS, built from a kubeconfig.
//!
//! hyper-util's pooled client with a small rustls connector (ring provider; ALPN `h2` and
//! `http/1.1`): the CA comes from the kubeconfig (`certificate-authority-data` or
//! `certificate-authority`), or verification is skipped with `insecure-skip-tls-verify`; the
//! bearer token is sent on every request. A [`Request`] becomes method, path, query and body
//! exactly as client-go sends them; a `Status` answer becomes [`Error::Api`]; a watch is the
//! chunked stream of JSON lines, decoded into a [`WatchStream`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kube_api::http_client::HttpClient;
//! use kubox_core::api::core_v1::ConfigMap;
//! use kubox_core::client::{Api, ListParams};
//!
//! let client = HttpClient::from_kubeconfig_file("admin.kubeconfig".as_ref())?.into_client();
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let list = cms.list(&ListParams::default()).await?;
//! # Ok(()) }
//! ```

use crate::http::query::percent_encode;
use crate::kubeconfig::{Kubeconfig, Resolved};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubox_core::client::{
    Client, DeleteParams, Error, GroupVersionResource, ListParams, Request, Result, Verb,
    WatchParams, WatchStream,
};
use kubox_core::meta::{ListMeta, Status, StatusDetails, TypeMeta, WatchEvent};
use kubox_core::registry;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Why an [`HttpClient`] could not be built. Not retryable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The kubeconfig could not be read.
    #[error(transparent)]
    Kubeconfig(#[from] crate::kubeconfig::Error),
    /// The server URL is not `https://host[:port]` (or `http://`).
    #[error("invalid server URL {0:?}")]
    Url(String),
    /// The CA bundle is invalid.
    #[error("invalid CA: {0}")]
    Ca(String),
}

/// kubox-core's [`Client`] over HTTP(S).
#[derive(Clone)]
pub struct HttpClient {
    base: String,
    token: Option<String>,
    client: hyper_util::client::legacy::Client<Connector, Full<Bytes>>,
    namespace: Option<String>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A raw HTTP answer (status, headers, body) from [`HttpClient::send_raw`].
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl RawResponse {
    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode(e.to_string()))
    }
}

impl HttpClient {
    /// A client for the current context of the kubeconfig at `path`.
    pub fn from_kubeconfig_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        Self::from_kubeconfig(&Kubeconfig::read(path)?)
    }

    /// A client for the current context of `kc`.
    pub fn from_kubeconfig(kc: &Kubeconfig) -> Result<Self, ConfigError> {
        Self::from_resolved(&kc.current()?)
    }

    /// A client for a resolved context.
    pub fn from_resolved(r: &Resolved) -> Result<Self, ConfigError> {
        let uri: http::Uri = r
            .server
            .parse()
            .map_err(|_| ConfigError::Url(r.server.clone()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(ConfigError::Url(r.server.clone())),
        };
        if uri.host().is_none() {
            return Err(ConfigError::Url(r.server.clone()));
        }
        let provider = crate::tls::provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::Ca(e.to_string()))?;
        let mut tls = if r.insecure_skip_tls_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = &r.ca_pem {
                for cert in
                    crate::tls::parse_certs(ca).map_err(|e| ConfigError::Ca(e.to_string()))?
                {
                    roots
                        .add(cert)
                        .map_err(|e| ConfigError::Ca(e.to_string()))?;
                }
            } else if https {
                return Err(ConfigError::Ca(
                    "no certificate-authority(-data) and insecure-skip-tls-verify is off".into(),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let connector = Connector {
            tls: Arc::new(tls),
            server_name: r.tls_server_name.clone(),
        };
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .build(connector);
        Ok(HttpClient {
            base: r.server.trim_end_matches('/').to_string(),
            token: r.token.clone(),
            client,
            namespace: r.namespace.clone(),
        })
    }

    /// The context's default namespace.
    pub fn default_namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client as the `Arc<dyn Client>` that [`kubox_core::client::Api`] takes.
    pub fn into_client(self) -> Arc<dyn Client> {
        Arc::new(self)
    }

    /// Sends one raw request (`path_and_query` like `/api/v1/pods?limit=1`) with the token and
    /// the given headers; returns the whole answer. For discovery documents and tests.
    pub async fn send_raw(
        &self,
        method: http::Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<RawResponse> {
        let resp = self.send(method, path_and_query, headers, body).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?
            .to_bytes();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    async fn send(
        &self,
        method: http::Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base))
            .header(http::header::USER_AGENT, "kubox/0.1");
        if let Some(t) = &self.token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let mut has_accept = false;
        for (k, v) in headers {
            has_accept |= k.eq_ignore_ascii_case("accept");
            b = b.header(*k, *v);
        }
        if !has_accept {
            b = b.header(http::header::ACCEPT, "application/json");
        }
        let req = b
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Error::Transport(e.to_string()))?;
        self.client
            .request(req)
            .await
            .map_err(|e| Error::Transport(format!("{e:?}")))
    }
}

/// Encodes a path segment (names may hold `:`; nothing else special is expected).
fn segment(s: &str) -> String {
    percent_encode(s).replace("%3A", ":")
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn list_query(p: &ListParams, out: &mut Vec<(&'static str, String)>) {
    if let Some(v) = &p.label_selector {
        out.push(("labelSelector", v.clone()));
    }
    if let Some(v) = &p.field_selector {
        out.push(("fieldSelector", v.clone()));
    }
    if let Some(v) = p.limit {
        out.push(("limit", v.to_string()));
    }
    if let Some(v) = &p.continue_token {
        out.push(("continue", v.clone()));
    }
    if let Some(v) = &p.resource_version {
        out.push(("resourceVersion", v.clone()));
    }
    if let Some(v) = &p.resource_version_match {
        out.push(("resourceVersionMatch", v.clone()));
    }
}

fn delete_body(p: &DeleteParams) -> Bytes {
    let mut v = serde_json::to_value(p).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(m) = &mut v {
        // DeleteOptions.dryRun is a list on the wire.
        if m.remove("dryRun").is_some() {
            m.insert("dryRun".into(), serde_json::json!(["All"]));
        }
        m.insert("kind".into(), "DeleteOptions".into());
        m.insert("apiVersion".into(), "v1".into());
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn collection_path(resource: &GroupVersionResource, namespace: Option<&str>) -> Result<String> {
    let info = registry::find(&resource.group, &resource.version, &resource.resource)
        .ok_or_else(|| Error::from(crate::errors::resource_not_found()))?;
    Ok(match namespace {
        Some(ns) if info.namespaced => info.collection_path(Some(&segment(ns))),
        _ => info.collection_path(None),
    })
}

/// A `Status` for an error answer whose body is not one.
fn synthesized_status(code: u16, body: &[u8]) -> Status {
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    };
    Status {
        types: TypeMeta {
            api_version: "v1".into(),
            kind: "Status".into(),
        },
        metadata: ListMeta::default(),
        status: Some("Failure".into()),
        message: Some(String::from_utf8_lossy(body).trim().to_string()),
        reason: Some(reason.into()),
        details: None::<StatusDetails>,
        code: Some(i32::from(code)),
    }
}

fn error_from(code: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<Status>(body) {
        Ok(s) if s.types.kind == "Status" || s.code.is_some() => {
            let mut s = s;
            s.code.get_or_insert(i32::from(code));
            Error::Api(Box::new(s))
        }
        _ => Error::Api(Box::new(synthesized_status(code, body))),
    }
}

#[async_trait]
impl Client for HttpClient {
    async fn call(&self, request: Request) -> Result<Value> {
        use http::Method;
        let mut path = collection_path(&request.resource, request.namespace.as_deref())?;
        if let Some(name) = &request.name {
            path = format!("{path}/{}", segment(name));
            if let Some(sub) = &request.subresource {
                path = format!("{path}/{sub}");
            }
        }
        let json_body = |v: &Option<Value>| -> Result<Bytes> {
            let v = v
                .as_ref()
                .ok_or_else(|| Error::Decode("request body required".into()))?;
            serde_json::to_vec(v)
                .map(Bytes::from)
                .map_err(|e| Error::Decode(e.to_string()))
        };
        let mut q: Vec<(&str, String)> = Vec::new();
        let (method, body, content_type) = match &request.verb {
            Verb::Get => (Method::GET, None, None),
            Verb::GetWith(p) => {
                if let Some(rv) = &p.resource_version {
                    q.push(("resourceVersion", rv.clone()));
                }
                (Method::GET, None, None)
            }
            Verb::List(p) => {
                list_query(p, &mut q);
                (Method::GET, None, None)
            }
            Verb::Create(p) | Verb::Replace(p) => {
                if p.dry_run {
                    q.push(("dryRun", "All".into()));
                }
                if let Some(m) = &p.field_manager {
                    q.push(("fieldManager", m.clone()));
                }
                if let Some(v) = p.field_validation {
                    q.push(("fieldValidation", v.as_str().into()));
                }
                let m = if matches!(request.verb, Verb::Create(_)) {
                    Method::POST
                } else {
                    Method::PUT
                };
                (m, Some(json_body(&request.body)?), Some("application/json"))
            }
            Verb::Patch(patch, p) => {
                if p.dry_run {
                    q.push(("dryRun", "All".into()));
                }
                if let Some(m) = &p.field_manager {
                    q.push(("fieldManager", m.clone()));
                }
                if let Some(v) = p.field_validation {
                    q.push(("fieldValidation", v.as_str().into()));
                }
                if p.force {
                    q.push(("force", "true".into()));
                }
                let body = serde_json::to_vec(patch.body())
                    .map(Bytes::from)
                    .map_err(|e| Error::Decode(e.to_string()))?;
                (Method::PATCH, Some(body), Some(patch.content_type()))
            }
            Verb::Delete(p) => (
                Method::DELETE,
                Some(delete_body(p)),
                Some("application/json"),
            ),
            Verb::DeleteCollection(dp, lp) => {
                list_query(lp, &mut q);
                (
                    Method::DELETE,
                    Some(delete_body(dp)),
                    Some("application/json"),
                )
            }
        };
        let pq = format!("{path}{}", query_string(&q));
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| vec![("content-type", ct)])
            .unwrap_or_default();
        let resp = self.send_raw(method, &pq, &headers, body).await?;
        if !(200..300).contains(&resp.status) {
            return Err(error_from(resp.status, &resp.body));
        }
        let is_json = resp
            .content_type()
            .is_none_or(|ct| ct.starts_with("application/json"));
        if is_json {
            resp.json()
        } else {
            // pods/log and other text subresources.
            Ok(Value::String(
                String::from_utf8_lossy(&resp.body).into_owned(),
            ))
        }
    }

    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let path = collection_path(resource, namespace)?;
        let mut q: Vec<(&str, String)> = vec![("watch", "true".into())];
        if let Some(v) = &params.label_selector {
            q.push(("labelSelector", v.clone()));
        }
        if let Some(v) = &params.field_selector {
            q.push(("fieldSelector", v.clone()));
        }
        if let Some(v) = &params.resource_version {
            q.push(("resourceVersion", v.clone()));
        }
        if let Some(v) = &params.resource_version_match {
            q.push(("resourceVersionMatch", v.clone()));
        }
        if let Some(v) = params.timeout_seconds {
            q.push(("timeoutSeconds", v.to_string()));
        }
        if params.allow_bookmarks {
            q.push(("allowWatchBookmarks", "true".into()));
        }
        if params.send_initial_events {
            q.push(("sendInitialEvents", "true".into()));
        }
        let resp = self
            .send(
                http::Method::GET,
                &format!("{path}{}", query_string(&q)),
                &[],
                None,
            )
            .await?;
        let code = resp.status().as_u16();
        if !(200..300).contains(&code) {
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::Transport(e.to_string()))?
                .to_bytes();
            return Err(error_from(code, &body));
        }
        Ok(watch_lines(resp.into_body().into_data_stream()))
    }
}

/// Splits a body stream into lines and decodes each as a watch event.
fn watch_lines<S, E>(data: S) -> WatchStream
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    let state = (data, Vec::<u8>::new(), false);
    Box::pin(futures::stream::unfold(
        state,
        |(mut data, mut buf, mut done)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let ev = serde_json::from_slice::<WatchEvent<Value>>(&line)
                        .map_err(|e| Error::Decode(e.to_string()));
                    return Some((ev, (data, buf, done)));
                }
                if done {
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    let line = std::mem::take(&mut buf);
                    let ev = serde_json::from_slice::<WatchEvent<Value>>(&line)
                        .map_err(|e| Error::Decode(e.to_string()));
                    return Some((ev, (data, buf, done)));
                }
                match data.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        done = true;
                        buf.clear();
                        return Some((Err(Error::Transport(e.to_string())), (data, buf, done)));
                    }
                    None => done = true,
                }
            }
        },
    ))
}

/// The TCP (+ TLS) connector of the pooled client.
#[derive(Clone)]
struct Connector {
    tls: Arc<rustls::ClientConfig>,
    server_name: Option<String>,
}

/// A connection: plain TCP or TLS over TCP.
enum Conn {
    Plain(TokioIo<tokio::net::TcpStream>),
    Tls(
        Box<TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>,
        bool,
    ),
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        match self {
            Conn::Tls(_, true) => Connected::new().negotiated_h2(),
            _ => Connected::new(),
        }
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Conn::Tls(io, _) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Conn::Tls(io, _) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_flush(cx),
            Conn::Tls(io, _) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Conn::Tls(io, _) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tower::Service<http::Uri> for Connector {
    type Response = Conn;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = self.tls.clone();
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let invalid =
                |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
            let host = uri
                .host()
                .ok_or_else(|| invalid("no host in URL"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            if !https {
                return Ok(Conn::Plain(TokioIo::new(tcp)));
            }
            let name = ServerName::try_from(server_name.unwrap_or(host))
                .map_err(|e| invalid(&e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok(Conn::Tls(Box::new(TokioIo::new(stream)), h2))
        })
    }
}

/// `insecure-skip-tls-verify`: accepts any server certificate (signatures are still checked).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watch_lines_split_across_chunks() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(
                b"{\"type\":\"ADDED\",\"object\":{\"a\":",
            )),
            Ok(Bytes::from_static(
                b"1}}\n\n{\"type\":\"DELETED\",\"object\":{}}\n{\"type\":\"BOOKMARK\",",
            )),
            Ok(Bytes::from_static(b"\"object\":{}}")),
        ];
        let evs: Vec<_> = watch_lines(futures::stream::iter(chunks)).collect().await;
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].as_ref().unwrap().object["a"], 1);
        assert_eq!(
            evs[2].as_ref().unwrap().type_,
            kubox_core::meta::WatchEventType::Bookmark
        );
    }

    #[test]
    fn errors_become_api_errors() {
        let e = error_from(404, br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"x"}"#);
        assert!(e.is_not_found());
        let e = error_from(502, b"bad gateway");
        assert_eq!(e.code(), Some(502));
        let body = delete_body(&DeleteParams {
            dry_run: true,
            ..Default::default()
        });
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["dryRun"], serde_json::json!(["All"]));
        assert_eq!(v["kind"], "DeleteOptions");
    }
}
