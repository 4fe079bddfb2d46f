//! Pod networking of the process runtime (needs root: run as root in CI; fails loudly
//! otherwise): each sandbox gets its own network namespace and IP on a node bridge, so two
//! pods listen on the same port; host-network sandboxes share the host's network; teardown
//! removes namespaces and veths.

mod kubelet_support;

use std::path::Path;
use std::time::{Duration, Instant};

use kube_node::runtime::process::{NetworkMode, ProcessConfig, ProcessRuntime, ShimMode};
use kube_node::runtime::{
    ContainerConfig, ContainerState, PodSandboxConfig, Runtime, SandboxMetadata, SandboxState,
};
use kubelet_support::NetGuard;
use tokio::io::AsyncReadExt;

fn sandbox(dir: &Path, name: &str, host_network: bool) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: SandboxMetadata {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            attempt: 0,
        },
        hostname: name.into(),
        log_directory: dir.join(name),
        host_network,
        ..Default::default()
    }
}

/// A tiny TCP server on port 8080 answering with the pod's name.
fn server(name: &str) -> ContainerConfig {
    let script = [
        "import os, socket",
        "s = socket.socket()",
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "s.bind(('0.0.0.0', 8080))",
        "s.listen(16)",
        "print('listening', flush=True)",
        "while True:",
        "    c, _ = s.accept()",
        "    c.sendall(os.environ['POD'].encode())",
        "    c.close()",
    ]
    .join("\n");
    ContainerConfig {
        name: "server".into(),
        image: "python".into(),
        command: vec!["python3".into(), "-c".into(), script],
        env: vec![("POD".into(), name.into())],
        log_path: "server/0.log".into(),
        ..Default::default()
    }
}

async fn wait_for_log(path: &Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            Instant::now() < deadline,
            "{} never contained {text:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fetch(addr: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn two_pods_listen_on_the_same_port_with_their_own_ips() {
    assert!(
        rustix::process::geteuid().is_root(),
        "pod networking tests need root (CI runs them as root)"
    );
    let id = std::process::id() % 100_000;
    let guard = NetGuard {
        bridge: format!("kbxt{id}"),
        prefix: format!("kbxt{id}-"),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProcessConfig::new(dir.path().join("state"));
    config.shim = ShimMode::Path(env!("CARGO_BIN_EXE_kubox-shim").into());
    config.network.mode = NetworkMode::Auto;
    config.network.bridge = guard.bridge.clone();
    config.network.netns_prefix = guard.prefix.clone();
    config.network.pod_cidr = format!("10.{}.{}.0/24", 200 + id % 50, id % 250);
    config.cgroups.enabled = false;
    let runtime = ProcessRuntime::new(config.clone()).await.unwrap();
    let status = runtime.status().await.unwrap();
    // Pods get namespaces of their own: no host-network fallback to report.
    assert!(
        status.network_ready && status.message.is_empty(),
        "pod network not ready: {}",
        status.message
    );

    let logs = dir.path().join("logs");
    let mut pods = Vec::new();
    for name in ["pod-a", "pod-b"] {
        let sandbox = sandbox(&logs, name, false);
        let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
        let status = runtime.pod_sandbox_status(&sandbox_id).await.unwrap();
        let ip = status.ip.clone().expect("a pod IP");
        assert!(!status.host_network);
        let container = runtime
            .create_container(&sandbox_id, &server(name), &sandbox)
            .await
            .unwrap();
        runtime.start_container(&container).await.unwrap();
        pods.push((name, sandbox_id, container, ip, sandbox));
    }
    assert_ne!(pods[0].3, pods[1].3, "each pod has its own IP");
    for (name, _, container, ip, sandbox) in &pods {
        wait_for_log(&sandbox.log_directory.join("server/0.log"), "listening").await;
        assert_eq!(
            runtime.container_status(container).await.unwrap().state,
            ContainerState::Running,
            "{name}'s server died"
        );
        assert_eq!(fetch(&format!("{ip}:8080")).await, *name);
    }

    // exec runs in the pod's namespace: its loopback reaches its own server only, and its
    // eth0 carries the pod IP.
    let (name, _, container, ip, _) = &pods[0];
    let out = runtime
        .exec_sync(
            container,
            &[
                "python3".into(),
                "-c".into(),
                "import socket; s = socket.create_connection(('127.0.0.1', 8080)); print(s.recv(100).decode())".into(),
            ],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        *name,
        "{out:?}"
    );
    let out = runtime
        .exec_sync(
            container,
            &[
                "ip".into(),
                "-4".into(),
                "-o".into(),
                "addr".into(),
                "show".into(),
                "eth0".into(),
            ],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {ip}/24")),
        "{out:?}"
    );

    // A host-network sandbox has no IP of its own.
    let host = runtime
        .run_pod_sandbox(&sandbox(&logs, "host", true))
        .await
        .unwrap();
    let host_status = runtime.pod_sandbox_status(&host).await.unwrap();
    assert!(host_status.host_network && host_status.ip.is_none());

    // A new runtime over the same state keeps the allocations (no IP handed out twice).
    drop(runtime);
    let runtime = ProcessRuntime::new(config.clone()).await.unwrap();
    let third = runtime
        .run_pod_sandbox(&sandbox(&logs, "pod-c", false))
        .await
        .unwrap();
    let third_ip = runtime
        .pod_sandbox_status(&third)
        .await
        .unwrap()
        .ip
        .unwrap();
    assert!(
        pods.iter().all(|p| p.3 != third_ip),
        "{third_ip} was reused"
    );
    assert_eq!(fetch(&format!("{}:8080", pods[1].3)).await, "pod-b");

    // Teardown: stop releases the namespace and the veth; remove is idempotent.
    for (_, sandbox_id, container, _, _) in &pods {
        let netns = runtime.sandbox_netns(sandbox_id).expect("a namespace");
        assert!(netns.exists());
        runtime.stop_pod_sandbox(sandbox_id).await.unwrap();
        assert_eq!(
            runtime.container_status(container).await.unwrap().state,
            ContainerState::Exited
        );
        assert_eq!(
            runtime.pod_sandbox_status(sandbox_id).await.unwrap().state,
            SandboxState::NotReady
        );
        assert!(!netns.exists(), "{} left behind", netns.display());
        runtime.stop_pod_sandbox(sandbox_id).await.unwrap();
        runtime.remove_pod_sandbox(sandbox_id).await.unwrap();
        runtime.remove_pod_sandbox(sandbox_id).await.unwrap();
    }
    runtime.remove_pod_sandbox(&third).await.unwrap();
    runtime.remove_pod_sandbox(&host).await.unwrap();
    let leftovers: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(&guard.prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "namespaces left: {leftovers:?}");
    let veths = std::fs::read_dir(format!("/sys/class/net/{}/brif", guard.bridge))
        .map(|e| e.count())
        .unwrap_or(0);
    assert_eq!(veths, 0, "veths still on the bridge");
}

#[tokio::test]
async fn host_network_mode_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProcessConfig::new(dir.path().join("state"));
    config.network.mode = NetworkMode::Host;
    config.cgroups.enabled = false;
    let runtime = ProcessRuntime::new(config).await.unwrap();
    let status = runtime.status().await.unwrap();
    assert!(status.runtime_ready);
    // Pods can start (on the host network), so the node stays usable.
    assert!(status.network_ready);
    assert!(
        status.message.contains("host network"),
        "{}",
        status.message
    );
    let sandbox_id = runtime
        .run_pod_sandbox(&sandbox(dir.path(), "p", false))
        .await
        .unwrap();
    let status = runtime.pod_sandbox_status(&sandbox_id).await.unwrap();
    assert!(status.ip.is_none() && status.host_network);
}
