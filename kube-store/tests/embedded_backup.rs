//! Backups of the embedded store: online backup while writers run, verify, restore,
//! corruption, scheduled backups with retention.

use bytes::Bytes;
use kube_store::backup::{self, ScheduleConfig, Scheduler};
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::{Error, ListOptions, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_verify_restore_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        tmp.path().join("data"),
        Options {
            max_history: 0,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    store
        .create("/registry/namespaces/default", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    // Concurrent writers keep writing while the backups are taken.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (store, stop) = (store.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("/registry/pods/ns{w}/pod-{}", i % 50);
                store
                    .put(&key, Bytes::from(format!("{{\"v\":{i}}}")))
                    .await
                    .unwrap();
                if i % 7 == 6 {
                    let _ = store
                        .delete(&format!("/registry/pods/ns{w}/pod-{}", (i * 3) % 50), None)
                        .await;
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let generic = tmp.path().join("generic.kbak");
    let fast = tmp.path().join("fast.kbak");
    let info_generic = backup::snapshot_to_file(&store, &generic).await.unwrap();
    let info_fast = backup::snapshot_embedded(&store, &fast).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(info_generic.revision > 1 && info_fast.revision >= info_generic.revision);
    assert!(
        store.current_revision().await.unwrap() > info_fast.revision,
        "writes continued"
    );
    for (path, info) in [(&generic, &info_generic), (&fast, &info_fast)] {
        assert_eq!(&backup::verify(path).await.unwrap(), info);
        let data_dir = tmp.path().join(format!("restored-{}", info.revision));
        assert_eq!(&backup::restore(path, &data_dir).await.unwrap(), info);
        let restored = EmbeddedStore::open(&data_dir, Options::default())
            .await
            .unwrap();
        assert_eq!(restored.current_revision().await.unwrap(), info.revision);
        assert_eq!(restored.compacted_revision().await.unwrap(), info.revision);
        // Same keys, values and metadata as the original at the backup's revision.
        let want = store
            .list(
                "/",
                ListOptions {
                    revision: Some(info.revision),
                    ..ListOptions::default()
                },
            )
            .await
            .unwrap();
        let got = restored.list("/", ListOptions::default()).await.unwrap();
        assert_eq!(got.kvs, want.kvs);
        assert_eq!(got.kvs.len() as u64, info.keys);
        // Revisions continue after the restored one, also across a reopen.
        let rev = restored
            .put("/registry/after-restore", Bytes::new())
            .await
            .unwrap();
        assert_eq!(rev, info.revision + 1);
        restored.close().await.unwrap();
        let reopened = EmbeddedStore::open(&data_dir, Options::default())
            .await
            .unwrap();
        assert_eq!(
            reopened.current_revision().await.unwrap(),
            info.revision + 1
        );
        reopened.close().await.unwrap();
    }
    store.close().await.unwrap();
}

#[tokio::test]
async fn corrupt_backups_are_reported_and_restore_refuses_non_empty_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::in_memory();
    for i in 0..20 {
        store
            .put(&format!("/k/{i}"), Bytes::from(vec![b'x'; i * 10]))
            .await
            .unwrap();
    }
    let path = tmp.path().join("b.kbak");
    let info = backup::snapshot_to_file(&store, &path).await.unwrap();
    assert_eq!((info.revision, info.keys), (20, 20));
    let good = std::fs::read(&path).unwrap();

    // Refuses a non-empty directory and leaves it alone.
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("something"), b"keep me").unwrap();
    match backup::restore(&path, &busy).await {
        Err(Error::Io { path, source }) => {
            assert_eq!(path, busy);
            assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // A flipped byte anywhere, or a truncation, is Corrupt naming the file.
    for at in [3, 20, good.len() / 2, good.len() - 2] {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        match backup::verify(&path).await {
            Err(Error::Corrupt { path: p, .. }) => assert_eq!(p, path),
            other => panic!("flip at {at}: expected Corrupt, got {other:?}"),
        }
        let target = tmp.path().join(format!("r{at}"));
        assert!(matches!(
            backup::restore(&path, &target).await,
            Err(Error::Corrupt { .. })
        ));
        assert!(!target.join("LOCK").exists());
    }
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    assert!(matches!(
        backup::verify(&path).await,
        Err(Error::Corrupt { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn scheduler_takes_backups_and_keeps_the_newest() {
    scheduled(false).await;
}

#[tokio::test(start_paused = true)]
async fn scheduler_embedded_takes_backups_and_keeps_the_newest() {
    scheduled(true).await;
}

async fn scheduled(embedded_path: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");
    let store = EmbeddedStore::in_memory();
    let config = ScheduleConfig {
        dir: dir.clone(),
        interval: Duration::from_secs(3600),
        keep: 3,
    };
    let scheduler = if embedded_path {
        Scheduler::start_embedded(store.clone(), config)
    } else {
        Scheduler::start(Arc::new(store.clone()), config)
    };
    let mut taken = scheduler.taken();
    let start = tokio::time::Instant::now();
    for i in 1..=5u64 {
        store
            .put(&format!("/k/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
        taken.wait_for(|n| *n >= i).await.unwrap();
        // Exactly one interval per backup, on the paused clock.
        assert_eq!(start.elapsed().as_secs() / 3600, i);
        let files = backup::list_backups(&dir).unwrap();
        assert_eq!(files.len(), i.min(3) as usize);
    }
    let files = backup::list_backups(&dir).unwrap();
    let mut revisions = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let info = backup::verify(f).await.unwrap();
        assert!(
            name.starts_with(&format!("backup-r{:020}-", info.revision)),
            "{name}"
        );
        revisions.push(info.revision);
    }
    assert_eq!(revisions, vec![3, 4, 5], "the newest three are kept");
    scheduler.stop();
}
