//! `pods/eviction` through the typed client: PodDisruptionBudget checks as
//! kube-apiserver's eviction REST (budget decrement with `disruptedPods`, 429 with a
//! `DisruptionBudget` cause, several budgets → 500, unready pods, terminal and pending pods,
//! dry run, delete options, the `DisruptionTarget` condition).

use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::Pod;
use kubox_core::api::policy_v1::PodDisruptionBudget;
use kubox_core::client::{
    Api, Client, DeleteParams, EvictParams, Patch, PatchParams, PostParams, Preconditions,
};
use kubox_core::meta::Status;
use serde_json::{json, Value};
use std::sync::Arc;

async fn setup() -> (Api<Pod>, Api<PodDisruptionBudget>, Arc<dyn Client>) {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server).into_client();
    (
        Api::namespaced(client.clone(), "default"),
        Api::namespaced(client.clone(), "default"),
        client,
    )
}

fn status(e: kubox_core::client::Error) -> Status {
    match e {
        kubox_core::client::Error::Api(s) => *s,
        other => panic!("not an API error: {other}"),
    }
}

/// A pod bound to node `n1` with `phase` and the Ready condition `ready`.
async fn pod(pods: &Api<Pod>, name: &str, app: &str, phase: &str, ready: bool) -> Pod {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let st = json!({"status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }}
    ]}});
    pods.patch_status(name, &PatchParams::default(), Patch::Merge(st))
        .await
        .unwrap()
}

/// A budget over `app` with the given status numbers (observed at its generation).
async fn pdb(
    pdbs: &Api<PodDisruptionBudget>,
    name: &str,
    app: &str,
    allowed: i32,
    current: i32,
    desired: i32,
    policy: Option<&str>,
) {
    let mut spec = json!({"minAvailable": 1, "selector": {"matchLabels": {"app": app}}});
    if let Some(p) = policy {
        spec["unhealthyPodEvictionPolicy"] = json!(p);
    }
    let b: PodDisruptionBudget =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    let created = pdbs.create(&PostParams::default(), &b).await.unwrap();
    let generation = created.metadata.generation.unwrap_or(1);
    let st = json!({"status": {"observedGeneration": generation, "disruptionsAllowed": allowed,
        "currentHealthy": current, "desiredHealthy": desired, "expectedPods": current}});
    pdbs.patch_status(name, &PatchParams::default(), Patch::Merge(st))
        .await
        .unwrap();
}

fn now_delete() -> EvictParams {
    EvictParams {
        delete_options: Some(DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn condition(p: &Pod, ty: &str) -> Option<Value> {
    let v = serde_json::to_value(p).unwrap();
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
        .cloned()
}

#[tokio::test]
async fn eviction_without_budget_marks_and_deletes_gracefully() {
    let (pods, _, _) = setup().await;
    pod(&pods, "a", "web", "Running", true).await;
    let s = pods.evict("a", &EvictParams::default()).await.unwrap();
    assert_eq!(s.status.as_deref(), Some("Success"));
    assert_eq!(s.code, Some(201));
    // Graceful (30 s default): still there, terminating, with DisruptionTarget.
    let p = pods.get("a").await.unwrap();
    assert!(p.metadata.deletion_timestamp.is_some());
    let c = condition(&p, "DisruptionTarget").expect("DisruptionTarget condition");
    assert_eq!(c["status"], "True");
    assert_eq!(c["reason"], "EvictionByEvictionAPI");
    assert_eq!(c["message"], "Eviction API: evicting");
    // Delete options pass through: grace 0 deletes at once.
    pod(&pods, "b", "web", "Running", true).await;
    pods.evict("b", &now_delete()).await.unwrap();
    assert!(pods.get_opt("b").await.unwrap().is_none());
    // Missing pod: 404.
    let e = status(pods.evict("nope", &now_delete()).await.unwrap_err());
    assert_eq!(e.code, Some(404));
}

#[tokio::test]
async fn budget_is_decremented_then_refuses_with_429() {
    let (pods, pdbs, _) = setup().await;
    pod(&pods, "a", "web", "Running", true).await;
    pod(&pods, "b", "web", "Running", true).await;
    pdb(&pdbs, "web", "web", 1, 2, 1, None).await;
    pods.evict("a", &now_delete()).await.unwrap();
    assert!(pods.get_opt("a").await.unwrap().is_none());
    let b = serde_json::to_value(pdbs.get("web").await.unwrap()).unwrap();
    assert_eq!(b["status"]["disruptionsAllowed"], 0);
    assert!(b["status"]["disruptedPods"]["a"].is_string());
    let c = &b["status"]["conditions"][0];
    assert_eq!(
        (&c["type"], &c["status"], &c["reason"]),
        (
            &json!("DisruptionAllowed"),
            &json!("False"),
            &json!("InsufficientPods")
        )
    );
    let e = status(pods.evict("b", &now_delete()).await.unwrap_err());
    assert_eq!(e.code, Some(429));
    assert_eq!(e.reason.as_deref(), Some("TooManyRequests"));
    assert_eq!(
        e.message.as_deref(),
        Some("Cannot evict pod as it would violate the pod's disruption budget.")
    );
    let cause = &e.details.unwrap().causes.unwrap()[0];
    assert_eq!(cause.reason.as_deref(), Some("DisruptionBudget"));
    assert_eq!(
        cause.message.as_deref(),
        Some("The disruption budget web needs 1 healthy pods and has 2 currently")
    );
    // The refused pod is untouched.
    let b = pods.get("b").await.unwrap();
    assert!(b.metadata.deletion_timestamp.is_none());
    assert!(condition(&b, "DisruptionTarget").is_none());
}

#[tokio::test]
async fn terminal_and_pending_pods_ignore_the_budget() {
    let (pods, pdbs, _) = setup().await;
    pdb(&pdbs, "web", "web", 0, 1, 1, None).await;
    pod(&pods, "done", "web", "Succeeded", false).await;
    pod(&pods, "failed", "web", "Failed", false).await;
    pod(&pods, "pending", "web", "Pending", false).await;
    for name in ["done", "failed", "pending"] {
        pods.evict(name, &now_delete()).await.unwrap();
        assert!(pods.get_opt(name).await.unwrap().is_none(), "{name}");
    }
    let b = pdbs.get("web").await.unwrap();
    assert_eq!(b.status.unwrap().disruptions_allowed, 0);
}

#[tokio::test]
async fn several_budgets_are_a_500() {
    let (pods, pdbs, client) = setup().await;
    pod(&pods, "a", "web", "Running", true).await;
    pdb(&pdbs, "one", "web", 1, 1, 0, None).await;
    // An empty selector matches every pod of the namespace (policy/v1).
    let all: PodDisruptionBudget = serde_json::from_value(
        json!({"metadata": {"name": "all"}, "spec": {"maxUnavailable": 1, "selector": {}}}),
    )
    .unwrap();
    pdbs.create(&PostParams::default(), &all).await.unwrap();
    let e = status(pods.evict("a", &now_delete()).await.unwrap_err());
    assert_eq!(e.code, Some(500));
    assert_eq!(
        e.message.as_deref(),
        Some("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
    );
    // A budget in another namespace does not count.
    pdbs.delete("all", &DeleteParams::default()).await.unwrap();
    let other: Api<PodDisruptionBudget> = Api::namespaced(client, "kube-system");
    other.create(&PostParams::default(), &all).await.unwrap();
    pods.evict("a", &now_delete()).await.unwrap();
}

#[tokio::test]
async fn unready_pods_follow_the_unhealthy_pod_eviction_policy() {
    let (pods, pdbs, _) = setup().await;
    // IfHealthyBudget (default): healthy budget → deleted without spending it.
    pod(&pods, "u1", "a", "Running", false).await;
    pdb(&pdbs, "a", "a", 0, 2, 2, None).await;
    pods.evict("u1", &now_delete()).await.unwrap();
    assert!(pods.get_opt("u1").await.unwrap().is_none());
    assert_eq!(
        pdbs.get("a")
            .await
            .unwrap()
            .status
            .unwrap()
            .disruptions_allowed,
        0
    );
    // Unhealthy budget → 429.
    pod(&pods, "u2", "b", "Running", false).await;
    pdb(&pdbs, "b", "b", 0, 1, 2, Some("IfHealthyBudget")).await;
    let e = status(pods.evict("u2", &now_delete()).await.unwrap_err());
    assert_eq!(e.code, Some(429));
    // AlwaysAllow → deleted even then.
    pod(&pods, "u3", "c", "Running", false).await;
    pdb(&pdbs, "c", "c", 0, 1, 2, Some("AlwaysAllow")).await;
    pods.evict("u3", &now_delete()).await.unwrap();
    assert!(pods.get_opt("u3").await.unwrap().is_none());
}

#[tokio::test]
async fn stale_budget_status_and_dry_run() {
    let (pods, pdbs, _) = setup().await;
    pod(&pods, "a", "web", "Running", true).await;
    pdb(&pdbs, "web", "web", 1, 2, 1, None).await;
    // Dry run: checked, nothing written.
    let dry = EvictParams {
        post_options: PostParams {
            dry_run: true,
            ..Default::default()
        },
        ..now_delete()
    };
    pods.evict("a", &dry).await.unwrap();
    assert!(pods
        .get("a")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
    let b = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!((b.disruptions_allowed, b.disrupted_pods), (1, None));
    // A spec change the controller has not observed yet → 429 "still being processed".
    pdbs.patch(
        "web",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"minAvailable": 2}})),
    )
    .await
    .unwrap();
    let e = status(pods.evict("a", &now_delete()).await.unwrap_err());
    assert_eq!(e.code, Some(429));
    let d = e.details.unwrap();
    assert_eq!(d.retry_after_seconds, Some(10));
    assert_eq!(
        d.causes.unwrap()[0].message.as_deref(),
        Some("The disruption budget web is still being processed by the server.")
    );
}

#[tokio::test]
async fn preconditions_and_bad_bodies() {
    let (pods, _, client) = setup().await;
    pod(&pods, "a", "web", "Running", true).await;
    let stale = EvictParams {
        delete_options: Some(DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some("other".into()),
                resource_version: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = status(pods.evict("a", &stale).await.unwrap_err());
    assert_eq!(e.code, Some(409));
    assert!(e.message.as_deref().unwrap().starts_with(
        "Operation cannot be fulfilled on Pod \"a\": the UID in the precondition (other) does not match the UID in record ("
    ));
    assert!(pods
        .get("a")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
    // Name mismatch: 400.
    let req = kubox_core::client::Request {
        resource: kubox_core::client::GroupVersionResource::of::<Pod>(),
        namespace: Some("default".into()),
        name: Some("a".into()),
        subresource: Some("eviction".into()),
        verb: kubox_core::client::Verb::Create(PostParams::default()),
        body: Some(
            json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "b"}}),
        ),
    };
    let e = status(client.call(req).await.unwrap_err());
    assert_eq!(e.code, Some(400));
    assert_eq!(
        e.message.as_deref(),
        Some("name in URL does not match name in Eviction object")
    );
}
