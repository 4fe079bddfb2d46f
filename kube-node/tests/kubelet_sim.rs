//! The kubelet against an in-process API server and a scripted runtime, under paused tokio
//! time: node registration and lease renewal, pod start and status, the CrashLoopBackOff
//! curve, probes, graceful deletion with preStop, activeDeadlineSeconds, admission, bad input,
//! adoption after a kubelet restart, orphan cleanup and static pods.

mod kubelet_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube_node::kubelet::Kubelet;
use kube_node::labels;
use kube_node::runtime::Runtime;
use kubelet_support::{cluster, wait_for, Scripted};
use kubox_core::api::coordination_v1::Lease;
use kubox_core::api::core_v1::{Event, Node, Pod};
use kubox_core::client::{Api, Client, DeleteParams, ListParams, PostParams};
use kubox_core::Quantity;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

fn capacity() -> BTreeMap<String, Quantity> {
    let mut c = BTreeMap::new();
    c.insert("cpu".into(), Quantity::parse("4").unwrap());
    c.insert("memory".into(), Quantity::parse("8Gi").unwrap());
    c.insert("pods".into(), Quantity::parse("110").unwrap());
    c.insert(
        "ephemeral-storage".into(),
        Quantity::parse("100Gi").unwrap(),
    );
    c
}

fn start(client: &Arc<dyn Client>, runtime: &Scripted, node: &str) -> Running {
    let kubelet = Kubelet::builder(node, Arc::new(runtime.clone()), client.clone())
        .capacity(capacity())
        .address("InternalIP", "192.168.50.10")
        .log_root(std::env::temp_dir().join("kubox-kubelet-tests"))
        .build();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(kubelet.run(async {
        let _ = rx.await;
    }));
    Running {
        stop: Some(tx),
        task,
    }
}

fn pod(v: serde_json::Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

async fn create(client: &Arc<dyn Client>, p: Pod) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &p).await.unwrap()
}

async fn get(client: &Arc<dyn Client>, name: &str) -> Option<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.get_opt(name).await.unwrap()
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn cond<'a>(p: &'a Pod, t: &str) -> Option<&'a kubox_core::api::core_v1::PodCondition> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
}

fn cstatus<'a>(p: &'a Pod, name: &str) -> Option<&'a kubox_core::api::core_v1::ContainerStatus> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)
}

fn waiting_reason(p: &Pod, name: &str) -> Option<String> {
    cstatus(p, name)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
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

#[tokio::test(start_paused = true)]
async fn registers_the_node_and_renews_its_lease_every_ten_seconds() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    let nodes: Api<Node> = Api::all(client.clone());
    let node = wait_for(10, "node", || async {
        nodes
            .get_opt("n1")
            .await
            .unwrap()
            .filter(|n| n.status.is_some())
    })
    .await;
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "n1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels.contains_key("kubernetes.io/arch"));
    let st = node.status.unwrap();
    assert_eq!(
        st.capacity.as_ref().unwrap()["cpu"],
        Quantity::parse("4").unwrap()
    );
    assert_eq!(
        st.capacity.as_ref().unwrap()["pods"],
        Quantity::parse("110").unwrap()
    );
    // Allocatable: capacity minus the hard-eviction thresholds.
    assert_eq!(
        st.allocatable.as_ref().unwrap()["memory"].value(),
        8 * 1024 * 1024 * 1024 - 100 * 1024 * 1024
    );
    let conds = st.conditions.unwrap();
    let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        types,
        ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    );
    let ready = &conds[3];
    assert_eq!(
        (
            ready.status.as_str(),
            ready.reason.as_deref(),
            ready.message.as_deref()
        ),
        (
            "True",
            Some("KubeletReady"),
            Some("kubelet is posting ready status")
        )
    );
    assert_eq!(
        conds[0].reason.as_deref(),
        Some("KubeletHasSufficientMemory")
    );
    let info = st.node_info.unwrap();
    assert_eq!(info.container_runtime_version, "scripted://0.1.0");
    assert_eq!(info.kubelet_version, "v1.33.0");
    assert_eq!(
        st.daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port,
        10250
    );
    let addrs = st.addresses.unwrap();
    assert_eq!(addrs[0].address, "192.168.50.10");
    assert!(st.images.unwrap().iter().any(|i| i
        .names
        .as_ref()
        .unwrap()
        .contains(&"nginx:1.25".to_string())));

    // The lease: holder n1, 40 s, renewed every 10 s.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = wait_for(5, "lease", || async { leases.get_opt("n1").await.unwrap() }).await;
    let spec = first.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    assert_eq!(
        first.metadata.owner_references.as_ref().unwrap()[0].kind,
        "Node"
    );
    let t0 = spec.renew_time.unwrap().0;
    let mut renewals = vec![];
    let mut last = t0;
    while renewals.len() < 3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let l = leases.get("n1").await.unwrap();
        let t = l.spec.unwrap().renew_time.unwrap().0;
        if t != last {
            renewals.push(t.duration_since(last).as_secs_f64());
            last = t;
        }
    }
    for gap in renewals {
        assert!((gap - 10.0).abs() < 0.01, "renewed after {gap}s");
    }
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn runs_a_pod_and_reports_running_status() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"nodeName": "n1",
            "initContainers": [{"name": "setup", "image": "busybox:1.36", "command": ["exit", "0", "1"]}],
            "containers": [{"name": "app", "image": "busybox:1.36", "command": ["run"],
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}
    }))).await;
    let p = wait_for(30, "Running", || async {
        get(&client, "web").await.filter(|p| {
            phase(p) == Some("Running") && cond(p, "Ready").is_some_and(|c| c.status == "True")
        })
    })
    .await;
    let st = p.status.clone().unwrap();
    assert_eq!(st.host_ip.as_deref(), Some("192.168.50.10"));
    assert!(st.pod_ip.as_deref().unwrap().starts_with("10.88.0."));
    assert!(st.start_time.is_some());
    assert_eq!(st.qos_class.as_deref(), Some("BestEffort"));
    let types: Vec<&str> = st
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled"
        ]
    );
    let app = cstatus(&p, "app").unwrap();
    assert!(app.ready && app.started == Some(true));
    assert!(app
        .container_id
        .as_deref()
        .unwrap()
        .starts_with("scripted://"));
    assert!(app.state.as_ref().unwrap().running.is_some());
    let init = &st.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        init.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("Completed")
    );
    // Runtime objects carry the kubelet's labels.
    let c = runtime
        .containers()
        .into_iter()
        .find(|c| c.name == "app")
        .unwrap();
    assert_eq!(c.labels[labels::NODE_NAME], "n1");
    assert_eq!(c.labels[labels::POD_NAME], "web");
    assert!(c
        .log_path
        .ends_with("default_web_".to_string() + p.metadata.uid.as_deref().unwrap() + "/app/0.log"));
    let sb = runtime.sandboxes();
    assert_eq!(sb[0].labels[labels::NODE_NAME], "n1");
    assert_eq!(
        runtime
            .starts()
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["setup", "app"]
    );
    // Events.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(events(&client, "Started")
        .await
        .iter()
        .any(|e| e.message.as_deref() == Some("Started container app")));
    assert!(events(&client, "Created")
        .await
        .iter()
        .any(|e| e.message.as_deref() == Some("Created container: app")));
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn crash_loop_back_off_doubles_to_five_minutes() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "crash"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["exit", "1", "0"]}]}
    }))).await;
    // Wait until 8 starts happened: 0, 10, 20, 40, 80, 160, 300, 300 s apart.
    wait_for(1500, "8 starts", || async {
        (runtime.starts().len() >= 8).then_some(())
    })
    .await;
    let starts = runtime.starts();
    let gaps: Vec<i64> = starts
        .windows(2)
        .map(|w| w[1].1.duration_since(w[0].1).as_secs())
        .collect();
    let expected = [0, 10, 20, 40, 80, 160, 300];
    for (gap, want) in gaps.iter().zip(expected) {
        // The restart happens at the first sync after the back-off ends (PLEG, 1 s).
        assert!(*gap >= want && *gap <= want + 2, "gaps {gaps:?}");
    }
    let p = wait_for(20, "CrashLoopBackOff", || async {
        get(&client, "crash")
            .await
            .filter(|p| waiting_reason(p, "c").as_deref() == Some("CrashLoopBackOff"))
    })
    .await;
    let cs = cstatus(&p, "c").unwrap();
    assert!(cs.restart_count >= 7, "{}", cs.restart_count);
    let msg = cs
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        msg.starts_with("back-off 5m0s restarting failed container=c pod=crash_default("),
        "{msg}"
    );
    assert_eq!(
        cs.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert_eq!(phase(&p), Some("Running"));
    assert!(!events(&client, "BackOff").await.is_empty());
    // Dead containers are garbage-collected: the newest and the one `--previous` shows stay.
    let kept = runtime
        .containers()
        .into_iter()
        .filter(|c| c.name == "c")
        .count();
    assert_eq!(kept, 2);
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn liveness_failure_restarts_and_readiness_flips_ready() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "probed"},
        "spec": {"nodeName": "n1", "containers": [
            {"name": "live", "image": "busybox:1.36", "command": ["run"],
             "livenessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 5, "failureThreshold": 2, "initialDelaySeconds": 3}},
            {"name": "ready", "image": "busybox:1.36", "command": ["run"],
             "readinessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 2}}]}
    }))).await;
    wait_for(30, "Ready", || async {
        get(&client, "probed")
            .await
            .filter(|p| cond(p, "Ready").is_some_and(|c| c.status == "True"))
    })
    .await;
    // Readiness fails: the pod stops being Ready.
    runtime.set_exec("ready", 1);
    let p = wait_for(30, "not Ready", || async {
        get(&client, "probed")
            .await
            .filter(|p| cond(p, "Ready").is_some_and(|c| c.status == "False"))
    })
    .await;
    assert_eq!(
        cond(&p, "Ready").unwrap().message.as_deref(),
        Some("containers with unready status: [ready]")
    );
    assert_eq!(
        cond(&p, "ContainersReady").unwrap().reason.as_deref(),
        Some("ContainersNotReady")
    );
    runtime.set_exec("ready", 0);
    wait_for(30, "Ready again", || async {
        get(&client, "probed")
            .await
            .filter(|p| cond(p, "Ready").is_some_and(|c| c.status == "True"))
    })
    .await;
    // Liveness fails twice in a row (period 5 s): killed and restarted.
    let before = tokio::time::Instant::now();
    runtime.set_exec("live", 1);
    let p = wait_for(60, "restart", || async {
        get(&client, "probed")
            .await
            .filter(|p| cstatus(p, "live").is_some_and(|c| c.restart_count == 1))
    })
    .await;
    let took = before.elapsed().as_secs();
    assert!((5..=12).contains(&took), "restarted after {took}s");
    runtime.set_exec("live", 0);
    let killing = events(&client, "Killing").await;
    assert!(
        killing.iter().any(|e| e.message.as_deref()
            == Some("Container live failed liveness probe, will be restarted")),
        "{killing:?}"
    );
    assert!(events(&client, "Unhealthy")
        .await
        .iter()
        .any(|e| e.message.as_deref() == Some("Liveness probe failed: probe says no")));
    assert_eq!(
        cstatus(&p, "live")
            .unwrap()
            .last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        143
    );
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn graceful_deletion_runs_pre_stop_then_deletes_the_pod() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(
        &client,
        pod(json!({
            "metadata": {"name": "bye"},
            "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 20, "containers": [
                {"name": "c", "image": "busybox:1.36", "command": ["run"],
                 "lifecycle": {"preStop": {"exec": {"command": ["drain"]}}}}]}
        })),
    )
    .await;
    wait_for(30, "Running", || async {
        get(&client, "bye")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete("bye", &DeleteParams::default()).await.unwrap();
    wait_for(30, "pod gone", || async {
        get(&client, "bye").await.is_none().then_some(())
    })
    .await;
    assert!(runtime
        .exec_log()
        .iter()
        .any(|(c, cmd)| c == "c" && cmd == &vec!["drain".to_string()]));
    let stops = runtime.stops();
    assert_eq!(stops.len(), 1);
    assert!(
        stops[0].1 <= Duration::from_secs(20) && stops[0].1 >= Duration::from_secs(19),
        "{stops:?}"
    );
    wait_for(5, "runtime objects removed", || async {
        runtime.containers().is_empty().then_some(())
    })
    .await;
    assert!(events(&client, "Killing")
        .await
        .iter()
        .any(|e| e.message.as_deref() == Some("Stopping container c")));
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn active_deadline_fails_the_pod() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(
        &client,
        pod(json!({
            "metadata": {"name": "deadline"},
            "spec": {"nodeName": "n1", "activeDeadlineSeconds": 30,
                "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"]}]}
        })),
    )
    .await;
    let running = wait_for(10, "Running", || async {
        get(&client, "deadline")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    let started = running.status.unwrap().start_time.unwrap().0;
    let p = wait_for(60, "Failed", || async {
        get(&client, "deadline")
            .await
            .filter(|p| phase(p) == Some("Failed"))
    })
    .await;
    let st = p.status.clone().unwrap();
    assert_eq!(st.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        st.message.as_deref(),
        Some("Pod was active on the node longer than the specified deadline")
    );
    let failed_at = cstatus(&p, "c")
        .unwrap()
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap()
        .finished_at
        .unwrap()
        .0;
    let after = failed_at.duration_since(started).as_secs();
    assert!((30..=31).contains(&after), "killed after {after}s");
    assert!(!events(&client, "DeadlineExceeded").await.is_empty());
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn admission_rejects_pods_beyond_allocatable() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    let big = |name: &str| {
        pod(json!({
            "metadata": {"name": name},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"],
                "resources": {"requests": {"cpu": "3"}}}]}
        }))
    };
    create(&client, big("first")).await;
    wait_for(10, "first Running", || async {
        get(&client, "first")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    create(&client, big("second")).await;
    let p = wait_for(10, "second Failed", || async {
        get(&client, "second")
            .await
            .filter(|p| phase(p) == Some("Failed"))
    })
    .await;
    let st = p.status.unwrap();
    assert_eq!(st.reason.as_deref(), Some("OutOfcpu"));
    assert_eq!(st.message.as_deref(), Some("Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 3000, capacity: 4000"));
    assert!(!runtime.containers().iter().any(|c| c
        .labels
        .get(labels::POD_NAME)
        .map(String::as_str)
        == Some("second")));
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn bad_input_becomes_waiting_reasons_and_events() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "bad"},
        "spec": {"nodeName": "n1", "containers": [
            {"name": "nocmd", "image": "busybox:1.36"},
            {"name": "never", "image": "absent:1.0", "imagePullPolicy": "Never", "command": ["run"]},
            {"name": "pull", "image": "unreachable/x:1.0", "command": ["run"]},
            {"name": "cm", "image": "busybox:1.36", "command": ["run"],
             "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}]}]}
    }))).await;
    let p = wait_for(30, "reasons", || async {
        get(&client, "bad").await.filter(|p| {
            waiting_reason(p, "nocmd").as_deref() == Some("CreateContainerError")
                && waiting_reason(p, "never").as_deref() == Some("ErrImageNeverPull")
                && waiting_reason(p, "pull").as_deref() == Some("ImagePullBackOff")
                && waiting_reason(p, "cm").as_deref() == Some("CreateContainerConfigError")
        })
    })
    .await;
    let msg = |n: &str| {
        cstatus(&p, n)
            .unwrap()
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .message
            .clone()
            .unwrap()
    };
    assert_eq!(
        msg("never"),
        "Container image \"absent:1.0\" is not present with pull policy of Never"
    );
    assert_eq!(msg("cm"), "configmap \"missing\" not found");
    assert!(msg("nocmd").contains("no command"));
    assert_eq!(msg("pull"), "Back-off pulling image \"unreachable/x:1.0\"");
    assert_eq!(phase(&p), Some("Pending"));
    assert!(!events(&client, "ErrImageNeverPull").await.is_empty());
    assert!(events(&client, "Failed").await.iter().any(|e| e
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("Failed to pull image \"unreachable/x:1.0\""))));
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_kubelet_adopts_its_containers_and_removes_orphans_only() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "keep"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["exit", "1", "5"]}]}
    }))).await;
    wait_for(60, "one restart", || async {
        get(&client, "keep").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| {
                c.restart_count >= 1 && c.state.as_ref().unwrap().running.is_some()
            })
        })
    })
    .await;
    kubelet.stop().await;
    let before = runtime.containers();
    let running_before: Vec<String> = before
        .iter()
        .filter(|c| c.state == kube_node::runtime::ContainerState::Running)
        .map(|c| c.id.clone())
        .collect();
    // A container of a pod that no longer exists (ours), and one of another node.
    let mut orphan = kube_node::runtime::Labels::new();
    orphan.insert(labels::NODE_NAME.into(), "n1".into());
    orphan.insert(labels::POD_UID.into(), "gone-uid".into());
    let orphan_id = runtime.add_foreign(orphan);
    let mut foreign = kube_node::runtime::Labels::new();
    foreign.insert(labels::NODE_NAME.into(), "n2".into());
    foreign.insert(labels::POD_UID.into(), "other-uid".into());
    let foreign_id = runtime.add_foreign(foreign);

    // A new kubelet over the same runtime state (a "new runtime instance" sharing it).
    let kubelet = start(&client, &runtime, "n1");
    wait_for(10, "orphan removed", || async {
        (!runtime.containers().iter().any(|c| c.id == orphan_id)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = runtime.containers();
    assert!(
        after
            .iter()
            .any(|c| c.id == foreign_id && c.state == kube_node::runtime::ContainerState::Running),
        "the foreign container is left alone"
    );
    for id in &running_before {
        // The running container was adopted, not replaced (unless it crashed meanwhile).
        let c = after.iter().find(|c| &c.id == id);
        assert!(c.is_some(), "adopted container {id} still exists");
    }
    let p = get(&client, "keep").await.unwrap();
    assert!(
        cstatus(&p, "c").unwrap().restart_count >= 1,
        "restart count survives the kubelet restart"
    );
    let running = after
        .iter()
        .filter(|c| {
            c.labels.get(labels::POD_NAME).map(String::as_str) == Some("keep")
                && c.state == kube_node::runtime::ContainerState::Running
        })
        .count();
    assert!(running <= 1, "no duplicate containers");
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn container_spec_change_restarts_the_container() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "upd"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"]}]}
    }))).await;
    wait_for(10, "Running", || async {
        get(&client, "upd")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.patch(
        "upd",
        &Default::default(),
        kubox_core::client::Patch::Json(
            json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.25"}]),
        ),
    )
    .await
    .unwrap();
    let p = wait_for(10, "restarted", || async {
        get(&client, "upd").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| {
                c.restart_count == 1 && c.state.as_ref().unwrap().running.is_some()
            })
        })
    })
    .await;
    assert_eq!(cstatus(&p, "c").unwrap().image, "nginx:1.25");
    assert!(
        events(&client, "Killing")
            .await
            .iter()
            .any(|e| e.message.as_deref()
                == Some("Container c definition changed, will be restarted"))
    );
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn never_restart_policy_completes_the_pod() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(&client, pod(json!({
        "metadata": {"name": "job"},
        "spec": {"nodeName": "n1", "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["exit", "0", "3"]}]}
    }))).await;
    let p = wait_for(30, "Succeeded", || async {
        get(&client, "job")
            .await
            .filter(|p| phase(p) == Some("Succeeded"))
    })
    .await;
    assert_eq!(
        cond(&p, "Ready").unwrap().reason.as_deref(),
        Some("PodCompleted")
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(runtime.starts().len(), 1, "never restarted");
    kubelet.stop().await;
    let _ = runtime.version().await;
}

#[tokio::test(start_paused = true)]
async fn static_pods_run_with_mirror_pods() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n    command: [run]\n",
    )
    .unwrap();
    let kubelet = Kubelet::builder("n1", Arc::new(runtime.clone()), client.clone())
        .capacity(capacity())
        .address("InternalIP", "192.168.50.10")
        .log_root(dir.path().join("logs"))
        .static_pod_source(kube_node::sources::StaticPodSource::file(dir.path(), "n1"))
        .build();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(kubelet.run(async {
        let _ = rx.await;
    }));
    let kubelet = Running {
        stop: Some(tx),
        task,
    };
    let mirror = wait_for(30, "mirror pod Running", || async {
        get(&client, "web-n1")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    assert!(kube_node::sources::is_mirror_pod(&mirror));
    let owner = &mirror.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", "n1"));
    assert!(cstatus(&mirror, "app").unwrap().ready);
    // The static pod's containers run under the static pod's UID, not the mirror's.
    let c = runtime
        .containers()
        .into_iter()
        .find(|c| c.name == "app")
        .unwrap();
    assert_ne!(
        Some(&c.labels[labels::POD_UID]),
        mirror.metadata.uid.as_ref()
    );

    // Deleting the mirror pod does not stop the static pod; the mirror comes back.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete("web-n1", &DeleteParams::default())
        .await
        .unwrap();
    let again = wait_for(30, "mirror recreated", || async {
        get(&client, "web-n1").await.filter(|p| {
            p.metadata.uid != mirror.metadata.uid
                && p.metadata.deletion_timestamp.is_none()
                && phase(p) == Some("Running")
        })
    })
    .await;
    assert!(kube_node::sources::is_mirror_pod(&again));
    assert_eq!(runtime.starts().len(), 1, "the static pod kept running");

    // Removing the manifest stops the pod and deletes the mirror.
    std::fs::remove_file(dir.path().join("web.yaml")).unwrap();
    wait_for(60, "mirror deleted", || async {
        get(&client, "web-n1").await.is_none().then_some(())
    })
    .await;
    wait_for(30, "containers removed", || async {
        (!runtime.containers().iter().any(|c| c.name == "app")).then_some(())
    })
    .await;
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn node_ready_follows_the_runtime_network() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    runtime.set_network_down(Some("running without root: pods use the host network"));
    let kubelet = start(&client, &runtime, "n1");
    let nodes: Api<Node> = Api::all(client.clone());
    let ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready").cloned())
    };
    let node = wait_for(10, "node", || async {
        nodes
            .get_opt("n1")
            .await
            .unwrap()
            .filter(|n| ready(n).is_some())
    })
    .await;
    let r = ready(&node).unwrap();
    assert_eq!(r.status, "False");
    assert_eq!(r.reason.as_deref(), Some("KubeletNotReady"));
    assert_eq!(
        r.message.as_deref(),
        Some("container runtime network not ready: NetworkReady=false message:running without root: pods use the host network")
    );
    let since = r.last_transition_time.unwrap();
    // The network comes up: Ready within one status update period (10 s).
    runtime.set_network_down(None);
    let t0 = tokio::time::Instant::now();
    let node = wait_for(20, "Ready", || async {
        nodes
            .get_opt("n1")
            .await
            .unwrap()
            .filter(|n| ready(n).is_some_and(|c| c.status == "True"))
    })
    .await;
    assert!(t0.elapsed() <= Duration::from_secs(11));
    assert!(ready(&node).unwrap().last_transition_time.unwrap() > since);
    // Unchanged status is not rewritten at every update (only every 5 minutes).
    let rv = node.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(nodes.get("n1").await.unwrap().metadata.resource_version, rv);
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn init_container_failure_follows_the_restart_policy() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    for (name, policy) in [("never", "Never"), ("onfailure", "OnFailure")] {
        create(
            &client,
            pod(json!({
                "metadata": {"name": name},
                "spec": {"nodeName": "n1", "restartPolicy": policy,
                    "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["exit", "2", "1"]}],
                    "containers": [{"name": "app", "image": "busybox:1.36", "command": ["run"]}]}
            })),
        )
        .await;
    }
    let p = wait_for(30, "never Failed", || async {
        get(&client, "never")
            .await
            .filter(|p| phase(p) == Some("Failed"))
    })
    .await;
    let init = cond(&p, "Initialized").unwrap();
    assert_eq!(init.status, "False");
    assert_eq!(
        init.message.as_deref(),
        Some("containers with incomplete status: [init]")
    );
    assert_eq!(
        waiting_reason(&p, "app").as_deref(),
        Some("PodInitializing"),
        "the app container never started"
    );
    let p = wait_for(60, "onfailure retried", || async {
        get(&client, "onfailure").await.filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.init_container_statuses.as_ref())
                .is_some_and(|s| s[0].restart_count >= 2)
        })
    })
    .await;
    assert_eq!(phase(&p), Some("Pending"));
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn readiness_probe_timing_follows_initial_delay_and_period() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(
        &client,
        pod(json!({
            "metadata": {"name": "slow"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"],
                "readinessProbe": {"exec": {"command": ["check"]}, "initialDelaySeconds": 7, "periodSeconds": 3, "successThreshold": 2}}]}
        })),
    )
    .await;
    let running = wait_for(10, "running", || async {
        get(&client, "slow").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| c.state.as_ref().unwrap().running.is_some())
        })
    })
    .await;
    let started = cstatus(&running, "c")
        .unwrap()
        .state
        .as_ref()
        .unwrap()
        .running
        .as_ref()
        .unwrap()
        .started_at
        .unwrap()
        .0;
    assert!(!cstatus(&running, "c").unwrap().ready);
    let ready = wait_for(30, "ready", || async {
        get(&client, "slow")
            .await
            .filter(|p| cond(p, "Ready").is_some_and(|c| c.status == "True"))
    })
    .await;
    let at = cond(&ready, "Ready")
        .unwrap()
        .last_transition_time
        .unwrap()
        .0;
    // Probes at 0, 3, 6 (before the 7 s delay: skipped), 9, 12: two successes at 12 s.
    let after = at.duration_since(started).as_secs();
    assert!((12..=13).contains(&after), "ready after {after}s");
    let probes = runtime.exec_log().len();
    assert_eq!(probes, 2, "no probe before initialDelaySeconds");
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_container_lost_by_the_runtime_is_recreated_with_a_higher_restart_count() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(
        &client,
        pod(json!({
            "metadata": {"name": "lost"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"]}]}
        })),
    )
    .await;
    let p = wait_for(10, "Running", || async {
        get(&client, "lost")
            .await
            .filter(|p| phase(p) == Some("Running"))
    })
    .await;
    let first = cstatus(&p, "c").unwrap().container_id.clone().unwrap();
    let id = first.trim_start_matches("scripted://").to_string();
    runtime.remove_container(&id).await.unwrap();
    let p = wait_for(10, "recreated", || async {
        get(&client, "lost").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| {
                c.container_id.as_deref() != Some(first.as_str())
                    && c.state.as_ref().unwrap().running.is_some()
            })
        })
    })
    .await;
    assert_eq!(cstatus(&p, "c").unwrap().restart_count, 1);
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unknown_probe_port_is_reported_not_fatal() {
    let (_server, client) = cluster().await;
    let runtime = Scripted::new();
    let kubelet = start(&client, &runtime, "n1");
    create(
        &client,
        pod(json!({
            "metadata": {"name": "badport"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["run"],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"port": "metrics", "path": "/"}, "periodSeconds": 1}}]}
        })),
    )
    .await;
    wait_for(20, "Unhealthy event", || async {
        events(&client, "Unhealthy").await.into_iter().find(|e| {
            e.message.as_deref()
                == Some("Readiness probe errored and resulted in Failure state: couldn't find port: metrics in container c")
        })
    })
    .await;
    let p = get(&client, "badport").await.unwrap();
    assert_eq!(phase(&p), Some("Running"));
    assert_eq!(cond(&p, "Ready").unwrap().status, "False");
    kubelet.stop().await;
}

#[tokio::test(start_paused = true)]
async fn runs_a_pod_on_the_sim_runtime() {
    let (_server, client) = cluster().await;
    let sim = kube_node::runtime::sim::SimRuntime::new(Default::default());
    let kubelet = Kubelet::builder("sim1", Arc::new(sim), client.clone())
        .capacity(capacity())
        .log_root(std::env::temp_dir().join("kubox-kubelet-tests"))
        .build();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(kubelet.run(async {
        let _ = rx.await;
    }));
    let kubelet = Running {
        stop: Some(tx),
        task,
    };
    create(
        &client,
        pod(json!({
            "metadata": {"name": "simple"},
            "spec": {"nodeName": "sim1", "containers": [{"name": "c", "image": "busybox:latest", "command": ["sleep", "3600"]}]}
        })),
    )
    .await;
    let p = wait_for(30, "Running on the sim runtime", || async {
        get(&client, "simple").await.filter(|p| {
            phase(p) == Some("Running") && cond(p, "Ready").is_some_and(|c| c.status == "True")
        })
    })
    .await;
    assert!(cstatus(&p, "c")
        .unwrap()
        .container_id
        .as_deref()
        .unwrap()
        .starts_with("kubox-sim://"));
    kubelet.stop().await;
}
