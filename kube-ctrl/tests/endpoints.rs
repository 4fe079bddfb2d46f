//! Endpoints and EndpointSlices follow pod readiness, named ports, no-op syncs.

mod common;

use common::{cluster, eventually, FakeKubelet};
use kube_ctrl::controllers::endpoints::{MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::ReplicaSet;
use kubox_core::api::core_v1::{Endpoints, Pod, Service};
use kubox_core::api::discovery_v1::EndpointSlice;
use kubox_core::client::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn ready_count(ep: &Endpoints) -> (usize, usize) {
    let subsets = ep.subsets.clone().unwrap_or_default();
    let r = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let n = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    (r, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_slices_follow_readiness() {
    let (_server, client) = cluster().await;
    let kubelet = FakeKubelet::start(client.clone(), &["n1", "n2"]);
    let options = Options {
        controllers: vec!["replicaset".into(), "endpoints".into()],
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "api"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
          "template": {"metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "c", "image": "img", "ports": [{"name": "http", "containerPort": 8080}]}]}}}
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}
    }))
    .unwrap();
    svcs.create(&PostParams::default(), &svc).await.unwrap();

    eventually(20, "3 ready endpoints", || async {
        eps.get_opt("api")
            .await
            .unwrap()
            .is_some_and(|e| ready_count(&e) == (3, 0))
    })
    .await;
    let ep = eps.get("api").await.unwrap();
    let subset = &ep.subsets.as_ref().unwrap()[0];
    let port = &subset.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port),
        (Some("web"), 8080),
        "named targetPort resolved"
    );
    let target = subset.addresses.as_ref().unwrap()[0]
        .target_ref
        .clone()
        .unwrap();
    assert_eq!(target.kind.as_deref(), Some("Pod"));

    eventually(20, "slice with 3 endpoints", || async {
        let sl = slices.list(&ListParams::default()).await.unwrap().items;
        sl.len() == 1 && sl[0].endpoints.len() == 3
    })
    .await;
    let sl = slices
        .list(&ListParams {
            label_selector: Some(format!("{SERVICE_NAME_LABEL}=api")),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(sl.len(), 1);
    assert_eq!(
        sl[0].metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL],
        MANAGED_BY
    );
    assert_eq!(sl[0].address_type, "IPv4");
    assert_eq!(sl[0].endpoints.len(), 3);
    assert_eq!(sl[0].ports.as_ref().unwrap()[0].port, Some(8080));
    assert_eq!(
        sl[0].metadata.owner_references.as_ref().unwrap()[0].kind,
        "Service"
    );

    // One pod turns not ready.
    let victim = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    kubelet
        .not_ready
        .lock()
        .unwrap()
        .insert(victim.metadata.name.clone().unwrap());
    eventually(20, "2 ready + 1 not ready", || async {
        ready_count(&eps.get("api").await.unwrap()) == (2, 1)
    })
    .await;
    eventually(20, "slice shows not ready", || async {
        let sl = slices.list(&ListParams::default()).await.unwrap().items;
        sl.len() == 1
            && sl[0]
                .endpoints
                .iter()
                .filter(|e| e.conditions.as_ref().unwrap().ready == Some(false))
                .count()
                == 1
    })
    .await;

    // No write when nothing changed: resourceVersions stay put across a forced resync.
    let rv_ep = eps.get("api").await.unwrap().metadata.resource_version;
    let rv_sl = slices.list(&ListParams::default()).await.unwrap().items[0]
        .metadata
        .resource_version
        .clone();
    svcs.patch(
        "api",
        &PatchParams::default(),
        Patch::Merge(json!({"metadata": {"annotations": {"touch": "1"}}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        eps.get("api").await.unwrap().metadata.resource_version,
        rv_ep
    );
    assert_eq!(
        slices.list(&ListParams::default()).await.unwrap().items[0]
            .metadata
            .resource_version,
        rv_sl
    );

    // Scale to 0: empty endpoints.
    rss.patch(
        "api",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    eventually(20, "no endpoints", || async {
        ready_count(&eps.get("api").await.unwrap()) == (0, 0)
    })
    .await;
    let _ = stop_tx.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_hold_at_most_100_endpoints() {
    let (_server, client) = cluster().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1"]);
    let options = Options {
        controllers: vec!["replicaset".into(), "endpoints".into()],
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "spec": {"replicas": 150, "selector": {"matchLabels": {"app": "big"}},
          "template": {"metadata": {"labels": {"app": "big"}}, "spec": {"containers": [{"name": "c", "image": "img"}]}}}
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "big"}, "spec": {"selector": {"app": "big"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    svcs.create(&PostParams::default(), &svc).await.unwrap();
    eventually(40, "150 endpoints in 2 slices", || async {
        let sl = slices.list(&ListParams::default()).await.unwrap().items;
        let total: usize = sl.iter().map(|s| s.endpoints.len()).sum();
        total == 150 && sl.len() == 2 && sl.iter().all(|s| s.endpoints.len() <= 100)
    })
    .await;
    let _ = stop_tx.send(());
    task.await.unwrap();
}
