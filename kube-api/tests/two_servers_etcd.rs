//! Two API servers over one real etcd, each with its own etcd connection (as two processes
//! would have): one consistent API — reads, watches, conflicts and AlreadyExists across them.
#![cfg(feature = "etcd")]

use futures::StreamExt;
use kube_api::{ApiServer, LocalClient};
use kube_store::etcd::testing::EtcdServer;
use kube_store::Store;
use kubox_core::api::core_v1::ConfigMap;
use kubox_core::client::{Api, PostParams, WatchParams};
use kubox_core::meta::WatchEventType;
use std::collections::BTreeMap;
use std::sync::Arc;

fn cm(name: &str, k: &str, v: &str) -> ConfigMap {
    let mut c = ConfigMap::new(name);
    c.data = Some(BTreeMap::from([(k.to_string(), v.to_string())]));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_over_one_etcd() {
    let etcd = EtcdServer::start().await.expect("start etcd");
    let store_a = etcd.store("/kubox").await.expect("connect a");
    let store_b = etcd.store("/kubox").await.expect("connect b");
    let a = ApiServer::new(Arc::new(store_a));
    let b = ApiServer::new(Arc::new(store_b.clone()));
    a.ensure_system_namespaces().await.unwrap();
    // The second server's bootstrap finds everything in place.
    b.ensure_system_namespaces().await.unwrap();

    let ca: Api<ConfigMap> =
        Api::namespaced(LocalClient::admin(a.clone()).into_client(), "default");
    let cb: Api<ConfigMap> =
        Api::namespaced(LocalClient::admin(b.clone()).into_client(), "default");

    let start = store_b.current_revision().await.unwrap();
    let mut watch = cb
        .watch(&WatchParams {
            resource_version: Some(start.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();

    let created = ca
        .create(&PostParams::default(), &cm("shared", "k", "v"))
        .await
        .unwrap();
    let seen = cb.get("shared").await.unwrap();
    assert_eq!(seen.metadata.uid, created.metadata.uid);
    assert_eq!(
        seen.metadata.resource_version,
        created.metadata.resource_version
    );
    let ev = watch.next().await.unwrap().unwrap();
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object.metadata.uid, created.metadata.uid);

    // Both servers read the same version; the second writer gets 409 Conflict.
    let mut via_a = seen.clone();
    via_a.data = Some(BTreeMap::from([("k".into(), "a".into())]));
    let mut via_b = seen.clone();
    via_b.data = Some(BTreeMap::from([("k".into(), "b".into())]));
    ca.replace("shared", &PostParams::default(), &via_a)
        .await
        .unwrap();
    let err = cb
        .replace("shared", &PostParams::default(), &via_b)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("Conflict"));
    let ev = watch.next().await.unwrap().unwrap();
    assert_eq!(ev.type_, WatchEventType::Modified);
    assert_eq!(ev.object.data.unwrap()["k"], "a");

    // AlreadyExists across servers, and a list through either shows the same state.
    let err = cb
        .create(&PostParams::default(), &cm("shared", "x", "y"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some("AlreadyExists"));
    let la = ca.list(&Default::default()).await.unwrap();
    let lb = cb.list(&Default::default()).await.unwrap();
    assert_eq!(la.items, lb.items);
    assert_eq!(la.items.len(), 1);
}
