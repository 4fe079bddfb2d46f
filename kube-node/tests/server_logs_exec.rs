//! The kubelet HTTP server against the simulated runtime and real CRI log files: every
//! container log option, the error statuses, bearer-token authentication, and exec over a
//! WebSocket (v5 and v4 channel protocols).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use kube_node::labels;
use kube_node::logs::{format_record, LogStream};
use kube_node::runtime::sim::SimRuntime;
use kube_node::runtime::{ContainerConfig, Labels, PodSandboxConfig, Runtime, SandboxMetadata};
use kube_node::server::{KubeletServer, StaticToken};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const NODE: &str = "n1";

struct Fixture {
    _dir: tempfile::TempDir,
    runtime: SimRuntime,
    base: String,
    /// Log files of attempt 0 (exited) and attempt 1 (running) of container `app`.
    logs: [std::path::PathBuf; 2],
    running_id: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn pod_labels(pod: &str) -> Labels {
    let mut l = Labels::new();
    l.insert(labels::POD_NAMESPACE.into(), "default".into());
    l.insert(labels::POD_NAME.into(), pod.into());
    l.insert(labels::POD_UID.into(), format!("uid-{pod}"));
    l.insert(labels::NODE_NAME.into(), NODE.into());
    l
}

fn write_log(path: &Path, records: &[(&str, LogStream, bool, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut data = Vec::new();
    for (t, s, p, c) in records {
        data.extend(format_record(t.parse().unwrap(), *s, *p, c.as_bytes()));
    }
    std::fs::write(path, data).unwrap();
}

async fn fixture(token: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let runtime = SimRuntime::new(Default::default());
    let sandbox = PodSandboxConfig {
        metadata: SandboxMetadata {
            name: "web".into(),
            namespace: "default".into(),
            uid: "uid-web".into(),
            attempt: 0,
        },
        log_directory: dir.path().join("default_web_uid-web"),
        labels: pod_labels("web"),
        ..Default::default()
    };
    let sb = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let mut ids = Vec::new();
    for attempt in 0..2u32 {
        let mut l = pod_labels("web");
        l.insert(labels::CONTAINER_NAME.into(), "app".into());
        let config = ContainerConfig {
            name: "app".into(),
            attempt,
            image: "busybox".into(),
            log_path: format!("app/{attempt}.log").into(),
            labels: l,
            ..Default::default()
        };
        let id = runtime
            .create_container(&sb, &config, &sandbox)
            .await
            .unwrap();
        runtime.start_container(&id).await.unwrap();
        if attempt == 0 {
            runtime.exit_container(&id, 1).unwrap();
        }
        ids.push(id);
    }
    let logs = [
        sandbox.log_directory.join("app/0.log"),
        sandbox.log_directory.join("app/1.log"),
    ];
    write_log(
        &logs[0],
        &[("2026-01-01T00:00:00Z", LogStream::Stdout, false, "old run")],
    );
    write_log(
        &logs[1],
        &[
            ("2026-01-01T00:01:00Z", LogStream::Stdout, false, "one"),
            ("2026-01-01T00:02:00Z", LogStream::Stderr, false, "two"),
            ("2026-01-01T00:03:00.5Z", LogStream::Stdout, true, "thr"),
            ("2026-01-01T00:03:00.6Z", LogStream::Stdout, false, "ee"),
        ],
    );
    let mut server = KubeletServer::new(Arc::new(runtime.clone()), NODE);
    if let Some(t) = token {
        server = server.with_authenticator(Arc::new(StaticToken::new(t, "kube-apiserver")));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Fixture {
        _dir: dir,
        runtime,
        base,
        logs,
        running_id: ids[1].clone(),
        _stop: tx,
    }
}

async fn get(f: &Fixture, path: &str, token: Option<&str>) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let mut req = http::Request::get(format!("{}{path}", f.base));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = client
        .request(req.body(http_body_util::Empty::new()).unwrap())
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8_lossy(&body).into_owned())
}

async fn logs(f: &Fixture, query: &str) -> (u16, String) {
    get(f, &format!("/containerLogs/default/web/app{query}"), None).await
}

#[tokio::test]
async fn container_logs_honour_every_option() {
    let f = fixture(None).await;
    assert_eq!(logs(&f, "").await, (200, "one\ntwo\nthree\n".into()));
    assert_eq!(logs(&f, "?tailLines=1").await, (200, "ee\n".into()));
    assert_eq!(logs(&f, "?tailLines=3").await, (200, "two\nthree\n".into()));
    assert_eq!(logs(&f, "?tailLines=0").await, (200, "".into()));
    assert_eq!(
        logs(&f, "?tail=all").await,
        (200, "one\ntwo\nthree\n".into())
    );
    assert_eq!(
        logs(&f, "?sinceTime=2026-01-01T00:02:00Z").await,
        (200, "two\nthree\n".into())
    );
    assert_eq!(logs(&f, "?limitBytes=6").await, (200, "one\ntw".into()));
    assert_eq!(
        logs(&f, "?timestamps=true&tailLines=2").await,
        (
            200,
            "2026-01-01T00:03:00.5Z thr2026-01-01T00:03:00.6Z ee\n".into()
        )
    );
    assert_eq!(logs(&f, "?previous=true").await, (200, "old run\n".into()));
    // sinceSeconds is relative to now: the records are from 2026-01-01, long before.
    assert_eq!(logs(&f, "?sinceSeconds=10").await, (200, "".into()));
}

#[tokio::test]
async fn container_log_errors_follow_the_kubelet() {
    let f = fixture(None).await;
    let (code, body) = get(&f, "/containerLogs/default/nope/app", None).await;
    assert_eq!((code, body.as_str()), (404, "pod \"nope\" does not exist"));
    let (code, body) = get(&f, "/containerLogs/default/web/db", None).await;
    assert_eq!(
        (code, body.as_str()),
        (404, "container \"db\" not found in pod \"web\"")
    );
    assert_eq!(logs(&f, "?sinceSeconds=0").await.0, 422);
    assert_eq!(logs(&f, "?tailLines=-2").await.0, 422);
    assert_eq!(logs(&f, "?limitBytes=0").await.0, 422);
    assert_eq!(
        logs(&f, "?sinceSeconds=1&sinceTime=2026-01-01T00:00:00Z")
            .await
            .0,
        422
    );
    assert_eq!(logs(&f, "?follow=perhaps").await.0, 400);
    assert_eq!(logs(&f, "?sinceTime=yesterday").await.0, 400);
    // A pod on another node's label is invisible.
    let (code, _) = get(&f, "/containerLogs/other/web/app", None).await;
    assert_eq!(code, 404);
    let (code, body) = get(&f, "/healthz", None).await;
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (code, body) = get(&f, "/pods", None).await;
    assert_eq!(code, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
}

#[tokio::test]
async fn follow_streams_new_records_until_the_container_exits() {
    let f = fixture(None).await;
    let path = f.logs[1].clone();
    let runtime = f.runtime.clone();
    let id = f.running_id.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        use std::io::Write;
        file.write_all(&format_record(
            "2026-01-01T00:04:00Z".parse().unwrap(),
            LogStream::Stdout,
            false,
            b"four",
        ))
        .unwrap();
        drop(file);
        tokio::time::sleep(Duration::from_millis(300)).await;
        runtime.exit_container(&id, 0).unwrap();
    });
    let (code, body) = tokio::time::timeout(
        Duration::from_secs(20),
        logs(&f, "?follow=true&tailLines=1"),
    )
    .await
    .expect("follow ends when the container exits");
    writer.await.unwrap();
    assert_eq!((code, body.as_str()), (200, "ee\nfour\n"));
}

#[tokio::test]
async fn a_bearer_token_is_required_when_configured() {
    let f = fixture(Some("s3cret")).await;
    assert_eq!(get(&f, "/healthz", None).await.0, 401);
    assert_eq!(get(&f, "/healthz", Some("wrong")).await.0, 401);
    assert_eq!(
        get(&f, "/containerLogs/default/web/app", Some("s3cret")).await,
        (200, "one\ntwo\nthree\n".into())
    );
}

async fn exec_frames(
    f: &Fixture,
    query: &str,
    protocol: &str,
    stdin: Option<&[u8]>,
) -> Vec<Vec<u8>> {
    let url = format!(
        "{}/exec/default/web/app?{query}",
        f.base.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers()["sec-websocket-protocol"].to_str().unwrap(),
        protocol.split(',').next().unwrap().trim()
    );
    if let Some(data) = stdin {
        let mut frame = vec![0u8];
        frame.extend_from_slice(data);
        ws.send(Message::binary(frame)).await.unwrap();
        ws.send(Message::binary(vec![255u8, 0])).await.unwrap();
    }
    let mut frames = Vec::new();
    let mut close_code = None;
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Binary(b) => frames.push(b.to_vec()),
            Message::Close(frame) => close_code = Some(frame.map(|f| u16::from(f.code))),
            _ => {}
        }
    }
    // A normal closure (1000), as client-go needs to end its streams with EOF; a bare close
    // frame would read as 1005.
    assert_eq!(
        close_code,
        Some(Some(1000)),
        "the session must end with a normal closure"
    );
    frames
}

fn channel(frames: &[Vec<u8>], ch: u8) -> Vec<u8> {
    frames
        .iter()
        .filter(|f| f.first() == Some(&ch))
        .flat_map(|f| f[1..].to_vec())
        .collect()
}

#[tokio::test]
async fn exec_speaks_the_channel_protocol() {
    let f = fixture(None).await;
    let frames = exec_frames(
        &f,
        "command=echo&command=hello&command=world&stdout=true&stderr=true",
        "v5.channel.k8s.io",
        None,
    )
    .await;
    assert_eq!(channel(&frames, 1), b"hello world\n");
    let status: serde_json::Value = serde_json::from_slice(&channel(&frames, 3)).unwrap();
    assert_eq!(status["status"], "Success");
    // The status is the last frame.
    assert_eq!(frames.last().unwrap()[0], 3);

    let frames = exec_frames(
        &f,
        "command=sh&command=-c&command=exit%203&stdout=1&stderr=1",
        "v4.channel.k8s.io",
        None,
    )
    .await;
    let status: serde_json::Value = serde_json::from_slice(&channel(&frames, 3)).unwrap();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");

    // stdin, closed with the v5 close frame, through `cat`.
    let frames = exec_frames(
        &f,
        "command=cat&stdin=true&stdout=true",
        "v5.channel.k8s.io, v4.channel.k8s.io",
        Some(b"typed input"),
    )
    .await;
    assert_eq!(channel(&frames, 1), b"typed input");
    let status: serde_json::Value = serde_json::from_slice(&channel(&frames, 3)).unwrap();
    assert_eq!(status["status"], "Success");
}

#[tokio::test]
async fn exec_errors() {
    let f = fixture(None).await;
    // No command.
    assert_eq!(get(&f, "/exec/default/web/app?stdout=1", None).await.0, 400);
    // Unknown container.
    assert_eq!(
        get(&f, "/exec/default/web/db?command=ls&stdout=1", None)
            .await
            .0,
        404
    );
    // Not a WebSocket.
    assert_eq!(
        get(
            &f,
            "/exec/default/web/uid-web/app?command=ls&stdout=1",
            None
        )
        .await
        .0,
        400
    );
    // A container that is not running: the failure comes on the error channel.
    f.runtime.exit_container(&f.running_id, 0).unwrap();
    let frames = exec_frames(&f, "command=ls&stdout=1", "v5.channel.k8s.io", None).await;
    let status: serde_json::Value = serde_json::from_slice(&channel(&frames, 3)).unwrap();
    assert_eq!(status["status"], "Failure");
    assert!(status["message"].as_str().unwrap().contains("not running"));
}

#[tokio::test]
async fn serves_https_with_a_ca_signed_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let assets = kube_api::tls::TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let server = KubeletServer::new(Arc::new(SimRuntime::new(Default::default())), NODE)
        .with_authenticator(Arc::new(StaticToken::new("t0k", "kube-apiserver")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let tls = assets.server_config().unwrap();
    let task = tokio::spawn(async move {
        server
            .serve_tls(listener, tls, async {
                let _ = rx.await;
            })
            .await
    });
    let mut roots = rustls::RootCertStore::empty();
    for cert in kube_api::tls::parse_certs(&assets.ca_pem).unwrap() {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(kube_api::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for (token, want) in [("t0k", "HTTP/1.1 200"), ("bad", "HTTP/1.1 401")] {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(
            format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut resp = Vec::new();
        let _ = tls.read_to_end(&mut resp).await;
        let resp = String::from_utf8_lossy(&resp);
        assert!(resp.starts_with(want), "{resp}");
        if want.ends_with("200") {
            assert!(resp.ends_with("ok"), "{resp}");
        }
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
