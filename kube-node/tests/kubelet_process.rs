//! The kubelet with the process runtime: real processes, real time. A crash loop with a
//! rising restartCount and CrashLoopBackOff, a failing liveness probe restarting a container,
//! readiness flipping the Ready condition, graceful stop with a preStop hook, a kubelet
//! restart adopting its running containers, and (as root) two pods listening on the same port
//! with their own IPs.

mod kubelet_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube_node::kubelet::Kubelet;
use kube_node::runtime::process::{NetworkConfig, ProcessConfig, ProcessRuntime};
use kube_node::runtime::{ContainerFilter, ContainerState, Runtime};
use kubelet_support::wait_for;
use kubox_core::api::core_v1::Pod;
use kubox_core::client::{Api, Client, DeleteParams, PostParams};
use kubox_core::Quantity;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

async fn cluster() -> Arc<dyn Client> {
    let server =
        kube_api::ApiServer::new(Arc::new(kube_store::embedded::EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    kube_api::LocalClient::admin(server).into_client()
}

/// A runtime with its own bridge and pod CIDR (tests run in parallel), and the guard that
/// removes its bridge and namespaces at the end of the test.
async fn runtime(state: &Path, n: u8) -> (ProcessRuntime, kubelet_support::NetGuard) {
    let mut cfg = ProcessConfig::new(state);
    cfg.network = NetworkConfig {
        bridge: format!("kbxk{n}"),
        pod_cidr: format!("10.246.{n}.0/24"),
        netns_prefix: format!("kbxk{n}-"),
        ..Default::default()
    };
    let guard = kubelet_support::NetGuard {
        bridge: cfg.network.bridge.clone(),
        prefix: cfg.network.netns_prefix.clone(),
    };
    (ProcessRuntime::new(cfg).await.unwrap(), guard)
}

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

fn start(client: &Arc<dyn Client>, runtime: &ProcessRuntime, logs: &Path) -> Running {
    let mut cap = BTreeMap::new();
    cap.insert("cpu".to_string(), Quantity::parse("8").unwrap());
    cap.insert("memory".to_string(), Quantity::parse("16Gi").unwrap());
    cap.insert("pods".to_string(), Quantity::parse("110").unwrap());
    let kubelet = Kubelet::builder("pn1", Arc::new(runtime.clone()), client.clone())
        .capacity(cap)
        .log_root(logs)
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

async fn create(client: &Arc<dyn Client>, v: serde_json::Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(v).unwrap();
    api.create(&PostParams::default(), &p).await.unwrap();
}

async fn get(client: &Arc<dyn Client>, name: &str) -> Option<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.get_opt(name).await.unwrap()
}

fn cstatus<'a>(p: &'a Pod, name: &str) -> Option<&'a kubox_core::api::core_v1::ContainerStatus> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)
}

fn ready(p: &Pod) -> Option<&str> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

fn sh(script: &str) -> serde_json::Value {
    json!(["sh", "-c", script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_with_real_processes() {
    let dir = tempfile::tempdir().unwrap();
    let client = cluster().await;
    let (rt, _net) = runtime(&dir.path().join("state"), 1).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    create(&client, json!({"metadata": {"name": "crash"}, "spec": {"nodeName": "pn1",
        "containers": [{"name": "c", "image": "busybox:1.36", "command": sh("echo crashing; exit 3")}]}})).await;
    let p = wait_for(40, "restartCount 2 in CrashLoopBackOff", || async {
        get(&client, "crash").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| {
                c.restart_count >= 2
                    && c.state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CrashLoopBackOff")
            })
        })
    })
    .await;
    let c = cstatus(&p, "c").unwrap();
    let last = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(last.exit_code, 3);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    assert!(c
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .as_deref()
        .unwrap()
        .starts_with("back-off 20s restarting failed container=c pod=crash_default("));
    // The log of the container's attempt is where Kubernetes puts it.
    let uid = p.metadata.uid.clone().unwrap();
    let log = std::fs::read_to_string(
        dir.path()
            .join("logs")
            .join(format!("default_crash_{uid}"))
            .join("c")
            .join("0.log"),
    )
    .unwrap();
    assert!(log.contains("stdout F crashing"), "{log}");
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_restarts_and_readiness_flips_ready() {
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags");
    std::fs::create_dir_all(&flags).unwrap();
    let client = cluster().await;
    let (rt, _net) = runtime(&dir.path().join("state"), 2).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    let dead = flags.join("dead");
    let ok = flags.join("ready");
    create(&client, json!({"metadata": {"name": "probed"}, "spec": {"nodeName": "pn1",
        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "1000"],
            "livenessProbe": {"exec": {"command": sh(&format!("test ! -f {}", dead.display()))}, "periodSeconds": 1, "failureThreshold": 1},
            "readinessProbe": {"exec": {"command": ["test", "-f", ok.display().to_string()]}, "periodSeconds": 1}}]}})).await;
    wait_for(20, "running, not ready", || async {
        get(&client, "probed").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| c.state.as_ref().unwrap().running.is_some())
                && ready(p) == Some("False")
        })
    })
    .await;
    std::fs::write(&ok, "").unwrap();
    wait_for(20, "Ready", || async {
        get(&client, "probed")
            .await
            .filter(|p| ready(p) == Some("True"))
    })
    .await;
    std::fs::remove_file(&ok).unwrap();
    wait_for(20, "not Ready", || async {
        get(&client, "probed")
            .await
            .filter(|p| ready(p) == Some("False"))
    })
    .await;
    // Liveness fails: the container is restarted.
    std::fs::write(&dead, "").unwrap();
    let p = wait_for(20, "restarted", || async {
        get(&client, "probed")
            .await
            .filter(|p| cstatus(p, "c").is_some_and(|c| c.restart_count >= 1))
    })
    .await;
    std::fs::remove_file(&dead).unwrap();
    let last = cstatus(&p, "c")
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(last.exit_code, 143, "stopped with SIGTERM");
    wait_for(20, "running again", || async {
        get(&client, "probed").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| c.state.as_ref().unwrap().running.is_some())
        })
    })
    .await;
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_runs_pre_stop_and_deletes_the_pod() {
    let dir = tempfile::tempdir().unwrap();
    let client = cluster().await;
    let (rt, _net) = runtime(&dir.path().join("state"), 3).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    let marker = dir.path().join("prestop-ran");
    create(&client, json!({"metadata": {"name": "bye"}, "spec": {"nodeName": "pn1", "terminationGracePeriodSeconds": 10,
        "containers": [{"name": "c", "image": "busybox:1.36",
            "command": sh("trap 'exit 0' TERM; while true; do sleep 0.1; done"),
            "lifecycle": {"preStop": {"exec": {"command": sh(&format!("echo bye > {}", marker.display()))}}}}]}})).await;
    wait_for(20, "Running", || async {
        get(&client, "bye")
            .await
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let t0 = std::time::Instant::now();
    api.delete("bye", &DeleteParams::default()).await.unwrap();
    wait_for(20, "pod deleted", || async {
        get(&client, "bye").await.is_none().then_some(())
    })
    .await;
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "the container stopped at SIGTERM, not after the grace period"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "bye");
    let left = rt
        .list_containers(&ContainerFilter::default())
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_kubelet_adopts_running_containers() {
    let dir = tempfile::tempdir().unwrap();
    let client = cluster().await;
    let state = dir.path().join("state");
    let (rt, _net) = runtime(&state, 4).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    create(
        &client,
        json!({"metadata": {"name": "keep"}, "spec": {"nodeName": "pn1",
        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "1000"]}]}}),
    )
    .await;
    let p = wait_for(20, "Running", || async {
        get(&client, "keep").await.filter(|p| {
            cstatus(p, "c").is_some_and(|c| c.state.as_ref().unwrap().running.is_some())
        })
    })
    .await;
    let id = cstatus(&p, "c").unwrap().container_id.clone().unwrap();
    kubelet.stop().await;
    drop(rt);
    // A new runtime over the same state, a new kubelet.
    let (rt, _net) = runtime(&state, 4).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let p = get(&client, "keep").await.unwrap();
    let c = cstatus(&p, "c").unwrap();
    assert_eq!(
        c.container_id.as_deref(),
        Some(id.as_str()),
        "adopted, not replaced"
    );
    assert_eq!(c.restart_count, 0);
    let running: Vec<_> = rt
        .list_containers(&ContainerFilter {
            state: Some(ContainerState::Running),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(running.len(), 1, "no duplicate: {running:?}");
    // Clean up: delete the pod through the API.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete(
        "keep",
        &DeleteParams {
            grace_period_seconds: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wait_for(20, "pod deleted", || async {
        get(&client, "keep").await.is_none().then_some(())
    })
    .await;
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_listen_on_one_port_with_their_own_ips() {
    let dir = tempfile::tempdir().unwrap();
    let client = cluster().await;
    let (rt, _net) = runtime(&dir.path().join("state"), 5).await;
    // Own namespaces, unless the runtime reports a host-network fallback.
    let network = rt.status().await.unwrap().message.is_empty();
    eprintln!("pod network ready: {network}");
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    for name in ["a", "b"] {
        // One pod probes with tcpSocket, the other with httpGet (busybox httpd serves files).
        let probe = if name == "a" {
            json!({"tcpSocket": {"port": "http"}, "periodSeconds": 1})
        } else {
            json!({"httpGet": {"port": 8080, "path": "/etc/hostname"}, "periodSeconds": 1})
        };
        create(
            &client,
            json!({"metadata": {"name": name}, "spec": {"nodeName": "pn1",
            "containers": [{"name": "web", "image": "busybox:1.36",
                "command": ["busybox", "httpd", "-f", "-p", "8080", "-h", "/"],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": probe.clone()}]}}),
        )
        .await;
    }
    let mut ips = vec![];
    for name in ["a", "b"] {
        let p = if network {
            wait_for(30, "Ready", || async {
                get(&client, name)
                    .await
                    .filter(|p| ready(p) == Some("True"))
            })
            .await
        } else {
            // Host network fallback: the second server cannot bind the port.
            wait_for(30, "a status", || async {
                get(&client, name)
                    .await
                    .filter(|p| cstatus(p, "web").is_some())
            })
            .await
        };
        ips.push(p.status.unwrap().pod_ip.unwrap());
    }
    if network {
        assert_ne!(ips[0], ips[1], "each pod has its own IP");
        assert!(ips.iter().all(|ip| ip.starts_with("10.246.5.")), "{ips:?}");
    } else {
        assert_eq!(ips[0], ips[1], "without root both pods use the node's IP");
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b"] {
        api.delete(
            name,
            &DeleteParams {
                grace_period_seconds: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    wait_for(20, "pods deleted", || async {
        (get(&client, "a").await.is_none() && get(&client, "b").await.is_none()).then_some(())
    })
    .await;
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_command_waits_with_create_container_error() {
    let dir = tempfile::tempdir().unwrap();
    let client = cluster().await;
    let (rt, _net) = runtime(&dir.path().join("state"), 6).await;
    let kubelet = start(&client, &rt, &dir.path().join("logs"));
    create(
        &client,
        json!({"metadata": {"name": "nocmd"}, "spec": {"nodeName": "pn1",
        "containers": [{"name": "c", "image": "busybox:1.36"}]}}),
    )
    .await;
    let p = wait_for(20, "CreateContainerError", || async {
        get(&client, "nocmd").await.filter(|p| {
            cstatus(p, "c")
                .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                .as_deref()
                == Some("CreateContainerError")
        })
    })
    .await;
    let w = cstatus(&p, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert!(!w.message.unwrap_or_default().is_empty());
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Pending"));
    kubelet.stop().await;
}
