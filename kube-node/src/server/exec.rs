//! `/exec`: a WebSocket speaking the Kubernetes remote-command channel protocol
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{error_response, find_attempts, parse_bool, query_pairs, Inner};
use crate::runtime::{ExecRequest, TerminalSize};

/// The subprotocols served, most preferred first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

pub(super) async fn exec3(
    State(inner): State<Arc<Inner>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    req: Request<Body>,
) -> Response {
    exec(inner, ns, pod, container, raw, req).await
}

pub(super) async fn exec4(
    State(inner): State<Arc<Inner>>,
    Path((ns, pod, _uid, container)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
    req: Request<Body>,
) -> Response {
    exec(inner, ns, pod, container, raw, req).await
}

/// The `metav1.Status` sent on the error channel when the command ends.
pub(super) fn exit_status(exit_code: i32) -> serde_json::Value {
    if exit_code == 0 {
        serde_json::json!({"metadata": {}, "status": "Success"})
    } else {
        serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command, exit code {exit_code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": exit_code.to_string()}]},
        })
    }
}

fn failure(message: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    })
}

fn choose_protocol(headers: &HeaderMap) -> Option<&'static str> {
    let offered: Vec<String> = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    PROTOCOLS
        .into_iter()
        .find(|p| offered.iter().any(|o| o == p))
}

async fn exec(
    inner: Arc<Inner>,
    ns: String,
    pod: String,
    container: String,
    raw: Option<String>,
    mut req: Request<Body>,
) -> Response {
    let mut request = ExecRequest::default();
    let pairs = match query_pairs(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    for (k, v) in pairs {
        let flag = |k: &str, v: &str| parse_bool(k, v);
        let r = match k.as_str() {
            "command" => {
                request.cmd.push(v);
                Ok(())
            }
            "input" | "stdin" => flag(&k, &v).map(|b| request.stdin = b),
            "output" | "stdout" => flag(&k, &v).map(|b| request.stdout = b),
            "error" | "stderr" => flag(&k, &v).map(|b| request.stderr = b),
            "tty" => flag(&k, &v).map(|b| request.tty = b),
            _ => Ok(()),
        };
        if let Err(e) = r {
            return error_response(StatusCode::BAD_REQUEST, e);
        }
    }
    if request.cmd.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 command",
        );
    }
    if !(request.stdin || request.stdout || request.stderr) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr",
        );
    }
    if request.tty && request.stderr {
        // With a TTY stderr is merged into stdout, as Kubernetes does.
        request.stderr = false;
    }
    let attempts = match find_attempts(&inner, &ns, &pod, &container).await {
        Ok(a) => a,
        Err(resp) => return resp.into_response(),
    };
    let container_id = attempts[0].id.clone();
    let headers = req.headers();
    let is_upgrade = headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return error_response(
            StatusCode::BAD_REQUEST,
            "exec needs a WebSocket upgrade (subprotocol v5.channel.k8s.io or v4.channel.k8s.io)",
        );
    }
    let Some(protocol) = choose_protocol(headers) else {
        return error_response(
            StatusCode::FORBIDDEN,
            format!(
                "unable to upgrade: no supported subprotocol offered (supported: {})",
                PROTOCOLS.join(", ")
            ),
        );
    };
    let Some(key) = headers.get(http::header::SEC_WEBSOCKET_KEY) else {
        return error_response(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return error_response(StatusCode::BAD_REQUEST, "connection cannot be upgraded");
    };
    let v5 = protocol == PROTOCOLS[0];
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "exec upgrade failed");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        run_session(inner, container_id, request, ws, v5).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(http::header::SEC_WEBSOCKET_PROTOCOL, protocol)
        .body(Body::empty())
        .unwrap_or_else(|_| error_response(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut buf = Vec::with_capacity(data.len() + 1);
    buf.push(channel);
    buf.extend_from_slice(data);
    Message::binary(buf)
}

async fn run_session<S>(
    inner: Arc<Inner>,
    container_id: String,
    request: ExecRequest,
    ws: WebSocketStream<S>,
    v5: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut incoming) = ws.split();
    let session = match inner.runtime.exec(&container_id, &request).await {
        Ok(s) => s,
        Err(e) => {
            let status = failure(&e.to_string());
            let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
            close_normally(&mut sink).await;
            return;
        }
    };
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    // Output pumps.
    let mut pumps = Vec::new();
    for (channel, reader) in [(STDOUT, session.stdout), (STDERR, session.stderr)] {
        let Some(mut reader) = reader else { continue };
        let tx = out_tx.clone();
        pumps.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(frame(channel, &buf[..n])).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    drop(out_tx);
    // Input: stdin, resize and close frames.
    let mut stdin = session.stdin;
    let resize = session.resize;
    let input = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(payload).await.is_err() {
                            stdin = None;
                        } else {
                            let _ = w.flush().await;
                        }
                    }
                }
                RESIZE => {
                    #[derive(serde::Deserialize)]
                    struct Size {
                        #[serde(rename = "Width")]
                        width: u16,
                        #[serde(rename = "Height")]
                        height: u16,
                    }
                    if let (Some(tx), Ok(size)) =
                        (resize.as_ref(), serde_json::from_slice::<Size>(payload))
                    {
                        let _ = tx.send(TerminalSize {
                            width: size.width,
                            height: size.height,
                        });
                    }
                }
                CLOSE if v5 && payload.first() == Some(&STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
        if let Some(mut w) = stdin.take() {
            let _ = w.shutdown().await;
        }
    });
    // Forward output until the pumps end, then report the exit.
    let forward = async {
        while let Some(msg) = out_rx.recv().await {
            if sink.send(msg).await.is_err() {
                return false;
            }
        }
        true
    };
    let (connected, exit) = tokio::join!(forward, session.exit);
    for p in pumps {
        let _ = p.await;
    }
    if connected {
        let status = match exit {
            Ok(code) => exit_status(code),
            Err(e) => failure(&e.to_string()),
        };
        let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
        close_normally(&mut sink).await;
    }
    input.abort();
}

/// Ends the session with a normal closure (code 1000): client-go's WebSocket reader ends its
/// streams with EOF only for that code, while a bare close frame (1005, "no status") fails
/// the error stream.
async fn close_normally<S>(sink: &mut S)
where
    S: futures::Sink<Message> + Unpin,
{
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
    let _ = sink.close().await;
}
