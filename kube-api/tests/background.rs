//! `ApiServer::start_background_tasks`: the ClusterIP / NodePort repair pass runs at start
//! and every 3 minutes (paused tokio time; the server's clock is a manual clock so that the
//! repair's 60 s grace for fresh allocations can be stepped over).

use kube_api::alloc::{self, REPAIR_INTERVAL};
use kube_api::clock::ManualClock;
use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use kubox_core::api::core_v1::Service;
use kubox_core::client::{Api, PostParams};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn node_port(name: &str) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80}]}}))
    .unwrap()
}

async fn ips(server: &ApiServer) -> Vec<String> {
    let (ips, _) = alloc::allocated(server).await.unwrap();
    ips.iter().map(ToString::to_string).collect()
}

/// Lets the spawned repair task run (paused time: yield until it is idle again).
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn repair_runs_every_three_minutes() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::new(jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let server = ApiServer::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let api: Api<Service> =
        Api::namespaced(LocalClient::admin(server.clone()).into_client(), "default");
    api.create(&PostParams::default(), &node_port("kept"))
        .await
        .unwrap();
    let leaked = api
        .create(&PostParams::default(), &node_port("leaked"))
        .await
        .unwrap();
    let leaked_ip = leaked.spec.unwrap().cluster_ip.unwrap();
    // The Service write is lost after the allocation (a crash): the IP leaks.
    store
        .delete("/registry/services/specs/default/leaked", None)
        .await
        .unwrap();
    clock.advance(61);

    // The first pass runs at start.
    let tasks = server.start_background_tasks();
    settle().await;
    assert!(!ips(&server).await.contains(&leaked_ip), "freed at start");
    assert_eq!(ips(&server).await.len(), 1);

    // Lost allocation state is rebuilt by the next pass, not before.
    store.delete(alloc::SERVICE_IPS_KEY, None).await.unwrap();
    tokio::time::sleep(REPAIR_INTERVAL - Duration::from_secs(10)).await;
    settle().await;
    assert!(ips(&server).await.is_empty(), "not yet");
    tokio::time::sleep(Duration::from_secs(11)).await;
    settle().await;
    assert_eq!(ips(&server).await.len(), 1, "rebuilt after 3 minutes");

    // Dropping the handle stops the tasks.
    drop(tasks);
    store.delete(alloc::SERVICE_IPS_KEY, None).await.unwrap();
    tokio::time::sleep(REPAIR_INTERVAL * 2).await;
    settle().await;
    assert!(ips(&server).await.is_empty(), "stopped");
}
