//! ReplicaSet and ReplicationController end to end in an in-process cluster.

mod common;

use std::sync::Arc;

use common::{cluster, eventually, FakeKubelet};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::ReplicaSet;
use kubox_core::api::core_v1::{Pod, ReplicationController};
use kubox_core::client::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn rs(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .unwrap()
}

async fn pods_of(api: &Api<Pod>, app: &str) -> Vec<Pod> {
    api.list(&ListParams {
        label_selector: Some(format!("app={app}")),
        ..Default::default()
    })
    .await
    .unwrap()
    .items
    .into_iter()
    .filter(|p| p.metadata.deletion_timestamp.is_none())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_scales_up_and_down_adopts_and_releases() {
    let (_server, client) = cluster().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1", "n2"]);
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // An orphan that matches is adopted instead of creating a third pod. It exists before
    // the controllers start, so their first list has it: created after the start, the pod
    // and ReplicaSet watches could deliver the ReplicaSet first and a third pod be made.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();

    let manager =
        ControllerManager::with_builtin(client.clone(), Options::default(), tokio_clock());
    let metrics = manager.metrics();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    rss.create(&PostParams::default(), &rs("web", 3))
        .await
        .unwrap();

    eventually(20, "3 ready replicas", || async {
        let r = rss.get("web").await.unwrap();
        let s = r.status.unwrap_or_default();
        s.replicas == 3
            && s.ready_replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.fully_labeled_replicas == Some(3)
            && s.observed_generation == r.metadata.generation
    })
    .await;
    let web = pods_of(&pods, "web").await;
    assert_eq!(web.len(), 3);
    let uid = rss.get("web").await.unwrap().metadata.uid.unwrap();
    for p in &web {
        let r = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                r.kind.as_str(),
                r.uid.as_str(),
                r.controller,
                r.block_owner_deletion
            ),
            ("ReplicaSet", uid.as_str(), Some(true), Some(true))
        );
    }
    assert!(
        web.iter()
            .any(|p| p.metadata.name.as_deref() == Some("orphan")),
        "adopted"
    );

    // Scale down to 1.
    rss.patch(
        "web",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(20, "1 replica", || async {
        pods_of(&pods, "web").await.len() == 1
            && rss
                .get("web")
                .await
                .unwrap()
                .status
                .unwrap_or_default()
                .replicas
                == 1
    })
    .await;

    // A pod relabelled away is released and replaced.
    let survivor = pods_of(&pods, "web").await.remove(0);
    let name = survivor.metadata.name.clone().unwrap();
    pods.patch(
        &name,
        &PatchParams::default(),
        Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    eventually(20, "released and replaced", || async {
        let released = pods.get(&name).await.unwrap();
        let no_ref = released
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(|r| r.is_empty());
        no_ref && pods_of(&pods, "web").await.len() == 1
    })
    .await;

    // Scale up again.
    rss.patch(
        "web",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    eventually(20, "5 replicas", || async {
        rss.get("web")
            .await
            .unwrap()
            .status
            .unwrap_or_default()
            .ready_replicas
            == Some(5)
    })
    .await;
    let m = metrics.get("replicaset").unwrap();
    assert!(m.reconcile_success.get() > 0);
    assert!(metrics
        .render()
        .contains("workqueue_adds_total{name=\"replicaset\"}"));
    let _ = stop_tx.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_controller_keeps_replicas() {
    let (_server, client) = cluster().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1"]);
    let manager =
        ControllerManager::with_builtin(client.clone(), Options::default(), tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    let rcs: Api<ReplicationController> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    eventually(20, "2 ready", || async {
        rcs.get("legacy")
            .await
            .unwrap()
            .status
            .unwrap_or_default()
            .ready_replicas
            == Some(2)
    })
    .await;
    // Deleting a pod gets it replaced.
    let victim = pods_of(&pods, "legacy").await.remove(0);
    pods.delete(
        victim.metadata.name.as_deref().unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    eventually(20, "replaced", || async {
        let ps = pods_of(&pods, "legacy").await;
        ps.len() == 2 && ps.iter().all(|p| p.metadata.uid != victim.metadata.uid)
    })
    .await;
    let _ = stop_tx.send(());
    task.await.unwrap();
    let _ = Arc::strong_count(&client);
}
