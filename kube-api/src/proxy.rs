//! `pods/log` and `pods/exec`: the API server as a proxy to the kubelet, as kube-apiserver
//! does it (`pkg/registry/core/pod/rest/log.go` and `subresources.go`, `LogLocation` and
//! `ExecLocation` of `pkg/registry/core/pod/strategy.go`, the kubelet client of
//! `pkg/kubelet/client`).
//!
//! # The path of a request
//!
//! 1. **Authorization** of the user: `get` on `pods/log`; `create` on `pods/exec` for the
//!    SPDY `POST`; for the WebSocket `GET` both `get` (the request's own verb) and `create`
//!    (Kubernetes 1.35's `AuthorizePodWebsocketUpgradeCreatePermission`, beta and on by
//!    default: a WebSocket upgrade must not open a shell to someone who may only `get`).
//! 2. **Options** from the query: [`PodLogOptions`] (undecodable values are 400, invalid ones
//!    422 `PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than
//!    or equal to 0`), `PodExecOptions` (`command` repeated, `container`, `stdin`, `stdout`,
//!    `stderr`, `tty`).
//! 3. **Pod and container** (read with the server's own rights): 404 `pods "x" not found`;
//!    400 `container x is not valid for pod y`; without `container`, the pod's only
//!    container, else 400 `a container name must be specified for pod y, choose one of:
//!    [a b]` (init, app and ephemeral containers, as Kubernetes lists them). The
//!    `kubectl.kubernetes.io/default-container` annotation is kubectl's business, not the
//!    server's: kubectl reads it and sends `container=`, as it does to kube-apiserver.
//! 4. **Node**: a pod without `spec.nodeName` has an empty log (200, no body, as
//!    kube-apiserver's nil location) and cannot exec (400 `pod x does not have a host
//!    assigned`). The Node gives the address — the first of
//!    [`KubeletClientConfig::preferred_address_types`] found in `status.addresses`, else 500
//!    `no preferred addresses found; known addresses: [{Hostname n1}]` — and the port,
//!    `status.daemonEndpoints.kubeletEndpoint.Port` or [`KUBELET_PORT`].
//! 5. **The kubelet** over HTTPS with a bearer token ([`KubeletClientConfig`]):
//!    `GET /containerLogs/{ns}/{pod}/{container}?…` streamed through as `text/plain` (a
//!    `follow` stream lasts until the container exits or the client goes away), or a
//!    WebSocket to `/exec/{ns}/{pod}/{container}?command=…` relayed frame by frame. The
//!    kubelet's errors become a `Status` as kube-apiserver's `GenericHttpResponseChecker`
//!    makes them: 400 → `BadRequest` with the kubelet's text (`previous terminated container
//!    "c" in pod "p" not found`), 500 → `InternalError`, 404 → `NotFound` `the server could
//!    not find the requested resource ( pods/log web)`, others by code. A kubelet that
//!    cannot be reached is 500 with Go's dial error text, as kube-apiserver answers
//!    (`Get "https://10.0.0.5:10250/containerLogs/…": dial tcp 10.0.0.5:10250: connect:
//!    connection refused` for logs, `error dialing backend: dial tcp …` for exec).
//!
//! # The exec relay interface (for the SPDY/3.1 front)
//!
//! The client side of an exec is a pair of channels of *channel frames* `(u8, Bytes)`,
//! where the `u8` is the Kubernetes stream channel: 0 stdin, 1 stdout, 2 stderr, 3 error (a
//! `metav1.Status` JSON: `Success`, or `Failure` with reason `NonZeroExitCode` and an
//! `ExitCode` cause), 4 resize (`{"Width":…,"Height":…}`), 255 close (payload `[0]`: the
//! client closed stdin). The WebSocket front (`v5.channel.k8s.io`, `v4.channel.k8s.io`,
//! here) and the SPDY/3.1 front (`crate::spdy`) both turn their wire format into these
//! frames; the kubelet side always speaks WebSocket (`v5`, so a client's stdin close
//! reaches the command). The flow, in `serve_exec` (the SPDY front's `crate::spdy::serve_exec`
//! takes over after `exec_target` when the request says `Upgrade: SPDY/3.1`):
//!
//! ```text
//! let target = exec_target(server, user, method, ns, pod, &query).await?; // authz, pod, node
//! // ← here the upgrade protocol is chosen ("Upgrade: SPDY/3.1" branch goes here)
//! let kubelet = connect_exec(&target).await?;      // dial the kubelet before answering 101
//! // answer 101, then once upgraded:
//! tokio::spawn(relay_exec(kubelet, from_client_rx, to_client_tx));
//! ```
//!
//! - `from_client`: what the client sends. The front sends `(0, data)` for stdin,
//!   `(4, json)` for a resize and `(255, [0])` when the client half-closes stdin (an SPDY
//!   stdin stream's FIN); dropping the sender means the client went away, and the kubelet
//!   session is closed.
//! - `to_client`: what the kubelet sends (`(1, …)`, `(2, …)`, then `(3, status)` last).
//!   `relay_exec` drops it when the kubelet ends the session: the front then closes the
//!   client connection (WebSocket: a close frame with code 1000, which client-go needs to
//!   end its streams with EOF).

use crate::auth::UserInfo;
use crate::errors::{self, FieldError, Result};
use crate::http::query::{percent_encode, Query};
use crate::http::route::ResourcePath;
use crate::server::ApiServer;
use axum::body::Body;
use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt};
use http::{header, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The kubelet's default port (`--kubelet-port`), used when a Node publishes none.
pub const KUBELET_PORT: u16 = 10250;

/// kube-apiserver's default `--kubelet-preferred-address-types`.
pub const KUBERNETES_PREFERRED_ADDRESS_TYPES: [&str; 5] = [
    "Hostname",
    "InternalDNS",
    "InternalIP",
    "ExternalDNS",
    "ExternalIP",
];

/// Our default address order: Kubernetes' with `InternalIP` first. A kubelet publishes its
/// node name as the `Hostname` address, and node names of an embedded cluster (`node-1`)
/// rarely resolve in DNS; the InternalIP always connects. k3s and most managed
/// distributions run kube-apiserver with InternalIP first for the same reason.
pub const PREFERRED_ADDRESS_TYPES: [&str; 5] = [
    "InternalIP",
    "Hostname",
    "InternalDNS",
    "ExternalDNS",
    "ExternalIP",
];

/// The exec subprotocols served to clients, most preferred first.
pub const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The stdin channel of the remote-command protocol.
pub const STDIN: u8 = 0;
/// The stdout channel.
pub const STDOUT: u8 = 1;
/// The stderr channel.
pub const STDERR: u8 = 2;
/// The error channel: the command's final `metav1.Status`.
pub const ERROR: u8 = 3;
/// The terminal resize channel (`{"Width":…,"Height":…}`).
pub const RESIZE: u8 = 4;
/// The close channel of `v5.channel.k8s.io` (payload: the channel closed, `[0]` for stdin).
pub const CLOSE: u8 = 255;

/// Largest error body read from a kubelet (kube-apiserver's `maxReadLength`).
const MAX_ERROR_BODY: usize = 50_000;

/// How the API server reaches kubelets (kube-apiserver's `--kubelet-*` flags).
///
/// Kubernetes authenticates to kubelets with a client certificate
/// (`--kubelet-client-certificate`); kubox uses a bearer token, which the kubelet's server
/// checks (`kube_node::server::StaticToken`). Without a CA
/// (`--kubelet-certificate-authority` unset) the kubelet's serving certificate is not
/// verified, as in Kubernetes: kubelets serve self-signed certificates by default.
#[derive(Clone)]
pub struct KubeletClientConfig {
    /// The bearer token sent to kubelets (`None`: no `Authorization` header).
    pub token: Option<String>,
    /// Which `status.addresses` entry of the Node is dialled, first match wins (default
    /// [`PREFERRED_ADDRESS_TYPES`]).
    pub preferred_address_types: Vec<String>,
    /// The port when the Node publishes no `daemonEndpoints.kubeletEndpoint.Port`
    /// ([`KUBELET_PORT`]).
    pub default_port: u16,
    /// How long dialling a kubelet (TCP and TLS) may take (30 s, as kube-apiserver's
    /// kubelet dialer).
    pub dial_timeout: Duration,
    roots: Option<Arc<rustls::RootCertStore>>,
}

impl std::fmt::Debug for KubeletClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClientConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("preferred_address_types", &self.preferred_address_types)
            .field("default_port", &self.default_port)
            .field("dial_timeout", &self.dial_timeout)
            .field("verify_tls", &self.roots.is_some())
            .finish()
    }
}

impl Default for KubeletClientConfig {
    fn default() -> Self {
        KubeletClientConfig {
            token: None,
            preferred_address_types: PREFERRED_ADDRESS_TYPES.map(String::from).to_vec(),
            default_port: KUBELET_PORT,
            dial_timeout: Duration::from_secs(30),
            roots: None,
        }
    }
}

impl KubeletClientConfig {
    /// The defaults: no token, no certificate verification, [`PREFERRED_ADDRESS_TYPES`],
    /// port [`KUBELET_PORT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `Authorization: Bearer <token>` to kubelets.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Verifies kubelets' serving certificates against the CA bundle `ca_pem`
    /// (`--kubelet-certificate-authority`).
    pub fn with_certificate_authority(mut self, ca_pem: &str) -> crate::tls::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in crate::tls::parse_certs(ca_pem)? {
            roots.add(cert)?;
        }
        self.roots = Some(Arc::new(roots));
        Ok(self)
    }

    /// The address types to dial, in order (`--kubelet-preferred-address-types`).
    #[must_use]
    pub fn with_preferred_address_types(mut self, types: &[&str]) -> Self {
        self.preferred_address_types = types.iter().map(|t| t.to_string()).collect();
        self
    }

    fn tls(&self) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
        let provider = crate::tls::provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let mut cfg = match &self.roots {
            Some(roots) => builder
                .with_root_certificates(roots.clone())
                .with_no_client_auth(),
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
                .with_no_client_auth(),
        };
        // WebSocket upgrades need HTTP/1.1; log streams are fine with it.
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// Accepts any serving certificate (still checking the handshake signatures): kubelets
/// serve self-signed certificates unless the cluster gives them CA-signed ones.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/// `PodLogOptions`: what `GET pods/{name}/log` takes as query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodLogOptions {
    /// `container`: which container (optional for a pod with one container).
    pub container: Option<String>,
    /// `follow`: keep streaming until the container exits.
    pub follow: bool,
    /// `previous`: the log of the previous (terminated) instance of the container.
    pub previous: bool,
    /// `timestamps`: prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// `sinceSeconds`: only lines newer than this many seconds (> 0).
    pub since_seconds: Option<i64>,
    /// `sinceTime`: only lines after this time (not with `sinceSeconds`).
    pub since_time: Option<jiff::Timestamp>,
    /// `tailLines`: only the last N lines (>= 0).
    pub tail_lines: Option<i64>,
    /// `limitBytes`: stop after about this many bytes (> 0).
    pub limit_bytes: Option<i64>,
    /// `insecureSkipTLSVerifyBackend`: don't verify the kubelet's serving certificate even
    /// when [`KubeletClientConfig`] has a CA.
    pub insecure_skip_tls_verify_backend: bool,
}

/// The first value of `key` (Go's query-parameter conversion reads `values[0]`).
fn first<'a>(q: &'a Query, key: &str) -> Option<&'a str> {
    q.all(key).into_iter().next()
}

/// Go's `Convert_Slice_string_To_bool`: absent is false, `0`/`false` (any case) is false,
/// anything else true.
fn go_bool(q: &Query, key: &str) -> bool {
    match first(q, key) {
        None => false,
        Some(v) => !(v == "0" || v.eq_ignore_ascii_case("false")),
    }
}

/// Go's `Convert_Slice_string_To_Pointer_int64`: empty is unset, else `strconv.ParseInt`.
fn go_int(q: &Query, key: &str) -> Result<Option<i64>> {
    match first(q, key) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            errors::bad_request(format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
        }),
    }
}

impl PodLogOptions {
    /// The options of a query string; 400 for a value that does not decode.
    pub fn from_query(q: &Query) -> Result<Self> {
        let since_time = match first(q, "sinceTime") {
            None | Some("") => None,
            Some(v) => Some(v.parse::<jiff::Timestamp>().map_err(|e| {
                errors::bad_request(format!(
                    "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": {e}"
                ))
            })?),
        };
        Ok(PodLogOptions {
            container: first(q, "container")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            follow: go_bool(q, "follow"),
            previous: go_bool(q, "previous"),
            timestamps: go_bool(q, "timestamps"),
            since_seconds: go_int(q, "sinceSeconds")?,
            since_time,
            tail_lines: go_int(q, "tailLines")?,
            limit_bytes: go_int(q, "limitBytes")?,
            insecure_skip_tls_verify_backend: go_bool(q, "insecureSkipTLSVerifyBackend"),
        })
    }

    /// `ValidatePodLogOptions`: 422 `PodLogOptions "<pod>" is invalid: …`.
    pub fn validate(&self, pod: &str) -> Result<()> {
        let mut errs = Vec::new();
        if let Some(n) = self.tail_lines.filter(|n| *n < 0) {
            errs.push(FieldError::invalid(
                "tailLines",
                &n.to_string(),
                "must be greater than or equal to 0",
            ));
        }
        if let Some(n) = self.limit_bytes.filter(|n| *n < 1) {
            errs.push(FieldError::invalid(
                "limitBytes",
                &n.to_string(),
                "must be greater than 0",
            ));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => errs.push(FieldError::forbidden(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(n), None) if n < 1 => errs.push(FieldError::invalid(
                "sinceSeconds",
                &n.to_string(),
                "must be greater than 0",
            )),
            _ => {}
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errors::invalid("", "PodLogOptions", pod, &errs))
        }
    }

    /// The kubelet's query (`LogLocation`: `url.Values.Encode`, keys sorted).
    fn kubelet_query(&self) -> String {
        let mut p: Vec<(&str, String)> = Vec::new();
        if self.follow {
            p.push(("follow", "true".into()));
        }
        if let Some(n) = self.limit_bytes {
            p.push(("limitBytes", n.to_string()));
        }
        if self.previous {
            p.push(("previous", "true".into()));
        }
        if let Some(n) = self.since_seconds {
            p.push(("sinceSeconds", n.to_string()));
        }
        if let Some(t) = self.since_time {
            p.push(("sinceTime", t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        if let Some(n) = self.tail_lines {
            p.push(("tailLines", n.to_string()));
        }
        if self.timestamps {
            p.push(("timestamps", "true".into()));
        }
        encode_query(&p)
    }
}

fn encode_query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `PodExecOptions` from the query (Go's conversion: booleans are true unless `0`/`false`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ExecOptions {
    container: Option<String>,
    command: Vec<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

impl ExecOptions {
    fn from_query(q: &Query) -> Self {
        ExecOptions {
            container: first(q, "container")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            command: q.all("command").into_iter().map(str::to_string).collect(),
            stdin: go_bool(q, "stdin"),
            stdout: go_bool(q, "stdout"),
            stderr: go_bool(q, "stderr"),
            tty: go_bool(q, "tty"),
        }
    }

    /// `streamParams`: `command` repeated, the flags as `1` (sorted as `url.Values.Encode`).
    fn kubelet_query(&self) -> String {
        let mut p: Vec<(&str, String)> = self
            .command
            .iter()
            .map(|c| ("command", c.clone()))
            .collect();
        for (set, key) in [
            (self.stderr, "error"),
            (self.stdin, "input"),
            (self.stdout, "output"),
            (self.tty, "tty"),
        ] {
            if set {
                p.push((key, "1".into()));
            }
        }
        encode_query(&p)
    }
}

// ---------------------------------------------------------------------------------------
// Pod, container, node
// ---------------------------------------------------------------------------------------

async fn get_object(
    server: &ApiServer,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value> {
    // Read with the server's own rights: the user was authorized for the subresource.
    server.read_core_object(resource, namespace, name).await
}

fn container_names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `validateContainer`: the container a request addresses.
fn validate_container(pod: &Value, name: &str, container: Option<&str>) -> Result<String> {
    let app = container_names(pod, "containers");
    let mut all = container_names(pod, "initContainers");
    all.extend(app.iter().cloned());
    all.extend(container_names(pod, "ephemeralContainers"));
    match container {
        None => match app.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(errors::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => Err(errors::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))),
        },
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(errors::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
    }
}

/// `host:port` as Go's `net.JoinHostPort` writes it.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `NodeConnectionInfoGetter.GetConnectionInfo`: the preferred address and the kubelet port
/// of `node`.
async fn node_endpoint(
    server: &ApiServer,
    cfg: &KubeletClientConfig,
    node: &str,
) -> Result<(String, u16)> {
    let node = get_object(server, "nodes", None, node).await?;
    let addresses: Vec<(String, String)> = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    let s = |k| x.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (s("type"), s("address"))
                })
                .collect()
        })
        .unwrap_or_default();
    let host = preferred_address(&cfg.preferred_address_types, &addresses)?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(cfg.default_port);
    Ok((host, port))
}

/// `GetPreferredNodeAddress`: the first address of the first preferred type present, else
/// 500 `no preferred addresses found; known addresses: [{Type address} …]`.
fn preferred_address(types: &[String], addresses: &[(String, String)]) -> Result<String> {
    types
        .iter()
        .find_map(|t| addresses.iter().find(|(ty, _)| ty == t).map(|(_, a)| a))
        .cloned()
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|(t, a)| format!("{{{t} {a}}}"))
                .collect();
            errors::new(
                500,
                "",
                format!(
                    "no preferred addresses found; known addresses: [{}]",
                    known.join(" ")
                ),
            )
        })
}

/// Where a pod's container runs: the container's name and the kubelet's address (`None`
/// for a pod not scheduled yet).
struct Location {
    container: String,
    kubelet: Option<(String, u16)>,
}

async fn locate(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    container: Option<&str>,
) -> Result<Location> {
    let pod = get_object(server, "pods", Some(namespace), name).await?;
    let container = validate_container(&pod, name, container)?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kubelet = if node.is_empty() {
        None
    } else {
        Some(node_endpoint(server, server.kubelet_client_config(), node).await?)
    };
    Ok(Location { container, kubelet })
}

async fn authorize(
    server: &ApiServer,
    user: &UserInfo,
    verb: &str,
    namespace: &str,
    name: &str,
    sub: &str,
) -> Result<()> {
    let pods =
        kubox_core::registry::find("", "v1", "pods").ok_or_else(errors::resource_not_found)?;
    server
        .authorize(user, verb, pods, Some(namespace), sub, Some(name))
        .await
}

// ---------------------------------------------------------------------------------------
// Talking to the kubelet
// ---------------------------------------------------------------------------------------

/// Go's text for a failed dial (`dial tcp 10.0.0.5:10250: connect: connection refused`).
fn dial_error(addr: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => format!("dial tcp {addr}: connect: connection refused"),
        K::TimedOut => format!("dial tcp {addr}: i/o timeout"),
        K::ConnectionReset => format!("dial tcp {addr}: connect: connection reset by peer"),
        _ if e.to_string().contains("lookup") => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            format!(
                "dial tcp: lookup {}: no such host",
                host.trim_matches(['[', ']'])
            )
        }
        _ => format!("dial tcp {addr}: {e}"),
    }
}

/// TCP, then TLS, to the kubelet at `host:port`; the error in Go's words.
async fn dial(
    cfg: &KubeletClientConfig,
    host: &str,
    port: u16,
) -> std::result::Result<TlsStream<TcpStream>, String> {
    let addr = join_host_port(host, port);
    let timeout = |what: &str| format!("dial tcp {addr}: {what}: i/o timeout");
    let tcp = tokio::time::timeout(cfg.dial_timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| timeout("connect"))?
        .map_err(|e| dial_error(&addr, &e))?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("tls: invalid server name {host:?}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(cfg.tls()?);
    tokio::time::timeout(cfg.dial_timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| format!("net/http: TLS handshake timeout ({addr})"))?
        .map_err(|e| format!("tls: {e}"))
}

/// A kubelet's error answer as kube-apiserver's `GenericHttpResponseChecker` turns it into
/// a `Status` (`resource` is `pods/log` or `pods/exec`).
fn kubelet_error(code: u16, body: &[u8], resource: &str, name: &str) -> errors::Error {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    let text = text.trim_end().to_string();
    match code {
        500 => errors::internal(&text),
        400 => errors::bad_request(text),
        _ => generic_server_response(code, resource, name, &text),
    }
}

/// apimachinery's `NewGenericServerResponse(code, "", resource, name, message, 0, false)`.
fn generic_server_response(code: u16, resource: &str, name: &str, server: &str) -> errors::Error {
    let (reason, message) = match code {
        401 => (
            "Unauthorized",
            "the server has asked for the client to provide credentials".to_string(),
        ),
        403 => ("Forbidden", server.to_string()),
        404 => (
            "NotFound",
            "the server could not find the requested resource".to_string(),
        ),
        405 => (
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
        ),
        409 => ("Conflict", "the server reported a conflict".to_string()),
        422 => (
            "Invalid",
            "the server rejected our request due to an error in our request".to_string(),
        ),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later"
                .to_string(),
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request".to_string(),
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request".to_string(),
        ),
        c if c >= 500 => (
            "InternalError",
            format!("an error on the server ({server:?}) has prevented the request from succeeding"),
        ),
        c => (
            "",
            format!("the server responded with the status code {c} but did not return more information"),
        ),
    };
    let mut e = errors::new(code, reason, format!("{message} ( {resource} {name})"));
    e.0.details = Some(kubox_core::meta::StatusDetails {
        name: Some(name.to_string()),
        kind: Some(resource.to_string()),
        ..Default::default()
    });
    e
}

/// A pod's log: bytes as the kubelet streams them.
pub type LogStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Aborts the kubelet connection's task when the log stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Validates, locates and opens a pod's log (no authorization: the caller did it).
pub(crate) async fn open_logs(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    opts: &PodLogOptions,
) -> Result<LogStream> {
    opts.validate(name)?;
    let loc = locate(server, namespace, name, opts.container.as_deref()).await?;
    let Some((host, port)) = loc.kubelet else {
        // Not scheduled: kube-apiserver's nil location streams nothing.
        return Ok(Box::pin(futures::stream::empty()));
    };
    let mut cfg = server.kubelet_client_config().clone();
    if opts.insecure_skip_tls_verify_backend {
        cfg.roots = None;
    }
    let cfg = &cfg;
    let path = format!(
        "/containerLogs/{}/{}/{}",
        percent_encode(namespace),
        percent_encode(name),
        percent_encode(&loc.container)
    );
    let query = opts.kubelet_query();
    let path_and_query = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let authority = join_host_port(&host, port);
    let url = format!("https://{authority}{path_and_query}");
    let fail = |what: String| errors::new(500, "", format!("Get {url:?}: {what}"));
    let tls = dial(cfg, &host, port).await.map_err(&fail)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let conn = AbortOnDrop(tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "kubelet log connection ended");
        }
    }));
    let mut req = http::Request::get(path_and_query)
        .header(header::HOST, authority.as_str())
        .header(header::USER_AGENT, "kube-apiserver/kubox");
    if let Some(t) = &cfg.token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| fail(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let code = resp.status().as_u16();
    if !(200..=206).contains(&code) {
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(kubelet_error(code, &body, "pods/log", name));
    }
    let data = resp.into_body().into_data_stream().map(move |r| {
        let _keep = &conn;
        r.map_err(std::io::Error::other)
    });
    Ok(Box::pin(data))
}

impl ApiServer {
    /// A pod's container log as the kubelet streams it (`GET pods/{name}/log`): authorizes
    /// `get` on `pods/log` for `user`, validates `opts`, resolves the container and the node,
    /// and opens `/containerLogs` on the kubelet (see [`crate::proxy`] for every error). A
    /// `follow` stream ends when the container exits; dropping it closes the kubelet
    /// connection.
    pub async fn pod_logs(
        &self,
        user: &UserInfo,
        namespace: &str,
        name: &str,
        opts: &PodLogOptions,
    ) -> Result<LogStream> {
        authorize(self, user, "get", namespace, name, "log").await?;
        open_logs(self, namespace, name, opts).await
    }
}

// ---------------------------------------------------------------------------------------
// Exec
// ---------------------------------------------------------------------------------------

/// An authorized, located exec: the kubelet URL to open.
#[derive(Clone, Debug)]
pub(crate) struct ExecTarget {
    host: String,
    port: u16,
    /// `/exec/{ns}/{pod}/{container}?command=…&output=1…`.
    path_and_query: String,
    /// The pod's name (for error messages).
    pod: String,
    cfg: KubeletClientConfig,
}

/// Authorizes and locates an exec (steps 1–4 of the module docs): `method` is the client's
/// (`GET` for a WebSocket upgrade, `POST` for SPDY).
pub(crate) async fn exec_target(
    server: &ApiServer,
    user: &UserInfo,
    method: &Method,
    namespace: &str,
    name: &str,
    q: &Query,
) -> Result<ExecTarget> {
    if method == Method::GET {
        authorize(server, user, "get", namespace, name, "exec").await?;
    }
    // POST is `create`; a WebSocket GET also needs `create`
    // (AuthorizePodWebsocketUpgradeCreatePermission).
    authorize(server, user, "create", namespace, name, "exec").await?;
    let opts = ExecOptions::from_query(q);
    let loc = locate(server, namespace, name, opts.container.as_deref()).await?;
    let Some((host, port)) = loc.kubelet else {
        return Err(errors::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    let path = format!(
        "/exec/{}/{}/{}",
        percent_encode(namespace),
        percent_encode(name),
        percent_encode(&loc.container)
    );
    Ok(ExecTarget {
        host,
        port,
        path_and_query: format!("{path}?{}", opts.kubelet_query()),
        pod: name.to_string(),
        cfg: server.kubelet_client_config().clone(),
    })
}

/// An open exec session on a kubelet (a `v5.channel.k8s.io` or `v4.channel.k8s.io`
/// WebSocket), ready for [`relay_exec`].
pub(crate) struct KubeletExec {
    ws: WebSocketStream<TlsStream<TcpStream>>,
    v5: bool,
}

impl std::fmt::Debug for KubeletExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletExec")
            .field("v5", &self.v5)
            .finish_non_exhaustive()
    }
}

/// Opens the exec WebSocket on the kubelet (before the client is answered `101`, so that
/// a failure is still an HTTP `Status`): 500 `error dialing backend: …` when the kubelet
/// cannot be reached, the kubelet's refusal mapped as for logs otherwise.
pub(crate) async fn connect_exec(target: &ExecTarget) -> Result<KubeletExec> {
    let dial_failed = |e: String| errors::new(500, "", format!("error dialing backend: {e}"));
    let tls = dial(&target.cfg, &target.host, target.port)
        .await
        .map_err(dial_failed)?;
    let url = format!(
        "wss://{}{}",
        join_host_port(&target.host, target.port),
        target.path_and_query
    );
    let mut req = url
        .into_client_request()
        .map_err(|e| errors::internal(format!("exec request: {e}")))?;
    let h = req.headers_mut();
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
    );
    if let Some(t) = &target.cfg.token {
        let v = HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|_| errors::internal("the kubelet token is not a valid header value"))?;
        h.insert(header::AUTHORIZATION, v);
    }
    use tokio_tungstenite::tungstenite::Error as WsError;
    match tokio_tungstenite::client_async(req, tls).await {
        Ok((ws, resp)) => {
            let v5 = resp
                .headers()
                .get(header::SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok())
                == Some(EXEC_PROTOCOLS[0]);
            Ok(KubeletExec { ws, v5 })
        }
        Err(WsError::Http(resp)) => {
            let code = resp.status().as_u16();
            let body = resp.body().clone().unwrap_or_default();
            Err(kubelet_error(code, &body, "pods/exec", &target.pod))
        }
        Err(e) => Err(dial_failed(e.to_string())),
    }
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut buf = Vec::with_capacity(data.len() + 1);
    buf.push(channel);
    buf.extend_from_slice(data);
    Message::binary(buf)
}

/// Relays one exec session between a client and the kubelet, as channel frames
/// `(channel, payload)` (see the module docs for the interface). Returns when the kubelet
/// ends the session (after the last frame went into `to_client`, which is then dropped) or
/// when the client went away (`from_client` closed: the kubelet session is closed).
pub(crate) async fn relay_exec(
    kubelet: KubeletExec,
    mut from_client: mpsc::Receiver<(u8, Bytes)>,
    to_client: mpsc::Sender<(u8, Bytes)>,
) {
    let v5 = kubelet.v5;
    let (mut sink, mut stream) = kubelet.ws.split();
    let upstream = async {
        while let Some((channel, data)) = from_client.recv().await {
            if channel == CLOSE && !v5 {
                // v4 has no way to close stdin; the session ends with the command.
                continue;
            }
            if sink.send(frame(channel, &data)).await.is_err() {
                return;
            }
        }
        // The client went away: end the command's session.
        let _ = sink.close().await;
    };
    let downstream = async {
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(Message::Binary(b)) if !b.is_empty() => {
                    if to_client.send((b[0], b.slice(1..))).await.is_err() {
                        return;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        () = downstream => {}
        () = upstream => {}
    }
}

/// The client's WebSocket (server role) as channel frames, relayed with [`relay_exec`].
async fn serve_websocket(upgraded: hyper::upgrade::Upgraded, kubelet: KubeletExec) {
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
    let (mut sink, mut stream) = ws.split();
    let (in_tx, in_rx) = mpsc::channel::<(u8, Bytes)>(16);
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(16);
    let relay = tokio::spawn(relay_exec(kubelet, in_rx, out_tx));
    let reader = tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(Message::Binary(b)) if !b.is_empty() => {
                    if in_tx.send((b[0], b.slice(1..))).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        // Dropping `in_tx` tells the relay the client is gone.
    });
    while let Some((channel, data)) = out_rx.recv().await {
        if sink.send(frame(channel, &data)).await.is_err() {
            break;
        }
    }
    // A normal closure (1000): client-go's WebSocket reader ends its streams with EOF only
    // for that code (a bare close frame, 1005, fails the error stream).
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
    let _ = sink.close().await;
    // Let the client answer the close frame, then stop reading.
    let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    relay.abort();
}

fn offered_protocols(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .filter(|p| !p.is_empty())
        .collect()
}

fn header_has(headers: &http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn upgrade_required() -> errors::Error {
    errors::bad_request("Upgrade request required")
}

/// `pods/exec` over HTTP: a WebSocket upgrade relayed to the kubelet.
async fn serve_exec(
    server: &ApiServer,
    user: &UserInfo,
    namespace: &str,
    name: &str,
    parts: &http::request::Parts,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<axum::response::Response> {
    let q = Query::parse(parts.uri.query());
    let target = exec_target(server, user, &parts.method, namespace, name, &q).await?;
    let headers = &parts.headers;
    // The SPDY/3.1 front (`Upgrade: SPDY/3.1`, POST): it answers with its own 101 after
    // `connect_exec(&target)` and relays with `relay_exec`.
    if crate::spdy::is_upgrade_request(headers) {
        return crate::spdy::serve_exec(&target, parts, on_upgrade).await;
    }
    if !header_has(headers, header::UPGRADE, "websocket") {
        return Err(upgrade_required());
    }
    let offered = offered_protocols(headers);
    let Some(protocol) = EXEC_PROTOCOLS
        .into_iter()
        .find(|p| offered.iter().any(|o| o == p))
    else {
        return Err(errors::bad_request(format!(
            "requested protocol(s) are not supported: [{}]; supports [{}]",
            offered.join(" "),
            EXEC_PROTOCOLS.join(" ")
        )));
    };
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(errors::bad_request(
            "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing",
        ));
    };
    let Some(on_upgrade) = on_upgrade else {
        // HTTP/2 has no Upgrade.
        return Err(upgrade_required());
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let kubelet = connect_exec(&target).await?;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve_websocket(upgraded, kubelet).await,
            Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
        }
    });
    let mut r = axum::response::Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).map_err(errors::internal)?,
    );
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    Ok(r)
}

/// `pods/log` over HTTP: the kubelet's stream as `text/plain`.
async fn serve_log(
    server: &ApiServer,
    user: &UserInfo,
    namespace: &str,
    name: &str,
    parts: &http::request::Parts,
) -> Result<axum::response::Response> {
    let q = Query::parse(parts.uri.query());
    authorize(server, user, "get", namespace, name, "log").await?;
    let opts = PodLogOptions::from_query(&q)?;
    let stream = open_logs(server, namespace, name, &opts).await?;
    let mut r = axum::response::Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(r)
}

/// The HTTP front's entry: answers `GET pods/{name}/log` and `GET|POST pods/{name}/exec`
/// (`None` for any other request, which the generic path serves). The error of a failed
/// request is the caller's to write.
pub(crate) async fn serve_http(
    server: &ApiServer,
    user: &UserInfo,
    rp: &ResourcePath,
    parts: &http::request::Parts,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Option<Result<axum::response::Response>> {
    if !rp.info.group.is_empty() || rp.info.plural != "pods" {
        return None;
    }
    let (Some(ns), Some(name), Some(sub)) = (&rp.namespace, &rp.name, &rp.subresource) else {
        return None;
    };
    match (sub.as_str(), &parts.method) {
        ("log", &Method::GET) => Some(serve_log(server, user, ns, name, parts).await),
        ("exec", &Method::GET | &Method::POST) => {
            Some(serve_exec(server, user, ns, name, parts, on_upgrade).await)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_options_decode_as_go_does() {
        let q = Query::parse(Some(
            "container=c&follow=true&previous=1&timestamps=&tailLines=5&limitBytes=10&sinceSeconds=60",
        ));
        let o = PodLogOptions::from_query(&q).unwrap();
        assert_eq!(o.container.as_deref(), Some("c"));
        assert!(o.follow && o.previous && o.timestamps);
        assert_eq!(
            (o.tail_lines, o.limit_bytes, o.since_seconds),
            (Some(5), Some(10), Some(60))
        );
        assert_eq!(
            o.kubelet_query(),
            "follow=true&limitBytes=10&previous=true&sinceSeconds=60&tailLines=5&timestamps=true"
        );
        let o = PodLogOptions::from_query(&Query::parse(Some("follow=false&previous=0"))).unwrap();
        assert!(!o.follow && !o.previous);
        let e = PodLogOptions::from_query(&Query::parse(Some("tailLines=x"))).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (400, r#"strconv.ParseInt: parsing "x": invalid syntax"#)
        );
        assert_eq!(
            PodLogOptions::from_query(&Query::parse(Some("sinceTime=yesterday")))
                .unwrap_err()
                .code(),
            400
        );
        let o = PodLogOptions::from_query(&Query::parse(Some("sinceTime=2026-01-01T00:00:00Z")))
            .unwrap();
        assert_eq!(o.kubelet_query(), "sinceTime=2026-01-01T00%3A00%3A00Z");
    }

    #[test]
    fn log_options_validate_as_kubernetes() {
        let check = |o: PodLogOptions, msg: &str| {
            let e = o.validate("web").unwrap_err();
            assert_eq!((e.code(), e.reason()), (422, "Invalid"));
            assert_eq!(e.message(), msg);
        };
        check(
            PodLogOptions {
                tail_lines: Some(-1),
                ..Default::default()
            },
            r#"PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"#,
        );
        check(
            PodLogOptions {
                limit_bytes: Some(0),
                ..Default::default()
            },
            r#"PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0"#,
        );
        check(
            PodLogOptions {
                since_seconds: Some(0),
                ..Default::default()
            },
            r#"PodLogOptions "web" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"#,
        );
        check(
            PodLogOptions {
                since_seconds: Some(5),
                since_time: Some("2026-01-01T00:00:00Z".parse().unwrap()),
                ..Default::default()
            },
            "PodLogOptions \"web\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
        );
        PodLogOptions {
            tail_lines: Some(0),
            ..Default::default()
        }
        .validate("web")
        .unwrap();
    }

    #[test]
    fn exec_options_become_the_kubelet_query() {
        let q = Query::parse(Some(
            "command=sh&command=-c&command=echo+hi%3B+exit+3&container=c&stdin=true&stdout=true&stderr=true",
        ));
        let o = ExecOptions::from_query(&q);
        assert_eq!(o.command, ["sh", "-c", "echo hi; exit 3"]);
        assert_eq!(o.container.as_deref(), Some("c"));
        assert!(o.stdin && o.stdout && o.stderr && !o.tty);
        assert_eq!(
            o.kubelet_query(),
            "command=sh&command=-c&command=echo%20hi%3B%20exit%203&error=1&input=1&output=1"
        );
    }

    #[test]
    fn containers_are_resolved_as_kubernetes_does() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}],
        }});
        assert_eq!(validate_container(&pod, "p", Some("b")).unwrap(), "b");
        assert_eq!(validate_container(&pod, "p", Some("init")).unwrap(), "init");
        let e = validate_container(&pod, "p", Some("x")).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (400, "container x is not valid for pod p")
        );
        let e = validate_container(&pod, "p", None).unwrap_err();
        assert_eq!(
            e.message(),
            "a container name must be specified for pod p, choose one of: [init a b]"
        );
        let one = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(validate_container(&one, "p", None).unwrap(), "only");
        let none = json!({"spec": {"containers": []}});
        assert_eq!(
            validate_container(&none, "p", None).unwrap_err().message(),
            "a container name must be specified for pod p"
        );
    }

    #[test]
    fn kubelet_errors_become_statuses() {
        let e = kubelet_error(
            400,
            b"previous terminated container \"c\" in pod \"p\" not found",
            "pods/log",
            "p",
        );
        assert_eq!(
            (e.code(), e.reason(), e.message()),
            (
                400,
                "BadRequest",
                "previous terminated container \"c\" in pod \"p\" not found"
            )
        );
        let e = kubelet_error(404, b"pod \"p\" does not exist", "pods/log", "p");
        assert_eq!(
            (e.code(), e.reason(), e.message()),
            (
                404,
                "NotFound",
                "the server could not find the requested resource ( pods/log p)"
            )
        );
        let e = kubelet_error(500, b"boom\n", "pods/exec", "p");
        assert_eq!(
            (e.code(), e.reason(), e.message()),
            (500, "InternalError", "Internal error occurred: boom")
        );
        let e = kubelet_error(401, b"Unauthorized", "pods/log", "p");
        assert_eq!(e.reason(), "Unauthorized");
        let e = kubelet_error(502, b"bad gateway", "pods/log", "p");
        assert_eq!(
            e.message(),
            "an error on the server (\"bad gateway\") has prevented the request from succeeding ( pods/log p)"
        );
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(join_host_port("10.0.0.1", 10250), "10.0.0.1:10250");
        assert_eq!(join_host_port("::1", 10250), "[::1]:10250");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            dial_error("127.0.0.1:1", &refused),
            "dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let cfg = KubeletClientConfig::new().with_token("t");
        assert!(format!("{cfg:?}").contains("<redacted>"));
        assert_eq!(cfg.preferred_address_types[0], "InternalIP");
        assert!(KubeletClientConfig::new()
            .with_certificate_authority("not pem")
            .is_err());
    }

    #[test]
    fn preferred_addresses() {
        let addrs: Vec<(String, String)> = [("Hostname", "n1"), ("InternalIP", "10.0.0.5")]
            .iter()
            .map(|(t, a)| (t.to_string(), a.to_string()))
            .collect();
        let ours = KubeletClientConfig::new().preferred_address_types;
        assert_eq!(preferred_address(&ours, &addrs).unwrap(), "10.0.0.5");
        let k8s: Vec<String> = KUBERNETES_PREFERRED_ADDRESS_TYPES
            .map(String::from)
            .to_vec();
        assert_eq!(preferred_address(&k8s, &addrs).unwrap(), "n1");
        let e = preferred_address(&["ExternalIP".to_string()], &addrs).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                500,
                "no preferred addresses found; known addresses: [{Hostname n1} {InternalIP 10.0.0.5}]"
            )
        );
    }

    /// Allows `verbs` on pod subresources, everything else.
    struct Only(&'static [&'static str]);

    #[async_trait::async_trait]
    impl crate::auth::Authorizer for Only {
        async fn authorize(&self, a: &crate::auth::Attributes<'_>) -> crate::auth::Decision {
            if a.subresource.is_empty() || self.0.contains(&a.verb) {
                crate::auth::Decision::Allow
            } else {
                crate::auth::Decision::NoOpinion(String::new())
            }
        }
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    async fn cluster(authorizer: Arc<dyn crate::auth::Authorizer>, port: u16) -> ApiServer {
        let server = ApiServer::builder(Arc::new(kube_store::embedded::EmbeddedStore::in_memory()))
            .authorizer(authorizer)
            .kubelet_client(KubeletClientConfig {
                default_port: port,
                ..KubeletClientConfig::new().with_token("t")
            })
            .build();
        server.ensure_system_namespaces().await.unwrap();
        let admin = UserInfo::admin();
        let create = |resource: &str, ns: Option<&str>, body: Value| kubox_core::client::Request {
            resource: kubox_core::client::GroupVersionResource {
                group: String::new(),
                version: "v1".into(),
                resource: resource.into(),
            },
            namespace: ns.map(str::to_string),
            name: None,
            subresource: None,
            verb: kubox_core::client::Verb::Create(Default::default()),
            body: Some(body),
        };
        for (name, addresses) in [
            ("bare", json!([])),
            (
                "down",
                json!([{"type": "InternalIP", "address": "127.0.0.1"}]),
            ),
        ] {
            let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                              "status": {"addresses": addresses}});
            server
                .handle(&admin, create("nodes", None, node))
                .await
                .unwrap();
        }
        for (name, node) in [("pending", ""), ("on-bare", "bare"), ("on-down", "down")] {
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}});
            server
                .handle(&admin, create("pods", Some("default"), pod))
                .await
                .unwrap();
        }
        server
    }

    async fn read_all(mut s: LogStream) -> String {
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn log_errors_in_process() {
        let port = closed_port();
        let server = cluster(Arc::new(crate::auth::AllowAll), port).await;
        let admin = UserInfo::admin();
        let opts = |c: &str| PodLogOptions {
            container: Some(c.to_string()),
            ..Default::default()
        };
        let logs = |name: &'static str, o: PodLogOptions| {
            let server = server.clone();
            let admin = admin.clone();
            async move { server.pod_logs(&admin, "default", name, &o).await }
        };
        // Not scheduled: an empty log.
        assert_eq!(
            read_all(logs("pending", opts("a")).await.unwrap()).await,
            ""
        );
        // Container checks come first.
        let e = logs("pending", PodLogOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(
            e.message(),
            "a container name must be specified for pod pending, choose one of: [a b]"
        );
        let e = logs("on-down", opts("c")).await.err().unwrap();
        assert_eq!(
            (e.code(), e.message()),
            (400, "container c is not valid for pod on-down")
        );
        let e = logs("nope", opts("a")).await.err().unwrap();
        assert_eq!((e.code(), e.message()), (404, "pods \"nope\" not found"));
        let bad = PodLogOptions {
            tail_lines: Some(-1),
            ..opts("a")
        };
        assert_eq!(logs("on-down", bad).await.err().unwrap().code(), 422);
        // The node: no address, then nobody listening at the default port.
        let e = logs("on-bare", opts("a")).await.err().unwrap();
        assert_eq!(
            (e.code(), e.message()),
            (500, "no preferred addresses found; known addresses: []")
        );
        let e = logs("on-down", opts("b")).await.err().unwrap();
        assert_eq!(e.code(), 500);
        assert_eq!(
            e.message(),
            format!(
                "Get \"https://127.0.0.1:{port}/containerLogs/default/on-down/b\": \
                 dial tcp 127.0.0.1:{port}: connect: connection refused"
            )
        );
        // In process through `serve` (`crate::oneshot`): the same path and errors for a
        // log; exec is not an upgrade.
        let mut req = kubox_core::client::Request {
            resource: kubox_core::client::GroupVersionResource {
                group: String::new(),
                version: "v1".into(),
                resource: "pods".into(),
            },
            namespace: Some("default".into()),
            name: Some("on-down".into()),
            subresource: Some("log".into()),
            verb: kubox_core::client::Verb::Get,
            body: Some(json!({"container": "b"})),
        };
        let e = server.handle(&admin, req.clone()).await.unwrap_err();
        assert_eq!(e.code(), 500);
        assert!(e.message().contains("connect: connection refused"), "{e:?}");
        req.body = None;
        let e = server.handle(&admin, req.clone()).await.unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                400,
                "a container name must be specified for pod on-down, choose one of: [a b]"
            )
        );
        req.body = Some(json!({"container": "a", "follow": true}));
        assert_eq!(
            server.handle(&admin, req.clone()).await.unwrap_err().code(),
            400
        );
        req.subresource = Some("exec".into());
        req.verb = kubox_core::client::Verb::Create(Default::default());
        let e = server.handle(&admin, req).await.unwrap_err();
        assert_eq!((e.code(), e.message()), (400, "Upgrade request required"));
    }

    #[tokio::test]
    async fn exec_needs_create_even_for_a_websocket_get() {
        let port = closed_port();
        let q = Query::parse(Some("command=true&container=a&stdout=true"));
        let user = UserInfo::new("dev", &["system:authenticated"]);
        // `get` alone: the WebSocket GET still needs `create`.
        let server = cluster(Arc::new(Only(&["get"])), port).await;
        for m in [Method::GET, Method::POST] {
            let e = exec_target(&server, &user, &m, "default", "on-down", &q)
                .await
                .unwrap_err();
            assert_eq!(e.code(), 403, "{m}");
            assert!(
                e.message()
                    .contains(r#"User "dev" cannot create resource "pods/exec""#),
                "{}",
                e.message()
            );
        }
        // `create` alone: POST (SPDY) is fine, the WebSocket GET is not.
        let server = cluster(Arc::new(Only(&["create"])), port).await;
        let e = exec_target(&server, &user, &Method::GET, "default", "on-down", &q)
            .await
            .unwrap_err();
        assert!(e.message().contains("cannot get resource \"pods/exec\""));
        let t = exec_target(&server, &user, &Method::POST, "default", "on-down", &q)
            .await
            .unwrap();
        assert_eq!(
            t.path_and_query,
            "/exec/default/on-down/a?command=true&output=1"
        );
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", port));
        let e = connect_exec(&t).await.unwrap_err();
        assert!(e.message().starts_with("error dialing backend: dial tcp"));
        // Both: located; a pod without a node cannot exec.
        let server = cluster(Arc::new(Only(&["get", "create"])), port).await;
        let e = exec_target(&server, &user, &Method::GET, "default", "pending", &q)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (400, "pod pending does not have a host assigned")
        );
        // Logs need `get` on pods/log.
        let server = cluster(Arc::new(Only(&["create"])), port).await;
        let e = server
            .pod_logs(&user, "default", "pending", &PodLogOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(e.code(), 403);
        assert!(e.message().contains("cannot get resource \"pods/log\""));
    }

    #[tokio::test]
    async fn exec_upgrades_are_checked_before_dialling() {
        let port = closed_port();
        let server = cluster(Arc::new(crate::auth::AllowAll), port).await;
        let admin = UserInfo::admin();
        let path = "/api/v1/namespaces/default/pods/on-down/exec?command=true&container=a&stdout=1";
        let rp = crate::http::route::parse_resource_path(path.split('?').next().unwrap())
            .unwrap()
            .unwrap();
        let call = |headers: &[(&'static str, &'static str)]| {
            let mut b = http::Request::get(path);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            let (parts, ()) = b.body(()).unwrap().into_parts();
            let (server, admin, rp) = (server.clone(), admin.clone(), rp.clone());
            async move {
                serve_http(&server, &admin, &rp, &parts, None)
                    .await
                    .unwrap()
                    .unwrap_err()
            }
        };
        let e = call(&[]).await;
        assert_eq!((e.code(), e.message()), (400, "Upgrade request required"));
        let ws = [
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let mut base64 = ws.to_vec();
        base64.push(("sec-websocket-protocol", "base64.channel.k8s.io"));
        let e = call(&base64).await;
        assert_eq!(
            (e.code(), e.message()),
            (
                400,
                "requested protocol(s) are not supported: [base64.channel.k8s.io]; \
                 supports [v5.channel.k8s.io v4.channel.k8s.io]"
            )
        );
        let mut v5 = ws.to_vec();
        v5.push(("sec-websocket-protocol", "v5.channel.k8s.io"));
        // No connection to upgrade (HTTP/2, or in process).
        let e = call(&v5).await;
        assert_eq!((e.code(), e.message()), (400, "Upgrade request required"));
    }

    #[tokio::test]
    async fn a_kubelet_that_is_down_is_a_dial_error() {
        // A port nothing listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let target = ExecTarget {
            host: "127.0.0.1".into(),
            port,
            path_and_query: "/exec/default/p/c?command=true&output=1".into(),
            pod: "p".into(),
            cfg: KubeletClientConfig::new().with_token("t"),
        };
        let e = connect_exec(&target).await.unwrap_err();
        assert_eq!((e.code(), e.reason()), (500, ""));
        assert_eq!(
            e.message(),
            format!(
                "error dialing backend: dial tcp 127.0.0.1:{port}: connect: connection refused"
            )
        );
    }

    #[test]
    fn websocket_headers() {
        let mut h = http::HeaderMap::new();
        h.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
        );
        h.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("channel.k8s.io"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert_eq!(
            offered_protocols(&h),
            ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"]
        );
        assert!(header_has(&h, header::UPGRADE, "websocket"));
        assert!(!header_has(&h, header::UPGRADE, "SPDY/3.1"));
    }
}
