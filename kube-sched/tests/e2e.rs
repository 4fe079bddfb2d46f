//! End-to-end: the scheduler against an in-process cluster (kube-api over the embedded
//! store), with Node objects created directly and a tiny "kubelet" that completes graceful
//! deletions.

use std::sync::Arc;
use std::time::Duration;

use kube_api::{ApiServer, LocalClient};
use kube_sched::scheduler::{DefaultScheduler, Scheduler, SchedulerConfig};
use kube_sched::{plugins, DEFAULT_SCHEDULER_NAME};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Event, Node, Pod};
use kubox_core::api::scheduling_v1::PriorityClass;
use kubox_core::client::{Api, Client, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubox_core::runtime::leader;
use serde_json::{json, Value};
use tokio::sync::oneshot;

async fn cluster() -> Arc<dyn Client> {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    LocalClient::admin(server).into_client()
}

async fn create_node(client: &Arc<dyn Client>, name: &str, cpu: &str, labels: Value) {
    let api: Api<Node> = Api::all(client.clone());
    let mut l = json!({"kubernetes.io/hostname": name});
    for (k, v) in labels.as_object().unwrap() {
        l[k] = v.clone();
    }
    let n: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": l}})).unwrap();
    api.create(&PostParams::default(), &n).await.unwrap();
    let status = json!({"status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
        "capacity": {"cpu": cpu, "memory": "16Gi", "pods": "110"}}});
    api.patch_status(name, &PatchParams::default(), Patch::Merge(status))
        .await
        .unwrap();
}

async fn create_pod(client: &Arc<dyn Client>, name: &str, spec: Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut s = json!({"containers": [{"name": "c", "image": "busybox"}]});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": s})).unwrap();
    api.create(&PostParams::default(), &p).await.unwrap();
}

fn cpu_spec(cpu: &str) -> Value {
    json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]})
}

fn start(
    client: &Arc<dyn Client>,
    config: SchedulerConfig,
) -> (Arc<DefaultScheduler>, oneshot::Sender<()>) {
    let sched = DefaultScheduler::new(client.clone(), config);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(sched.clone().run(Box::pin(async move {
        let _ = rx.await;
    })));
    (sched, tx)
}

async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pod(client: &Arc<dyn Client>, name: &str) -> Pod {
    Api::<Pod>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .unwrap()
}

fn node_of(p: &Pod) -> Option<String> {
    p.spec.as_ref().and_then(|s| s.node_name.clone())
}

async fn events(client: &Arc<dyn Client>, reason: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

/// Completes graceful deletions of pods bound to nodes, as a kubelet would.
fn fake_kubelet(client: Arc<dyn Client>) {
    tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(client, "default");
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for p in list.items {
                    if p.metadata.deletion_timestamp.is_some() {
                        let dp = DeleteParams {
                            grace_period_seconds: Some(0),
                            ..Default::default()
                        };
                        let _ = api
                            .delete(p.metadata.name.as_deref().unwrap_or(""), &dp)
                            .await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_pods_spreading_them_and_records_events() {
    let client = cluster().await;
    for n in ["n1", "n2", "n3"] {
        create_node(&client, n, "4", json!({})).await;
    }
    let (sched, _stop) = start(
        &client,
        SchedulerConfig {
            seed: Some(1),
            ..Default::default()
        },
    );
    for i in 0..6 {
        create_pod(&client, &format!("p{i}"), cpu_spec("1")).await;
    }
    let mut per_node = std::collections::HashMap::new();
    for i in 0..6 {
        let n = eventually("binding", || {
            let c = client.clone();
            async move { node_of(&pod(&c, &format!("p{i}")).await) }
        })
        .await;
        *per_node.entry(n).or_insert(0) += 1;
    }
    // LeastAllocated + BalancedAllocation spread six equal pods evenly.
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2]);
    let scheduled = eventually("Scheduled events", || {
        let c = client.clone();
        async move { Some(events(&c, "Scheduled").await).filter(|e| e.len() == 6) }
    })
    .await;
    assert!(scheduled[0]
        .message
        .as_deref()
        .unwrap()
        .starts_with("Successfully assigned default/p"));
    let m = sched.metrics();
    assert_eq!(m.scheduled, 6);
    assert!(m
        .to_prometheus()
        .contains("scheduler_schedule_attempts_total{result=\"scheduled\"} 6"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_scheduling_event_condition_and_requeue_on_node_add() {
    let client = cluster().await;
    create_node(&client, "n1", "1", json!({"disk": "ssd"})).await;
    create_node(&client, "n2", "1", json!({"disk": "ssd"})).await;
    for n in ["n3", "n4", "n5"] {
        create_node(&client, n, "8", json!({})).await;
    }
    let (sched, _stop) = start(
        &client,
        SchedulerConfig {
            seed: Some(1),
            ..Default::default()
        },
    );
    let mut spec = cpu_spec("2");
    spec["nodeSelector"] = json!({"disk": "ssd"});
    create_pod(&client, "big", spec).await;
    let ev = eventually("FailedScheduling", || {
        let c = client.clone();
        async move { events(&c, "FailedScheduling").await.into_iter().next() }
    })
    .await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(
        ev.message.as_deref().unwrap(),
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
    );
    let p = eventually("PodScheduled condition", || {
        let c = client.clone();
        async move {
            let p = pod(&c, "big").await;
            let has = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.type_ == "PodScheduled"
                            && c.status == "False"
                            && c.reason.as_deref() == Some("Unschedulable")
                    })
                });
            has.then_some(p)
        }
    })
    .await;
    assert!(node_of(&p).is_none());
    // It stays pending without spinning: no more attempts without cluster events.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let attempts = sched.metrics().unschedulable;
    assert!(attempts <= 2, "attempts {attempts}");
    assert_eq!(sched.queue_sizes().unschedulable, 1);
    // A fitting node arrives: the pod is retried and bound there.
    create_node(&client, "n6", "4", json!({"disk": "ssd"})).await;
    let n = eventually("binding to n6", || {
        let c = client.clone();
        async move { node_of(&pod(&c, "big").await) }
    })
    .await;
    assert_eq!(n, "n6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preemption_evicts_lower_priority_pods() {
    let client = cluster().await;
    fake_kubelet(client.clone());
    let pcs: Api<PriorityClass> = Api::all(client.clone());
    for (name, value) in [("low", 10), ("high", 1000)] {
        let pc: PriorityClass =
            serde_json::from_value(json!({"metadata": {"name": name}, "value": value})).unwrap();
        pcs.create(&PostParams::default(), &pc).await.unwrap();
    }
    create_node(&client, "n1", "2", json!({})).await;
    let (sched, _stop) = start(
        &client,
        SchedulerConfig {
            seed: Some(1),
            ..Default::default()
        },
    );
    for i in 0..2 {
        let mut s = cpu_spec("1");
        s["priorityClassName"] = json!("low");
        create_pod(&client, &format!("low{i}"), s).await;
    }
    for i in 0..2 {
        eventually("low pods bound", || {
            let c = client.clone();
            async move { node_of(&pod(&c, &format!("low{i}")).await) }
        })
        .await;
    }
    let mut s = cpu_spec("1");
    s["priorityClassName"] = json!("high");
    create_pod(&client, "high", s).await;
    let n = eventually("preemptor bound", || {
        let c = client.clone();
        async move { node_of(&pod(&c, "high").await) }
    })
    .await;
    assert_eq!(n, "n1");
    let preempted = events(&client, "Preempted").await;
    assert_eq!(preempted.len(), 1, "exactly one victim");
    assert!(preempted[0]
        .message
        .as_deref()
        .unwrap()
        .starts_with("Preempted by pod "));
    let remaining: Vec<String> = Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(remaining.len(), 2, "{remaining:?}");
    assert_eq!(sched.metrics().preemption_victims, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_pod_past_its_deadline_is_failed() {
    let client = cluster().await;
    create_node(&client, "n1", "1", json!({})).await;
    // The scheduler's clock runs an hour ahead: every deadline below has passed.
    let clock: leader::Clock =
        Arc::new(|| jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600));
    let (_sched, _stop) = start(
        &client,
        SchedulerConfig {
            clock,
            ..Default::default()
        },
    );
    let mut s = cpu_spec("4");
    s["activeDeadlineSeconds"] = json!(60);
    create_pod(&client, "late", s).await;
    let p = eventually("Failed phase", || {
        let c = client.clone();
        async move {
            let p = pod(&c, "late").await;
            (p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")).then_some(p)
        }
    })
    .await;
    assert_eq!(
        p.status.as_ref().unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    eventually("DeadlineExceeded event", || {
        let c = client.clone();
        async move { events(&c, "DeadlineExceeded").await.into_iter().next() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_by_scheduler_name() {
    let client = cluster().await;
    create_node(&client, "n1", "4", json!({})).await;
    let (_sched, _stop) = start(
        &client,
        SchedulerConfig {
            seed: Some(1),
            ..Default::default()
        },
    );
    let mut s = cpu_spec("1");
    s["schedulerName"] = json!("batch-scheduler");
    create_pod(&client, "batch", s).await;
    create_pod(&client, "web", cpu_spec("1")).await;
    eventually("web bound", || {
        let c = client.clone();
        async move { node_of(&pod(&c, "web").await) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(node_of(&pod(&client, "batch").await).is_none(), "not ours");
    let config = SchedulerConfig {
        profiles: vec![plugins::default_profile("batch-scheduler")],
        identity: "batch".into(),
        ..Default::default()
    };
    let (_b, _stop_b) = start(&client, config);
    eventually("batch bound by its scheduler", || {
        let c = client.clone();
        async move { node_of(&pod(&c, "batch").await) }
    })
    .await;
    let _ = DEFAULT_SCHEDULER_NAME;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_only_one_scheduler_binds() {
    let client = cluster().await;
    for n in ["n1", "n2"] {
        create_node(&client, n, "8", json!({})).await;
    }
    let mk = |id: &str| SchedulerConfig {
        identity: id.into(),
        leader_election: Some(leader::Config::new("kube-system", "kube-scheduler", id)),
        ..Default::default()
    };
    let (a, _sa) = start(&client, mk("sched-a"));
    let (b, _sb) = start(&client, mk("sched-b"));
    for i in 0..8 {
        create_pod(&client, &format!("p{i}"), cpu_spec("100m")).await;
    }
    for i in 0..8 {
        eventually("bound", || {
            let c = client.clone();
            async move { node_of(&pod(&c, &format!("p{i}")).await) }
        })
        .await;
    }
    let (ma, mb) = (a.metrics().scheduled, b.metrics().scheduled);
    assert_eq!(ma + mb, 8);
    assert!(
        ma == 0 || mb == 0,
        "both schedulers bound pods: {ma} and {mb}"
    );
}
