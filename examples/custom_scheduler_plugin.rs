//! An application plugging its own Filter and Score plugin into the scheduler.
//!
//! `GpuGeneration` keeps pods that ask for `example.com/gpu-generation: "N"` (an annotation)
//! off nodes of an older generation (label `example.com/gpu-generation`), and prefers the
//! newest generation for everyone. It is added to the default profile next to the default
//! plugins, with weight 5. The cluster is a [`kubox::Cluster`] of three simulated nodes
//! (generations 1, 2 and 3) started without its own scheduler; this program runs the
//! scheduler with the custom profile instead, and the simulated kubelets run what it binds.
//!
//! ```text
//! cargo run --example custom_scheduler_plugin
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kubox::cluster::{Cluster, NodeSpec, ProxyMode};
use kubox::core::api::core_v1::{Container, Node, Pod, PodSpec, ResourceRequirements};
use kubox::core::client::{Api, Client, PostParams};
use kubox::core::meta::ObjectMeta;
use kubox::core::quantity::Quantity;
use kubox::sched::framework::{
    CycleState, FilterPlugin, NodeScore, Plugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use kubox::sched::nodeinfo::{NodeInfo, PodInfo};
use kubox::sched::scheduler::{DefaultScheduler, Scheduler, SchedulerConfig};

const LABEL: &str = "example.com/gpu-generation";

/// The custom plugin: a Filter and a Score (with normalization).
struct GpuGeneration;

fn generation(labels: Option<&BTreeMap<String, String>>) -> Option<i64> {
    labels?.get(LABEL)?.parse().ok()
}

impl Plugin for GpuGeneration {
    fn name(&self) -> &str {
        "GpuGeneration"
    }
}

impl FilterPlugin for GpuGeneration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(want) = generation(pod.pod.metadata.annotations.as_ref()) else {
            return Status::success();
        };
        match generation(Some(node.labels())) {
            Some(have) if have >= want => Status::success(),
            _ => Status::unresolvable(format!("node(s) had a GPU older than generation {want}")),
        }
    }
}

impl ScorePlugin for GpuGeneration {
    fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(generation(Some(node.labels())).unwrap_or(0))
    }
    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0).max(1);
        for s in scores.iter_mut() {
            s.score = s.score * MAX_NODE_SCORE / max;
        }
        Status::success()
    }
}

async fn add_pod(client: &Arc<dyn Client>, name: &str, min_gen: Option<u32>) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: min_gen.map(|g| BTreeMap::from([(LABEL.to_string(), g.to_string())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "train".into(),
                image: Some("trainer:v1".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([("cpu".to_string(), Quantity::parse("1")?)])),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    api.create(&PostParams::default(), &pod).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Three simulated nodes, one per GPU generation; no built-in scheduler.
    let mut builder = Cluster::builder().scheduler(false).proxy(ProxyMode::None);
    for (name, gen) in [("old-gpu", 1), ("mid-gpu", 2), ("new-gpu", 3)] {
        builder = builder.node(NodeSpec::simulated(name).label(LABEL, gen.to_string()));
    }
    let cluster = builder.start().await?;
    let client = cluster.client();
    let nodes: Api<Node> = Api::all(client.clone());
    for _ in 0..500 {
        let registered = nodes.list(&Default::default()).await?.items;
        if registered.len() == 3
            && registered
                .iter()
                .all(|n| n.status.as_ref().is_some_and(|s| s.allocatable.is_some()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The default profile plus the custom plugin (Filter, and Score with weight 5).
    let gpu = Arc::new(GpuGeneration);
    let profile = kubox::sched::plugins::default_profile(kubox::sched::DEFAULT_SCHEDULER_NAME)
        .with_filter(gpu.clone())
        .with_score(gpu, 5);
    let config = SchedulerConfig {
        profiles: vec![profile],
        ..Default::default()
    };
    let scheduler = DefaultScheduler::new(client.clone(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(scheduler.clone().run(Box::pin(async move {
        let _ = stopped.await;
    })));

    add_pod(&client, "needs-gen-2", Some(2)).await?;
    add_pod(&client, "needs-gen-4", Some(4)).await?;
    add_pod(&client, "any", None).await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for _ in 0..500 {
        let mut bound = 0;
        for n in ["needs-gen-2", "any"] {
            let phase = pods.get(n).await?.status.and_then(|s| s.phase);
            if phase.as_deref() == Some("Running") {
                bound += 1;
            }
        }
        if bound == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give the impossible pod's FailedScheduling condition a moment to land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in ["needs-gen-2", "needs-gen-4", "any"] {
        let p = pods.get(name).await?;
        let node = p
            .spec
            .and_then(|s| s.node_name)
            .unwrap_or_else(|| "<pending>".into());
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let why = p
            .status
            .and_then(|s| s.conditions)
            .and_then(|c| c.into_iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message)
            .unwrap_or_default();
        println!("{name:12} -> {node:10} {phase:8} {why}");
    }
    println!(
        "{}",
        scheduler
            .metrics()
            .to_prometheus()
            .lines()
            .filter(|l| l.starts_with("scheduler_schedule_attempts_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = stop.send(());
    let _ = running.await;
    drop((client, nodes, pods, scheduler));
    cluster.shutdown().await?;
    Ok(())
}
