//! `examples/etcd_backend.rs` as a test: three API servers (`Cluster`s with
//! `StoreConfig::Etcd`) over one real, throw-away etcd — a write through one server seen in a
//! watch on another, a Conflict and an AlreadyExists across servers, a Deployment created
//! over HTTPS on one server run by another's control plane and watched through a third.
#![cfg(feature = "etcd")]

#[allow(dead_code)]
#[path = "../examples/etcd_backend.rs"]
mod example;

use example::demo::{run, Args, Failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_api_servers_over_one_etcd() {
    let started = std::time::Instant::now();
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let say = |l: String| {
        println!("{l}");
        lines.lock().unwrap().push(l);
    };
    let report = match run(Args::default(), &say).await {
        Ok(r) => r,
        Err(Failure::NoEtcd(msg)) => panic!("this test needs etcd: {msg}"),
        Err(Failure::Other(e)) => panic!("{e:#}"),
    };
    assert!(report.watch_matched);
    assert_eq!(report.conflict_reason, "Conflict");
    assert_eq!(report.duplicate_reason, "AlreadyExists");
    assert_eq!(report.pods_running, 3);
    assert!(
        report
            .pod_nodes
            .iter()
            .all(|n| n == "sim-1" || n == "sim-2"),
        "{:?}",
        report.pod_nodes
    );
    let lines = lines.into_inner().unwrap();
    assert!(lines[0].starts_with("etcd: started a throw-away member at http://127.0.0.1:"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("server ")).count(), 3);
    println!("total {:?}", started.elapsed());
}
