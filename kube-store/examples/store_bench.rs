//! Benchmark of the embedded store against a local etcd, both driven through the `Store` trait.
//!
//! ```text
//! cargo run --release -p kube-store --features etcd --example store_bench [-- --quick]
//! ```
//!
//! Starts an etcd (data directory in a temporary directory) and opens a durable embedded store
//! in another temporary directory on the same disk, then measures for each backend:
//!
//! - `put_<N>`: durable puts (256-byte values, keys like `/registry/pods/ns-3/name-17`) with
//!   N = 1, 16 and 256 concurrent writers for a fixed duration: ops/s and latency percentiles;
//! - `get_16`: gets of existing keys with 16 concurrent readers;
//! - `watch_fanout`: 1,000 watchers on one prefix, a writer producing E events (64 writes in
//!   flight); the time from the first write until every watcher has received every event gives
//!   the delivered events per second. E is 2,000 for the embedded store and 200 for etcd, which
//!   looks up `prev_kv` once per event per watcher and delivers two orders of magnitude fewer
//!   (`--events` sets both).
//!
//! Each result is one line `bench <workload> key=value ...`; ratios are printed as
//! `bench <workload>_ratio embedded_over_etcd=...`.
//!
//! Flags: `--quick` (shorter runs, fewer events), `--secs <n>` (duration of each timed run),
//! `--only etcd|embedded`, `--watchers <n>` and `--events <n>` (of the fan-out).

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use hdrhistogram::Histogram;
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::etcd::testing::{EtcdServer, ServerOptions};
use kube_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    secs: f64,
    fanout_watchers: usize,
    fanout_events: usize,
    /// Events of the fan-out against etcd, which delivers far fewer per second.
    fanout_events_etcd: usize,
    only: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        secs: 3.0,
        fanout_watchers: 1000,
        fanout_events: 2000,
        fanout_events_etcd: 200,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => {
                args.secs = 1.0;
                args.fanout_events = 300;
                args.fanout_events_etcd = 50;
            }
            "--secs" => args.secs = it.next().context("--secs needs a value")?.parse()?,
            "--only" => args.only = Some(it.next().context("--only needs etcd|embedded")?),
            "--watchers" => {
                args.fanout_watchers = it.next().context("--watchers needs a value")?.parse()?
            }
            "--events" => {
                args.fanout_events = it.next().context("--events needs a value")?.parse()?
            }
            "--bench" => {} // passed by `cargo bench`-style runners
            other => {
                bail!("unknown flag {other}; flags: --quick, --secs <n>, --only etcd|embedded")
            }
        }
    }
    Ok(args)
}

/// Results by (workload, backend) for the ratio lines.
type Results = BTreeMap<(String, String), f64>;

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let mut results = Results::new();

    let run_etcd = args.only.as_deref().is_none_or(|o| o == "etcd");
    let run_embedded = args.only.as_deref().is_none_or(|o| o == "embedded");

    if run_embedded {
        let dir = tmp.path().join("embedded");
        let store = EmbeddedStore::open(&dir, Options::default())
            .await
            .context("open the embedded store")?;
        run_backend("embedded", Arc::new(store.clone()), &args, &mut results).await?;
        store.close().await.context("close the embedded store")?;
    }
    if run_etcd {
        let server = EtcdServer::start_with(ServerOptions {
            parent_dir: Some(tmp.path().to_owned()),
        })
        .await
        .context("start etcd")?;
        let store = server.store("/bench/").await.context("connect to etcd")?;
        run_backend("etcd", Arc::new(store), &args, &mut results).await?;
    }

    for workload in ["put_1", "put_16", "put_256", "get_16", "watch_fanout"] {
        let e = results.get(&(workload.to_owned(), "embedded".to_owned()));
        let c = results.get(&(workload.to_owned(), "etcd".to_owned()));
        if let (Some(e), Some(c)) = (e, c) {
            println!("bench {workload}_ratio embedded_over_etcd={:.2}", e / c);
        }
    }
    Ok(())
}

async fn run_backend(
    backend: &str,
    store: Arc<dyn Store>,
    args: &Args,
    results: &mut Results,
) -> Result<()> {
    let duration = Duration::from_secs_f64(args.secs);
    for writers in [1usize, 16, 256] {
        let (ops, hist, elapsed) = puts(store.clone(), writers, duration).await?;
        let ops_per_s = ops as f64 / elapsed.as_secs_f64();
        println!(
            "bench put_{writers} backend={backend} ops_per_s={ops_per_s:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} ops={ops}",
            ms(hist.value_at_quantile(0.50)),
            ms(hist.value_at_quantile(0.99)),
            ms(hist.max()),
        );
        results.insert((format!("put_{writers}"), backend.to_owned()), ops_per_s);
    }
    let (ops, hist, elapsed) = gets(store.clone(), 16, duration).await?;
    let ops_per_s = ops as f64 / elapsed.as_secs_f64();
    println!(
        "bench get_16 backend={backend} ops_per_s={ops_per_s:.0} p50_ms={:.3} p99_ms={:.3} ops={ops}",
        ms(hist.value_at_quantile(0.50)),
        ms(hist.value_at_quantile(0.99)),
    );
    results.insert(("get_16".to_owned(), backend.to_owned()), ops_per_s);

    let events = if backend == "etcd" {
        args.fanout_events_etcd
    } else {
        args.fanout_events
    };
    let fan = watch_fanout(store.clone(), args.fanout_watchers, events).await?;
    let per_s = fan.delivered as f64 / fan.elapsed.as_secs_f64();
    let complete = fan.error.is_none();
    println!(
        "bench watch_fanout backend={backend} watchers={} events={} delivered={} complete={complete} events_per_s={per_s:.0} total_ms={:.0} write_ms={:.0}{}",
        args.fanout_watchers,
        events,
        fan.delivered,
        fan.elapsed.as_secs_f64() * 1000.0,
        fan.write.as_secs_f64() * 1000.0,
        fan.error.map(|e| format!(" error={e:?}")).unwrap_or_default(),
    );
    results.insert(("watch_fanout".to_owned(), backend.to_owned()), per_s);
    Ok(())
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

fn value(seed: usize) -> Bytes {
    let mut v = format!("{{\"kind\":\"Pod\",\"seed\":{seed},\"pad\":\"").into_bytes();
    v.resize(254, b'x');
    v.extend_from_slice(b"\"}");
    Bytes::from(v)
}

fn pod_key(task: usize, i: usize) -> String {
    format!("/registry/pods/ns-{}/name-{task}-{i}", task % 16)
}

/// `writers` tasks put new keys for `duration`: (ops, latency histogram in µs, elapsed).
async fn puts(
    store: Arc<dyn Store>,
    writers: usize,
    duration: Duration,
) -> Result<(u64, Histogram<u64>, Duration)> {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..writers)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut hist = histogram();
                let mut i = 0;
                while Instant::now() < deadline {
                    let key = pod_key(t + writers * 1000, i);
                    let began = Instant::now();
                    store.put(&key, value(i)).await?;
                    hist.saturating_record(began.elapsed().as_micros() as u64);
                    i += 1;
                }
                anyhow::Ok(hist)
            })
        })
        .collect();
    let mut total = histogram();
    for t in tasks {
        total.add(t.await??)?;
    }
    Ok((total.len(), total, start.elapsed()))
}

/// `readers` tasks get existing keys (written first) for `duration`.
async fn gets(
    store: Arc<dyn Store>,
    readers: usize,
    duration: Duration,
) -> Result<(u64, Histogram<u64>, Duration)> {
    const KEYS: usize = 10_000;
    futures::stream::iter(0..KEYS)
        .map(|i| {
            let store = store.clone();
            async move {
                store
                    .put(&format!("/registry/configmaps/get/{i}"), value(i))
                    .await
            }
        })
        .buffer_unordered(256)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..readers)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut hist = histogram();
                let mut i = t * 7919;
                while Instant::now() < deadline {
                    let key = format!("/registry/configmaps/get/{}", i % KEYS);
                    let began = Instant::now();
                    let got = store.get(&key).await?;
                    hist.saturating_record(began.elapsed().as_micros() as u64);
                    anyhow::ensure!(got.is_some(), "{key} missing");
                    i += 1;
                }
                anyhow::Ok(hist)
            })
        })
        .collect();
    let mut total = histogram();
    for t in tasks {
        total.add(t.await??)?;
    }
    Ok((total.len(), total, start.elapsed()))
}

/// The outcome of a fan-out run.
struct Fanout {
    /// Events delivered to all watchers together.
    delivered: u64,
    /// From the first write until the last watcher had every event (or gave up).
    elapsed: Duration,
    /// Time to write the events.
    write: Duration,
    /// The first failure (of a write or a watcher), if any.
    error: Option<String>,
}

/// `watchers` watchers on one prefix; `events` writes under it (64 in flight).
async fn watch_fanout(store: Arc<dyn Store>, watchers: usize, events: usize) -> Result<Fanout> {
    let prefix = "/registry/fanout/";
    let from = store.current_revision().await?;
    let mut streams = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        streams.push(store.watch(prefix, from).await?);
    }
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut error = None;
                while n < events as u64 {
                    match tokio::time::timeout(Duration::from_secs(60), stream.next()).await {
                        Ok(Some(Ok(_))) => n += 1,
                        Ok(Some(Err(e))) => {
                            error = Some(format!("watch failed after {n} events: {e}"))
                        }
                        Ok(None) => error = Some(format!("watch ended after {n} events")),
                        Err(_) => error = Some(format!("watch stalled after {n} events")),
                    }
                    if error.is_some() {
                        break;
                    }
                }
                (n, Instant::now(), error)
            })
        })
        .collect();
    let start = Instant::now();
    let writes: Vec<_> = futures::stream::iter(0..events)
        .map(|i| {
            let store = store.clone();
            async move {
                store
                    .put(&format!("{prefix}pod-{}", i % 100), value(i))
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let write = start.elapsed();
    let mut error = writes
        .into_iter()
        .find_map(|r| r.err())
        .map(|e| format!("write failed: {e}"));
    let mut delivered = 0;
    let mut last = start;
    for t in tasks {
        let (n, done, e) = t.await?;
        delivered += n;
        last = last.max(done);
        error = error.or(e);
    }
    Ok(Fanout {
        delivered,
        elapsed: last - start,
        write,
        error,
    })
}
