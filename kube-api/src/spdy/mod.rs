//! The SPDY/3.1 server side of `kubectl exec` / `attach` (remote command streams), for the
//! clients that do not speak WebSocket: kubectl 1.27 and 1.28 always, 1.29 by default, and
//! 1.30+ when the WebSocket upgrade fails.
//!
//! The exchange, as the kubelet serves it (kubernetes/kubernetes
//! `pkg/kubelet/cri/streaming/remotecommand/httpstream.go` over apimachinery's
//! `util/httpstream/spdy` and github.com/moby/spdystream):
//!
//! 1. `POST …/pods/p/exec?command=…&stdout=true…` with `Connection: Upgrade`,
//!    `Upgrade: SPDY/3.1` and one `X-Stream-Protocol-Version` per protocol the client speaks
//!    ([`is_upgrade_request`]).
//! 2. The server picks the client's first protocol it supports among
//!    `v4.channel.k8s.io`, `v3.channel.k8s.io`, `v2.channel.k8s.io`, `channel.k8s.io`
//!    ([`negotiate`], `httpstream.Handshake`) and answers `101 Switching Protocols` with
//!    `Upgrade: SPDY/3.1` and the chosen `X-Stream-Protocol-Version`
//!    ([`switching_protocols`]).
//! 3. On the upgraded connection the client opens one SPDY stream per channel, each with a
//!    `streamtype` header: `error`, `stdin`, `stdout`, `stderr`, `resize` (with a TTY, v3+).
//!    The server accepts each with a SYN_REPLY and waits until all the streams the request
//!    asked for exist ([`accept`], at most [`STREAM_CREATION_TIMEOUT`]).
//!
//! [`accept`] then hands out the session as Kubernetes channel frames, the same shape as the
//! WebSocket `v5.channel.k8s.io` protocol, so one relay serves both transports:
//! [`ExecChannels::from_client`] yields `(0, stdin bytes)`, `(4, resize JSON)` and
//! `(255, [0])` when stdin is closed; [`ExecChannels::to_client`] takes `(1, stdout)`,
//! `(2, stderr)`, `(3, metav1.Status JSON)` and `(255, [n])` to close channel `n`. Dropping
//! `to_client` ends the session: every stream gets its FIN (EOF for kubectl's copies), then
//! GOAWAY.
//!
//! The error channel is translated per protocol, as the kubelet writes it: v4 carries the
//! Status JSON unchanged (kubectl reads `NonZeroExitCode` / `ExitCode` from it); v1–v3 carry
//! nothing for `Success` and the Status `message` as plain text otherwise.
//!
//! Flow control (SPDY/3.1: 64 KiB per stream and per session): the server sends
//! WINDOW_UPDATE frames as it hands received data on. moby/spdystream, kubectl's SPDY
//! library, implements no flow control: it neither sends WINDOW_UPDATE nor waits for it, so
//! this side honours the client's windows only once the client has shown it keeps them (a
//! WINDOW_UPDATE or an initial-window SETTINGS); otherwise a strict sender would stall
//! every kubectl after 64 KiB of output.
//!
//! ```
//! use kube_api::spdy;
//! let mut h = http::HeaderMap::new();
//! h.insert("connection", "Upgrade".parse().unwrap());
//! h.insert("upgrade", "SPDY/3.1".parse().unwrap());
//! h.append("x-stream-protocol-version", "v4.channel.k8s.io".parse().unwrap());
//! h.append("x-stream-protocol-version", "v3.channel.k8s.io".parse().unwrap());
//! assert!(spdy::is_upgrade_request(&h));
//! assert_eq!(spdy::negotiate(&h).unwrap(), spdy::Protocol::V4);
//! let resp = spdy::switching_protocols(spdy::Protocol::V4);
//! assert_eq!(resp.status(), 101);
//! ```

mod conn;
pub mod frame;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// `X-Stream-Protocol-Version` (apimachinery `httpstream.HeaderProtocolVersion`).
pub const HEADER_PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
/// `X-Accepted-Stream-Protocol-Versions`, listed on a failed negotiation.
pub const HEADER_ACCEPTED_PROTOCOL_VERSIONS: &str = "X-Accepted-Stream-Protocol-Versions";
/// The `Upgrade` token (apimachinery `spdy.HeaderSpdy31`).
pub const SPDY_31: &str = "SPDY/3.1";

/// How long [`accept`] waits for the client to open its streams (the kubelet's
/// `DefaultStreamCreationTimeout`).
pub const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Channel numbers of the remote command protocol (as in `v4`/`v5.channel.k8s.io`).
pub mod channel {
    /// Client → server: standard input.
    pub const STDIN: u8 = 0;
    /// Server → client: standard output.
    pub const STDOUT: u8 = 1;
    /// Server → client: standard error.
    pub const STDERR: u8 = 2;
    /// Server → client: the final `metav1.Status` (JSON).
    pub const ERROR: u8 = 3;
    /// Client → server: terminal size JSON (`{"Width":80,"Height":24}`).
    pub const RESIZE: u8 = 4;
    /// Either way: closes the channel named by the one-byte payload (`v5.channel.k8s.io`).
    pub const CLOSE: u8 = 255;
}

/// A remote command stream protocol spoken over SPDY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// `channel.k8s.io`: the first one (the kubelet closes stdin at once).
    V1,
    /// `v2.channel.k8s.io`.
    V2,
    /// `v3.channel.k8s.io`: adds the `resize` stream.
    V3,
    /// `v4.channel.k8s.io`: the error stream carries a JSON `metav1.Status` with the exit
    /// code.
    V4,
}

impl Protocol {
    /// The kubelet's `SupportedStreamingProtocols`, in its order.
    pub const SUPPORTED: [Protocol; 4] = [Protocol::V4, Protocol::V3, Protocol::V2, Protocol::V1];

    /// The protocol's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V1 => "channel.k8s.io",
            Protocol::V2 => "v2.channel.k8s.io",
            Protocol::V3 => "v3.channel.k8s.io",
            Protocol::V4 => "v4.channel.k8s.io",
        }
    }

    /// The protocol named `name`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::SUPPORTED.into_iter().find(|p| p.name() == name)
    }

    /// Whether a TTY gets a `resize` stream (v3 and later).
    pub fn supports_resize(self) -> bool {
        self >= Protocol::V3
    }
}

/// Which streams an exec request asked for (`PodExecOptions` / `PodAttachOptions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// `stdin=true`.
    pub stdin: bool,
    /// `stdout=true`.
    pub stdout: bool,
    /// `stderr=true` (ignored with a TTY, as the kubelet does).
    pub stderr: bool,
    /// `tty=true`.
    pub tty: bool,
}

impl ExecOptions {
    /// Reads `stdin`, `stdout`, `stderr` and `tty` from a URL query string (values as Go's
    /// `strconv.ParseBool`: `1`, `t`, `true`, … ; anything else is false).
    pub fn from_query(query: &str) -> ExecOptions {
        let mut o = ExecOptions::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let on = matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True");
            match k {
                "stdin" => o.stdin = on,
                "stdout" => o.stdout = on,
                "stderr" => o.stderr = on,
                "tty" => o.tty = on,
                _ => {}
            }
        }
        o
    }

    /// The stream types the client opens under `protocol`: always `error`, then those
    /// asked for; `stderr` not with a TTY; `resize` with a TTY from v3 on.
    pub fn expected_streams(&self, protocol: Protocol) -> Vec<StreamType> {
        let mut v = vec![StreamType::Error];
        if self.stdin {
            v.push(StreamType::Stdin);
        }
        if self.stdout {
            v.push(StreamType::Stdout);
        }
        if self.stderr && !self.tty {
            v.push(StreamType::Stderr);
        }
        if self.tty && protocol.supports_resize() {
            v.push(StreamType::Resize);
        }
        v
    }
}

/// The `streamtype` header of a remote command stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// `error`: the final Status.
    Error,
    /// `stdin`.
    Stdin,
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// `resize`: terminal sizes.
    Resize,
}

impl StreamType {
    /// The header value.
    pub fn name(self) -> &'static str {
        match self {
            StreamType::Error => "error",
            StreamType::Stdin => "stdin",
            StreamType::Stdout => "stdout",
            StreamType::Stderr => "stderr",
            StreamType::Resize => "resize",
        }
    }

    /// The stream type named by a `streamtype` header value.
    pub fn from_name(name: &str) -> Option<StreamType> {
        [
            StreamType::Error,
            StreamType::Stdin,
            StreamType::Stdout,
            StreamType::Stderr,
            StreamType::Resize,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// Its channel number.
    pub fn channel(self) -> u8 {
        match self {
            StreamType::Stdin => channel::STDIN,
            StreamType::Stdout => channel::STDOUT,
            StreamType::Stderr => channel::STDERR,
            StreamType::Error => channel::ERROR,
            StreamType::Resize => channel::RESIZE,
        }
    }

    /// The stream type carrying channel `ch`.
    pub fn from_channel(ch: u8) -> Option<StreamType> {
        match ch {
            channel::STDIN => Some(StreamType::Stdin),
            channel::STDOUT => Some(StreamType::Stdout),
            channel::STDERR => Some(StreamType::Stderr),
            channel::ERROR => Some(StreamType::Error),
            channel::RESIZE => Some(StreamType::Resize),
            _ => None,
        }
    }
}

/// Whether `headers` ask for a SPDY/3.1 upgrade: `Connection` contains `upgrade` and
/// `Upgrade` contains `spdy/3.1`, both case-insensitively (apimachinery
/// `responseUpgrader.UpgradeResponse`).
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.to_ascii_lowercase().contains(token))
                .unwrap_or(false)
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "spdy/3.1")
}

/// A refused upgrade: the HTTP answer the kubelet gives instead of `101`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// 400 (no protocol offered) or 403 (none in common).
    pub code: StatusCode,
    /// The kubelet's message.
    pub message: String,
    /// Whether to list the supported protocols in `X-Accepted-Stream-Protocol-Versions`.
    pub list_accepted: bool,
}

impl Rejection {
    /// The plain-text response (`http.Error`: message and a newline).
    pub fn into_response(self) -> Response {
        let mut r = Response::new(Body::from(format!("{}\n", self.message)));
        *r.status_mut() = self.code;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if self.list_accepted {
            for p in Protocol::SUPPORTED {
                h.append(
                    HEADER_ACCEPTED_PROTOCOL_VERSIONS,
                    HeaderValue::from_static(p.name()),
                );
            }
        }
        r
    }
}

/// Picks the protocol as `httpstream.Handshake` does: the client's values (all
/// `X-Stream-Protocol-Version` headers, comma-separated lists allowed) in the client's order,
/// the first one the server supports.
pub fn negotiate(headers: &HeaderMap) -> Result<Protocol, Rejection> {
    let client: Vec<&str> = headers
        .get_all(HEADER_PROTOCOL_VERSION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim_matches(' '))
        .filter(|p| !p.is_empty())
        .collect();
    if client.is_empty() {
        return Err(Rejection {
            code: StatusCode::BAD_REQUEST,
            message: format!("unable to upgrade: {HEADER_PROTOCOL_VERSION} is required"),
            list_accepted: false,
        });
    }
    if let Some(p) = client.iter().find_map(|c| Protocol::from_name(c)) {
        return Ok(p);
    }
    let server: Vec<&str> = Protocol::SUPPORTED.iter().map(|p| p.name()).collect();
    Err(Rejection {
        code: StatusCode::FORBIDDEN,
        message: format!(
            "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
            client.join(" "),
            server.join(" ")
        ),
        list_accepted: true,
    })
}

/// The `101 Switching Protocols` answer: `Connection: Upgrade`, `Upgrade: SPDY/3.1` and the
/// chosen `X-Stream-Protocol-Version`. After sending it, the server takes the connection with
/// `hyper::upgrade::on` and passes it to [`accept`].
pub fn switching_protocols(protocol: Protocol) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static(SPDY_31));
    h.insert(
        HEADER_PROTOCOL_VERSION,
        HeaderValue::from_static(protocol.name()),
    );
    r
}

/// Why a SPDY exec session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client did not open every stream the request asked for in time (the kubelet's
    /// message).
    #[error("timed out waiting for client to create streams")]
    Timeout,
    /// The connection ended, or broke the protocol, before the streams were open.
    #[error("SPDY connection closed before the streams were created: {0}")]
    Closed(String),
}

/// Receives channel frames `(channel, payload)`.
pub type ChannelReceiver = mpsc::Receiver<(u8, Bytes)>;
/// Sends channel frames `(channel, payload)`.
pub type ChannelSender = mpsc::Sender<(u8, Bytes)>;

/// An exec session over SPDY, as Kubernetes channel frames (see the module docs).
#[derive(Debug)]
pub struct ExecChannels {
    /// The negotiated protocol.
    pub protocol: Protocol,
    /// Client → server frames: `(0, stdin)`, `(4, resize JSON)`, `(255, [0])` at stdin EOF.
    /// Ends (`None`) when the client goes away.
    pub from_client: ChannelReceiver,
    /// Server → client frames: `(1, stdout)`, `(2, stderr)`, `(3, Status JSON)`,
    /// `(255, [n])` to close channel `n`. Drop it to end the session.
    pub to_client: ChannelSender,
}

impl ExecChannels {
    /// The pair a channel relay takes: `(from_client, to_client)`.
    pub fn into_pair(self) -> (ChannelReceiver, ChannelSender) {
        (self.from_client, self.to_client)
    }
}

/// Runs the SPDY session on an upgraded connection (`TokioIo<hyper::upgrade::Upgraded>`) and
/// returns its channels once the client has opened every stream `opts` asks for under
/// `protocol`, as the kubelet waits before it starts the command. Fails after
/// [`STREAM_CREATION_TIMEOUT`] or if the client goes away first.
///
/// The session runs on its own task until both sides are done; see the module docs for the
/// channel frames and the end of a session.
pub async fn accept<IO>(
    io: IO,
    protocol: Protocol,
    opts: ExecOptions,
) -> Result<ExecChannels, Error>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    accept_with_timeout(io, protocol, opts, STREAM_CREATION_TIMEOUT).await
}

/// [`accept`] with another stream creation timeout.
pub async fn accept_with_timeout<IO>(
    io: IO,
    protocol: Protocol,
    opts: ExecOptions,
    timeout: Duration,
) -> Result<ExecChannels, Error>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (from_client_tx, from_client) = mpsc::channel(64);
    let (to_client, to_client_rx) = mpsc::channel(64);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let expected = opts.expected_streams(protocol);
    tokio::spawn(conn::run(
        io,
        protocol,
        expected,
        ready_tx,
        from_client_tx,
        to_client_rx,
    ));
    match tokio::time::timeout(timeout, ready_rx).await {
        Ok(Ok(Ok(()))) => Ok(ExecChannels {
            protocol,
            from_client,
            to_client,
        }),
        Ok(Ok(Err(why))) => Err(Error::Closed(why)),
        Ok(Err(_)) => Err(Error::Closed("session ended".into())),
        // Dropping `to_client` here ends the session.
        Err(_) => Err(Error::Timeout),
    }
}

/// The SPDY/3.1 branch of `pods/exec` in the HTTP front (called by [`crate::proxy`] once the
/// exec is authorized and located): negotiates the protocol (a refusal is the kubelet's
/// plain-text 400/403), dials the kubelet, answers `101`, and once upgraded waits for the
/// client's streams and relays the session with `proxy::relay_exec`.
pub(crate) async fn serve_exec(
    target: &crate::proxy::ExecTarget,
    parts: &http::request::Parts,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> crate::Result<Response> {
    let protocol = match negotiate(&parts.headers) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    let Some(on_upgrade) = on_upgrade else {
        // HTTP/2 has no Upgrade.
        return Err(crate::errors::bad_request("Upgrade request required"));
    };
    let opts = ExecOptions::from_query(parts.uri.query().unwrap_or(""));
    let kubelet = crate::proxy::connect_exec(target).await?;
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "SPDY exec upgrade failed");
                return;
            }
        };
        match accept(hyper_util::rt::TokioIo::new(upgraded), protocol, opts).await {
            Ok(session) => {
                let (from_client, to_client) = session.into_pair();
                crate::proxy::relay_exec(kubelet, from_client, to_client).await;
            }
            // Dropping `kubelet` closes the command's session.
            Err(e) => tracing::debug!(error = %e, "SPDY exec session not started"),
        }
    });
    Ok(switching_protocols(protocol))
}

/// What goes on the error stream for `status` (a `metav1.Status` JSON from the relay) under
/// `protocol`: v4 passes it on; v1–v3 write nothing for `Success` and the Status message as
/// text otherwise (the kubelet's `v1WriteStatusFunc`). Bytes that are not a Status are passed
/// on as they are.
pub fn error_stream_payload(protocol: Protocol, status: Bytes) -> Option<Bytes> {
    if protocol == Protocol::V4 {
        return Some(status);
    }
    match serde_json::from_slice::<serde_json::Value>(&status) {
        Ok(v) if v.is_object() => {
            if v.get("status").and_then(|s| s.as_str()) == Some("Success") {
                None
            } else {
                let msg = v.get("message").and_then(|m| m.as_str()).unwrap_or("");
                Some(Bytes::copy_from_slice(msg.as_bytes()))
            }
        }
        _ => Some(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn detects_spdy_upgrades_only() {
        assert!(is_upgrade_request(&headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1")
        ])));
        assert!(is_upgrade_request(&headers(&[
            ("connection", "keep-alive, upgrade"),
            ("upgrade", "spdy/3.1")
        ])));
        assert!(!is_upgrade_request(&headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_upgrade_request(&headers(&[("upgrade", "SPDY/3.1")])));
    }

    #[test]
    fn negotiation_follows_handshake() {
        // kubectl 1.27: one header per protocol, v4 first.
        let h = headers(&[
            (HEADER_PROTOCOL_VERSION, "v4.channel.k8s.io"),
            (HEADER_PROTOCOL_VERSION, "v3.channel.k8s.io"),
            (HEADER_PROTOCOL_VERSION, "v2.channel.k8s.io"),
            (HEADER_PROTOCOL_VERSION, "channel.k8s.io"),
        ]);
        assert_eq!(negotiate(&h).unwrap(), Protocol::V4);
        // The client's order wins; unknown ones (v5 is WebSocket-only) are skipped.
        let h = headers(&[(
            HEADER_PROTOCOL_VERSION,
            "v5.channel.k8s.io, v2.channel.k8s.io,v4.channel.k8s.io",
        )]);
        assert_eq!(negotiate(&h).unwrap(), Protocol::V2);
        let e = negotiate(&headers(&[])).unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "unable to upgrade: X-Stream-Protocol-Version is required"
        );
        let e = negotiate(&headers(&[(HEADER_PROTOCOL_VERSION, "a, b")])).unwrap_err();
        assert_eq!(e.code, StatusCode::FORBIDDEN);
        assert_eq!(
            e.message,
            "unable to upgrade: unable to negotiate protocol: client supports [a b], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]"
        );
        let r = e.into_response();
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.headers()
                .get_all(HEADER_ACCEPTED_PROTOCOL_VERSIONS)
                .iter()
                .count(),
            4
        );
    }

    #[test]
    fn switching_protocols_names_the_protocol() {
        let r = switching_protocols(Protocol::V3);
        assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(r.headers()[header::UPGRADE], "SPDY/3.1");
        assert_eq!(r.headers()[header::CONNECTION], "Upgrade");
        assert_eq!(r.headers()[HEADER_PROTOCOL_VERSION], "v3.channel.k8s.io");
    }

    #[test]
    fn expected_streams_per_options() {
        use StreamType::*;
        let o = ExecOptions::from_query("command=ls&stdin=true&stdout=1&stderr=true&tty=false");
        assert_eq!(
            o,
            ExecOptions {
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false
            }
        );
        assert_eq!(
            o.expected_streams(Protocol::V4),
            vec![Error, Stdin, Stdout, Stderr]
        );
        let tty = ExecOptions::from_query("stdin=true&stdout=true&stderr=true&tty=true");
        assert_eq!(
            tty.expected_streams(Protocol::V4),
            vec![Error, Stdin, Stdout, Resize]
        );
        assert_eq!(
            tty.expected_streams(Protocol::V2),
            vec![Error, Stdin, Stdout]
        );
        assert_eq!(
            ExecOptions::from_query("stdout=false").expected_streams(Protocol::V1),
            vec![Error]
        );
    }

    #[test]
    fn error_stream_per_protocol() {
        let fail = Bytes::from_static(
            br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#,
        );
        let ok = Bytes::from_static(br#"{"metadata":{},"status":"Success"}"#);
        assert_eq!(
            error_stream_payload(Protocol::V4, fail.clone()),
            Some(fail.clone())
        );
        assert_eq!(
            error_stream_payload(Protocol::V4, ok.clone()),
            Some(ok.clone())
        );
        assert_eq!(
            error_stream_payload(Protocol::V3, fail).unwrap(),
            "command terminated with non-zero exit code: exit status 3"
        );
        assert_eq!(error_stream_payload(Protocol::V2, ok), None);
        assert_eq!(
            error_stream_payload(Protocol::V1, Bytes::from_static(b"plain")).unwrap(),
            "plain"
        );
    }

    #[test]
    fn names_round_trip() {
        for p in Protocol::SUPPORTED {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
        }
        for ch in [0u8, 1, 2, 3, 4] {
            let t = StreamType::from_channel(ch).unwrap();
            assert_eq!(t.channel(), ch);
            assert_eq!(StreamType::from_name(t.name()), Some(t));
        }
        assert_eq!(StreamType::from_channel(9), None);
    }
}
