//! A Deployment scaled from 0 to 10,000 replicas on simulated nodes.
//!
//! `cargo run --release -p kube-ctrl --example scale_bench [-- --replicas N --nodes M]`
//! (defaults: 10,000 replicas on 100 nodes; a smaller `--replicas` is a quick smoke run).
//!
//! The controller manager (deployment + replicaset controllers) runs over a counting
//! wrapper of the in-process client; a stand-in kubelet (over its own, uncounted client)
//! binds every new pod to one of 100 simulated nodes and marks it Running and Ready.
//! Prints `bench deployment_10k seconds=… api_writes_per_pod=…` (`deployment_<N>` for other
//! replica counts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use kube_api::{ApiServer, LocalClient};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::apps_v1::Deployment;
use kubox_core::api::core_v1::{Pod, PodCondition, PodStatus};
use kubox_core::client::{
    Api, Client, GroupVersionResource, Patch, PatchParams, PostParams, Request, Verb, WatchParams,
    WatchStream,
};
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::{watcher, Change, Informer};
use kubox_core::Time;
use serde_json::{json, Value};

const DEFAULT_REPLICAS: i32 = 10_000;
const DEFAULT_NODES: usize = 100;

/// `--replicas N --nodes M` (both optional).
fn parse_args() -> anyhow::Result<(i32, usize)> {
    let (mut replicas, mut nodes) = (DEFAULT_REPLICAS, DEFAULT_NODES);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<String> {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match a.as_str() {
            "--replicas" => {
                let v = value("--replicas")?;
                replicas = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--replicas {v:?}: {e}"))?;
            }
            "--nodes" => {
                let v = value("--nodes")?;
                nodes = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--nodes {v:?}: {e}"))?;
            }
            "-h" | "--help" => {
                println!("scale_bench [--replicas N (default {DEFAULT_REPLICAS})] [--nodes M (default {DEFAULT_NODES})]");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if replicas < 1 || nodes < 1 {
        anyhow::bail!("--replicas and --nodes must be at least 1");
    }
    Ok((replicas, nodes))
}

/// Counts every write (create, replace, patch, delete) going through it.
struct Counting {
    inner: Arc<dyn Client>,
    writes: AtomicU64,
    event_writes: AtomicU64,
}

#[async_trait]
impl Client for Counting {
    async fn call(&self, request: Request) -> kubox_core::client::Result<Value> {
        if !matches!(request.verb, Verb::Get | Verb::List(_)) {
            self.writes.fetch_add(1, Ordering::Relaxed);
            if request.resource.resource == "events" {
                self.event_writes.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.inner.call(request).await
    }
    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> kubox_core::client::Result<WatchStream> {
        self.inner.watch(resource, namespace, params).await
    }
}

async fn run_pod(client: Arc<dyn Client>, pod: Arc<Pod>, node: String) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let bind = Request {
        resource: GroupVersionResource::of::<Pod>(),
        namespace: Some(ns.clone()),
        name: Some(name.clone()),
        subresource: Some("binding".into()),
        verb: Verb::Create(PostParams::default()),
        body: Some(
            json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                          "target": {"kind": "Node", "name": node}}),
        ),
    };
    if client.call(bind).await.is_err() {
        return;
    }
    let api: Api<Pod> = Api::namespaced(client, &ns);
    for _ in 0..5 {
        let Ok(mut p) = api.get(&name).await else {
            return;
        };
        let n = p.metadata.uid.as_deref().map(|u| u.len()).unwrap_or(0);
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(format!(
                "10.{}.{}.{}",
                n % 200,
                fastrand(&name) % 250,
                fastrand(&node) % 250
            )),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(jiff::Timestamp::now())),
                ..Default::default()
            }]),
            ..p.status.take().unwrap_or_default()
        });
        if api
            .replace_status(&name, &PostParams::default(), &p)
            .await
            .is_ok()
        {
            return;
        }
    }
}

fn fastrand(s: &str) -> u32 {
    s.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let (replicas, nodes) = parse_args()?;
    let workload = if replicas == DEFAULT_REPLICAS {
        "deployment_10k".to_string()
    } else {
        format!("deployment_{replicas}")
    };
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await?;
    let admin = LocalClient::admin(server.clone()).into_client();
    let counting = Arc::new(Counting {
        inner: admin.clone(),
        writes: AtomicU64::new(0),
        event_writes: AtomicU64::new(0),
    });

    // Stand-in kubelet + scheduler.
    let (pods, driver) = Informer::<Pod>::new(
        admin.clone(),
        None,
        watcher::Config::default(),
        sleep_fn(tokio::time::sleep),
    );
    tokio::spawn(driver.run());
    let kubelet_client = admin.clone();
    tokio::spawn(async move {
        let mut changes = pods.subscribe();
        let mut i = 0usize;
        while let Some(c) = changes.next().await {
            if let Change::Added(p) = c {
                if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
                    i += 1;
                    tokio::spawn(run_pod(
                        kubelet_client.clone(),
                        p,
                        format!("node-{}", i % nodes),
                    ));
                }
            }
        }
    });

    let options = Options {
        controllers: vec!["deployment".into(), "replicaset".into()],
        ..Options::default()
    };
    let client: Arc<dyn Client> = counting.clone();
    let manager = ControllerManager::with_builtin(client, options, tokio_clock());
    tokio::spawn(manager.run(std::future::pending()));

    let ds: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "bench"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "bench"}},
          "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "c", "image": "img"}]}}}
    }))?;
    ds.create(&PostParams::default(), &d).await?;
    loop {
        let d = ds.get("bench").await?;
        if d.status.and_then(|s| s.observed_generation) == d.metadata.generation {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = counting.writes.load(Ordering::Relaxed);
    let events_before = counting.event_writes.load(Ordering::Relaxed);
    let start = Instant::now();
    ds.patch(
        "bench",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"replicas": replicas}})),
    )
    .await?;
    loop {
        let d = ds.get("bench").await?;
        let s = d.status.clone().unwrap_or_default();
        if d.metadata.generation <= s.observed_generation
            && s.available_replicas == Some(replicas)
            && s.updated_replicas == Some(replicas)
            && s.replicas == Some(replicas)
        {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("timed out: {s:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    // Let the last Event writes land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = counting.writes.load(Ordering::Relaxed) - before;
    let events = counting.event_writes.load(Ordering::Relaxed) - events_before;
    println!(
        "bench {workload} seconds={seconds:.2} api_writes_per_pod={:.3} non_event_writes_per_pod={:.3} writes={writes} event_writes={events}",
        writes as f64 / f64::from(replicas),
        (writes - events) as f64 / f64::from(replicas)
    );
    Ok(())
}
