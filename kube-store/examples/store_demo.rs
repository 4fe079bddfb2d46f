//! The embedded store at work: open a data directory, watch, write Kubernetes-like keys, see
//! a compare-and-swap conflict, take and verify a backup, restore it into a fresh directory as
//! a drill, close.
//!
//! ```text
//! cargo run --release -p kube-store --example store_demo -- --data-dir ./data
//! ```
//!
//! Run it twice: the data persists and the revision continues.

use anyhow::{bail, Context};
use bytes::Bytes;
use futures::StreamExt;
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::{backup, Error, EventKind, ListOptions, Store};
use std::path::PathBuf;
use std::time::Duration;

fn parse_args() -> anyhow::Result<PathBuf> {
    let mut data_dir = PathBuf::from("./data");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data-dir" => data_dir = args.next().context("--data-dir needs a value")?.into(),
            s if s.starts_with("--data-dir=") => data_dir = s["--data-dir=".len()..].into(),
            "-h" | "--help" => {
                println!("usage: store_demo [--data-dir DIR]   (default ./data)");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(data_dir)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = parse_args()?;
    let store = EmbeddedStore::open(&data_dir, Options::default())
        .await
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let start = store.current_revision().await?;
    println!("opened {} at revision {start}", data_dir.display());

    // Watch everything under /registry/ from now on.
    let mut watch = store.watch("/registry/", start).await?;

    // Kubernetes-like keys: a namespace (once) and a few pods (every run).
    let ns = "/registry/namespaces/default";
    match store
        .create(
            ns,
            Bytes::from_static(br#"{"kind":"Namespace","metadata":{"name":"default"}}"#),
        )
        .await
    {
        Ok(rev) => println!("created {ns} at revision {rev}"),
        Err(Error::AlreadyExists { .. }) => println!("{ns} already exists (a previous run)"),
        Err(e) => return Err(e.into()),
    }
    let run = store
        .list("/registry/pods/default/", ListOptions::default())
        .await?
        .count;
    let mut written = 0;
    for i in 0..3 {
        let name = format!("web-{}", run + i);
        let key = format!("/registry/pods/default/{name}");
        let pod = format!(
            r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"default"}},"spec":{{"containers":[{{"name":"web","image":"nginx"}}]}}}}"#
        );
        store.create(&key, pod.into()).await?;
        written += 1;
    }
    let first = format!("/registry/pods/default/web-{run}");
    let kv = store.get(&first).await?.context("pod just created")?;
    let rev = store
        .update(
            &first,
            Bytes::from(String::from_utf8_lossy(&kv.value).replace("nginx", "nginx:1.27")),
            Some(kv.mod_revision),
        )
        .await?;
    println!("updated {first} at revision {rev}");
    written += 1;

    // A compare-and-swap with a stale mod_revision loses.
    match store
        .update(&first, Bytes::from_static(b"{}"), Some(kv.mod_revision))
        .await
    {
        Err(Error::Conflict {
            expected, current, ..
        }) => println!(
            "CAS conflict on {first}: expected mod_revision {expected}, current is {}",
            current.map_or(0, |c| c.mod_revision)
        ),
        other => bail!("expected a conflict, got {other:?}"),
    }
    let (rev, _) = store
        .delete(&format!("/registry/pods/default/web-{}", run + 2), None)
        .await?;
    println!("deleted web-{} at revision {rev}", run + 2);
    written += 1;

    // The watch saw every change, in order, with previous values.
    let expected = store.current_revision().await? - start;
    for _ in 0..expected {
        let ev = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .context("watch event timed out")?
            .context("watch ended")??;
        let what = match (ev.kind, &ev.prev) {
            (EventKind::Put, None) => "ADDED",
            (EventKind::Put, Some(_)) => "MODIFIED",
            (EventKind::Delete, _) => "DELETED",
        };
        println!("  watch: rev {:>4} {what:<8} {}", ev.revision(), ev.kv.key);
    }

    // Online backup, verified.
    let backups = data_dir.join("backups");
    let (path, info) = backup::backup_embedded_into_dir(&store, &backups, 5).await?;
    let verified = backup::verify(&path).await?;
    anyhow::ensure!(verified == info, "verify disagrees with the backup");
    println!(
        "backup {}: revision {}, {} keys, {} bytes, crc32c {:#010x} (verified)",
        path.display(),
        info.revision,
        info.keys,
        info.bytes,
        info.checksum
    );

    // Restore drill: the backup restored into a fresh data directory holds the same keys at the
    // same revisions.
    let drill = data_dir.join("restore-drill");
    if drill.exists() {
        std::fs::remove_dir_all(&drill)?;
    }
    backup::restore(&path, &drill).await?;
    let restored = EmbeddedStore::open(&drill, Options::default()).await?;
    let at_backup = ListOptions {
        revision: Some(info.revision),
        ..ListOptions::default()
    };
    let original = store.list("/", at_backup).await?;
    let copy = restored.list("/", ListOptions::default()).await?;
    anyhow::ensure!(
        copy.kvs == original.kvs && copy.revision == info.revision,
        "the restored store differs from the backup's revision"
    );
    println!(
        "restore drill: {} keys at revision {} restored into {} and identical",
        copy.count,
        copy.revision,
        drill.display()
    );
    restored.close().await?;
    std::fs::remove_dir_all(&drill)?;

    let pods = store
        .list("/registry/pods/", ListOptions::default())
        .await?;
    println!(
        "summary: {written} writes this run, revision {} -> {}, {} pods stored, {} backups kept",
        start,
        pods.revision,
        pods.count,
        backup::list_backups(&backups)?.len()
    );
    store.close().await?;
    Ok(())
}
