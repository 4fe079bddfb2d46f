//! Two controller managers with leader election on one Lease: one leads, never both; the
//! other takes over when the leader shuts down (lease released) — under paused time.

mod common;

use std::time::Duration;

use common::cluster;
use kube_ctrl::manager::{ControllerManager, Options, Outcome};
use kube_ctrl::runtime::tokio_clock;
use kubox_core::api::coordination_v1::Lease;
use kubox_core::client::Api;
use kubox_core::runtime::leader::Config;

fn options(id: &str) -> Options {
    Options {
        controllers: vec!["replicaset".into()],
        leader_election: Some(Config::new("kube-system", "kube-controller-manager", id)),
        ..Options::default()
    }
}

#[tokio::test(start_paused = true)]
async fn one_leader_and_failover() {
    let (_server, client) = cluster().await;
    let a = ControllerManager::with_builtin(client.clone(), options("a"), tokio_clock());
    let b = ControllerManager::with_builtin(client.clone(), options("b"), tokio_clock());
    let (la, lb) = (a.leadership(), b.leadership());
    let (stop_a, rx_a) = tokio::sync::oneshot::channel::<()>();
    let task_a = tokio::spawn(a.run(async move {
        let _ = rx_a.await;
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(la.is_leader());
    let task_b = tokio::spawn(b.run(std::future::pending()));
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(la.is_leader() && !lb.is_leader(), "exactly one leader");
    }
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let l = leases
        .get("kube-controller-manager")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(l.holder_identity.as_deref(), Some("a"));
    assert_eq!(l.lease_duration_seconds, Some(15));

    // a shuts down gracefully: it stops its controllers, releases, and b takes over quickly.
    let _ = stop_a.send(());
    assert_eq!(task_a.await.unwrap(), Outcome::Shutdown);
    assert!(!la.is_leader());
    let start = tokio::time::Instant::now();
    while !lb.is_leader() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "b did not take over"
        );
    }
    let l = leases
        .get("kube-controller-manager")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(l.holder_identity.as_deref(), Some("b"));
    assert_eq!(l.lease_transitions, Some(1));
    task_b.abort();
}
