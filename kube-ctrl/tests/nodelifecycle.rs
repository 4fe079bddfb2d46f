//! Under paused time: a node stops heartbeating → Ready=Unknown, unreachable taints, its pods
//! evicted after tolerationSeconds (300 s, added by admission) and replaced on another node;
//! the returning node is cleaned of the taints.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cluster, eventually, FakeKubelet};
use kube_ctrl::controllers::nodelifecycle::TAINT_UNREACHABLE;
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::apps_v1::ReplicaSet;
use kubox_core::api::coordination_v1::Lease;
use kubox_core::api::core_v1::{Node, Pod};
use kubox_core::client::{Api, Client, ListParams, PostParams};
use kubox_core::{MicroTime, Time};
use serde_json::json;

async fn heartbeat(
    client: Arc<dyn Client>,
    nodes: Vec<String>,
    stopped: Arc<Mutex<HashSet<String>>>,
) {
    let clock = tokio_clock();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let node_api: Api<Node> = Api::all(client.clone());
    loop {
        for n in &nodes {
            if stopped.lock().unwrap().contains(n) {
                continue;
            }
            let now = clock();
            match leases.get_opt(n).await.unwrap() {
                Some(mut l) => {
                    l.spec.get_or_insert_with(Default::default).renew_time = Some(MicroTime(now));
                    let _ = leases.replace(n, &PostParams::default(), &l).await;
                }
                None => {
                    let l: Lease = serde_json::from_value(json!({
                        "metadata": {"name": n, "namespace": "kube-node-lease"},
                        "spec": {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": MicroTime(now)}
                    }))
                    .unwrap();
                    let _ = leases.create(&PostParams::default(), &l).await;
                }
            }
            // A returning kubelet posts Ready=True.
            let mut node = node_api.get(n).await.unwrap();
            let ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .map(|c| c.status.clone());
            if ready.as_deref() != Some("True") {
                let st = node.status.get_or_insert_with(Default::default);
                st.conditions = Some(vec![serde_json::from_value(json!({
                    "type": "Ready", "status": "True", "reason": "KubeletReady",
                    "lastHeartbeatTime": Time(now), "lastTransitionTime": Time(now)
                }))
                .unwrap()]);
                let _ = node_api
                    .replace_status(n, &PostParams::default(), &node)
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

fn taint_keys(n: &Node) -> Vec<(String, String)> {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn unreachable_node_is_tainted_its_pods_evicted_and_replaced() {
    let (_server, client) = cluster().await;
    let nodes: Api<Node> = Api::all(client.clone());
    for n in ["n1", "n2"] {
        nodes
            .create(&PostParams::default(), &Node::new(n))
            .await
            .unwrap();
    }
    let stopped: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::spawn(heartbeat(
        client.clone(),
        vec!["n1".into(), "n2".into()],
        stopped.clone(),
    ));
    let kubelet = FakeKubelet::start(client.clone(), &["n1", "n2"]);
    let options = Options {
        controllers: vec!["replicaset".into(), "nodelifecycle".into()],
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    tokio::spawn(manager.run(std::future::pending()));

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "img"}]}}}
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.unwrap();
    eventually(60, "4 ready", || async {
        rss.get("web")
            .await
            .unwrap()
            .status
            .unwrap_or_default()
            .ready_replicas
            == Some(4)
    })
    .await;
    let on_n1 = |ps: &[Pod]| {
        ps.iter()
            .filter(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("n1"))
            .count()
    };
    let all = pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(on_n1(&all), 2);
    let tolerations = all[0]
        .spec
        .as_ref()
        .unwrap()
        .tolerations
        .clone()
        .unwrap_or_default();
    assert!(tolerations
        .iter()
        .any(|t| t.key.as_deref() == Some(TAINT_UNREACHABLE) && t.toleration_seconds == Some(300)));

    // n1 goes silent.
    let start = tokio::time::Instant::now();
    stopped.lock().unwrap().insert("n1".into());
    kubelet.dead.lock().unwrap().insert("n1".into());
    eventually(120, "n1 Unknown and tainted", || async {
        let n = nodes.get("n1").await.unwrap();
        let ready = n
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap()
            .clone();
        ready.status == "Unknown"
            && ready.reason.as_deref() == Some("NodeStatusUnknown")
            && ready.message.as_deref() == Some("Kubelet stopped posting node status.")
            && taint_keys(&n).contains(&(TAINT_UNREACHABLE.into(), "NoExecute".into()))
            && taint_keys(&n).contains(&(TAINT_UNREACHABLE.into(), "NoSchedule".into()))
    })
    .await;
    let marked = start.elapsed();
    assert!(
        marked >= Duration::from_secs(50) && marked < Duration::from_secs(70),
        "after the grace period: {marked:?}"
    );
    assert!(taint_keys(&nodes.get("n2").await.unwrap()).is_empty());
    // Pods stay for tolerationSeconds, then are evicted and replaced on n2.
    tokio::time::sleep(Duration::from_secs(200)).await;
    let live = |ps: Vec<Pod>| {
        ps.into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        on_n1(&live(
            pods.list(&ListParams::default()).await.unwrap().items
        )),
        2,
        "not evicted before 300 s"
    );
    eventually(200, "evicted and replaced", || async {
        let ps = live(pods.list(&ListParams::default()).await.unwrap().items);
        on_n1(&ps) == 0
            && ps.len() == 4
            && ps
                .iter()
                .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("n2"))
    })
    .await;
    assert!(start.elapsed() >= Duration::from_secs(350));

    // n1 comes back: taints removed.
    stopped.lock().unwrap().remove("n1");
    kubelet.dead.lock().unwrap().remove("n1");
    eventually(60, "taints removed", || async {
        taint_keys(&nodes.get("n1").await.unwrap()).is_empty()
    })
    .await;
}
