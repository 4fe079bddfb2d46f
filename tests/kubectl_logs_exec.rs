//! `kubectl logs` and `kubectl exec` end to end with stock kubectl 1.27 … 1.33: an API
//! server over HTTPS proxying `pods/log` and `pods/exec` to a kubelet (process runtime, real
//! `sh` processes) whose HTTP API is served over TLS with a bearer token.
//!
//! Logs (every version): plain, `--tail`, `--limit-bytes`, `--timestamps`, `-f`, `--previous`
//! (and the kubelet's error without a previous instance), `-c` with a wrong name, and the
//! `kubectl.kubernetes.io/default-container` annotation. Exec over WebSocket
//! `v5.channel.k8s.io`: 1.30 … 1.33, and 1.29 with `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true`
//! (stdout, stderr, exit code 3, stdin piped to `cat`, a wrong container); 1.27/1.28 speak
//! only SPDY/3.1, tested with the SPDY front (`kube-api/tests/spdy_kubectl.rs`). The errors
//! the kubelet never sees (unscheduled pod, unknown pod or container, invalid options, a Node
//! without an address, a kubelet that is down) are checked over raw HTTPS and kubectl.

#[allow(dead_code)] // shared by several test crates; each uses a part
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use kube_api::http::{self, StaticTokens};
use kube_api::http_client::HttpClient;
use kube_api::kubeconfig::Kubeconfig;
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, KubeletClientConfig, LocalClient, PodLogOptions, UserInfo};
use kube_node::kubelet::Kubelet;
use kube_node::runtime::process::{
    NetworkConfig, NetworkMode, ProcessConfig, ProcessRuntime, ShimMode,
};
use kube_node::runtime::Runtime;
use kube_node::server::{KubeletServer, StaticToken};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Node, Pod};
use kubox_core::client::{Api, Client, PostParams};
use kubox_core::Quantity;
use support::kubectl::kubectl_bin;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const NODE: &str = "kn1";
const KUBELET_TOKEN: &str = "kubelet-client-token-0123456789";

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
    home: PathBuf,
    client: Arc<dyn Client>,
    server: ApiServer,
    https: HttpClient,
    _api: http::Running,
    runtime: ProcessRuntime,
    /// The CA of the kubelet's serving certificate, and another one.
    kubelet_ca: String,
    other_ca: String,
    _kubelet_stop: tokio::sync::oneshot::Sender<()>,
    _server_stop: tokio::sync::oneshot::Sender<()>,
}

impl Env {
    fn command(&self, bin: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .env_remove("KUBECTL_REMOTE_COMMAND_WEBSOCKETS")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, bin: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Out {
        let mut cmd = self.command(bin, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        let mut input = child.stdin.take().unwrap();
        let data = stdin.as_bytes().to_vec();
        tokio::spawn(async move {
            let _ = input.write_all(&data).await;
            // Dropping `input` closes kubectl's stdin.
        });
        let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{} {args:?} timed out", bin.display()))
            .unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn restart_count(p: &Pod, container: &str) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .map(|c| c.restart_count)
        .unwrap_or(0)
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    // The API server, with the kubelet credential.
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .kubelet_client(KubeletClientConfig::new().with_token(KUBELET_TOKEN))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let api = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    let kubeconfig = tmp.path().join("admin.kubeconfig");
    let kc = Kubeconfig::admin(&api.url(), &pki.ca_pem, &pki.admin_token);
    kc.write(&kubeconfig).unwrap();
    let https = HttpClient::from_kubeconfig(&kc).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let client = LocalClient::admin(server.clone()).into_client();

    // The kubelet: process runtime on the host network, its API over TLS (a self-signed
    // certificate of its own: the API server does not verify it, as Kubernetes by default).
    let mut rcfg = ProcessConfig::new(tmp.path().join("state"));
    rcfg.shim = ShimMode::InProcess;
    rcfg.network = NetworkConfig {
        mode: NetworkMode::Host,
        ..Default::default()
    };
    rcfg.cgroups.enabled = false;
    let runtime = ProcessRuntime::new(rcfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cap = BTreeMap::new();
    cap.insert("cpu".to_string(), Quantity::parse("8").unwrap());
    cap.insert("memory".to_string(), Quantity::parse("16Gi").unwrap());
    cap.insert("pods".to_string(), Quantity::parse("110").unwrap());
    let kubelet = Kubelet::builder(NODE, Arc::new(runtime.clone()), client.clone())
        .capacity(cap)
        .address("InternalIP", "127.0.0.1")
        .address("Hostname", NODE)
        .port(port)
        .log_root(tmp.path().join("logs"))
        .build();
    let (kubelet_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(kubelet.run(async {
        let _ = stopped.await;
    }));
    let kubelet_pki = TlsAssets::load_or_generate(&tmp.path().join("kubelet-pki"), &[]).unwrap();
    let kubelet_server = KubeletServer::new(Arc::new(runtime.clone()), NODE)
        .with_authenticator(Arc::new(StaticToken::new(KUBELET_TOKEN, "kube-apiserver")));
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let tls = kubelet_pki.server_config().unwrap();
    tokio::spawn(async move {
        kubelet_server
            .serve_tls(listener, tls, async {
                let _ = server_stopped.await;
            })
            .await
            .unwrap();
    });
    Env {
        _tmp: tmp,
        kubeconfig,
        home,
        client,
        server,
        https,
        _api: api,
        runtime,
        kubelet_ca: kubelet_pki.ca_pem.clone(),
        other_ca: pki.ca_pem.clone(),
        _kubelet_stop: kubelet_stop,
        _server_stop: server_stop,
    }
}

async fn create_pod(client: &Arc<dyn Client>, v: serde_json::Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(v).unwrap();
    api.create(&PostParams::default(), &p).await.unwrap();
}

async fn get_pod(client: &Arc<dyn Client>, name: &str) -> Option<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .get_opt(name)
        .await
        .unwrap()
}

/// `kubectl logs -f`: reads lines until two new ticks arrived after the first, then kills
/// kubectl (the stream must still be open: follow keeps going).
async fn follow(env: &Env, bin: &Path) {
    let mut cmd = env.command(bin, &["logs", "-f", "ticker"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ticks = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(n) = line.strip_prefix("tick ") {
                ticks.push(n.parse::<u64>().unwrap());
                if ticks.len() >= 2 && ticks[ticks.len() - 1] >= ticks[0] + 2 {
                    return true;
                }
            }
        }
        false
    };
    let ok = tokio::time::timeout(Duration::from_secs(15), read).await;
    assert_eq!(
        ok,
        Ok(true),
        "{}: kubectl logs -f did not stream new lines (ticks {ticks:?})",
        bin.display()
    );
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_and_exec_through_the_kubelet() {
    let env = start().await;
    let c = &env.client;

    create_pod(
        c,
        serde_json::json!({"metadata": {"name": "ticker"}, "spec": {"nodeName": NODE,
        "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c",
            "echo hello; i=0; while [ $i -lt 120 ]; do echo tick $i; i=$((i+1)); sleep 1; done"]}]}}),
    )
    .await;
    create_pod(
        c,
        serde_json::json!({"metadata": {"name": "crash"}, "spec": {"nodeName": NODE,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c",
            "echo crashing; exit 3"]}]}}),
    )
    .await;
    // Two containers; kubectl picks the one the annotation names.
    create_pod(
        c,
        serde_json::json!({"metadata": {"name": "multi", "annotations":
            {"kubectl.kubernetes.io/default-container": "second"}}, "spec": {"nodeName": NODE,
        "containers": [
            {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo from first; exec sleep 120"]},
            {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo from second; exec sleep 120"]}]}}),
    )
    .await;
    create_pod(
        c,
        serde_json::json!({"metadata": {"name": "pending"}, "spec": {
        "containers": [{"name": "app", "image": "busybox"}]}}),
    )
    .await;
    wait_for(20, "ticker running", || async {
        get_pod(c, "ticker").await.filter(running)
    })
    .await;
    wait_for(20, "multi running", || async {
        get_pod(c, "multi").await.filter(running)
    })
    .await;
    wait_for(30, "crash restarted once", || async {
        get_pod(c, "crash")
            .await
            .filter(|p| restart_count(p, "c") >= 1)
    })
    .await;
    // Two ticks logged, so that --tail=1 shows a tick line.
    wait_for(10, "two ticks in the log", || async {
        let mut s = env
            .server
            .pod_logs(
                &UserInfo::admin(),
                "default",
                "ticker",
                &PodLogOptions::default(),
            )
            .await
            .unwrap();
        let mut text = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut s).await {
            text.extend_from_slice(&chunk.unwrap());
        }
        String::from_utf8_lossy(&text)
            .contains("tick 1\n")
            .then_some(())
    })
    .await;

    for minor in 27..=33u32 {
        let bin = kubectl_bin(minor);
        assert!(
            bin.is_file(),
            "{} is missing (see shared/compat.md)",
            bin.display()
        );
        let v = format!("kubectl 1.{minor}");

        let out = env.run(&bin, &["logs", "ticker"], &[], "").await;
        assert!(
            out.code == Some(0) && out.stdout.starts_with("hello\ntick 0\ntick 1\n"),
            "{v} logs: {out}"
        );
        let out = env
            .run(&bin, &["logs", "ticker", "--tail=1"], &[], "")
            .await;
        assert!(
            out.code == Some(0)
                && out.stdout.lines().count() == 1
                && out.stdout.starts_with("tick "),
            "{v} logs --tail=1: {out}"
        );
        let out = env
            .run(&bin, &["logs", "ticker", "--limit-bytes=3"], &[], "")
            .await;
        assert!(
            out.code == Some(0) && out.stdout == "hel",
            "{v} logs --limit-bytes=3: {out}"
        );
        let out = env.run(&bin, &["logs", "multi"], &[], "").await;
        assert!(
            out.code == Some(0) && out.stdout == "from second\n",
            "{v} logs of the default container: {out}"
        );
        let out = env
            .run(&bin, &["logs", "ticker", "--timestamps"], &[], "")
            .await;
        let first = out.stdout.lines().next().unwrap_or("");
        let (ts, rest) = first.split_once(' ').unwrap_or(("", ""));
        assert!(
            out.code == Some(0) && rest == "hello" && ts.parse::<jiff::Timestamp>().is_ok(),
            "{v} logs --timestamps: {out}"
        );
        let out = env
            .run(&bin, &["logs", "crash", "--previous"], &[], "")
            .await;
        assert!(
            out.code == Some(0) && out.stdout == "crashing\n",
            "{v} logs --previous: {out}"
        );
        let out = env
            .run(&bin, &["logs", "ticker", "--previous"], &[], "")
            .await;
        assert!(
            out.code != Some(0)
                && out
                    .stderr
                    .contains("previous terminated container \"app\" in pod \"ticker\" not found"),
            "{v} logs --previous without one: {out}"
        );
        let out = env
            .run(&bin, &["logs", "ticker", "-c", "wrong"], &[], "")
            .await;
        assert!(
            out.code != Some(0)
                && out
                    .stderr
                    .contains("container wrong is not valid for pod ticker"),
            "{v} logs -c wrong: {out}"
        );
        follow(&env, &bin).await;

        if minor < 29 {
            continue; // SPDY/3.1 only.
        }
        let ws: &[(&str, &str)] = if minor == 29 {
            &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "true")]
        } else {
            &[]
        };
        let out = env
            .run(
                &bin,
                &[
                    "exec",
                    "ticker",
                    "--",
                    "sh",
                    "-c",
                    "echo out; echo err >&2; exit 3",
                ],
                ws,
                "",
            )
            .await;
        assert!(
            out.code == Some(3)
                && out.stdout == "out\n"
                && out.stderr.contains("err\n")
                && out.stderr.contains("command terminated with exit code 3"),
            "{v} exec exit 3: {out}"
        );
        let out = env
            .run(
                &bin,
                &["exec", "-i", "ticker", "--", "cat"],
                ws,
                "piped input\nline 2\n",
            )
            .await;
        assert!(
            out.code == Some(0) && out.stdout == "piped input\nline 2\n",
            "{v} exec -i cat: {out}"
        );
        let out = env
            .run(
                &bin,
                &["exec", "ticker", "-c", "wrong", "--", "true"],
                ws,
                "",
            )
            .await;
        assert!(
            out.code != Some(0)
                && out
                    .stderr
                    .contains("container wrong is not valid for pod ticker"),
            "{v} exec -c wrong: {out}"
        );
    }

    // The kubelet client's TLS and credentials, with more servers over the same store.
    let logs_via = |cfg: KubeletClientConfig, opts: PodLogOptions| {
        let server = ApiServer::builder(env.server.store().clone())
            .kubelet_client(cfg)
            .build();
        async move {
            let mut s = server
                .pod_logs(&UserInfo::admin(), "default", "ticker", &opts)
                .await?;
            let mut text = Vec::new();
            while let Some(chunk) = futures::StreamExt::next(&mut s).await {
                text.extend_from_slice(&chunk.unwrap());
            }
            Ok::<_, kube_api::Error>(String::from_utf8(text).unwrap())
        }
    };
    let verify = |ca: &str| {
        KubeletClientConfig::new()
            .with_token(KUBELET_TOKEN)
            .with_certificate_authority(ca)
            .unwrap()
    };
    let text = logs_via(verify(&env.kubelet_ca), PodLogOptions::default())
        .await
        .unwrap();
    assert!(text.starts_with("hello\n"), "{text}");
    let e = logs_via(verify(&env.other_ca), PodLogOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), 500, "{e}");
    assert!(e.message().contains("tls: invalid peer certificate"), "{e}");
    let skip = PodLogOptions {
        insecure_skip_tls_verify_backend: true,
        ..Default::default()
    };
    assert!(logs_via(verify(&env.other_ca), skip)
        .await
        .unwrap()
        .starts_with("hello\n"));
    let e = logs_via(
        KubeletClientConfig::new().with_token("wrong"),
        PodLogOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code(), e.reason(), e.message()),
        (
            401,
            "Unauthorized",
            "the server has asked for the client to provide credentials ( pods/log ticker)"
        )
    );

    // Errors the kubelet never sees, over raw HTTPS.
    let get = |path: &str| {
        let https = &env.https;
        let path = path.to_string();
        async move {
            let r = https
                .send_raw(::http::Method::GET, &path, &[], None)
                .await
                .unwrap();
            let body: serde_json::Value =
                serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
            (
                r.status,
                String::from_utf8_lossy(&r.body).into_owned(),
                body,
            )
        }
    };
    // A pod not scheduled yet: an empty log; exec has no host.
    let (code, text, _) = get("/api/v1/namespaces/default/pods/pending/log").await;
    assert_eq!((code, text.as_str()), (200, ""));
    let exec = |path: &str| {
        let https = &env.https;
        let path = path.to_string();
        async move {
            let r = https
                .send_raw(::http::Method::POST, &path, &[], None)
                .await
                .unwrap();
            let body: serde_json::Value =
                serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
            (r.status, body)
        }
    };
    let (code, body) =
        exec("/api/v1/namespaces/default/pods/pending/exec?command=true&stdout=true").await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["message"], "pod pending does not have a host assigned");
    // Not an upgrade.
    let (code, body) =
        exec("/api/v1/namespaces/default/pods/ticker/exec?command=true&stdout=true").await;
    assert_eq!(
        (code, body["message"].as_str()),
        (400, Some("Upgrade request required"))
    );
    // Unknown container, invalid options, unknown pod.
    let (code, _, body) = get("/api/v1/namespaces/default/pods/ticker/log?container=nope").await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "container nope is not valid for pod ticker"
    );
    let (code, _, body) = get("/api/v1/namespaces/default/pods/ticker/log?tailLines=-1").await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    let (code, _, body) = get("/api/v1/namespaces/default/pods/nope/log").await;
    assert_eq!(
        (code, body["message"].as_str()),
        (404, Some("pods \"nope\" not found"))
    );
    // A node without a usable address, then a kubelet that is down.
    let nodes: Api<Node> = Api::all(c.clone());
    for (name, status) in [
        ("bare", serde_json::json!({"addresses": []})),
        (
            "down",
            serde_json::json!({"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                     "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}),
        ),
    ] {
        let n: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        let mut n = nodes.create(&PostParams::default(), &n).await.unwrap();
        n.status = Some(serde_json::from_value(status).unwrap());
        nodes
            .replace_status(name, &PostParams::default(), &n)
            .await
            .unwrap();
        create_pod(
            c,
            serde_json::json!({"metadata": {"name": format!("on-{name}")}, "spec": {"nodeName": name,
            "containers": [{"name": "app", "image": "busybox"}]}}),
        )
        .await;
    }
    let (code, _, body) = get("/api/v1/namespaces/default/pods/on-bare/log").await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "no preferred addresses found; known addresses: []"
    );
    let (code, _, body) = get("/api/v1/namespaces/default/pods/on-down/log").await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "Get \"https://127.0.0.1:1/containerLogs/default/on-down/app\": dial tcp 127.0.0.1:1: connect: connection refused"
    );
    // Exec on the down kubelet: the dial error, whether kubectl's WebSocket attempt or its
    // SPDY fallback reports it.
    let out = env
        .run(
            &kubectl_bin(33),
            &["exec", "on-down", "--", "true"],
            &[],
            "",
        )
        .await;
    assert!(
        out.code != Some(0)
            && out.stderr.contains(
                "error dialing backend: dial tcp 127.0.0.1:1: connect: connection refused"
            ),
        "kubectl 1.33 exec on a down kubelet: {out}"
    );
    // The containers are host processes (no shim, no cgroup): stop them. They also end on
    // their own within two minutes should an assertion above fail.
    drop(env._kubelet_stop);
    let all = env
        .runtime
        .list_containers(&Default::default())
        .await
        .unwrap();
    for ctr in all {
        let _ = env
            .runtime
            .stop_container(&ctr.id, Duration::from_secs(1))
            .await;
    }
}
