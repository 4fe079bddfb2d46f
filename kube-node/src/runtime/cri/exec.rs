//! The client side of Kubernetes' remotecommand protocol over WebSockets
//! (`v4.channel.k8s.io`), for the URL CRI `Exec` returns.
//!
//! Every binary frame starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (a
//! `Status` JSON once the command ends), 4 resize (`{"Width":..,"Height":..}`).

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::super::{Error, ExecRequest, ExecSession, Result, TerminalSize};

/// The subprotocol spoken.
const PROTOCOL: &str = "v4.channel.k8s.io";
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// Buffer of each in-process pipe.
const PIPE_BYTES: usize = 64 * 1024;

/// Connects to a streaming `url` (`http://host:port/exec/<token>`) and returns the session.
pub(super) async fn connect(url: &str, request: &ExecRequest) -> Result<ExecSession> {
    let ws_url = if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_string()
    };
    let mut req = ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::Other(format!("bad exec streaming URL {url:?}: {e}")))?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTOCOL));
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| Error::Other(format!("cannot connect to the exec stream {url}: {e}")))?;
    let (mut sink, mut stream) = ws.split();

    // One writer task owns the sink: stdin data and resizes go through it.
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let stdin = if request.stdin {
        let (caller, mut ours) = tokio::io::duplex(PIPE_BYTES);
        let tx = out_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match ours.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut frame = Vec::with_capacity(n + 1);
                        frame.push(STDIN);
                        frame.extend_from_slice(&buf[..n]);
                        if tx.send(frame).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Some(caller)
    } else {
        None
    };
    let resize = if request.tty {
        let (tx, mut rx) = mpsc::unbounded_channel::<TerminalSize>();
        let out = out_tx.clone();
        tokio::spawn(async move {
            while let Some(size) = rx.recv().await {
                let mut frame = vec![RESIZE];
                frame.extend_from_slice(
                    format!(r#"{{"Width":{},"Height":{}}}"#, size.width, size.height).as_bytes(),
                );
                if out.send(frame).is_err() {
                    break;
                }
            }
        });
        Some(tx)
    } else {
        None
    };
    // The reader keeps the writer (and so the connection) open until the server is done:
    // closing our side early would end the command's streams.
    let keep_open = out_tx;

    let (stdout_caller, mut stdout_ours) = tokio::io::duplex(PIPE_BYTES);
    let (stderr_caller, mut stderr_ours) = tokio::io::duplex(PIPE_BYTES);
    let (exit_tx, exit_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut status = Vec::new();
        let mut failure = None;
        while let Some(msg) = stream.next().await {
            let data = match msg {
                Ok(Message::Binary(data)) => data,
                Ok(Message::Close(_)) => break,
                Ok(_) => continue,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            // A reader that went away does not stop the command's exit from being seen.
            match channel {
                STDOUT => {
                    let _ = stdout_ours.write_all(payload).await;
                }
                STDERR => {
                    let _ = stderr_ours.write_all(payload).await;
                }
                ERROR => status.extend_from_slice(payload),
                _ => {}
            }
        }
        drop((stdout_ours, stderr_ours, keep_open));
        let result = match failure {
            Some(e) if status.is_empty() => Err(Error::Other(format!("exec stream failed: {e}"))),
            _ => exit_code(&status),
        };
        let _ = exit_tx.send(result);
    });

    Ok(ExecSession {
        stdin: stdin.map(|s| Box::pin(s) as _),
        stdout: request.stdout.then(|| Box::pin(stdout_caller) as _),
        stderr: (request.stderr && !request.tty).then(|| Box::pin(stderr_caller) as _),
        resize,
        exit: Box::pin(async move {
            exit_rx
                .await
                .map_err(|_| Error::Other("exec stream task ended".into()))?
        }),
    })
}

/// The exit code from the error channel's `Status` (empty: the stream closed without one,
/// which older protocol versions do on success).
fn exit_code(status: &[u8]) -> Result<i32> {
    if status.is_empty() {
        return Ok(0);
    }
    let v: serde_json::Value = serde_json::from_slice(status).map_err(|_| {
        Error::Other(format!(
            "exec failed: {}",
            String::from_utf8_lossy(status).trim()
        ))
    })?;
    if v["status"] == "Success" {
        return Ok(0);
    }
    if v["reason"] == "NonZeroExitCode" {
        if let Some(causes) = v["details"]["causes"].as_array() {
            for c in causes {
                if c["reason"] == "ExitCode" {
                    if let Some(code) = c["message"].as_str().and_then(|m| m.parse().ok()) {
                        return Ok(code);
                    }
                }
            }
        }
    }
    Err(Error::Other(format!(
        "exec failed: {}",
        v["message"].as_str().unwrap_or("unknown error")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_status() {
        assert_eq!(exit_code(br#"{"metadata":{},"status":"Success"}"#), Ok(0));
        let failed = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        assert_eq!(exit_code(failed), Ok(3));
        assert_eq!(exit_code(b""), Ok(0));
        assert!(exit_code(b"oops").is_err());
    }
}
