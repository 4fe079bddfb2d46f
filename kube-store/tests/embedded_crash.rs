//! Crash test: a child process (this test binary, re-executed) writes to an embedded store
//! with several concurrent writers and prints every acknowledged write; the parent SIGKILLs it
//! after a random delay, reopens the store and checks that every acknowledged write survived
//! with its value and revision, that revisions are contiguous (replayed through a watch from
//! revision 0), and that a torn tail is cut, not fatal. Repeated `KUBOX_CRASH_KILLS` times
//! (default 100).
//!
//! Seeded: `KUBOX_CRASH_SEED=<seed>` replays the delays and injected torn tails of a failing
//! run (the seed is printed at the start and in every failure).

use futures::StreamExt;
use kube_store::embedded::{EmbeddedStore, Options};
use kube_store::{EventKind, Revision, Store};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "KUBOX_CRASH_CHILD";
const RUN_ENV: &str = "KUBOX_CRASH_RUN";
const WRITERS: usize = 8;

fn child_options() -> Options {
    Options {
        snapshot_every_n_writes: 300,
        segment_bytes: 16 << 10,
        max_history: 0,
        ..Options::default()
    }
}

/// The child: runs only when re-executed by `crash_kill_recover`; a no-op otherwise.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let run: u64 = std::env::var(RUN_ENV)
        .expect("run number")
        .parse()
        .expect("run number");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = match EmbeddedStore::open(&dir, child_options()).await {
            Ok(s) => s,
            Err(e) => {
                println!("FAIL open: {e}");
                std::io::stdout().flush().unwrap();
                std::process::exit(3);
            }
        };
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    // Mostly fresh keys; every 4th write moves this writer's counter.
                    let (key, value) = if i % 4 == 3 {
                        (format!("/crash/counter/{w}"), format!("{run}.{i}"))
                    } else {
                        (
                            format!("/crash/{run}/{w}/{i}"),
                            format!("value {run}.{w}.{i}"),
                        )
                    };
                    match store.put(&key, value.clone().into()).await {
                        Ok(rev) => {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {rev} {key} {value}").unwrap();
                            out.flush().unwrap();
                        }
                        Err(e) => {
                            println!("FAIL put: {e}");
                            std::process::exit(4);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

struct Ack {
    rev: Revision,
    key: String,
    value: String,
}

fn run_child(exe: &Path, dir: &Path, run: u64, delay: Duration) -> (Vec<Ack>, String) {
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(RUN_ENV, run.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    std::thread::sleep(delay);
    let status_before = child.try_wait().expect("try_wait");
    child.kill().expect("kill"); // SIGKILL
    child.wait().expect("wait");
    let lines = out.join().unwrap();
    let stderr = err.join().unwrap();
    let mut acks = Vec::new();
    let mut problems = String::new();
    if let Some(status) = status_before {
        problems.push_str(&format!(
            "child exited by itself before the kill: {status}\n"
        ));
    }
    for line in &lines {
        if let Some(rest) = line.strip_prefix("ACK ") {
            let mut parts = rest.splitn(3, ' ');
            let (Some(rev), Some(key), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                // A line cut by the kill cannot be acknowledged: printing happens after the ack
                // and the line is flushed whole, so this only happens if the kill hit mid-write.
                continue;
            };
            let Ok(rev) = rev.parse() else { continue };
            acks.push(Ack {
                rev,
                key: key.to_owned(),
                value: value.to_owned(),
            });
        } else if line.starts_with("FAIL") {
            problems.push_str(&format!("child: {line}\n"));
        }
    }
    if !problems.is_empty() {
        problems.push_str(&format!("child stderr:\n{stderr}"));
    }
    (acks, problems)
}

/// Appends garbage after the last record of the newest WAL segment: what a torn write leaves.
fn tear_tail(dir: &Path, rng: &mut impl Rng) -> bool {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("wal-"))
        .collect();
    segs.sort();
    let Some(last) = segs.pop() else { return false };
    let n = rng.random_range(1..60);
    let mut junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
    if rng.random_bool(0.5) {
        // A plausible frame header: a small length, then the payload cut short.
        junk[0] = 100;
        if n > 4 {
            junk[1..4].fill(0);
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap();
    f.write_all(&junk).unwrap();
    true
}

#[test]
fn crash_kill_recover() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let seed: u64 = std::env::var("KUBOX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let kills: u64 = std::env::var("KUBOX_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    eprintln!("crash test seed: {seed} (replay with KUBOX_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut acked: Vec<Ack> = Vec::new();
    let mut total_torn = 0;
    let started = std::time::Instant::now();
    for run in 0..kills {
        let fail = |msg: String| -> ! { panic!("crash test (seed {seed}, run {run}): {msg}") };
        let delay = Duration::from_millis(rng.random_range(5..80));
        let (acks, problems) = run_child(&exe, &dir, run, delay);
        if !problems.is_empty() {
            fail(problems);
        }
        acked.extend(acks);
        if run % 5 == 4 && tear_tail(&dir, &mut rng) {
            total_torn += 1;
        }
        // Reopen (alternately with and without a snapshot at close) and check everything.
        let options = Options {
            snapshot_on_close: run % 2 == 0,
            ..child_options()
        };
        rt.block_on(async {
            let store = EmbeddedStore::open(&dir, options)
                .await
                .unwrap_or_else(|e| fail(format!("reopen failed: {e}")));
            let current = store.current_revision().await.unwrap();
            let mut watch = store.watch("/", 0).await.unwrap();
            let mut events = Vec::with_capacity(current as usize);
            while (events.len() as Revision) < current {
                let ev = match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
                    Ok(Some(Ok(ev))) => ev,
                    other => fail(format!(
                        "history replay stopped at {}: {other:?}",
                        events.len()
                    )),
                };
                if ev.kv.mod_revision != events.len() as Revision + 1 {
                    fail(format!(
                        "revision gap: {} after {}",
                        ev.kv.mod_revision,
                        events.len()
                    ));
                }
                if ev.kind != EventKind::Put {
                    fail(format!("unexpected delete at {}", ev.kv.mod_revision));
                }
                events.push(ev);
            }
            for ack in &acked {
                let ev = events.get(ack.rev as usize - 1).unwrap_or_else(|| {
                    fail(format!(
                        "acknowledged revision {} lost (store at {current})",
                        ack.rev
                    ))
                });
                if *ev.kv.key != *ack.key || ev.kv.value != ack.value.as_bytes() {
                    fail(format!(
                        "revision {}: acknowledged {}={} but found {}={:?}",
                        ack.rev, ack.key, ack.value, ev.kv.key, ev.kv.value
                    ));
                }
            }
            // The latest value of each counter is its last acknowledged write or a later one.
            let mut last: HashMap<&str, Revision> = HashMap::new();
            for ack in &acked {
                let r = last.entry(ack.key.as_str()).or_default();
                *r = (*r).max(ack.rev);
            }
            for (key, rev) in last {
                let kv = store
                    .get(key)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| fail(format!("{key} missing")));
                if kv.mod_revision < rev {
                    fail(format!(
                        "{key} at {} older than its acknowledged {rev}",
                        kv.mod_revision
                    ));
                }
            }
            store.close().await.unwrap();
        });
    }
    eprintln!(
        "crash test: {kills} kills, {} acknowledged writes checked, {total_torn} torn tails injected, {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(
        acked.len() as u64 > kills,
        "the children acknowledged too few writes to mean anything"
    );
}
