//! The store conformance suite (full size: 100,000 keys) against the embedded store, both
//! memory-only and durable in a temporary data directory.

use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_embedded_store_passes_the_conformance_suite() {
    testing::run_all(|| async { EmbeddedStore::in_memory() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_embedded_store_passes_the_conformance_suite() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    testing::run_all(|| {
        n += 1;
        let dir = root.path().join(format!("store-{n}"));
        async move {
            EmbeddedStore::open(dir, Options::default())
                .await
                .expect("open a durable store")
        }
    })
    .await;
}
