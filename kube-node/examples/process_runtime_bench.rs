//! Start latency of the process runtime: 100 pods started concurrently, each a sandbox plus
//! one container (`sleep 1000`), timed from `run_pod_sandbox` to `start_container` returning.
//! With the pod network (root) and on the host network.
//!
//! `cargo run --release -p kube-node --example process_runtime_bench` prints
//! `bench process_runtime_<network> pods=100 p50_ms=… p99_ms=… max_ms=… supervision=…`.

use std::time::{Duration, Instant};

use kube_node::runtime::process::{NetworkMode, ProcessConfig, ProcessRuntime};
use kube_node::runtime::{ContainerConfig, PodSandboxConfig, Runtime, SandboxMetadata};

const PODS: usize = 100;

async fn bench(network: NetworkMode) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut config = ProcessConfig::new(dir.path().join("state"));
    let tag = std::process::id() % 100_000;
    config.network.mode = network;
    config.network.bridge = format!("kbxb{tag}");
    config.network.netns_prefix = format!("kbxb{tag}-");
    config.network.pod_cidr = "10.199.0.0/24".into();
    config.cgroups.parent = format!("kubox-bench-{tag}").into();
    let runtime = ProcessRuntime::new(config.clone()).await?;
    let status = runtime.status().await?;
    let label = if status.network_ready {
        "netns"
    } else {
        "hostnet"
    };
    let supervision = if runtime.shim().is_some() {
        "shim"
    } else {
        "in-process"
    };

    let mut tasks = Vec::new();
    for i in 0..PODS {
        let runtime = runtime.clone();
        let logs = dir.path().join("logs");
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let sandbox = PodSandboxConfig {
                metadata: SandboxMetadata {
                    name: format!("pod-{i}"),
                    namespace: "default".into(),
                    uid: format!("uid-{i}"),
                    attempt: 0,
                },
                log_directory: logs.join(format!("pod-{i}")),
                ..Default::default()
            };
            let sandbox_id = runtime.run_pod_sandbox(&sandbox).await?;
            let sandbox_latency = start.elapsed();
            let container = ContainerConfig {
                name: "app".into(),
                image: "busybox".into(),
                command: vec!["sleep".into(), "1000".into()],
                log_path: "app/0.log".into(),
                ..Default::default()
            };
            let id = runtime
                .create_container(&sandbox_id, &container, &sandbox)
                .await?;
            runtime.start_container(&id).await?;
            Ok::<_, kube_node::runtime::Error>((start.elapsed(), sandbox_latency, sandbox_id))
        }));
    }
    let mut latencies = Vec::new();
    let mut sandbox_latencies = Vec::new();
    let mut sandboxes = Vec::new();
    for task in tasks {
        let (latency, sandbox_latency, sandbox_id) = task.await??;
        latencies.push(latency);
        sandbox_latencies.push(sandbox_latency);
        sandboxes.push(sandbox_id);
    }
    latencies.sort();
    sandbox_latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "bench process_runtime_{label} pods={PODS} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} sandbox_p50_ms={:.1} sandbox_p99_ms={:.1} supervision={supervision}",
        ms(latencies[PODS / 2]),
        ms(latencies[PODS * 99 / 100]),
        ms(latencies[PODS - 1]),
        ms(sandbox_latencies[PODS / 2]),
        ms(sandbox_latencies[PODS * 99 / 100]),
    );
    let teardown = Instant::now();
    for sandbox_id in sandboxes {
        runtime.remove_pod_sandbox(&sandbox_id).await?;
    }
    println!(
        "bench process_runtime_{label}_teardown pods={PODS} total_ms={:.1}",
        ms(teardown.elapsed())
    );
    if status.network_ready {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &config.network.bridge])
            .status();
    }
    for hierarchy in ["", "memory", "cpu", "cpuacct"] {
        let _ = std::fs::remove_dir(
            config
                .cgroups
                .root
                .join(hierarchy)
                .join(&config.cgroups.parent),
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    bench(NetworkMode::Auto).await?;
    bench(NetworkMode::Host).await?;
    Ok(())
}
