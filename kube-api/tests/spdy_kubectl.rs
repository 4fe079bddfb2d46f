//! `kubectl exec` over SPDY/3.1 ([`kube_api::spdy`]) with the real kubectl: 1.27 and 1.28
//! (SPDY only), 1.29 (SPDY by default) and 1.30–1.33 (WebSocket first, SPDY when the
//! WebSocket upgrade is refused, as it is here).
//!
//! The HTTPS server is kube-api's own router (so kubectl's GET of the pod and its discovery
//! are real) with one extra route, `pods/{name}/exec`, served by a fake kubelet: it writes
//! `out\n` to stdout and `err\n` to stderr, echoes stdin to stdout until stdin closes, then
//! ends with the Status the command names: `fail3` → exit code 3, anything else → Success.

mod support;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use kube_api::http::{self, StaticTokens};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::spdy::{self, channel, ExecOptions};
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::Pod;
use kubox_core::client::{Api, Client, PostParams};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use support::kubectl_bin;
use tokio::io::AsyncWriteExt;

const FAIL3: &str = r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [fail3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
const SUCCESS: &str = r#"{"metadata":{},"status":"Success"}"#;

/// The fake kubelet behind `pods/{name}/exec`.
async fn exec(mut req: Request) -> Response {
    if !spdy::is_upgrade_request(req.headers()) {
        // kubectl 1.30+ tries WebSocket first; refusing it makes them fall back to SPDY.
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "websocket not served here", "reason": "BadRequest", "code": 400});
        return (
            ::http::StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let protocol = match spdy::negotiate(req.headers()) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let opts = ExecOptions::from_query(&query);
    let command: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("command="))
        .map(|c| c.to_string())
        .collect();
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = on_upgrade.await.expect("upgrade");
        let session = spdy::accept(TokioIo::new(upgraded), protocol, opts)
            .await
            .expect("streams");
        assert_eq!(session.protocol, spdy::Protocol::V4);
        let (mut from_client, to_client) = session.into_pair();
        let send = |ch: u8, b: Bytes| {
            let to_client = to_client.clone();
            async move { to_client.send((ch, b)).await.expect("session open") }
        };
        send(channel::STDOUT, Bytes::from_static(b"out\n")).await;
        if opts.tty {
            // With a terminal: report the first terminal size, then succeed.
            let resize = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some((ch, data)) = from_client.recv().await {
                    if ch == channel::RESIZE {
                        return Some(data);
                    }
                }
                None
            })
            .await
            .ok()
            .flatten();
            let line = match resize {
                Some(d) => format!("resize {}\n", String::from_utf8_lossy(&d).trim()),
                None => "no resize\n".to_string(),
            };
            send(channel::STDOUT, Bytes::from(line)).await;
            send(channel::ERROR, Bytes::from_static(SUCCESS.as_bytes())).await;
            return;
        }
        if opts.stderr {
            send(channel::STDERR, Bytes::from_static(b"err\n")).await;
        }
        if opts.stdin {
            while let Some((ch, data)) = from_client.recv().await {
                match ch {
                    channel::STDIN => send(channel::STDOUT, data).await,
                    channel::CLOSE if data[..] == [channel::STDIN] => break,
                    _ => {}
                }
            }
        }
        let status = if command.first().map(String::as_str) == Some("fail3") {
            FAIL3
        } else {
            SUCCESS
        };
        send(channel::ERROR, Bytes::from_static(status.as_bytes())).await;
        // Dropping the sender ends the session: FIN on every stream, GOAWAY.
    });
    spdy::switching_protocols(protocol)
}

struct Env {
    _tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
    home: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client: Arc<dyn Client> = LocalClient::admin(server.clone()).into_client();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let tls = pki.server_config().unwrap();
    let cfg = http::Config::new(tls.clone(), Arc::new(tokens));
    let app = axum::Router::new()
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/exec",
            axum::routing::any(exec),
        )
        .fallback_service(http::router(server, cfg));
    let (addr, server) = support::serve_tls(app, tls).await;
    let kubeconfig = tmp.path().join("admin.kubeconfig");
    Kubeconfig::admin(&format!("https://{addr}"), &pki.ca_pem, &pki.admin_token)
        .write(&kubeconfig)
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Env {
        _tmp: tmp,
        kubeconfig,
        home,
        server,
    }
}

struct Out {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

async fn kubectl(env: &Env, bin: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HOME", &env.home)
        .env_remove("KUBECTL_REMOTE_COMMAND_WEBSOCKETS")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        tokio::spawn(async move {
            let _ = w.write_all(&input).await;
            // Dropping `w` closes kubectl's stdin.
        });
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} timed out", bin.display()))
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

macro_rules! check {
    ($out:expr, $cond:expr, $what:expr) => {
        assert!(
            $cond,
            "{}\n--- code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            $what,
            $out.code,
            $out.stdout(),
            $out.stderr
        )
    };
}

/// stdout, stderr and the exit code of a failing command; stdin piped through `-i`; a
/// stdin larger than SPDY's 64 KiB windows, echoed back.
async fn exec_checks(env: &Env, minor: u32) {
    let bin = kubectl_bin(minor);
    let v = format!("kubectl 1.{minor}");

    let out = kubectl(env, &bin, &["exec", "p", "--", "fail3"], None).await;
    check!(out, out.code == Some(3), format!("{v}: exit code 3"));
    check!(out, out.stdout() == "out\n", format!("{v}: stdout"));
    check!(out, out.stderr.contains("err\n"), format!("{v}: stderr"));
    check!(
        out,
        out.stderr.contains("command terminated with exit code 3"),
        format!("{v}: exit message")
    );

    let out = kubectl(
        env,
        &bin,
        &["exec", "-i", "p", "-c", "c", "--", "ok"],
        Some(b"hello\nworld\n".to_vec()),
    )
    .await;
    check!(out, out.code == Some(0), format!("{v}: -i succeeds"));
    check!(
        out,
        out.stdout() == "out\nhello\nworld\n",
        format!("{v}: stdin echoed")
    );
    check!(out, out.stderr == "err\n", format!("{v}: -i stderr"));

    // 300 KiB each way: several windows' worth, WINDOW_UPDATEs needed on a strict peer.
    let big: Vec<u8> = (0..300 * 1024u32)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[(i % 27) as usize])
        .collect();
    let out = kubectl(
        env,
        &bin,
        &["exec", "-i", "p", "--", "fail3"],
        Some(big.clone()),
    )
    .await;
    check!(
        out,
        out.code == Some(3),
        format!("{v}: big stdin, exit code")
    );
    let mut want = b"out\n".to_vec();
    want.extend_from_slice(&big);
    check!(
        out,
        out.stdout == want,
        format!("{v}: big stdin echoed ({} bytes back)", out.stdout.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_exec_over_spdy() {
    let env = start().await;
    exec_checks(&env, 27).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_28_exec_over_spdy() {
    let env = start().await;
    exec_checks(&env, 28).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_29_to_1_33_use_spdy_when_websocket_is_refused() {
    let env = start().await;
    for minor in 29..=33 {
        let bin = kubectl_bin(minor);
        let out = kubectl(&env, &bin, &["exec", "p", "--", "fail3"], None).await;
        check!(
            out,
            out.code == Some(3),
            format!("kubectl 1.{minor}: exit 3")
        );
        check!(out, out.stdout() == "out\n", format!("kubectl 1.{minor}"));
        check!(
            out,
            out.stderr.contains("command terminated with exit code 3"),
            format!("kubectl 1.{minor}")
        );
    }
}

/// A fake kubelet: `wss://127.0.0.1:port/exec/…` speaking `v5.channel.k8s.io`, with the
/// same script as the fake exec route above (`out`, `err`, stdin echoed until closed, then
/// the Status the command names). Returns its port.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn fake_kubelet(tls: Arc<rustls::ServerConfig>) -> (u16, tokio::task::JoinHandle<()>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::handshake::server::{Request as WsReq, Response as WsResp};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut query = String::new();
                let ws =
                    tokio_tungstenite::accept_hdr_async(tls, |req: &WsReq, mut resp: WsResp| {
                        query = req.uri().query().unwrap_or("").to_string();
                        resp.headers_mut().insert(
                            "sec-websocket-protocol",
                            "v5.channel.k8s.io".parse().unwrap(),
                        );
                        Ok(resp)
                    })
                    .await;
                let Ok(ws) = ws else { return };
                // The kubelet's own query names: input, output, error (`1` when on).
                let on = |k: &str| query.split('&').any(|kv| kv == format!("{k}=1"));
                let (stdin, stderr) = (on("input"), on("error"));
                let fail3 = query.split('&').any(|kv| kv == "command=fail3");
                let (mut sink, mut stream) = ws.split();
                let msg = |ch: u8, data: &[u8]| {
                    let mut v = vec![ch];
                    v.extend_from_slice(data);
                    Message::binary(v)
                };
                let _ = sink.send(msg(1, b"out\n")).await;
                if stderr {
                    let _ = sink.send(msg(2, b"err\n")).await;
                }
                if stdin {
                    while let Some(Ok(m)) = stream.next().await {
                        let Message::Binary(b) = m else { continue };
                        match b.first() {
                            Some(0) => {
                                let _ = sink.send(msg(1, &b[1..])).await;
                            }
                            Some(255) if b.get(1) == Some(&0) => break,
                            _ => {}
                        }
                    }
                }
                let status = if fail3 { FAIL3 } else { SUCCESS };
                let _ = sink.send(msg(3, status.as_bytes())).await;
                let _ = sink.close().await;
            });
        }
    });
    (port, task)
}

/// The whole path: kubectl 1.27–1.29 (SPDY) → kube-api's HTTPS front (`pods/exec`, SPDY branch)
/// → `relay_exec` → a kubelet over WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_to_1_29_exec_through_the_api_server_to_a_kubelet() {
    use kubox_core::api::core_v1::Node;
    use kubox_core::client::{Patch, PatchParams};
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let kubelet_pki = TlsAssets::load_or_generate(&tmp.path().join("kubelet-pki"), &[]).unwrap();
    let (kubelet_port, kubelet) = fake_kubelet(kubelet_pki.server_config().unwrap()).await;

    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client: Arc<dyn Client> = LocalClient::admin(server.clone()).into_client();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let st = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}});
    nodes
        .patch_status("n1", &PatchParams::default(), Patch::Merge(st))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server, cfg)
        .await
        .unwrap();
    let kubeconfig = tmp.path().join("admin.kubeconfig");
    Kubeconfig::admin(&running.url(), &pki.ca_pem, &pki.admin_token)
        .write(&kubeconfig)
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = Env {
        _tmp: tmp,
        kubeconfig,
        home,
        server: kubelet,
    };
    for minor in [27, 28, 29] {
        let bin = kubectl_bin(minor);
        let v = format!("kubectl 1.{minor} through the API server");
        let out = kubectl(&env, &bin, &["exec", "p", "--", "fail3"], None).await;
        check!(out, out.code == Some(3), format!("{v}: exit code 3"));
        check!(out, out.stdout() == "out\n", format!("{v}: stdout"));
        check!(out, out.stderr.contains("err\n"), format!("{v}: stderr"));
        check!(
            out,
            out.stderr.contains("command terminated with exit code 3"),
            format!("{v}: exit message")
        );
        let out = kubectl(
            &env,
            &bin,
            &["exec", "-i", "p", "--", "ok"],
            Some(b"ping\n".to_vec()),
        )
        .await;
        check!(out, out.code == Some(0), format!("{v}: -i"));
        check!(
            out,
            out.stdout() == "out\nping\n",
            format!("{v}: stdin echoed")
        );
    }
    // More than a window's worth each way, through the relay and the kubelet's WebSocket.
    let big: Vec<u8> = (0..200 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = kubectl(
        &env,
        &kubectl_bin(27),
        &["exec", "-i", "p", "--", "ok"],
        Some(big.clone()),
    )
    .await;
    check!(out, out.code == Some(0), "big stdin through the API server");
    let mut want = b"out\n".to_vec();
    want.extend_from_slice(&big);
    check!(
        out,
        out.stdout == want,
        format!(
            "big stdin echoed through the API server ({} bytes back)",
            out.stdout.len()
        )
    );
}

/// `kubectl exec -it` under a pseudo-terminal (`script`): the `resize` stream carries the
/// terminal size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_tty_exec_sends_the_terminal_size_over_spdy() {
    let env = start().await;
    for minor in [27, 28] {
        let bin = kubectl_bin(minor);
        let inner = format!("stty cols 100 rows 30; {} exec -it p -- ok", bin.display());
        let child = tokio::process::Command::new("script")
            .args(["-qec", &inner, "/dev/null"])
            .env("KUBECONFIG", &env.kubeconfig)
            .env("HOME", &env.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("script(1) from util-linux");
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl exec -it timed out")
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && text.contains("out")
                && text.contains("resize {\"Width\":100,\"Height\":30}"),
            "kubectl 1.{minor} -it: {:?}\n--- output:\n{text}\n--- stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
