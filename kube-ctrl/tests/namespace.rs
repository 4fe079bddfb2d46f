//! Namespace deletion: the namespace controller empties the namespace (pods first), keeps
//! Kubernetes' conditions while content remains, then finalizes it and the API server deletes
//! it. Paused time: pods have a 30 s grace period and the controller requeues by estimate.

mod common;

use std::time::Duration;

use common::{cluster_tokio_clock, eventually, FakeKubelet};
use kube_ctrl::controllers::namespace::{
    CONTENT_FAILURE, CONTENT_REMAINING, FINALIZERS_REMAINING, FINALIZER_KUBERNETES,
};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::{Deployment, ReplicaSet};
use kubox_core::api::core_v1::{
    ConfigMap, Namespace, NamespaceCondition, Pod, Secret, Service, ServiceAccount,
};
use kubox_core::client::{Api, Client, DeleteParams, ListParams, PostParams};
use kubox_core::meta::Resource;
use serde_json::json;
use std::sync::Arc;

fn manager(client: Arc<dyn Client>) -> ControllerManager {
    let options = Options {
        controllers: vec![
            "namespace".into(),
            "garbagecollector".into(),
            "deployment".into(),
            "replicaset".into(),
            "serviceaccount".into(),
        ],
        ..Options::default()
    };
    ControllerManager::with_builtin(client, options, tokio_clock())
}

async fn count<K: Resource + std::fmt::Debug>(client: &Arc<dyn Client>, ns: &str) -> usize {
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default()).await.unwrap().items.len()
}

fn condition(ns: &Namespace, ty: &str) -> Option<NamespaceCondition> {
    ns.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == ty)
        .cloned()
}

#[tokio::test(start_paused = true)]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let (_server, client) = cluster_tokio_clock().await;
    let _kubelet = FakeKubelet::start(client.clone(), &["n1"]);
    tokio::spawn(manager(client.clone()).run(std::future::pending()));
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&PostParams::default(), &Namespace::new("team"))
        .await
        .unwrap();
    let p = PostParams::default();
    let ds: Api<Deployment> = Api::namespaced(client.clone(), "team");
    ds.create(
        &p,
        &serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "team")
        .create(
            &p,
            &serde_json::from_value(json!({"metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}))
            .unwrap(),
        )
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "team")
        .create(&p, &ConfigMap::new("settings"))
        .await
        .unwrap();
    Api::<Secret>::namespaced(client.clone(), "team")
        .create(&p, &Secret::new("creds"))
        .await
        .unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), "team")
        .create(&p, &ServiceAccount::new("bot"))
        .await
        .unwrap();
    eventually(60, "3 pods running", || async {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
        let ps = pods.list(&ListParams::default()).await.unwrap().items;
        ps.len() == 3
            && ps
                .iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    assert_eq!(count::<ReplicaSet>(&client, "team").await, 1);
    assert_eq!(
        count::<ServiceAccount>(&client, "team").await,
        2,
        "default + bot"
    );

    let before = nss.get("team").await.unwrap();
    assert_eq!(
        before.spec.unwrap().finalizers.unwrap(),
        vec![FINALIZER_KUBERNETES.to_string()]
    );
    nss.delete("team", &DeleteParams::default()).await.unwrap();
    let terminating = nss.get("team").await.unwrap();
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    eventually(120, "namespace gone", || async {
        nss.get_opt("team").await.unwrap().is_none()
    })
    .await;
    assert_eq!(count::<Pod>(&client, "team").await, 0);
    assert_eq!(count::<ReplicaSet>(&client, "team").await, 0);
    assert_eq!(count::<Deployment>(&client, "team").await, 0);
    assert_eq!(count::<Service>(&client, "team").await, 0);
    assert_eq!(count::<ConfigMap>(&client, "team").await, 0);
    assert_eq!(count::<Secret>(&client, "team").await, 0);
    assert_eq!(count::<ServiceAccount>(&client, "team").await, 0);
    // Other namespaces are untouched.
    assert!(nss.get_opt("default").await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn conditions_report_pods_that_are_still_terminating() {
    let (_server, client) = cluster_tokio_clock().await;
    let kubelet = FakeKubelet::start(client.clone(), &["n1"]);
    kubelet.dead.lock().unwrap().insert("n1".into());
    tokio::spawn(manager(client.clone()).run(std::future::pending()));
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&PostParams::default(), &Namespace::new("slow"))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "slow");
    // A pod on a node whose kubelet does not answer: its graceful deletion never completes.
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "stuck"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img"}]}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "slow");
    cms.create(
        &PostParams::default(),
        &ConfigMap::new("keep-until-pods-go"),
    )
    .await
    .unwrap();
    let start = tokio::time::Instant::now();
    nss.delete("slow", &DeleteParams::default()).await.unwrap();

    eventually(20, "NamespaceContentRemaining", || async {
        let ns = nss.get("slow").await.unwrap();
        condition(&ns, CONTENT_REMAINING).is_some_and(|c| c.status == "True")
    })
    .await;
    let ns = nss.get("slow").await.unwrap();
    let remaining = condition(&ns, CONTENT_REMAINING).unwrap();
    assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(
        remaining.message.as_deref(),
        Some("Some resources are remaining: pods. has 1 resource instances")
    );
    let types: Vec<_> = ns
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone().unwrap()))
        .collect();
    assert_eq!(
        types,
        vec![
            (
                "NamespaceDeletionDiscoveryFailure".into(),
                "False".into(),
                "ResourcesDiscovered".into()
            ),
            (
                "NamespaceDeletionGroupVersionParsingFailure".into(),
                "False".into(),
                "ParsedGroupVersions".into()
            ),
            (
                CONTENT_FAILURE.into(),
                "False".into(),
                "ContentDeleted".into()
            ),
            (
                CONTENT_REMAINING.into(),
                "True".into(),
                "SomeResourcesRemain".into()
            ),
            (
                FINALIZERS_REMAINING.into(),
                "False".into(),
                "ContentHasNoFinalizers".into()
            ),
        ]
    );
    let pod = pods.get("stuck").await.unwrap();
    assert!(pod.metadata.deletion_timestamp.is_some());
    // Pods go first: nothing else is deleted while one remains.
    assert!(cms.get_opt("keep-until-pods-go").await.unwrap().is_some());

    // Past the pod's 30 s grace period the pod is unexpected: a content failure.
    eventually(120, "NamespaceDeletionContentFailure", || async {
        let ns = nss.get("slow").await.unwrap();
        condition(&ns, CONTENT_FAILURE).is_some_and(|c| c.status == "True")
    })
    .await;
    assert!(start.elapsed() >= Duration::from_secs(30));
    let failure = condition(&nss.get("slow").await.unwrap(), CONTENT_FAILURE).unwrap();
    assert_eq!(failure.reason.as_deref(), Some("ContentDeletionFailed"));
    assert_eq!(
        failure.message.as_deref(),
        Some("Failed to delete all resource types, 1 remaining: unexpected items still remain in namespace: slow for gvr: { v1 pods}")
    );

    // The kubelet comes back and finishes the pod: the namespace goes.
    kubelet.dead.lock().unwrap().remove("n1");
    eventually(600, "namespace gone", || async {
        nss.get_opt("slow").await.unwrap().is_none()
    })
    .await;
    assert_eq!(count::<ConfigMap>(&client, "slow").await, 0);
}

#[tokio::test(start_paused = true)]
async fn finalizers_on_content_keep_the_namespace() {
    let (_server, client) = cluster_tokio_clock().await;
    tokio::spawn(manager(client.clone()).run(std::future::pending()));
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&PostParams::default(), &Namespace::new("held"))
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let mut cm = ConfigMap::new("held");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &cm).await.unwrap();
    nss.delete("held", &DeleteParams::default()).await.unwrap();
    eventually(60, "NamespaceFinalizersRemaining", || async {
        let ns = nss.get("held").await.unwrap();
        condition(&ns, FINALIZERS_REMAINING).is_some_and(|c| c.status == "True")
    })
    .await;
    let ns = nss.get("held").await.unwrap();
    let c = condition(&ns, FINALIZERS_REMAINING).unwrap();
    assert_eq!(c.reason.as_deref(), Some("SomeFinalizersRemain"));
    assert_eq!(
        c.message.as_deref(),
        Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    );
    assert_eq!(
        condition(&ns, CONTENT_REMAINING)
            .unwrap()
            .message
            .as_deref(),
        Some("Some resources are remaining: configmaps. has 1 resource instances")
    );
    // Releasing the finalizer lets the namespace go.
    let mut cm = cms.get("held").await.unwrap();
    cm.metadata.finalizers = None;
    cms.replace("held", &PostParams::default(), &cm)
        .await
        .unwrap();
    eventually(60, "namespace gone", || async {
        nss.get_opt("held").await.unwrap().is_none()
    })
    .await;
}
