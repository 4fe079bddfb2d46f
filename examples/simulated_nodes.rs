//! Thousands of simulated nodes in one process: a [`kubox::Cluster`] whose kubelets run on
//! the simulated runtime (no processes), the scheduler and the controllers, then a
//! Deployment of many replicas scheduled and Running. Prints how long each phase took.
//!
//! ```text
//! cargo run --release --example simulated_nodes -- [--nodes 1000] [--replicas 3000]
//! ```
//!
//! Output lines start with `bench simulated_nodes`:
//! `nodes_ready_s` (every Node Ready), `scheduled_s` (every pod bound), `running_s` (every
//! pod Running), `available_s` (the Deployment's availableReplicas), `pods_per_s`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kubox::cluster::{Cluster, ProxyMode};
use kubox::core::api::apps_v1::Deployment;
use kubox::core::api::core_v1::{Node, Pod};
use kubox::core::client::{Api, ListParams, PostParams};

fn deployment(name: &str, replicas: i32) -> anyhow::Result<Deployment> {
    let text = format!(
        r#"{{"metadata": {{"name": "{name}"}},
           "spec": {{"replicas": {replicas},
             "selector": {{"matchLabels": {{"app": "{name}"}}}},
             "template": {{"metadata": {{"labels": {{"app": "{name}"}}}},
               "spec": {{"containers": [{{"name": "c", "image": "registry.k8s.io/pause:3.9",
                 "resources": {{"requests": {{"cpu": "100m", "memory": "64Mi"}}}}}}]}}}}}}}}"#
    );
    Ok(serde_json::from_str(&text)?)
}

async fn list_all<K>(api: &Api<K>, selector: Option<&str>) -> anyhow::Result<Vec<K>>
where
    K: kubox::core::meta::Resource,
{
    let mut out = Vec::new();
    let mut params = ListParams {
        label_selector: selector.map(String::from),
        limit: Some(500),
        ..Default::default()
    };
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params.continue_token = Some(c),
            None => return Ok(out),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut nodes = 1000usize;
    let mut replicas = 3000i32;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--nodes" => nodes = it.next().context("--nodes N")?.parse()?,
            "--replicas" => replicas = it.next().context("--replicas N")?.parse()?,
            other => bail!("unknown flag {other:?}: --nodes N --replicas N"),
        }
    }

    let t0 = Instant::now();
    let cluster = Cluster::builder()
        .simulated_nodes(nodes)
        .proxy(ProxyMode::None)
        .on_progress(|p| println!("{:11} {}", p.component, p.message))
        .start()
        .await?;
    let started = t0.elapsed();
    let client = cluster.client();
    let node_api: Api<Node> = Api::all(client.clone());
    loop {
        let all = list_all(&node_api, None).await?;
        let ready = all
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        if ready == nodes {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("only {ready} of {nodes} nodes Ready after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let nodes_ready = t0.elapsed();
    println!("{nodes} nodes Ready after {nodes_ready:.2?} (components started in {started:.2?})");

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let t1 = Instant::now();
    deploys
        .create(&PostParams::default(), &deployment("web", replicas)?)
        .await?;
    let mut scheduled = None;
    let running = loop {
        let all = list_all(&pods, Some("app=web")).await?;
        let bound = all
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        let running = all
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if scheduled.is_none() && bound == replicas as usize {
            scheduled = Some(t1.elapsed());
        }
        println!(
            "[{:7.2?}] pods {:5} bound {bound:5} running {running:5}",
            t1.elapsed(),
            all.len()
        );
        if running == replicas as usize {
            let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
            for p in &all {
                if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                    *per_node.entry(n).or_default() += 1;
                }
            }
            println!(
                "pods per node: min {} max {} over {} nodes",
                per_node.values().min().unwrap_or(&0),
                per_node.values().max().unwrap_or(&0),
                per_node.len()
            );
            break t1.elapsed();
        }
        if t1.elapsed() > Duration::from_secs(900) {
            bail!("only {running} of {replicas} pods Running after 15 minutes");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let available = loop {
        let d = deploys.get("web").await?;
        if d.status.and_then(|s| s.available_replicas) == Some(replicas) {
            break t1.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let scheduled = scheduled.unwrap_or(running);
    println!(
        "bench simulated_nodes nodes={nodes} replicas={replicas} start_s={:.2} nodes_ready_s={:.2} scheduled_s={:.2} running_s={:.2} available_s={:.2} pods_per_s={:.0}",
        started.as_secs_f64(),
        nodes_ready.as_secs_f64(),
        scheduled.as_secs_f64(),
        running.as_secs_f64(),
        available.as_secs_f64(),
        replicas as f64 / running.as_secs_f64().max(1e-9),
    );
    // Clients keep the API server (and its RBAC cache) alive: drop them first.
    drop((client, node_api, deploys, pods));
    let t2 = Instant::now();
    cluster.shutdown().await?;
    println!("shutdown in {:.2?}", t2.elapsed());
    Ok(())
}
