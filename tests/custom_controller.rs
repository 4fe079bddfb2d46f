//! `examples/custom_controller.rs` as a test: the application's `namespace-info` controller
//! on kube-ctrl's controller runtime next to a `Cluster` — the example's `--check` tour
//! through the in-process client, then the same behaviour observed with stock kubectl 1.33
//! over HTTPS (create a namespace, relabel it, delete the ConfigMap, read the Events).

#[allow(dead_code)]
#[path = "../examples/custom_controller.rs"]
mod example;
#[allow(dead_code)] // shared by several test crates; each uses a part
mod support;

use kubox::cluster::{Cluster, ProxyMode};
use support::kubectl::Kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_info_controller_in_a_cluster() {
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(tmp.path().join("data"))
        .proxy(ProxyMode::None)
        .start()
        .await
        .unwrap();
    let client = cluster.client();
    let running = example::start(client.clone());

    // The example's tour.
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let say = |l: String| {
        println!("{l}");
        lines.lock().unwrap().push(l);
    };
    example::check(client.clone(), "demo", &say).await.unwrap();
    assert_eq!(lines.lock().unwrap().len(), 7);

    // The same controller seen through kubectl.
    let k = Kubectl::new(33, cluster.kubeconfig().unwrap(), &tmp.path().join("home"));
    let out = k.ok(&["create", "namespace", "kc-demo"]).await;
    assert!(out.contains("namespace/kc-demo created"), "{out}");
    let team = [
        "get",
        "configmap",
        "namespace-info",
        "-n",
        "kc-demo",
        "-o",
        "jsonpath={.data.team}",
    ];
    k.until(10, &team, |o| o == "unassigned").await;
    let out = k
        .ok(&["label", "namespace", "kc-demo", "example.com/team=search"])
        .await;
    assert!(out.contains("namespace/kc-demo labeled"), "{out}");
    k.until(10, &team, |o| o == "search").await;
    let out = k
        .ok(&["delete", "configmap", "namespace-info", "-n", "kc-demo"])
        .await;
    assert!(
        out.contains("configmap \"namespace-info\" deleted"),
        "{out}"
    );
    let out = k
        .until(10, &["get", "configmap", "-n", "kc-demo"], |o| {
            o.contains("namespace-info")
        })
        .await;
    assert!(out.contains("2"), "two data keys: {out}");
    let out = k
        .until(10, &["get", "events", "-n", "kc-demo"], |o| {
            o.contains("NamespaceInfoUpdated")
        })
        .await;
    assert!(out.contains("NamespaceInfoCreated"), "{out}");
    assert!(out.contains("configmap/namespace-info"), "{out}");

    let metrics = running.metrics.get(example::NAME).unwrap();
    assert!(metrics.reconcile_success.get() >= 6);
    println!(
        "reconciles: {} ok, {} requeued, {} failed (retried)",
        metrics.reconcile_success.get(),
        metrics.reconcile_requeue.get(),
        metrics.reconcile_errors.get()
    );
    running.stop().await;
    drop(client);
    cluster.shutdown().await.unwrap();
    println!("total {:?}", started.elapsed());
}
