//! Deployment rollout, rollback (as `kubectl rollout undo` does it) and Recreate, end to end.

mod common;

use common::{cluster, eventually, FakeKubelet};
use kube_ctrl::controllers::deployment::{POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::{Deployment, ReplicaSet};
use kubox_core::api::core_v1::Pod;
use kubox_core::client::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn deployment(name: &str, replicas: i32, image: &str, strategy: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": strategy},
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]}
            }
        }
    }))
    .unwrap()
}

/// `kubectl rollout status`'s checks.
fn rolled_out(d: &Deployment) -> bool {
    let s = d.status.clone().unwrap_or_default();
    let want = d.spec.as_ref().unwrap().replicas.unwrap_or(1);
    d.metadata.generation <= s.observed_generation
        && s.updated_replicas == Some(want)
        && s.replicas == Some(want)
        && s.available_replicas == Some(want)
}

fn progressing_reason(d: &Deployment) -> Option<String> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing")?
        .reason
        .clone()
}

fn image_of_rs(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_and_rollback() {
    let (_server, client) = cluster().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1", "n2"]);
    let manager =
        ControllerManager::with_builtin(client.clone(), Options::default(), tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    let ds: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    ds.create(
        &PostParams::default(),
        &deployment("web", 4, "nginx:1", "RollingUpdate"),
    )
    .await
    .unwrap();
    eventually(30, "first rollout", || async {
        rolled_out(&ds.get("web").await.unwrap())
    })
    .await;
    let d = ds.get("web").await.unwrap();
    assert_eq!(d.metadata.annotations.as_ref().unwrap()[REVISION], "1");
    assert_eq!(
        progressing_reason(&d).as_deref(),
        Some("NewReplicaSetAvailable")
    );
    let avail = d
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Available")
        .unwrap()
        .clone();
    assert_eq!(
        (avail.status.as_str(), avail.reason.as_deref()),
        ("True", Some("MinimumReplicasAvailable"))
    );
    let first = rss.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(first.len(), 1);
    let hash = first[0].metadata.labels.as_ref().unwrap()[POD_TEMPLATE_HASH].clone();
    assert_eq!(
        first[0].metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    let ps = pods.list(&ListParams::default()).await.unwrap().items;
    assert!(ps
        .iter()
        .all(|p| p.metadata.labels.as_ref().unwrap()[POD_TEMPLATE_HASH] == hash));

    // Update the image: a new RS takes over, the old one is scaled to 0.
    ds.patch("web", &PatchParams::default(), Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}))).await.unwrap();
    eventually(30, "second rollout", || async {
        let d = ds.get("web").await.unwrap();
        rolled_out(&d) && d.metadata.annotations.as_ref().unwrap()[REVISION] == "2"
    })
    .await;
    let all = rss.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(all.len(), 2);
    for rs in &all {
        let want = if image_of_rs(rs) == "nginx:2" { 4 } else { 0 };
        assert_eq!(rs.spec.as_ref().unwrap().replicas, Some(want));
    }

    // Rollback as kubectl rollout undo: the template of revision 1, without the hash label.
    let rev1 = all
        .iter()
        .find(|r| image_of_rs(r) == "nginx:1")
        .unwrap()
        .clone();
    let mut template =
        serde_json::to_value(rev1.spec.as_ref().unwrap().template.as_ref().unwrap()).unwrap();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove(POD_TEMPLATE_HASH);
    ds.patch(
        "web",
        &PatchParams::default(),
        Patch::Json(json!([{"op": "replace", "path": "/spec/template", "value": template}])),
    )
    .await
    .unwrap();
    eventually(30, "rollback", || async {
        let d = ds.get("web").await.unwrap();
        rolled_out(&d) && d.metadata.annotations.as_ref().unwrap()[REVISION] == "3"
    })
    .await;
    let back = rss
        .get(rev1.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    let ann = back.metadata.annotations.unwrap();
    assert_eq!(ann[REVISION], "3");
    assert_eq!(ann[REVISION_HISTORY], "1");
    assert_eq!(back.spec.unwrap().replicas, Some(4));
    assert_eq!(
        rss.list(&ListParams::default()).await.unwrap().items.len(),
        2,
        "no third RS"
    );
    let _ = stop_tx.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_and_revision_history_limit() {
    let (_server, client) = cluster().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1"]);
    let manager =
        ControllerManager::with_builtin(client.clone(), Options::default(), tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));
    let ds: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut d = deployment("job", 2, "img:0", "Recreate");
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    ds.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "rollout 1", || async {
        rolled_out(&ds.get("job").await.unwrap())
    })
    .await;
    for i in 1..=3 {
        ds.patch("job", &PatchParams::default(), Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": format!("img:{i}")}]}}}}))).await.unwrap();
        eventually(30, "rollout n", || async {
            let d = ds.get("job").await.unwrap();
            rolled_out(&d)
                && d.metadata.annotations.as_ref().unwrap()[REVISION] == (i + 1).to_string()
        })
        .await;
    }
    eventually(30, "history trimmed to 1 old RS", || async {
        rss.list(&ListParams::default()).await.unwrap().items.len() == 2
    })
    .await;
    let _ = stop_tx.send(());
    task.await.unwrap();
}
