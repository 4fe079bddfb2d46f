//! Pod startup latency: 100 pods on one node, from `create` to `Running` observed through a
//! watch, with an in-process API server and the kubelet over each runtime.
//!
//! ```text
//! cargo run --release -p kube-node --all-features --example pod_startup_bench [-- [process|sim|containerd]… [pods=100] [interval_ms=25]]
//! ```
//!
//! Prints `bench <runtime> p50_ms=… p99_ms=… max_ms=… pods=… interval_ms=…` for the process
//! runtime (real processes), the simulated runtime, and (feature `cri`) containerd. Pods are
//! created one every `interval_ms` (25 ms, and 200 ms for containerd: Kubernetes measures its
//! startup SLO the same way, at a given creation rate); the `*_burst` lines create all 100 at once, which measures
//! throughput more than latency: on two cores the process runtime needs ~12 ms of work per
//! pod (a network namespace and veth pair, a shim and the container process), so the last
//! pods of a burst wait for the ones before them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use kube_api::{ApiServer, LocalClient};
use kube_node::kubelet::Kubelet;
use kube_node::runtime::{ContainerFilter, Runtime, SandboxFilter};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Node, Pod};
use kubox_core::client::{Api, Client, PostParams, WatchParams};
use kubox_core::meta::WatchEventType;
use serde_json::json;
use tokio::sync::oneshot;

/// Pods per run unless `pods=N` is given.
const PODS: usize = 100;
/// Interval between creations of the paced runs unless `interval_ms=N` is given.
const INTERVAL: Duration = Duration::from_millis(25);
/// The same for containerd, whose own work per pod (runc for the sandbox and the container,
/// the CNI bridge plugin) is ~100 ms of CPU on this machine: one pod every 200 ms keeps the
/// creation rate under what one node can start, so the figure is latency, not queueing (the
/// burst line shows the queueing).
const CRI_INTERVAL: Duration = Duration::from_millis(200);

/// Command-line settings: runtime names to run (all when none) and `key=value` overrides.
struct Args {
    runtimes: Vec<String>,
    pods: usize,
    interval: Option<Duration>,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let mut args = Args {
            runtimes: vec![],
            pods: PODS,
            interval: None,
        };
        for a in std::env::args().skip(1) {
            match a.split_once('=') {
                Some(("pods", v)) => args.pods = v.parse().context("pods=N")?,
                Some(("interval_ms", v)) => {
                    args.interval = Some(Duration::from_millis(v.parse().context("interval_ms=N")?))
                }
                Some((k, _)) => bail!("unknown setting {k:?} (pods=N, interval_ms=N)"),
                None => args.runtimes.push(a),
            }
        }
        Ok(args)
    }

    fn want(&self, name: &str) -> bool {
        self.runtimes.is_empty() || self.runtimes.iter().any(|w| w == name)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the benchmark over `runtime`; returns the startup latencies in milliseconds.
async fn run(
    label: &str,
    runtime: Arc<dyn Runtime>,
    command: Vec<String>,
    image: &str,
    pods_n: usize,
    interval: Duration,
) -> anyhow::Result<()> {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await?;
    let client: Arc<dyn Client> = LocalClient::admin(server).into_client();
    let logs = tempfile::tempdir()?;
    let node = format!("bench-{}", label.replace('_', "-"));
    let kubelet = Kubelet::builder(&node, runtime.clone(), client.clone())
        .log_root(logs.path())
        .build();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(kubelet.run(async {
        let _ = stopped.await;
    }));
    let nodes: Api<Node> = Api::all(client.clone());
    let t = Instant::now();
    while nodes.get_opt(&node).await?.is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("node {node} did not register");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut watch = pods
        .watch(&WatchParams {
            resource_version: Some(
                pods.list(&Default::default())
                    .await?
                    .metadata
                    .resource_version
                    .unwrap_or_default(),
            ),
            ..Default::default()
        })
        .await?;
    let created: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let creator = {
        let created = created.clone();
        let pods = pods.clone();
        let node = node.clone();
        let image = image.to_string();
        tokio::spawn(async move {
            for i in 0..pods_n {
                let name = format!("p{i}");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "c", "image": image, "command": command}]}
                }))
                .expect("pod");
                let next = Instant::now() + interval;
                created.lock().unwrap().insert(name, Instant::now());
                pods.create(&PostParams::default(), &pod)
                    .await
                    .context("create")?;
                tokio::time::sleep_until(next.into()).await;
            }
            anyhow::Ok(())
        })
    };
    let mut latencies = vec![];
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < pods_n {
        let ev = tokio::time::timeout_at(deadline.into(), watch.next())
            .await
            .context("timed out waiting for pods to run")?
            .context("watch ended")??;
        if ev.type_ == WatchEventType::Deleted {
            continue;
        }
        let p = ev.object;
        let name = p.metadata.name.clone().unwrap_or_default();
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && seen.insert(name.clone())
        {
            let start = created.lock().unwrap().get(&name).copied();
            if let Some(start) = start {
                latencies.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    creator.await??;
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "bench {label} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} pods={} interval_ms={}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
        latencies.len(),
        interval.as_millis()
    );
    let _ = stop.send(());
    task.await?;
    // Clean up the containers the kubelet left running.
    for c in runtime.list_containers(&ContainerFilter::default()).await? {
        let _ = runtime.stop_container(&c.id, Duration::from_secs(1)).await;
        let _ = runtime.remove_container(&c.id).await;
    }
    for s in runtime
        .list_pod_sandboxes(&SandboxFilter::default())
        .await?
    {
        let _ = runtime.stop_pod_sandbox(&s.id).await;
        let _ = runtime.remove_pod_sandbox(&s.id).await;
    }
    Ok(())
}

/// The CRI runtime against a real containerd, started by the project's harness in its own
/// network namespace with a CNI bridge (pods get their own IPs, as on a real node) and local
/// images (no registry).
#[cfg(feature = "cri")]
async fn containerd(args: &Args) -> anyhow::Result<()> {
    use kube_node::runtime::cri::testing::{Containerd, Options, BUSYBOX_IMAGE};
    let containerd = Containerd::start_with(Options {
        pod_network: true,
        ..Default::default()
    })
    .await
    .context("start containerd (needs root, containerd, runc and the CNI plugins)")?;
    let rt = Arc::new(containerd.runtime().await?);
    // A container's pid 1 gets no default SIGTERM action: trap it, as real entrypoints do,
    // so that the clean-up does not wait out the grace period of every container.
    let sleep = vec![
        "sh".to_string(),
        "-c".to_string(),
        "trap 'exit 143' TERM; sleep 100000 & wait".to_string(),
    ];
    run(
        "containerd",
        rt.clone(),
        sleep.clone(),
        BUSYBOX_IMAGE,
        args.pods,
        args.interval.unwrap_or(CRI_INTERVAL),
    )
    .await?;
    run(
        "containerd_burst",
        rt,
        sleep,
        BUSYBOX_IMAGE,
        args.pods,
        Duration::ZERO,
    )
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse()?;
    let want = |name: &str| args.want(name);
    if want("process") {
        let state = tempfile::tempdir()?;
        let mut cfg = kube_node::runtime::process::ProcessConfig::new(state.path());
        cfg.network.bridge = "kbxbench0".into();
        // Apart from the tests' pod ranges (10.244–10.249), which may run at the same time.
        cfg.network.pod_cidr = "10.251.0.0/24".into();
        cfg.network.netns_prefix = "kbxbench-".into();
        let rt = Arc::new(kube_node::runtime::process::ProcessRuntime::new(cfg).await?);
        let sleep = vec!["sleep".to_string(), "3600".to_string()];
        run(
            "process",
            rt.clone(),
            sleep.clone(),
            "busybox:1.36",
            args.pods,
            args.interval.unwrap_or(INTERVAL),
        )
        .await?;
        run(
            "process_burst",
            rt,
            sleep,
            "busybox:1.36",
            args.pods,
            Duration::ZERO,
        )
        .await?;
        // The runtime creates the node bridge but leaves it at teardown.
        let _ = tokio::process::Command::new("ip")
            .args(["link", "delete", "kbxbench0", "type", "bridge"])
            .status()
            .await;
    }
    if want("sim") {
        let rt = Arc::new(kube_node::runtime::sim::SimRuntime::new(Default::default()));
        let sleep = vec!["sleep".to_string(), "3600".to_string()];
        run(
            "sim",
            rt.clone(),
            sleep.clone(),
            "busybox:latest",
            args.pods,
            args.interval.unwrap_or(INTERVAL),
        )
        .await?;
        run(
            "sim_burst",
            rt,
            sleep,
            "busybox:latest",
            args.pods,
            Duration::ZERO,
        )
        .await?;
    }
    #[cfg(feature = "cri")]
    if want("containerd") {
        containerd(&args).await?;
    }
    Ok(())
}
