//! The garbage collector: `kubectl delete deployment --cascade=background|foreground|orphan`
//! (the DeleteOptions propagationPolicy), dangling owner references, under paused time.

mod common;

use std::sync::Arc;

use common::{cluster_tokio_clock, eventually, FakeKubelet};
use kube_ctrl::controllers::gc::FINALIZER_FOREGROUND;
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::{Deployment, ReplicaSet};
use kubox_core::api::core_v1::{ConfigMap, Pod, Secret};
use kubox_core::client::{Api, Client, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kubox_core::meta::OwnerReference;
use serde_json::json;

struct Fixture {
    client: Arc<dyn Client>,
    ds: Api<Deployment>,
    rss: Api<ReplicaSet>,
    pods: Api<Pod>,
    _kubelet: FakeKubelet,
}

async fn fixture(controllers: &[&str]) -> Fixture {
    let (_server, client) = cluster_tokio_clock().await;
    let kubelet = FakeKubelet::start(client.clone(), &["n1", "n2"]);
    let options = Options {
        controllers: controllers.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    tokio::spawn(manager.run(std::future::pending()));
    Fixture {
        ds: Api::namespaced(client.clone(), "default"),
        rss: Api::namespaced(client.clone(), "default"),
        pods: Api::namespaced(client.clone(), "default"),
        client,
        _kubelet: kubelet,
    }
}

const ALL: &[&str] = &["garbagecollector", "deployment", "replicaset"];

impl Fixture {
    async fn deployment(&self, name: &str, replicas: i32) {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
              "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap();
        self.ds.create(&PostParams::default(), &d).await.unwrap();
        eventually(60, "pods running", || async {
            let ps = self.pods.list(&ListParams::default()).await.unwrap().items;
            ps.len() == replicas as usize
                && ps
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        })
        .await;
    }

    async fn counts(&self) -> (usize, usize) {
        let l = ListParams::default();
        (
            self.rss.list(&l).await.unwrap().items.len(),
            self.pods.list(&l).await.unwrap().items.len(),
        )
    }

    fn delete_with(policy: PropagationPolicy) -> DeleteParams {
        DeleteParams {
            propagation_policy: Some(policy),
            ..DeleteParams::default()
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cascade_background_deletes_replicasets_and_pods_after_the_deployment() {
    let f = fixture(ALL).await;
    f.deployment("web", 3).await;
    assert_eq!(f.counts().await, (1, 3));
    f.ds.delete("web", &Fixture::delete_with(PropagationPolicy::Background))
        .await
        .unwrap();
    // Background: the owner is gone at once.
    assert!(f.ds.get_opt("web").await.unwrap().is_none());
    eventually(120, "RS and pods collected", || async {
        f.counts().await == (0, 0)
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn cascade_foreground_keeps_the_deployment_until_its_dependents_are_gone() {
    let f = fixture(ALL).await;
    f.deployment("web", 3).await;
    f.ds.delete("web", &Fixture::delete_with(PropagationPolicy::Foreground))
        .await
        .unwrap();
    let d = f.ds.get("web").await.unwrap();
    assert!(d.metadata.deletion_timestamp.is_some());
    assert!(d
        .metadata
        .finalizers
        .as_ref()
        .unwrap()
        .contains(&FINALIZER_FOREGROUND.to_string()));
    // Watch the deployment until it goes; it must outlive every RS and pod.
    let mut saw_rs_deleting = false;
    loop {
        let exists = f.ds.get_opt("web").await.unwrap().is_some();
        let rss = f.rss.list(&ListParams::default()).await.unwrap().items;
        let pods = f
            .pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        if !exists {
            assert_eq!(
                (rss.len(), pods),
                (0, 0),
                "the deployment went before its dependents"
            );
            break;
        }
        saw_rs_deleting |= rss.iter().any(|r| {
            r.metadata.deletion_timestamp.is_some()
                && r.metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| f.contains(&FINALIZER_FOREGROUND.to_string()))
        });
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        saw_rs_deleting,
        "the RS, having pods of its own, is deleted in the foreground"
    );
    assert_eq!(f.counts().await, (0, 0));
}

#[tokio::test(start_paused = true)]
async fn cascade_orphan_leaves_replicasets_without_owner_references() {
    let f = fixture(ALL).await;
    f.deployment("web", 2).await;
    f.ds.delete("web", &Fixture::delete_with(PropagationPolicy::Orphan))
        .await
        .unwrap();
    eventually(60, "deployment gone", || async {
        f.ds.get_opt("web").await.unwrap().is_none()
    })
    .await;
    // Give the collector time to (wrongly) act.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let rss = f.rss.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(rss.len(), 1);
    assert!(rss[0]
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|r| r.is_empty()));
    assert!(rss[0].metadata.deletion_timestamp.is_none());
    let pods = f.pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(pods.len(), 2, "the orphaned RS keeps its pods");
    let rs_uid = rss[0].metadata.uid.clone().unwrap();
    assert!(pods.iter().all(|p| p
        .metadata
        .owner_references
        .as_ref()
        .unwrap()
        .iter()
        .any(|r| r.uid == rs_uid)));
}

fn owner_ref(kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: None,
        block_owner_deletion: None,
    }
}

#[tokio::test(start_paused = true)]
async fn dangling_owner_references_are_collected() {
    let f = fixture(&["garbagecollector"]).await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(f.client.clone(), "default");
    let owner = secrets
        .create(&PostParams::default(), &Secret::new("owner"))
        .await
        .unwrap();
    let owner_uid = owner.metadata.uid.clone().unwrap();

    // Only a dangling owner: collected.
    let mut orphan = ConfigMap::new("orphan");
    orphan.metadata.owner_references = Some(vec![owner_ref(
        "Secret",
        "gone",
        "00000000-0000-0000-0000-000000000001",
    )]);
    cms.create(&PostParams::default(), &orphan).await.unwrap();
    // An owner of that name that is another object (another uid) is no owner either.
    let mut impostor = ConfigMap::new("impostor");
    impostor.metadata.owner_references = Some(vec![owner_ref(
        "Secret",
        "owner",
        "00000000-0000-0000-0000-000000000002",
    )]);
    cms.create(&PostParams::default(), &impostor).await.unwrap();
    // A live owner and a dangling one: kept, the dangling reference removed.
    let mut mixed = ConfigMap::new("mixed");
    mixed.metadata.owner_references = Some(vec![
        owner_ref("Secret", "owner", &owner_uid),
        owner_ref("Secret", "gone", "00000000-0000-0000-0000-000000000003"),
    ]);
    cms.create(&PostParams::default(), &mixed).await.unwrap();

    eventually(60, "dangling dependents collected", || async {
        cms.get_opt("orphan").await.unwrap().is_none()
            && cms.get_opt("impostor").await.unwrap().is_none()
    })
    .await;
    eventually(60, "dangling reference removed", || async {
        cms.get("mixed")
            .await
            .unwrap()
            .metadata
            .owner_references
            .is_some_and(|r| r.len() == 1)
    })
    .await;
    let kept = cms.get("mixed").await.unwrap();
    assert_eq!(kept.metadata.owner_references.unwrap()[0].uid, owner_uid);

    // Deleting the owner collects its remaining dependent.
    secrets
        .delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    eventually(60, "dependent of a deleted owner collected", || async {
        cms.get_opt("mixed").await.unwrap().is_none()
    })
    .await;
}

/// A ReplicationController deleted without a policy is orphaned (core/v1's historical
/// default, recorded by the API server as the `orphan` finalizer): its pods stay, without
/// their owner reference.
#[tokio::test(start_paused = true)]
async fn replication_controllers_orphan_their_pods_by_default() {
    use kubox_core::api::core_v1::ReplicationController;
    let f = fixture(&["garbagecollector", "replicationcontroller"]).await;
    let rcs: Api<ReplicationController> = Api::namespaced(f.client.clone(), "default");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
          "template": {"metadata": {"labels": {"app": "legacy"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    eventually(60, "2 pods", || async {
        f.pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
            == 2
    })
    .await;
    rcs.delete("legacy", &DeleteParams::default())
        .await
        .unwrap();
    eventually(60, "RC gone", || async {
        rcs.get_opt("legacy").await.unwrap().is_none()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let pods = f.pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p.metadata.deletion_timestamp.is_none()
        && p.metadata
            .owner_references
            .as_ref()
            .is_none_or(|r| r.is_empty())));
}
