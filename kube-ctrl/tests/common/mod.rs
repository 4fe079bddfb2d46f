//! An in-process cluster with simulated nodes and a tiny fake kubelet for the end-to-end
//! tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Pod, PodCondition, PodStatus};
use kubox_core::client::{Api, Client, DeleteParams, PostParams, Request, Verb};
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::{watcher, Informer};
use kubox_core::Time;
use serde_json::json;

/// Boots an API server over an in-memory store and returns an admin client.
pub async fn cluster() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}

/// Simulated nodes: binds unscheduled pods round-robin to live nodes, marks bound pods
/// Running and Ready with a pod IP, finishes graceful deletions.
#[derive(Clone)]
pub struct FakeKubelet {
    pub nodes: Arc<Mutex<Vec<String>>>,
    pub dead: Arc<Mutex<HashSet<String>>>,
    pub not_ready: Arc<Mutex<HashSet<String>>>,
}

impl FakeKubelet {
    pub fn start(client: Arc<dyn Client>, nodes: &[&str]) -> FakeKubelet {
        let k = FakeKubelet {
            nodes: Arc::new(Mutex::new(nodes.iter().map(|s| s.to_string()).collect())),
            dead: Arc::default(),
            not_ready: Arc::default(),
        };
        let (pods, driver) = Informer::<Pod>::new(
            client.clone(),
            None,
            watcher::Config::default(),
            sleep_fn(tokio::time::sleep),
        );
        tokio::spawn(driver.run());
        let me = k.clone();
        tokio::spawn(async move {
            let mut next = 0usize;
            let mut ip = 1u32;
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                for p in pods.store().list() {
                    let ns = p.metadata.namespace.clone().unwrap_or_default();
                    let name = p.metadata.name.clone().unwrap_or_default();
                    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                    let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
                    let live: Vec<String> = {
                        let dead = me.dead.lock().unwrap();
                        me.nodes
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|n| !dead.contains(*n))
                            .cloned()
                            .collect()
                    };
                    match node {
                        None => {
                            if p.metadata.deletion_timestamp.is_some() || live.is_empty() {
                                continue;
                            }
                            let target = &live[next % live.len()];
                            next += 1;
                            let req = Request {
                                resource: kubox_core::client::GroupVersionResource::of::<Pod>(),
                                namespace: Some(ns.clone()),
                                name: Some(name.clone()),
                                subresource: Some("binding".into()),
                                verb: Verb::Create(PostParams::default()),
                                body: Some(json!({"apiVersion": "v1", "kind": "Binding",
                                    "metadata": {"name": name}, "target": {"kind": "Node", "name": target}})),
                            };
                            let _ = client.call(req).await;
                        }
                        Some(node) => {
                            if me.dead.lock().unwrap().contains(&node) {
                                continue;
                            }
                            if p.metadata.deletion_timestamp.is_some() {
                                let _ = api
                                    .delete(
                                        &name,
                                        &DeleteParams {
                                            grace_period_seconds: Some(0),
                                            ..Default::default()
                                        },
                                    )
                                    .await;
                                continue;
                            }
                            let want_ready = !me.not_ready.lock().unwrap().contains(&name);
                            let is_ready = kube_ctrl::controllers::replicaset::is_pod_ready(&p);
                            let running = p.status.as_ref().and_then(|s| s.phase.as_deref())
                                == Some("Running");
                            if running && is_ready == want_ready {
                                continue;
                            }
                            let mut upd = (*p).clone();
                            let old = upd.status.take().unwrap_or_default();
                            let pod_ip = old.pod_ip.clone().unwrap_or_else(|| {
                                ip += 1;
                                format!("10.244.{}.{}", ip / 250, ip % 250 + 1)
                            });
                            let now = Time(jiff::Timestamp::now());
                            upd.status = Some(PodStatus {
                                phase: Some("Running".into()),
                                pod_ip: Some(pod_ip),
                                conditions: Some(vec![PodCondition {
                                    type_: "Ready".into(),
                                    status: if want_ready { "True" } else { "False" }.into(),
                                    last_transition_time: Some(now),
                                    ..Default::default()
                                }]),
                                ..old
                            });
                            let _ = api
                                .replace_status(&name, &PostParams::default(), &upd)
                                .await;
                        }
                    }
                }
            }
        });
        k
    }
}

/// Polls `f` every 20 ms until it returns true, failing after `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if f().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// As [`cluster`], with the API server's timestamps following tokio time (for paused tests
/// that compare deletion timestamps with the controllers' clock).
pub async fn cluster_tokio_clock() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .clock(Arc::new(kube_api::clock::TokioClock::new()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}
