//! Randomized model test: the same random operations on a durable store (reopened at random
//! points, with tiny segments and frequent snapshots) and on a memory-only store give the same
//! answers, and after every reopen the whole retained history (`get_at`, `list` at every
//! revision, watch replay) is identical. Seed: `KUBOX_MODEL_SEED`.

use bytes::Bytes;
use futures::StreamExt;
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::{Error, ListOptions, Revision, Store};
use rand::{Rng, SeedableRng};

fn same<T: PartialEq + std::fmt::Debug>(
    a: &kube_store::Result<T>,
    b: &kube_store::Result<T>,
) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => std::mem::discriminant(x) == std::mem::discriminant(y),
        _ => false,
    }
}

async fn compare_history(
    durable: &EmbeddedStore,
    memory: &EmbeddedStore,
    keys: &[String],
) -> Result<(), String> {
    let (rev, c) = (
        memory.current_revision().await.unwrap(),
        memory.compacted_revision().await.unwrap(),
    );
    if durable.current_revision().await.unwrap() != rev
        || durable.compacted_revision().await.unwrap() != c
    {
        return Err("revision or compaction revision differ".into());
    }
    for r in c..=rev {
        let opts = ListOptions {
            revision: Some(r),
            ..ListOptions::default()
        };
        let (a, b) = (
            durable.list("/", opts.clone()).await,
            memory.list("/", opts).await,
        );
        if !same(&a, &b) {
            return Err(format!("list at {r}: {a:?} vs {b:?}"));
        }
        for k in keys.iter().take(4) {
            let (a, b) = (durable.get_at(k, r).await, memory.get_at(k, r).await);
            if !same(&a, &b) {
                return Err(format!("get_at({k}, {r}): {a:?} vs {b:?}"));
            }
        }
    }
    let n = (rev - c) as usize;
    let a: Vec<_> = durable
        .watch("/", c)
        .await
        .unwrap()
        .take(n)
        .map(Result::unwrap)
        .collect()
        .await;
    let b: Vec<_> = memory
        .watch("/", c)
        .await
        .unwrap()
        .take(n)
        .map(Result::unwrap)
        .collect()
        .await;
    if a != b {
        return Err("watch replay differs".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_store_matches_memory_model() {
    let seed: u64 = std::env::var("KUBOX_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("model test seed: {seed} (replay with KUBOX_MODEL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        snapshot_every_n_writes: 37,
        segment_bytes: 1024,
        max_history: 150,
        ..Options::default()
    };
    let keys: Vec<String> = (0..12).map(|i| format!("/registry/things/k{i}")).collect();
    let memory = EmbeddedStore::in_memory_with(options.clone());
    let mut durable = EmbeddedStore::open(tmp.path(), options.clone())
        .await
        .unwrap();
    for step in 0..1500 {
        let key = &keys[rng.random_range(0..keys.len())];
        let value = Bytes::from(format!("v{step}"));
        let current = memory.get(key).await.unwrap().map(|kv| kv.mod_revision);
        let guess: Option<Revision> = match rng.random_range(0..3) {
            0 => None,
            1 => current,
            _ => Some(rng.random_range(0..step + 2)),
        };
        let fail = |what: String| -> ! { panic!("model test (seed {seed}, step {step}): {what}") };
        macro_rules! both {
            ($s:ident => $e:expr) => {{
                let a = {
                    let $s = &durable;
                    $e
                };
                let b = {
                    let $s = &memory;
                    $e
                };
                if !same(&a, &b) {
                    fail(format!("{}: {a:?} vs {b:?}", stringify!($e)));
                }
            }};
        }
        match rng.random_range(0..100) {
            0..=29 => both!(s => s.put(key, value.clone()).await),
            30..=44 => both!(s => s.create(key, value.clone()).await),
            45..=64 => both!(s => s.update(key, value.clone(), guess).await),
            65..=79 => both!(s => s.delete(key, guess).await),
            80 => {
                let rev = memory.current_revision().await.unwrap();
                let c = memory.compacted_revision().await.unwrap();
                let target = rng.random_range(c.saturating_sub(2)..=rev + 1);
                both!(s => s.compact(target).await)
            }
            81..=91 => {
                both!(s => s.list("/registry/", ListOptions { limit: Some(3), ..ListOptions::default() }).await)
            }
            _ => {
                // Reopen, sometimes without the snapshot at close, then compare everything.
                let opts = Options {
                    snapshot_on_close: rng.random_bool(0.5),
                    ..options.clone()
                };
                durable.close().await.unwrap();
                durable = EmbeddedStore::open(tmp.path(), opts).await.unwrap();
                if let Err(e) = compare_history(&durable, &memory, &keys).await {
                    fail(e);
                }
            }
        }
    }
    durable.close().await.unwrap();
    let durable = EmbeddedStore::open(tmp.path(), options).await.unwrap();
    compare_history(&durable, &memory, &keys)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(matches!(
        durable.compact(-1).await,
        Err(Error::Compacted { .. })
    ));
    durable.close().await.unwrap();
}
