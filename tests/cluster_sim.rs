//! A `Cluster` of simulated nodes: memory store, scheduler, controllers and 50 kubelets on
//! the simulated runtime in one process; a Deployment of 200 replicas gets spread over the
//! nodes and every pod runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kubox::cluster::{Cluster, Error, NodeSpec, ProxyMode};
use kubox::core::api::apps_v1::Deployment;
use kubox::core::api::core_v1::{Node, Pod};
use kubox::core::client::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
            }
        }
    }))
    .unwrap()
}

fn web_pods() -> ListParams {
    ListParams {
        label_selector: Some("app=web".into()),
        ..Default::default()
    }
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

async fn wait<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < deadline {
        match f().await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {secs}s waiting for {what} (last: {last})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simulated_nodes_run_a_deployment_of_200() {
    let started = Instant::now();
    let cluster = Cluster::builder()
        .simulated_nodes(50)
        .proxy(ProxyMode::None)
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.node_names().len(), 50);
    assert!(cluster.url().is_none(), "no HTTPS without listen()");
    let client = cluster.client();
    let nodes: Api<Node> = Api::all(client.clone());
    wait(30, "50 Ready nodes", || {
        let nodes = nodes.clone();
        async move {
            let l = nodes
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok(l.items.iter().filter(|n| node_ready(n)).count() == 50)
        }
    })
    .await;
    let up = started.elapsed();

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deploys
        .create(&PostParams::default(), &deployment("web", 200))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let t = Instant::now();
    wait(60, "200 Running pods", || {
        let pods = pods.clone();
        async move {
            let l = pods.list(&web_pods()).await.map_err(|e| e.to_string())?;
            let n = l.items.iter().filter(|p| running(p)).count();
            if n == 200 && l.items.len() == 200 {
                Ok(true)
            } else {
                Err(format!("{n} running of {}", l.items.len()))
            }
        }
    })
    .await;
    let ran = t.elapsed();
    let l = pods.list(&web_pods()).await.unwrap();
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for p in &l.items {
        let node = p.spec.as_ref().unwrap().node_name.clone().unwrap();
        *per_node.entry(node).or_default() += 1;
    }
    // The default scheduler spreads (LeastAllocated, PodTopologySpread by default): every
    // node got pods, none more than its share by far.
    assert_eq!(per_node.len(), 50, "{per_node:?}");
    assert!(per_node.values().all(|&n| n <= 10), "{per_node:?}");
    wait(30, "Deployment available", || {
        let deploys = deploys.clone();
        async move {
            let d = deploys.get("web").await.map_err(|e| e.to_string())?;
            Ok(d.status.and_then(|s| s.available_replicas) == Some(200))
        }
    })
    .await;

    // Scale down: the ReplicaSet controller removes pods and the kubelets finish their
    // graceful deletion.
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            Patch::Merge(json!({"spec": {"replicas": 20}})),
        )
        .await
        .unwrap();
    wait(60, "20 pods left", || {
        let pods = pods.clone();
        async move {
            let l = pods.list(&web_pods()).await.map_err(|e| e.to_string())?;
            Ok(l.items.len() == 20 && l.items.iter().all(running))
        }
    })
    .await;
    println!(
        "cluster of 50 simulated nodes up in {up:?}; 200 replicas Running in {ran:?}; total {:?}",
        started.elapsed()
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_only_and_a_joining_node_set() {
    // The server side alone: no nodes, no proxy.
    let server = Cluster::builder()
        .controllers_flag("*,-nodelifecycle")
        .start()
        .await
        .unwrap();
    assert!(server.node_names().is_empty());
    assert!(server.proxy_backend().is_none());
    // The node side, joining it through its client.
    let agent = Cluster::builder()
        .join(server.client())
        .node(NodeSpec::simulated("edge-1").label("tier", "edge"))
        .proxy(ProxyMode::None)
        .start()
        .await
        .unwrap();
    assert!(agent.api_server().is_none());
    let nodes: Api<Node> = Api::all(server.client());
    wait(20, "edge-1 Ready", || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get("edge-1").await.map_err(|e| e.to_string())?;
            Ok(node_ready(&n)
                && n.metadata
                    .labels
                    .as_ref()
                    .unwrap()
                    .get("tier")
                    .map(String::as_str)
                    == Some("edge"))
        }
    })
    .await;
    // Per-component shutdown: the node goes, its Node object stays.
    let mut agent = agent;
    assert!(agent.stop_node("edge-1").await.unwrap());
    assert!(!agent.stop_node("edge-1").await.unwrap());
    assert!(agent.node_names().is_empty());
    assert!(nodes.get_opt("edge-1").await.unwrap().is_some());
    agent.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_settings_are_typed_errors() {
    let err = Cluster::builder()
        .node(NodeSpec::simulated("a"))
        .node(NodeSpec::simulated("a"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid cluster configuration: two nodes are named \"a\""
    );
    let err = Cluster::builder()
        .pod_network(kubox::cluster::PodNetwork {
            cidr: "10.244.0.0/24".into(),
            ..Default::default()
        })
        .process_nodes(1)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("want a.b.0.0/16"), "{err}");
    // A port that is taken: the API server's listen error names the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Cluster::builder().listen(addr).start().await.unwrap_err();
    assert!(matches!(err, Error::Listen { .. }), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_joins_over_https_with_a_token() {
    use kubox::api::UserInfo;
    let server = Cluster::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .token(
            "agent-token-0123456789",
            UserInfo::new("kubox:agent", &["system:masters", "system:authenticated"]),
        )
        .kubelet_token("shared-kubelet-token")
        .start()
        .await
        .unwrap();
    let url = server.url().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert!(server.kubeconfig().unwrap().is_file());
    assert_eq!(server.kubelet_token(), "shared-kubelet-token");
    // A wrong token is refused.
    let bad = kubox::cluster::join_client(&url, server.ca_pem().unwrap(), "nope").unwrap();
    let err = Api::<Node>::all(bad)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("Unauthorized"), "{err:?}");

    let client =
        kubox::cluster::join_client(&url, server.ca_pem().unwrap(), "agent-token-0123456789")
            .unwrap();
    let agent = Cluster::builder()
        .join(client)
        .kubelet_token("shared-kubelet-token")
        .node(NodeSpec::simulated("remote-1"))
        .proxy(ProxyMode::None)
        .start()
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(server.client());
    wait(20, "remote-1 Ready through HTTPS", || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get("remote-1").await.map_err(|e| e.to_string())?;
            Ok(node_ready(&n))
        }
    })
    .await;
    agent.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_survives_a_restart() {
    use kubox::cluster::StoreConfig;
    use kubox::core::api::core_v1::ConfigMap;
    let tmp = tempfile::tempdir().unwrap();
    let start = || {
        Cluster::builder()
            .data_dir(tmp.path())
            .store(StoreConfig::Embedded(tmp.path().join("store")))
            .listen("127.0.0.1:0".parse().unwrap())
            .node(NodeSpec::simulated("n1"))
            .proxy(ProxyMode::None)
            .start()
    };
    let first = start().await.unwrap();
    let ca = first.ca_pem().unwrap().to_string();
    let token = first.kubelet_token().to_string();
    let cms: Api<ConfigMap> = Api::namespaced(first.client(), "default");
    cms.create(&PostParams::default(), &ConfigMap::new("kept"))
        .await
        .unwrap();
    drop(cms);
    first.shutdown().await.unwrap();
    assert!(tmp.path().join("admin.kubeconfig").is_file());

    let second = start().await.unwrap();
    assert_eq!(second.ca_pem().unwrap(), ca, "the PKI is reused");
    assert_eq!(second.kubelet_token(), token);
    let cms: Api<ConfigMap> = Api::namespaced(second.client(), "default");
    assert!(cms.get_opt("kept").await.unwrap().is_some());
    drop(cms);
    second.shutdown().await.unwrap();
}
