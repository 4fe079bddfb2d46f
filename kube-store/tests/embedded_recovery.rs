//! Durability of the embedded store: reopen, torn tails, corruption, compaction, locking.

use bytes::Bytes;
use futures::StreamExt;
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::{Error, EventKind, ListOptions, Store};
use std::path::{Path, PathBuf};

fn val(s: &str) -> Bytes {
    Bytes::from(s.to_owned())
}

/// Options that keep the WAL around (no snapshot), to test its recovery.
fn wal_only() -> Options {
    Options {
        snapshot_every_n_writes: 0,
        snapshot_on_close: false,
        ..Options::default()
    }
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    v.sort();
    v
}

async fn write_some(store: &EmbeddedStore, n: usize) {
    for i in 0..n {
        store
            .put(
                &format!("/registry/pods/default/p{}", i % 7),
                val(&format!("v{i}")),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn reopen_recovers_everything_and_revisions_continue() {
    for options in [Options::default(), wal_only()] {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), options.clone())
            .await
            .unwrap();
        write_some(&store, 50).await;
        store
            .delete("/registry/pods/default/p3", None)
            .await
            .unwrap();
        let before = store.list("/", ListOptions::default()).await.unwrap();
        let history: Vec<_> = store.watch("/", 0).await.unwrap().take(51).collect().await;
        store.close().await.unwrap();
        assert!(matches!(
            store.put("/x", val("y")).await,
            Err(Error::Closed(_))
        ));

        let store = EmbeddedStore::open(dir.path(), options.clone())
            .await
            .unwrap();
        assert_eq!(store.current_revision().await.unwrap(), 51);
        assert_eq!(
            store.list("/", ListOptions::default()).await.unwrap(),
            before
        );
        // History and watch replay survive the restart.
        let again: Vec<_> = store.watch("/", 0).await.unwrap().take(51).collect().await;
        let (a, b): (Vec<_>, Vec<_>) = (
            history.into_iter().map(Result::unwrap).collect(),
            again.into_iter().map(Result::unwrap).collect(),
        );
        assert_eq!(a, b);
        let old = store
            .get_at("/registry/pods/default/p3", 10)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.mod_revision, 4);
        // Revisions continue.
        assert_eq!(
            store
                .create("/registry/namespaces/default", val("{}"))
                .await
                .unwrap(),
            52
        );
        let kv = store
            .get("/registry/pods/default/p1")
            .await
            .unwrap()
            .unwrap();
        let rev = store
            .update(
                "/registry/pods/default/p1",
                val("new"),
                Some(kv.mod_revision),
            )
            .await
            .unwrap();
        assert_eq!(rev, 53);
        let kv = store
            .get("/registry/pods/default/p1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((kv.create_revision, kv.version), (2, 8));
        store.close().await.unwrap();
        let store = EmbeddedStore::open(dir.path(), options).await.unwrap();
        assert_eq!(store.current_revision().await.unwrap(), 53);
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn snapshots_replace_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        snapshot_every_n_writes: 100,
        segment_bytes: 2048,
        ..Options::default()
    };
    let store = EmbeddedStore::open(dir.path(), options.clone())
        .await
        .unwrap();
    write_some(&store, 1000).await;
    store.close().await.unwrap();
    let snaps = files(dir.path(), "snap-");
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert!(files(dir.path(), "wal-").len() <= 1);
    let store = EmbeddedStore::open(dir.path(), options).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 1000);
    assert_eq!(
        store
            .get("/registry/pods/default/p6")
            .await
            .unwrap()
            .unwrap()
            .value,
        val("v993")
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn torn_tail_is_truncated_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
    write_some(&store, 20).await;
    store.close().await.unwrap();
    let seg = files(dir.path(), "wal-").pop().unwrap();
    let good = std::fs::metadata(&seg).unwrap().len();
    // Half a record: a length and CRC, then some payload bytes.
    let mut data = std::fs::read(&seg).unwrap();
    data.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 1, 21, 9]);
    std::fs::write(&seg, &data).unwrap();
    let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 20);
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        good,
        "torn tail cut off"
    );
    assert_eq!(store.put("/after", val("x")).await.unwrap(), 21);
    store.close().await.unwrap();
    let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 21);
    store.close().await.unwrap();
}

#[tokio::test]
async fn corrupt_middle_record_is_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
    write_some(&store, 20).await;
    store.close().await.unwrap();
    let seg = files(dir.path(), "wal-").pop().unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&seg, &data).unwrap();
    match EmbeddedStore::open(dir.path(), wal_only()).await {
        Err(Error::Corrupt { path, detail }) => {
            assert_eq!(path, seg, "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A damaged record in a segment that is not the last one is fatal even at its end.
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
        write_some(&store, 5).await;
        store.close().await.unwrap();
    }
    let segs = files(dir.path(), "wal-");
    assert_eq!(segs.len(), 2);
    let mut data = std::fs::read(&segs[0]).unwrap();
    data.truncate(data.len() - 3);
    std::fs::write(&segs[0], &data).unwrap();
    match EmbeddedStore::open(dir.path(), wal_only()).await {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, segs[0]),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_segment_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let store = EmbeddedStore::open(dir.path(), wal_only()).await.unwrap();
        write_some(&store, 5).await;
        store.close().await.unwrap();
    }
    let segs = files(dir.path(), "wal-");
    std::fs::remove_file(&segs[1]).unwrap();
    let err = EmbeddedStore::open(dir.path(), wal_only())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if *path == segs[1]),
        "{err}"
    );
}

#[tokio::test]
async fn corrupt_snapshot_is_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), Options::default())
        .await
        .unwrap();
    write_some(&store, 30).await;
    store.close().await.unwrap();
    let snap = files(dir.path(), "snap-").pop().unwrap();
    let mut data = std::fs::read(&snap).unwrap();
    let at = data.len() / 3;
    data[at] ^= 0x01;
    std::fs::write(&snap, &data).unwrap();
    match EmbeddedStore::open(dir.path(), Options::default()).await {
        Err(Error::Corrupt { path, detail }) => assert_eq!(path, snap, "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Truncated snapshot, too.
    std::fs::write(&snap, &data[..10]).unwrap();
    assert!(matches!(
        EmbeddedStore::open(dir.path(), Options::default()).await,
        Err(Error::Corrupt { .. })
    ));
}

#[tokio::test]
async fn compaction_is_durable() {
    for options in [Options::default(), wal_only()] {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), options.clone())
            .await
            .unwrap();
        write_some(&store, 40).await;
        store.compact(25).await.unwrap();
        store.close().await.unwrap();
        let store = EmbeddedStore::open(dir.path(), options.clone())
            .await
            .unwrap();
        assert_eq!(store.compacted_revision().await.unwrap(), 25);
        assert!(matches!(
            store.get_at("/registry/pods/default/p1", 24).await,
            Err(Error::Compacted { .. })
        ));
        assert!(store
            .get_at("/registry/pods/default/p1", 25)
            .await
            .unwrap()
            .is_some());
        assert!(matches!(
            store.watch("/", 24).await,
            Err(Error::Compacted { .. })
        ));
        let evs: Vec<_> = store.watch("/", 25).await.unwrap().take(15).collect().await;
        assert_eq!(evs.last().unwrap().as_ref().unwrap().kv.mod_revision, 40);
        assert!(matches!(
            store.compact(20).await,
            Err(Error::Compacted { .. })
        ));
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn auto_compaction_bounds_history() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        max_history: 100,
        ..Options::default()
    };
    let store = EmbeddedStore::open(dir.path(), options.clone())
        .await
        .unwrap();
    let mut w = store.watch("/", 0).await.unwrap();
    write_some(&store, 500).await;
    let compacted = store.compacted_revision().await.unwrap();
    assert!(
        (500 - 113..=400).contains(&compacted),
        "compacted {compacted}"
    );
    // The watcher fell behind the retained window: a gap-free prefix, then Compacted.
    let mut next = 1;
    loop {
        match w.next().await.unwrap() {
            Ok(ev) => {
                assert_eq!(ev.kv.mod_revision, next);
                next += 1;
            }
            Err(Error::Compacted { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(w.next().await.is_none());
    store.close().await.unwrap();
    let store = EmbeddedStore::open(dir.path(), options).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), compacted);
    store.close().await.unwrap();
}

#[tokio::test]
async fn lock_prevents_double_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), Options::default())
        .await
        .unwrap();
    match EmbeddedStore::open(dir.path(), Options::default()).await {
        Err(Error::Io { path, source }) => {
            assert_eq!(path, dir.path().join("LOCK"));
            assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock);
        }
        other => panic!("expected a lock error, got {other:?}"),
    }
    store.close().await.unwrap();
    let again = EmbeddedStore::open(dir.path(), Options::default())
        .await
        .unwrap();
    again.close().await.unwrap();
}

#[tokio::test]
async fn watchers_end_with_closed_after_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), Options::default())
        .await
        .unwrap();
    let mut w = store.watch("/registry/pods/", 0).await.unwrap();
    write_some(&store, 10).await;
    store.close().await.unwrap();
    for rev in 1..=10 {
        let ev = w.next().await.unwrap().unwrap();
        assert_eq!((ev.kv.mod_revision, ev.kind), (rev, EventKind::Put));
        assert_eq!(ev.prev.is_some(), rev > 7);
    }
    assert!(matches!(w.next().await, Some(Err(Error::Closed(_)))));
    assert!(w.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        dir.path(),
        Options {
            snapshot_every_n_writes: 500,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..50 {
                revs.push(s.create(&format!("/g/{t}/{i}"), val("x")).await.unwrap());
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1600).collect::<Vec<_>>());
    store.close().await.unwrap();
    let store = EmbeddedStore::open(dir.path(), Options::default())
        .await
        .unwrap();
    let l = store.list("/g/", ListOptions::default()).await.unwrap();
    assert_eq!(l.count, 1600);
    store.close().await.unwrap();
}
