//! The store conformance suite against a real etcd (started by the test; needs the `etcd`
//! binary — run the full test command `bash scripts/test.sh`, which installs it).
#![cfg(feature = "etcd")]

use kube_store::etcd::testing::EtcdServer;
use kube_store::{testing, Store};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Starts an etcd, or fails the test explaining how to get one.
async fn etcd() -> EtcdServer {
    EtcdServer::start().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_store_passes_the_conformance_suite() {
    let server = etcd().await;
    let n = AtomicUsize::new(0);
    // A fresh prefix on the shared etcd per case.
    testing::run_all(|| {
        let prefix = format!("/conformance-{}", n.fetch_add(1, Ordering::Relaxed));
        let server = &server;
        async move { server.store(prefix).await.expect("connect to etcd") }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_isolate_stores_on_one_etcd() {
    let server = etcd().await;
    // Prefixes are plain byte prefixes: neither may be a prefix of the other.
    let a = server.store("/cluster-a/").await.unwrap();
    let b = server.store("/cluster-b/").await.unwrap();
    a.create("/registry/x", "a".into()).await.unwrap();
    b.create("/registry/x", "b".into()).await.unwrap();
    assert_eq!(a.get("/registry/x").await.unwrap().unwrap().value, "a");
    assert_eq!(b.get("/registry/x").await.unwrap().unwrap().value, "b");
    let listed = a.list("", Default::default()).await.unwrap();
    assert_eq!(
        listed.kvs.len(),
        1,
        "a store lists only its own prefix: {listed:?}"
    );
    assert_eq!(&*listed.kvs[0].key, "/registry/x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_to_file_writes_an_etcd_snapshot() {
    let server = etcd().await;
    let store = server.store("/snap").await.unwrap();
    for i in 0..100 {
        store
            .put(&format!("/k/{i}"), vec![b'x'; 1000].into())
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etcd.snapshot");
    let bytes = store.snapshot_to_file(&path).await.unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), bytes);
    assert!(
        bytes > 100 * 1000,
        "snapshot of {bytes} bytes is too small for 100 KB of values"
    );
    assert!(!dir.path().join("etcd.snapshot.tmp").exists());
    // An etcd snapshot is a bbolt database: its first page is a meta page whose magic number
    // sits after the 16-byte page header.
    let head = std::fs::read(&path).unwrap();
    let magic = u32::from_le_bytes(head[16..20].try_into().unwrap());
    assert_eq!(magic, 0xED0C_DAED, "not a bbolt file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_nothing_fails_with_a_backend_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let res = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        kube_store::etcd::EtcdStore::connect(&[format!("http://127.0.0.1:{port}")], "/x"),
    )
    .await
    .expect("connect must not hang");
    assert!(matches!(res, Err(kube_store::Error::Backend(_))), "{res:?}");
}

/// The generic online backup (over the `Store` trait) of an etcd store, taken while writes
/// continue, restores into an embedded store with the same keys, values and revisions: the
/// way from etcd back to the embedded store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_backup_of_etcd_restores_into_an_embedded_store() {
    use kube_store::embedded::{EmbeddedStore, Options};
    use kube_store::{backup, ListOptions};

    let server = etcd().await;
    let store = server.store("/backup/").await.unwrap();
    for i in 0..500 {
        store
            .put(
                &format!("/registry/pods/ns/p-{i:04}"),
                format!("v{i}").into(),
            )
            .await
            .unwrap();
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                store
                    .put(&format!("/registry/pods/ns/p-{i:04}"), "changed".into())
                    .await
                    .unwrap();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("etcd.kbak");
    let info = backup::snapshot_to_file(&store, &file).await.unwrap();
    writer.await.unwrap();
    assert_eq!(backup::verify(&file).await.unwrap(), info);
    assert_eq!(info.keys, 500);

    let at_backup = store
        .list(
            "",
            ListOptions {
                revision: Some(info.revision),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let data = dir.path().join("restored");
    backup::restore(&file, &data).await.unwrap();
    let restored = EmbeddedStore::open(&data, Options::default())
        .await
        .unwrap();
    assert_eq!(restored.current_revision().await.unwrap(), info.revision);
    let listed = restored.list("", ListOptions::default()).await.unwrap();
    assert_eq!(
        listed.kvs, at_backup.kvs,
        "restored keys differ from etcd at the backup revision"
    );
    restored.close().await.unwrap();
}
