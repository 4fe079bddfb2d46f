//! The conformance suite every [`Store`] backend runs.
//!
//! Each point of the [`Store`] contract is checked by at least one case. The cases are public
//! async functions, so a backend can run one of them alone (e.g. while debugging); [`run_all`]
//! runs them all, one after the other, each on a fresh store from the factory it is given,
//! prints `case <name> ... ok` / `FAILED` for each, and panics at the end listing every failed
//! case (a failing case does not stop the others).
//!
//! # Running the suite against a new backend
//!
//! ```no_run
//! use kube_store::embedded::EmbeddedStore;
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn conformance() {
//!     // The factory returns a FRESH, EMPTY store each time.
//!     kube_store::testing::run_all(|| async { EmbeddedStore::in_memory() }).await;
//! }
//! ```
//!
//! [`run_all_with`] takes a [`Config`] ([`Config::quick`] is a fast variant, e.g. for
//! debug builds); [`run_cases`] returns the failures instead of panicking.
//!
//! # What "fresh" means
//!
//! The factory must return a store in which nobody else writes while a case runs, and that
//! holds no key. It need not be at revision 0: an etcd-backed store is a new key prefix on a
//! shared etcd, whose global revision is wherever earlier writes left it. Every case therefore
//! measures revisions relative to [`Store::current_revision`] at its start, and relies on
//! revisions going up by exactly one per write of its own. Cases run sequentially for that
//! reason. Compaction is checked relative to [`Store::compacted_revision`] at the start too,
//! since on a shared etcd it is global.
//!
//! # Requirements on the runtime
//!
//! The cases spawn tokio tasks (concurrent writers, racing compare-and-swaps), so they must
//! run inside a tokio runtime; a multi-threaded one exercises real parallelism.

use crate::{
    Error, Event, EventKind, KeyValue, ListOptions, ListResult, Revision, Store, WatchStream,
    MAX_KEY_BYTES, MAX_VALUE_BYTES,
};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{Debug, Display};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The outcome of one case: `Err` carries a description of the first violated expectation.
pub type CaseResult = Result<(), String>;

/// How long a case waits for an expected watch event before it fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a case waits to make sure that no further watch event arrives.
const QUIET_PERIOD: Duration = Duration::from_millis(200);

/// Parameters of the suite.
#[derive(Clone, Debug)]
pub struct Config {
    /// Keys written (and listed back) by [`many_keys`].
    pub many_keys: usize,
    /// Writes in flight at once in [`many_keys`].
    pub many_keys_in_flight: usize,
    /// Concurrent tasks in [`cas_race`].
    pub cas_tasks: usize,
    /// Successful increments per task in [`cas_race`].
    pub cas_increments: usize,
    /// Events written while a watcher does not read, in [`watch_slow_consumer`].
    pub slow_consumer_events: usize,
    /// A case that runs longer than this fails.
    pub case_timeout: Duration,
}

impl Default for Config {
    /// The full suite: 100,000 keys, 16 tasks × 25 compare-and-swap increments.
    fn default() -> Self {
        Config {
            many_keys: 100_000,
            many_keys_in_flight: 64,
            cas_tasks: 16,
            cas_increments: 25,
            slow_consumer_events: 5_000,
            case_timeout: Duration::from_secs(300),
        }
    }
}

impl Config {
    /// A faster variant: 5,000 keys and fewer increments; every case still runs.
    pub fn quick() -> Self {
        Config {
            many_keys: 5_000,
            cas_increments: 8,
            slow_consumer_events: 1_000,
            ..Config::default()
        }
    }
}

/// A failed case: its name and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The case's function name.
    pub case: &'static str,
    /// The first violated expectation (or the panic message, or the timeout).
    pub message: String,
}

/// Runs every case with [`Config::default`] on fresh stores from `new_store`; panics listing
/// all failed cases.
pub async fn run_all<S, F, Fut>(new_store: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    run_all_with(&Config::default(), new_store).await;
}

/// [`run_all`] with a [`Config`].
pub async fn run_all_with<S, F, Fut>(config: &Config, new_store: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let failures = run_cases(config, new_store).await;
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|f| format!("  - {}: {}", f.case, f.message))
            .collect();
        panic!(
            "{} store conformance case(s) failed:\n{}",
            failures.len(),
            list.join("\n")
        );
    }
}

/// Runs every case (sequentially, each on a fresh store) and returns the failures.
pub async fn run_cases<S, F, Fut>(config: &Config, mut new_store: F) -> Vec<Failure>
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut failures = Vec::new();
    macro_rules! case {
        ($name:ident $(, $arg:expr)*) => {{
            let store = new_store().await;
            run_case(stringify!($name), config.case_timeout, $name(store $(, $arg)*), &mut failures)
                .await;
        }};
    }
    case!(empty_store);
    case!(revision_per_write);
    case!(failed_writes_change_nothing);
    case!(create_semantics);
    case!(update_semantics);
    case!(put_semantics);
    case!(delete_semantics);
    case!(recreate_after_delete);
    case!(reads_observe_writes);
    case!(history_get_at_and_list);
    case!(list_prefix_and_order);
    case!(list_limit_and_continuation);
    case!(list_pagination_at_fixed_revision);
    case!(future_revision);
    case!(limits);
    case!(large_values);
    case!(watch_events_and_prev_values);
    case!(watch_prefix_isolation);
    case!(watch_resume_from_every_revision);
    case!(watch_concurrent_writers);
    case!(watch_slow_consumer, config.slow_consumer_events);
    case!(concurrent_creates);
    case!(concurrent_conditional_writes);
    case!(cas_race, config.cas_tasks, config.cas_increments);
    case!(compaction);
    case!(compaction_with_open_watchers);
    case!(many_keys, config.many_keys, config.many_keys_in_flight);
    failures
}

/// Runs one case with a timeout, catching panics, printing its outcome.
async fn run_case(
    name: &'static str,
    timeout: Duration,
    case: impl Future<Output = CaseResult>,
    failures: &mut Vec<Failure>,
) {
    println!("kube_store::testing: case {name} ...");
    let start = Instant::now();
    let outcome = tokio::time::timeout(timeout, AssertUnwindSafe(case).catch_unwind()).await;
    let message = match outcome {
        Ok(Ok(Ok(()))) => {
            println!(
                "kube_store::testing: case {name} ... ok ({:.2?})",
                start.elapsed()
            );
            return;
        }
        Ok(Ok(Err(message))) => message,
        Ok(Err(panic)) => format!("panicked: {}", panic_message(&*panic)),
        Err(_) => format!("timed out after {timeout:?}"),
    };
    println!(
        "kube_store::testing: case {name} ... FAILED ({:.2?}): {message}",
        start.elapsed()
    );
    failures.push(Failure {
        case: name,
        message,
    });
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Fails the case with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!("{} (testing.rs:{})", format_args!($($arg)+), line!()));
        }
    };
}

/// Fails the case unless both sides are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($arg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{}: got {:?}, expected {:?} (testing.rs:{})",
                format_args!($($arg)+), left, right, line!()
            ));
        }
    }};
}

/// Expects an error matching a pattern; evaluates `$body` with its bindings.
macro_rules! expect_err {
    ($res:expr, $pat:pat => $body:expr, $($arg:tt)+) => {
        match $res {
            Err($pat) => $body,
            Err(other) => {
                return Err(format!(
                    "{}: expected {}, got error {:?} (testing.rs:{})",
                    format_args!($($arg)+), stringify!($pat), other, line!()
                ))
            }
            Ok(value) => {
                return Err(format!(
                    "{}: expected {}, got Ok({:?}) (testing.rs:{})",
                    format_args!($($arg)+), stringify!($pat), value, line!()
                ))
            }
        }
    };
}

/// Turns a store error into a case failure with context.
trait Ctx<T> {
    fn ctx(self, what: impl Display) -> Result<T, String>;
}

impl<T> Ctx<T> for crate::Result<T> {
    fn ctx(self, what: impl Display) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e} ({e:?})"))
    }
}

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn kv(
    key: &str,
    value: &[u8],
    create_revision: Revision,
    mod_revision: Revision,
    version: i64,
) -> KeyValue {
    KeyValue {
        key: Arc::from(key),
        value: Bytes::copy_from_slice(value),
        create_revision,
        mod_revision,
        version,
    }
}

/// The `kv` of a delete event, as the contract describes it.
fn tombstone(key: &str, revision: Revision) -> KeyValue {
    kv(key, b"", 0, revision, 0)
}

async fn current<S: Store + ?Sized>(store: &S) -> Result<Revision, String> {
    store.current_revision().await.ctx("current_revision")
}

/// Fails unless the store's revision is `expected`.
async fn expect_revision<S: Store + ?Sized>(
    store: &S,
    expected: Revision,
    what: &str,
) -> CaseResult {
    let now = current(store).await?;
    ensure_eq!(now, expected, "current_revision {what}");
    Ok(())
}

/// The next watch event, failing on timeout, end of stream or an error item.
async fn next_event(stream: &mut WatchStream, what: &str) -> Result<Event, String> {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Err(_) => Err(format!("{what}: no watch event within {EVENT_TIMEOUT:?}")),
        Ok(None) => Err(format!(
            "{what}: watch stream ended (without an error item)"
        )),
        Ok(Some(Err(e))) => Err(format!("{what}: watch stream failed: {e} ({e:?})")),
        Ok(Some(Ok(ev))) => Ok(ev),
    }
}

/// The next `n` events.
async fn next_events(stream: &mut WatchStream, n: usize, what: &str) -> Result<Vec<Event>, String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(next_event(stream, &format!("{what} (event {} of {n})", i + 1)).await?);
    }
    Ok(out)
}

/// Fails if the stream yields anything within [`QUIET_PERIOD`].
async fn expect_quiet(stream: &mut WatchStream, what: &str) -> CaseResult {
    match tokio::time::timeout(QUIET_PERIOD, stream.next()).await {
        Err(_) => Ok(()),
        Ok(item) => Err(format!(
            "{what}: expected no further watch item, got {item:?}"
        )),
    }
}

/// Compares event lists one by one, for a readable failure message.
fn compare_events(got: &[Event], expected: &[Event], what: &str) -> CaseResult {
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        ensure_eq!(g, e, "{what}: event #{i}");
    }
    ensure_eq!(got.len(), expected.len(), "{what}: number of events");
    Ok(())
}

/// A reference model of the key space, built from the revisions the store returns.
struct Model {
    rev: Revision,
    keys: BTreeMap<String, KeyValue>,
    /// The state after every write, by revision (plus the initial state).
    history: Vec<(Revision, BTreeMap<String, KeyValue>)>,
    events: Vec<Event>,
}

impl Model {
    fn new(start: Revision) -> Self {
        Model {
            rev: start,
            keys: BTreeMap::new(),
            history: vec![(start, BTreeMap::new())],
            events: Vec::new(),
        }
    }

    fn check_rev(&mut self, rev: Revision, what: &str) -> CaseResult {
        ensure_eq!(
            rev,
            self.rev + 1,
            "revision of {what} (one global revision, +1 per write)"
        );
        self.rev = rev;
        Ok(())
    }

    /// Records a create/update/put of `key` at `rev`.
    fn put(&mut self, key: &str, value: &[u8], rev: Revision) -> CaseResult {
        self.check_rev(rev, &format!("write of {key}"))?;
        let prev = self.keys.get(key).cloned();
        let new = match &prev {
            Some(p) => kv(key, value, p.create_revision, rev, p.version + 1),
            None => kv(key, value, rev, rev, 1),
        };
        self.keys.insert(key.to_owned(), new.clone());
        self.history.push((rev, self.keys.clone()));
        self.events.push(Event {
            kind: EventKind::Put,
            kv: new,
            prev,
        });
        Ok(())
    }

    /// Records a delete of `key` at `rev`; returns the deleted value.
    fn delete(&mut self, key: &str, rev: Revision) -> Result<KeyValue, String> {
        self.check_rev(rev, &format!("delete of {key}"))?;
        let prev = self
            .keys
            .remove(key)
            .ok_or_else(|| format!("model: {key} was absent"))?;
        self.history.push((rev, self.keys.clone()));
        self.events.push(Event {
            kind: EventKind::Delete,
            kv: tombstone(key, rev),
            prev: Some(prev.clone()),
        });
        Ok(prev)
    }

    /// The state as of revision `r`.
    fn at(&self, r: Revision) -> &BTreeMap<String, KeyValue> {
        let i = self.history.partition_point(|(rev, _)| *rev <= r);
        &self.history[i.saturating_sub(1)].1
    }

    fn events_after(&self, r: Revision, prefix: &str) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.revision() > r && e.kv.key.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn list(&self, r: Revision, prefix: &str) -> Vec<KeyValue> {
        self.at(r)
            .values()
            .filter(|kv| kv.key.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// Writes through a store and the model at once.
struct Writer<'a, S: ?Sized> {
    store: &'a S,
    model: Model,
}

impl<'a, S: Store + ?Sized> Writer<'a, S> {
    async fn new(store: &'a S) -> Result<Writer<'a, S>, String> {
        let start = current(store).await?;
        Ok(Writer {
            store,
            model: Model::new(start),
        })
    }

    async fn create(&mut self, key: &str, value: &str) -> Result<Revision, String> {
        let rev = self
            .store
            .create(key, val(value))
            .await
            .ctx(format!("create {key}"))?;
        self.model.put(key, value.as_bytes(), rev)?;
        Ok(rev)
    }

    async fn update(&mut self, key: &str, value: &str) -> Result<Revision, String> {
        let expected = self.model.keys.get(key).map(|kv| kv.mod_revision);
        let rev = self
            .store
            .update(key, val(value), expected)
            .await
            .ctx(format!("update {key}"))?;
        self.model.put(key, value.as_bytes(), rev)?;
        Ok(rev)
    }

    async fn put(&mut self, key: &str, value: &str) -> Result<Revision, String> {
        let rev = self
            .store
            .put(key, val(value))
            .await
            .ctx(format!("put {key}"))?;
        self.model.put(key, value.as_bytes(), rev)?;
        Ok(rev)
    }

    async fn delete(&mut self, key: &str) -> Result<Revision, String> {
        let (rev, deleted) = self
            .store
            .delete(key, None)
            .await
            .ctx(format!("delete {key}"))?;
        let expected = self.model.delete(key, rev)?;
        ensure_eq!(deleted, expected, "value returned by delete {key}");
        Ok(rev)
    }

    /// Checks `get` of every key the model knows (and one it does not) against the model.
    async fn check_latest(&self) -> CaseResult {
        let mut keys: Vec<String> = self
            .model
            .history
            .iter()
            .flat_map(|(_, m)| m.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys.push("/never-written".to_owned());
        for key in keys {
            let got = self.store.get(&key).await.ctx(format!("get {key}"))?;
            ensure_eq!(
                got,
                self.model.keys.get(&key).cloned(),
                "get {key} (latest)"
            );
        }
        Ok(())
    }
}

/// Lists everything under `prefix` page by page (`page` keys at a time) at `revision`.
async fn list_all<S: Store + ?Sized>(
    store: &S,
    prefix: &str,
    revision: Option<Revision>,
    page: usize,
) -> Result<Vec<KeyValue>, String> {
    let mut out: Vec<KeyValue> = Vec::new();
    let mut start_after: Option<String> = None;
    let mut first_count = None;
    loop {
        let opts = ListOptions {
            revision,
            limit: Some(page),
            start_after: start_after.clone(),
        };
        let res = store
            .list(prefix, opts)
            .await
            .ctx(format!("list {prefix:?} after {start_after:?}"))?;
        ensure!(
            res.kvs.len() <= page,
            "list returned {} keys with limit {page}",
            res.kvs.len()
        );
        ensure!(
            res.count >= res.kvs.len(),
            "list count {} < returned {}",
            res.count,
            res.kvs.len()
        );
        ensure_eq!(
            res.more,
            res.count > res.kvs.len(),
            "list more flag vs count {} and {} returned",
            res.count,
            res.kvs.len()
        );
        if let Some(r) = revision {
            ensure_eq!(res.revision, r, "revision of a list at a given revision");
        }
        match first_count {
            None => first_count = Some(res.count),
            Some(total) => ensure_eq!(res.count, total - out.len(), "count of a continuation page"),
        }
        let more = res.more;
        if let Some(last) = res.kvs.last() {
            start_after = Some(last.key.to_string());
        }
        out.extend(res.kvs);
        if !more {
            break;
        }
        ensure!(
            start_after.is_some(),
            "list said more=true but returned no key"
        );
    }
    ensure_eq!(
        Some(out.len()),
        first_count,
        "keys listed vs count of the first page"
    );
    Ok(out)
}

/// A pseudo-random, incompressible value of `len` bytes.
fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Describes a key-value without printing a large value.
fn describe(kv: &KeyValue) -> String {
    format!(
        "{{key {:?}, {} value bytes, create {}, mod {}, version {}}}",
        kv.key,
        kv.value.len(),
        kv.create_revision,
        kv.mod_revision,
        kv.version
    )
}

// ---------------------------------------------------------------------------------------------
// Cases: revisions and basic writes
// ---------------------------------------------------------------------------------------------

/// A fresh store holds nothing; reads work; the compaction revision is not in the future.
pub async fn empty_store<S: Store>(store: S) -> CaseResult {
    let r0 = current(&store).await?;
    ensure!(r0 >= 0, "negative revision {r0}");
    let list = store
        .list("", ListOptions::default())
        .await
        .ctx("list everything")?;
    ensure_eq!(
        list,
        ListResult {
            kvs: vec![],
            more: false,
            count: 0,
            revision: r0
        },
        "list of a fresh store"
    );
    ensure_eq!(
        store.get("/a").await.ctx("get /a")?,
        None,
        "get in a fresh store"
    );
    let compacted = store.compacted_revision().await.ctx("compacted_revision")?;
    ensure!(
        compacted <= r0,
        "compacted revision {compacted} above the current revision {r0}"
    );
    let mut w = store
        .watch("", r0)
        .await
        .ctx("watch from the current revision")?;
    expect_quiet(&mut w, "watch on a fresh store").await?;
    expect_revision(&store, r0, "after reads only").await
}

/// Every write moves the revision by exactly one and stamps the key with it; reads do not
/// move it. Also checks that the store works as `Arc<dyn Store>`.
pub async fn revision_per_write<S: Store>(store: S) -> CaseResult {
    let store: Arc<dyn Store> = Arc::new(store);
    let r0 = current(&*store).await?;
    let mut expected = r0;
    for (i, op) in ["create", "update", "put", "put-new", "delete", "create"]
        .iter()
        .enumerate()
    {
        let rev = match *op {
            "create" => store.create("/k", val(&format!("{i}"))).await,
            "update" => store.update("/k", val(&format!("{i}")), None).await,
            "put" => store.put("/k", val(&format!("{i}"))).await,
            "put-new" => store.put("/k2", val(&format!("{i}"))).await,
            _ => store.delete("/k", None).await.map(|(r, _)| r),
        }
        .ctx(format!("write #{i} ({op})"))?;
        expected += 1;
        ensure_eq!(rev, expected, "revision returned by write #{i} ({op})");
        expect_revision(&*store, expected, &format!("after write #{i} ({op})")).await?;
        if *op != "delete" {
            let key = if *op == "put-new" { "/k2" } else { "/k" };
            let got = store
                .get(key)
                .await
                .ctx("get")?
                .ok_or("written key missing")?;
            ensure_eq!(
                got.mod_revision,
                rev,
                "mod_revision of {key} after write #{i} ({op})"
            );
        }
        // Reads do not move the revision.
        store.list("", ListOptions::default()).await.ctx("list")?;
        store.get_at("/k", rev).await.ctx("get_at")?;
        expect_revision(&*store, expected, "after reads").await?;
    }
    Ok(())
}

/// Failed writes (conflicts, missing keys, existing keys, limits) change nothing.
pub async fn failed_writes_change_nothing<S: Store>(store: S) -> CaseResult {
    let r1 = store.create("/a", val("1")).await.ctx("create /a")?;
    let before = store.get("/a").await.ctx("get /a")?;
    let big = Bytes::from(vec![0u8; MAX_VALUE_BYTES + 1]);
    // Each attempt is checked right after it ran.
    let check = |what: &'static str, res: crate::Result<Revision>| {
        let (store, before) = (&store, &before);
        async move {
            ensure!(res.is_err(), "{what}: expected an error, got {res:?}");
            expect_revision(store, r1, &format!("after failed write ({what})")).await?;
            let a = store.get("/a").await.ctx("get /a")?;
            ensure_eq!(&a, before, "/a after failed write ({what})");
            for key in ["/missing", "/big"] {
                let got = store.get(key).await.ctx(format!("get {key}"))?;
                ensure_eq!(got, None, "{key} after failed write ({what})");
            }
            Ok::<(), String>(())
        }
    };
    let x = || val("x");
    check("create existing", store.create("/a", x()).await).await?;
    check("update missing", store.update("/missing", x(), None).await).await?;
    let res = store.update("/missing", x(), Some(0)).await;
    check("update missing expecting 0", res).await?;
    let res = store.update("/missing", x(), Some(r1)).await;
    check("update missing expecting r1", res).await?;
    let res = store.update("/a", x(), Some(r1 + 100)).await;
    check("update stale", res).await?;
    check("update expecting 0", store.update("/a", x(), Some(0)).await).await?;
    let res = store.delete("/missing", None).await.map(|(r, _)| r);
    check("delete missing", res).await?;
    let res = store.delete("/missing", Some(0)).await.map(|(r, _)| r);
    check("delete missing expecting 0", res).await?;
    let res = store.delete("/a", Some(r1 - 1)).await.map(|(r, _)| r);
    check("delete stale", res).await?;
    check("create empty key", store.create("", x()).await).await?;
    check("put too large", store.put("/a", big.clone()).await).await?;
    let res = store.update("/a", big.clone(), Some(r1)).await;
    check("update too large", res).await?;
    check("create too large", store.create("/big", big).await).await?;
    Ok(())
}

/// `create`: revision, version 1, `create_revision == mod_revision`; `AlreadyExists` on an
/// existing key; empty values are values.
pub async fn create_semantics<S: Store>(store: S) -> CaseResult {
    let r0 = current(&store).await?;
    let r1 = store
        .create("/pods/default/web", val("v1"))
        .await
        .ctx("create")?;
    ensure_eq!(r1, r0 + 1, "revision of the first create");
    let got = store.get("/pods/default/web").await.ctx("get")?;
    ensure_eq!(
        got,
        Some(kv("/pods/default/web", b"v1", r1, r1, 1)),
        "created key"
    );
    let err_key = expect_err!(
        store.create("/pods/default/web", val("v2")).await,
        Error::AlreadyExists { key } => key,
        "create of an existing key"
    );
    ensure_eq!(err_key, "/pods/default/web", "key in AlreadyExists");
    ensure_eq!(
        store.get("/pods/default/web").await.ctx("get")?,
        got,
        "value after failed create"
    );
    let r2 = store
        .create("/pods/default/empty", Bytes::new())
        .await
        .ctx("create with empty value")?;
    ensure_eq!(r2, r1 + 1, "revision of the second create");
    ensure_eq!(
        store.get("/pods/default/empty").await.ctx("get")?,
        Some(kv("/pods/default/empty", b"", r2, r2, 1)),
        "key with an empty value"
    );
    Ok(())
}

/// `update`: keeps `create_revision`, increments `version`; `Conflict` with the current
/// value on a stale `expected`; `NotFound` on a missing key (with or without `expected`).
pub async fn update_semantics<S: Store>(store: S) -> CaseResult {
    let r1 = store.create("/a", val("v1")).await.ctx("create")?;
    let r2 = store
        .update("/a", val("v2"), None)
        .await
        .ctx("unconditional update")?;
    ensure_eq!(r2, r1 + 1, "revision of update");
    ensure_eq!(
        store.get("/a").await.ctx("get")?,
        Some(kv("/a", b"v2", r1, r2, 2)),
        "after update"
    );
    let r3 = store
        .update("/a", val("v3"), Some(r2))
        .await
        .ctx("update with the right expected")?;
    ensure_eq!(r3, r2 + 1, "revision of conditional update");
    let now = Some(kv("/a", b"v3", r1, r3, 3));
    ensure_eq!(
        store.get("/a").await.ctx("get")?,
        now,
        "after conditional update"
    );
    for stale in [r1, r2, 0, r3 + 1] {
        let (key, expected, cur) = expect_err!(
            store.update("/a", val("no"), Some(stale)).await,
            Error::Conflict { key, expected, current } => (key, expected, current),
            "update with expected {stale} (actual {r3})"
        );
        ensure_eq!(key, "/a", "Conflict key");
        ensure_eq!(expected, stale, "Conflict expected");
        ensure_eq!(cur.map(|b| *b), now.clone(), "Conflict current value");
    }
    for expected in [None, Some(r3), Some(0)] {
        let key = expect_err!(
            store.update("/missing", val("x"), expected).await,
            Error::NotFound { key } => key,
            "update of a missing key with expected {expected:?}"
        );
        ensure_eq!(key, "/missing", "NotFound key");
    }
    ensure_eq!(
        store.get("/missing").await.ctx("get")?,
        None,
        "missing key after failed updates"
    );
    expect_revision(&store, r3, "after failed updates").await
}

/// `put`: creates an absent key (version 1), updates an existing one (version + 1).
pub async fn put_semantics<S: Store>(store: S) -> CaseResult {
    let r1 = store.put("/p", val("1")).await.ctx("put new")?;
    ensure_eq!(
        store.get("/p").await.ctx("get")?,
        Some(kv("/p", b"1", r1, r1, 1)),
        "put of an absent key"
    );
    let r2 = store.put("/p", val("2")).await.ctx("put existing")?;
    ensure_eq!(r2, r1 + 1, "revision");
    ensure_eq!(
        store.get("/p").await.ctx("get")?,
        Some(kv("/p", b"2", r1, r2, 2)),
        "put of an existing key"
    );
    let r3 = store
        .update("/p", val("3"), Some(r2))
        .await
        .ctx("update after put")?;
    let r4 = store.put("/p", val("4")).await.ctx("put again")?;
    ensure_eq!(
        store.get("/p").await.ctx("get")?,
        Some(kv("/p", b"4", r1, r4, 4)),
        "versions across put and update"
    );
    ensure_eq!(r4, r3 + 1, "revision");
    Ok(())
}

/// `delete`: returns the deleted value and the deletion's revision; `NotFound` when absent;
/// `Conflict` (with the current value) on a stale `expected`.
pub async fn delete_semantics<S: Store>(store: S) -> CaseResult {
    let r1 = store.create("/d", val("v1")).await.ctx("create")?;
    let r2 = store.update("/d", val("v2"), None).await.ctx("update")?;
    let (r3, deleted) = store.delete("/d", None).await.ctx("delete")?;
    ensure_eq!(r3, r2 + 1, "revision of delete");
    ensure_eq!(
        deleted,
        kv("/d", b"v2", r1, r2, 2),
        "value returned by delete"
    );
    ensure_eq!(store.get("/d").await.ctx("get")?, None, "deleted key");
    for expected in [None, Some(r2), Some(0)] {
        let key = expect_err!(
            store.delete("/d", expected).await,
            Error::NotFound { key } => key,
            "delete of a missing key with expected {expected:?}"
        );
        ensure_eq!(key, "/d", "NotFound key");
    }
    let r4 = store.create("/e", val("e1")).await.ctx("create /e")?;
    let now = kv("/e", b"e1", r4, r4, 1);
    let (key, expected, cur) = expect_err!(
        store.delete("/e", Some(r4 - 1)).await,
        Error::Conflict { key, expected, current } => (key, expected, current),
        "delete with a stale expected"
    );
    ensure_eq!(
        (key.as_str(), expected),
        ("/e", r4 - 1),
        "Conflict key and expected"
    );
    ensure_eq!(cur.map(|b| *b), Some(now.clone()), "Conflict current value");
    expect_revision(&store, r4, "after failed deletes").await?;
    let (r5, deleted) = store
        .delete("/e", Some(r4))
        .await
        .ctx("delete with the right expected")?;
    ensure_eq!(r5, r4 + 1, "revision of conditional delete");
    ensure_eq!(deleted, now, "value returned by conditional delete");
    let listed = store.list("", ListOptions::default()).await.ctx("list")?;
    ensure_eq!(listed.count, 0, "keys left after deleting everything");
    Ok(())
}

/// After a delete, a create starts again at version 1 with a new `create_revision`; the old
/// incarnation stays readable in history.
pub async fn recreate_after_delete<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let r1 = w.create("/x", "a").await?;
    w.update("/x", "b").await?;
    w.update("/x", "c").await?;
    let r_del = w.delete("/x").await?;
    let r_new = w.create("/x", "d").await?;
    let got = store.get("/x").await.ctx("get")?;
    ensure_eq!(got, Some(kv("/x", b"d", r_new, r_new, 1)), "re-created key");
    w.put("/x", "e").await?;
    ensure_eq!(
        store.get("/x").await.ctx("get")?,
        Some(kv("/x", b"e", r_new, r_new + 1, 2)),
        "re-created key after put"
    );
    ensure_eq!(
        store.get_at("/x", r_del).await.ctx("get_at deletion")?,
        None,
        "at the deletion revision"
    );
    ensure_eq!(
        store.get_at("/x", r_del - 1).await.ctx("get_at")?,
        Some(kv("/x", b"c", r1, r_del - 1, 3)),
        "old incarnation"
    );
    w.check_latest().await
}

/// A read that starts after a write resolved observes it, from many concurrent tasks.
pub async fn reads_observe_writes<S: Store>(store: S) -> CaseResult {
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let key = format!("/rw/{t}");
                let value = format!("{t}-{i}");
                let rev = store.put(&key, val(&value)).await.ctx("put")?;
                let got = store
                    .get(&key)
                    .await
                    .ctx("get")?
                    .ok_or("written key missing")?;
                ensure!(
                    got.mod_revision >= rev,
                    "get after put saw revision {} < {rev}",
                    got.mod_revision
                );
                ensure_eq!(got.value, val(&value), "get after put of {key}");
                let now = store.current_revision().await.ctx("current_revision")?;
                ensure!(
                    now >= rev,
                    "current_revision {now} below a resolved write's revision {rev}"
                );
                let list = store.list(&key, ListOptions::default()).await.ctx("list")?;
                ensure!(
                    list.kvs.iter().any(|kv| kv.mod_revision >= rev),
                    "list after put misses the write"
                );
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("task failed: {e}"))??;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cases: reads and history
// ---------------------------------------------------------------------------------------------

/// `get_at` and `list` at every past revision match a model of the history.
pub async fn history_get_at_and_list<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let r0 = w.model.rev;
    w.create("/h/a", "a1").await?;
    w.update("/h/a", "a2").await?;
    w.create("/h/b", "b1").await?;
    w.put("/h/c", "c1").await?;
    w.delete("/h/a").await?;
    w.put("/h/b", "b2").await?;
    w.create("/other", "o").await?;
    w.create("/h/a", "a3").await?;
    w.update("/h/c", "c2").await?;
    w.delete("/h/b").await?;
    w.put("/h/a", "a4").await?;
    let end = w.model.rev;
    for r in r0..=end {
        for key in ["/h/a", "/h/b", "/h/c", "/other", "/never"] {
            let got = store
                .get_at(key, r)
                .await
                .ctx(format!("get_at {key} {r}"))?;
            ensure_eq!(got.as_ref(), w.model.at(r).get(key), "get_at({key}, {r})");
        }
        let list = store
            .list(
                "/h/",
                ListOptions {
                    revision: Some(r),
                    ..ListOptions::default()
                },
            )
            .await
            .ctx(format!("list at {r}"))?;
        let expected = w.model.list(r, "/h/");
        ensure_eq!(list.kvs, expected, "list /h/ at revision {r}");
        ensure_eq!(
            (list.count, list.more, list.revision),
            (expected.len(), false, r),
            "list /h/ at {r}: count, more, revision"
        );
        let paged = list_all(&store, "/h/", Some(r), 1).await?;
        ensure_eq!(paged, expected, "paginated list /h/ at revision {r}");
    }
    w.check_latest().await
}

/// `list` returns exactly the keys starting with the prefix (a plain byte prefix), in byte
/// order, with `count`, `more = false` and the current revision.
pub async fn list_prefix_and_order<S: Store>(store: S) -> CaseResult {
    let keys = [
        "/a",
        "/a/1",
        "/a/2",
        "/a/10",
        "/a/b/c",
        "/ab",
        "/b/1",
        "/a0",
        "/a/\u{e9}",
        "/a/Z",
        "/a/-",
    ];
    let mut last = 0;
    for k in keys {
        last = store.create(k, val(k)).await.ctx(format!("create {k}"))?;
    }
    let mut all: Vec<&str> = keys.to_vec();
    all.sort();
    for prefix in ["/a/", "/a", "", "/", "/b", "/zzz", "/a/b/c", "/a/b/c/"] {
        let res = store
            .list(prefix, ListOptions::default())
            .await
            .ctx(format!("list {prefix:?}"))?;
        let expected: Vec<&str> = all
            .iter()
            .copied()
            .filter(|k| k.starts_with(prefix))
            .collect();
        let got: Vec<&str> = res.kvs.iter().map(|kv| &*kv.key).collect();
        ensure_eq!(got, expected, "keys listed under {prefix:?}");
        ensure_eq!(
            (res.count, res.more, res.revision),
            (expected.len(), false, last),
            "count, more, revision of list {prefix:?}"
        );
        for kv in &res.kvs {
            ensure_eq!(kv.value, val(&kv.key), "value of {}", kv.key);
        }
    }
    Ok(())
}

/// `limit`, `start_after`, `count` and `more`, and pagination through everything.
pub async fn list_limit_and_continuation<S: Store>(store: S) -> CaseResult {
    let keys: Vec<String> = (0..10).map(|i| format!("/l/{i:02}")).collect();
    for k in &keys {
        store.create(k, val(k)).await.ctx(format!("create {k}"))?;
    }
    store
        .create("/m/x", val("outside"))
        .await
        .ctx("create /m/x")?;
    store
        .create("/l", val("the prefix without slash"))
        .await
        .ctx("create /l")?;
    let names = |res: &ListResult| {
        res.kvs
            .iter()
            .map(|kv| kv.key.to_string())
            .collect::<Vec<_>>()
    };
    let list = |limit: Option<usize>, start_after: Option<&str>| {
        let opts = ListOptions {
            revision: None,
            limit,
            start_after: start_after.map(str::to_owned),
        };
        let what = format!("list /l/ limit {limit:?} after {start_after:?}");
        let store = &store;
        async move { store.list("/l/", opts).await.ctx(what) }
    };
    type Case<'a> = (
        Option<usize>,
        Option<&'a str>,
        std::ops::Range<usize>,
        usize,
        bool,
    );
    let cases: Vec<Case<'_>> = vec![
        // (limit, start_after, expected keys, count, more)
        (Some(3), None, 0..3, 10, true),
        (Some(3), Some("/l/02"), 3..6, 7, true),
        (Some(3), Some("/l/08"), 9..10, 1, false),
        (Some(3), Some("/l/09"), 0..0, 0, false),
        (None, None, 0..10, 10, false),
        (Some(0), None, 0..10, 10, false),
        (Some(10), None, 0..10, 10, false),
        (Some(11), None, 0..10, 10, false),
        (Some(9), None, 0..9, 10, true),
        (Some(2), Some("/l/05x"), 6..8, 4, true),
        (None, Some("/l/05x"), 6..10, 4, false),
        (None, Some(""), 0..10, 10, false),
        (None, Some("/a"), 0..10, 10, false),
        (None, Some("/l/"), 0..10, 10, false),
        (None, Some("/z"), 0..0, 0, false),
    ];
    for (limit, after, range, count, more) in cases {
        let res = list(limit, after).await?;
        ensure_eq!(
            names(&res),
            keys[range].to_vec(),
            "keys of list limit {limit:?} after {after:?}"
        );
        ensure_eq!(
            (res.count, res.more),
            (count, more),
            "count and more of list limit {limit:?} after {after:?}"
        );
    }
    for page in 1..=11 {
        let all = list_all(&store, "/l/", None, page).await?;
        ensure_eq!(
            all.iter().map(|kv| kv.key.to_string()).collect::<Vec<_>>(),
            keys,
            "pagination by {page}"
        );
    }
    Ok(())
}

/// Pagination at a fixed revision sees that snapshot, whatever is written meanwhile.
pub async fn list_pagination_at_fixed_revision<S: Store>(store: S) -> CaseResult {
    let store = Arc::new(store);
    for i in 0..50 {
        store
            .create(&format!("/p/{i:03}"), val("orig"))
            .await
            .ctx("create")?;
    }
    let snapshot = store
        .list("/p/", ListOptions::default())
        .await
        .ctx("list")?;
    let r = snapshot.revision;
    ensure_eq!(r, current(&*store).await?, "revision of a list");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                store
                    .put(&format!("/p/{:03}", i * 2), val("changed"))
                    .await
                    .ctx("put")?;
                store
                    .delete(&format!("/p/{:03}", i * 2 + 1), None)
                    .await
                    .ctx("delete")?;
                store
                    .create(&format!("/p/{i:03}-new"), val("new"))
                    .await
                    .ctx("create")?;
            }
            Ok::<(), String>(())
        })
    };
    let mut pages = 0;
    while !writer.is_finished() || pages < 3 {
        let all = list_all(&*store, "/p/", Some(r), 7).await?;
        ensure_eq!(
            all,
            snapshot.kvs,
            "paginated list at revision {r} during writes"
        );
        pages += 1;
        if pages > 1000 {
            break;
        }
    }
    writer.await.map_err(|e| format!("writer failed: {e}"))??;
    let all = list_all(&*store, "/p/", Some(r), 13).await?;
    ensure_eq!(
        all,
        snapshot.kvs,
        "paginated list at revision {r} after writes"
    );
    let latest = list_all(&*store, "/p/", None, 13).await?;
    ensure_eq!(
        latest.len(),
        50 - 25 + 25,
        "number of keys after the writes"
    );
    Ok(())
}

/// Reads above the current revision fail with `FutureRevision`.
pub async fn future_revision<S: Store>(store: S) -> CaseResult {
    let cur = store.put("/f", val("1")).await.ctx("put")?;
    store
        .get_at("/f", cur)
        .await
        .ctx("get_at the current revision")?;
    for ahead in [1, 2, 1000] {
        let requested = cur + ahead;
        let (req, now) = expect_err!(
            store.get_at("/f", requested).await,
            Error::FutureRevision { requested, current } => (requested, current),
            "get_at {requested} (current {cur})"
        );
        ensure_eq!(
            (req, now),
            (requested, cur),
            "FutureRevision of get_at: requested, current"
        );
        let opts = ListOptions {
            revision: Some(requested),
            ..ListOptions::default()
        };
        let (req, now) = expect_err!(
            store.list("/", opts).await,
            Error::FutureRevision { requested, current } => (requested, current),
            "list at {requested} (current {cur})"
        );
        ensure_eq!(
            (req, now),
            (requested, cur),
            "FutureRevision of list: requested, current"
        );
    }
    expect_revision(&store, cur, "after failed reads").await
}

// ---------------------------------------------------------------------------------------------
// Cases: limits and large values
// ---------------------------------------------------------------------------------------------

/// Keys are 1..=`MAX_KEY_BYTES` bytes and values at most `MAX_VALUE_BYTES`; beyond that
/// `InvalidKey` / `ValueTooLarge`, and nothing is written.
pub async fn limits<S: Store>(store: S) -> CaseResult {
    let r0 = current(&store).await?;
    let long_key = format!("/{}", "k".repeat(MAX_KEY_BYTES - 1));
    let too_long = format!("/{}", "k".repeat(MAX_KEY_BYTES));
    for (key, len) in [("", 0usize), (too_long.as_str(), MAX_KEY_BYTES + 1)] {
        let results: Vec<(&str, crate::Result<Revision>)> = vec![
            ("create", store.create(key, val("x")).await),
            ("put", store.put(key, val("x")).await),
            ("update", store.update(key, val("x"), None).await),
            ("delete", store.delete(key, None).await.map(|(r, _)| r)),
        ];
        for (op, res) in results {
            expect_err!(
                res,
                Error::InvalidKey { len: l, max } => ensure_eq!((l, max), (len, MAX_KEY_BYTES), "InvalidKey fields of {op}"),
                "{op} with a key of {len} bytes"
            );
        }
    }
    expect_revision(&store, r0, "after rejected keys").await?;
    let r1 = store
        .create(&long_key, val("longest"))
        .await
        .ctx("create with a key of MAX_KEY_BYTES")?;
    ensure_eq!(r1, r0 + 1, "revision");
    let got = store.get(&long_key).await.ctx("get longest key")?;
    ensure_eq!(
        got.map(|kv| kv.value),
        Some(val("longest")),
        "value under the longest key"
    );
    let listed = store.list("/k", ListOptions::default()).await.ctx("list")?;
    ensure_eq!(listed.kvs.len(), 1, "list finds the longest key");
    let too_big = Bytes::from(vec![7u8; MAX_VALUE_BYTES + 1]);
    store.create("/v", val("small")).await.ctx("create /v")?;
    let results: Vec<(&str, crate::Result<Revision>)> = vec![
        ("create", store.create("/v2", too_big.clone()).await),
        ("put", store.put("/v", too_big.clone()).await),
        ("update", store.update("/v", too_big.clone(), None).await),
    ];
    for (op, res) in results {
        expect_err!(
            res,
            Error::ValueTooLarge { len, max } => ensure_eq!((len, max), (MAX_VALUE_BYTES + 1, MAX_VALUE_BYTES), "ValueTooLarge fields of {op}"),
            "{op} with a value of MAX_VALUE_BYTES + 1"
        );
    }
    expect_revision(&store, r1 + 1, "after rejected values").await?;
    ensure_eq!(
        store.get("/v").await.ctx("get /v")?.map(|kv| kv.value),
        Some(val("small")),
        "/v after rejected values"
    );
    ensure_eq!(
        store.get("/v2").await.ctx("get /v2")?,
        None,
        "/v2 after rejected create"
    );
    Ok(())
}

/// 1 MiB values (and one of exactly `MAX_VALUE_BYTES`) are written, read back, listed and
/// delivered by watches, also as `prev`.
pub async fn large_values<S: Store>(store: S) -> CaseResult {
    const MIB: usize = 1024 * 1024;
    let r0 = current(&store).await?;
    let mut watch = store.watch("/big/", r0).await.ctx("watch")?;
    let v1 = pattern(MIB, 1);
    let v2 = pattern(MIB, 2);
    let vmax = pattern(MAX_VALUE_BYTES, 3);
    let r1 = store
        .create("/big/1", v1.clone())
        .await
        .ctx("create 1 MiB")?;
    let r2 = store
        .update("/big/1", v2.clone(), Some(r1))
        .await
        .ctx("update 1 MiB")?;
    let r3 = store
        .put("/big/max", vmax.clone())
        .await
        .ctx("put MAX_VALUE_BYTES")?;
    let (r4, deleted) = store.delete("/big/1", Some(r2)).await.ctx("delete")?;
    ensure!(
        deleted.value == v2,
        "deleted value differs: {}",
        describe(&deleted)
    );
    ensure_eq!((r2, r3, r4), (r1 + 1, r1 + 2, r1 + 3), "revisions");
    let check = |what: &str, got: Option<&KeyValue>, value: &Bytes, rev: Revision| -> CaseResult {
        let got = got.ok_or_else(|| format!("{what}: missing"))?;
        ensure!(
            got.value == *value,
            "{what}: value differs (got {})",
            describe(got)
        );
        ensure_eq!(got.mod_revision, rev, "{what}: mod_revision");
        Ok(())
    };
    check(
        "get_at /big/1",
        store.get_at("/big/1", r1).await.ctx("get_at")?.as_ref(),
        &v1,
        r1,
    )?;
    check(
        "get_at /big/1",
        store.get_at("/big/1", r2).await.ctx("get_at")?.as_ref(),
        &v2,
        r2,
    )?;
    check(
        "get /big/max",
        store.get("/big/max").await.ctx("get")?.as_ref(),
        &vmax,
        r3,
    )?;
    let at = store
        .list(
            "/big/",
            ListOptions {
                revision: Some(r3),
                ..ListOptions::default()
            },
        )
        .await
        .ctx("list")?;
    ensure_eq!(at.kvs.len(), 2, "list /big/ at {r3}");
    check("list[0]", at.kvs.first(), &v2, r2)?;
    check("list[1]", at.kvs.get(1), &vmax, r3)?;
    let events = next_events(&mut watch, 4, "watch of large values").await?;
    check("event 1", Some(&events[0].kv), &v1, r1)?;
    check("event 2", Some(&events[1].kv), &v2, r2)?;
    check("event 2 prev", events[1].prev.as_ref(), &v1, r1)?;
    check("event 3", Some(&events[2].kv), &vmax, r3)?;
    ensure_eq!(events[3].kind, EventKind::Delete, "event 4 kind");
    check("event 4 prev", events[3].prev.as_ref(), &v2, r2)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cases: watches
// ---------------------------------------------------------------------------------------------

/// Watch events carry the new value and the previous one: `None` for a create, the exact
/// previous key-value for an update and a delete; a delete's `kv` is the key with the
/// deletion's revision and version 0.
pub async fn watch_events_and_prev_values<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let r0 = w.model.rev;
    let mut stream = store.watch("/w/", r0).await.ctx("watch")?;
    w.create("/w/a", "1").await?;
    w.update("/w/a", "2").await?;
    w.put("/w/a", "3").await?;
    w.put("/w/b", "1").await?;
    w.create("/x/outside", "1").await?;
    w.delete("/w/a").await?;
    w.create("/w/a", "4").await?;
    let b_rev = w.model.keys.get("/w/b").map(|kv| kv.mod_revision);
    let rev = store
        .update("/w/b", val("2"), b_rev)
        .await
        .ctx("conditional update")?;
    w.model.put("/w/b", b"2", rev)?;
    let (rev, _) = store
        .delete("/w/b", Some(rev))
        .await
        .ctx("conditional delete")?;
    w.model.delete("/w/b", rev)?;
    let expected = w.model.events_after(r0, "/w/");
    let got = next_events(&mut stream, expected.len(), "watch /w/").await?;
    compare_events(&got, &expected, "watch /w/")?;
    // Spot checks of the contract's wording, independent of the model.
    ensure_eq!(got[0].prev, None, "prev of a create");
    ensure_eq!(
        got[1].prev.as_ref().map(|p| p.version),
        Some(1),
        "prev of an update"
    );
    let delete = &got[4];
    ensure_eq!(
        (delete.kind, delete.kv.version, delete.kv.create_revision),
        (EventKind::Delete, 0, 0),
        "delete event"
    );
    ensure!(
        delete.kv.value.is_empty(),
        "a delete event's kv has an empty value"
    );
    expect_quiet(&mut stream, "watch /w/ after all writes").await?;
    // A watch from the current revision sees only what comes next.
    let mut live = store
        .watch("/w/", w.model.rev)
        .await
        .ctx("watch from now")?;
    expect_quiet(&mut live, "watch from the current revision").await?;
    w.put("/w/c", "live").await?;
    let ev = next_event(&mut live, "live event").await?;
    ensure_eq!(Some(&ev), w.model.events.last(), "live event");
    let ev = next_event(&mut stream, "first watch, live event").await?;
    ensure_eq!(
        Some(&ev),
        w.model.events.last(),
        "live event on the first watch"
    );
    Ok(())
}

/// A watch sees exactly the keys under its prefix (a byte prefix), and none of the others.
pub async fn watch_prefix_isolation<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let r0 = w.model.rev;
    let prefixes = ["/a/", "/a", "/b/", "", "/a/x", "/none/"];
    let mut streams = Vec::new();
    for p in prefixes {
        streams.push(store.watch(p, r0).await.ctx(format!("watch {p:?}"))?);
    }
    for k in [
        "/a/1", "/ab", "/b/1", "/a/2", "/c", "/a", "/a/x", "/a/xy", "/b", "/b/1",
    ] {
        w.put(k, k).await?;
    }
    w.delete("/ab").await?;
    w.delete("/a/x").await?;
    for (p, stream) in prefixes.iter().zip(streams.iter_mut()) {
        let expected = w.model.events_after(r0, p);
        let got = next_events(stream, expected.len(), &format!("watch {p:?}")).await?;
        compare_events(&got, &expected, &format!("watch {p:?}"))?;
        expect_quiet(stream, &format!("watch {p:?} after its events")).await?;
    }
    Ok(())
}

/// For every revision `r` of a history, `watch(after = r)` replays exactly the events with
/// revision `> r` (for a prefix and for everything), then continues with live events.
pub async fn watch_resume_from_every_revision<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let r0 = w.model.rev;
    for i in 0..12 {
        let key = format!("/r/{}", i % 4);
        match i % 6 {
            0 | 3 => {
                w.put(&key, &format!("v{i}")).await?;
            }
            1 => {
                w.put(&format!("/other/{i}"), "o").await?;
            }
            2 => {
                w.put(&key, &format!("u{i}")).await?;
            }
            4 => {
                w.put(&key, "x").await?;
                w.delete(&key).await?;
            }
            _ => {
                w.put(&key, &format!("w{i}")).await?;
                w.put(&key, &format!("z{i}")).await?;
            }
        }
    }
    let end = w.model.rev;
    let mut open = Vec::new();
    for r in r0..=end {
        for prefix in ["/r/", ""] {
            let what = format!("watch {prefix:?} after {r}");
            let mut stream = store.watch(prefix, r).await.ctx(&what)?;
            let expected = w.model.events_after(r, prefix);
            let got = next_events(&mut stream, expected.len(), &what).await?;
            compare_events(&got, &expected, &what)?;
            open.push((what, stream));
        }
    }
    // Every watcher continues with the next write and nothing in between (no duplicates).
    w.put("/r/marker", "m").await?;
    let marker = w.model.events.last().cloned();
    for (what, stream) in &mut open {
        let ev = next_event(stream, &format!("{what}: live event after the replay")).await?;
        ensure_eq!(Some(ev), marker, "{what}: next event after the replay");
    }
    Ok(())
}

/// Many concurrent writers: a watcher sees every write exactly once, in strictly increasing
/// revision order with no gap (all writes are under its prefix), each event's `prev` being
/// the previous event of that key (`None` after a delete); revisions match those the writers
/// were given.
pub async fn watch_concurrent_writers<S: Store>(store: S) -> CaseResult {
    const WRITERS: usize = 16;
    const WRITES: usize = 40;
    let store = Arc::new(store);
    let r0 = current(&*store).await?;
    let mut early = store
        .watch("/cw/", r0)
        .await
        .ctx("watch before the writes")?;
    let mut tasks = Vec::new();
    for t in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // (key, revision, Some(value) for a put / None for a delete)
            let mut revs: Vec<(String, Revision, Option<String>)> = Vec::new();
            for i in 0..WRITES {
                // Each writer puts and deletes a key of its own and puts one shared by all.
                let own = format!("/cw/{t:02}");
                match i % 4 {
                    3 => {
                        let value = format!("{t}:{i}");
                        let rev = store
                            .put("/cw/shared", val(&value))
                            .await
                            .ctx("put /cw/shared")?;
                        revs.push(("/cw/shared".to_owned(), rev, Some(value)));
                    }
                    2 => {
                        let (rev, _) = store
                            .delete(&own, None)
                            .await
                            .ctx(format!("delete {own}"))?;
                        revs.push((own, rev, None));
                    }
                    _ => {
                        let value = format!("{t}:{i}");
                        let rev = store
                            .put(&own, val(&value))
                            .await
                            .ctx(format!("put {own}"))?;
                        revs.push((own, rev, Some(value)));
                    }
                }
            }
            Ok::<_, String>(revs)
        }));
    }
    // A second watcher joins while the writes happen, from the initial revision.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut late = store
        .watch("/cw/", r0)
        .await
        .ctx("watch during the writes")?;
    let mut written: HashMap<Revision, (String, Option<String>)> = HashMap::new();
    for t in tasks {
        for (key, rev, value) in t.await.map_err(|e| format!("writer failed: {e}"))?? {
            ensure!(
                written.insert(rev, (key, value)).is_none(),
                "revision {rev} returned to two writes"
            );
        }
    }
    let total = WRITERS * WRITES;
    let end = current(&*store).await?;
    ensure_eq!(end, r0 + total as Revision, "revision after {total} writes");
    for (name, stream) in [("early watcher", &mut early), ("late watcher", &mut late)] {
        let events = next_events(stream, total, name).await?;
        let mut last_of_key: HashMap<Arc<str>, KeyValue> = HashMap::new();
        for (i, ev) in events.iter().enumerate() {
            let rev = r0 + 1 + i as Revision;
            ensure_eq!(
                ev.revision(),
                rev,
                "{name}: revision of event #{i} (strictly increasing, no gap)"
            );
            let (key, value) = written
                .get(&rev)
                .ok_or_else(|| format!("{name}: event at unknown revision {rev}"))?;
            ensure_eq!(&*ev.kv.key, key.as_str(), "{name}: key of event #{i}");
            match value {
                Some(value) => {
                    ensure_eq!(ev.kind, EventKind::Put, "{name}: kind of event #{i}");
                    ensure_eq!(ev.kv.value, val(value), "{name}: value of event #{i}");
                    let prev = last_of_key.insert(ev.kv.key.clone(), ev.kv.clone());
                    let (create, version) = prev
                        .as_ref()
                        .map_or((rev, 1), |p| (p.create_revision, p.version + 1));
                    ensure_eq!(
                        (ev.kv.create_revision, ev.kv.version),
                        (create, version),
                        "{name}: create_revision and version of event #{i}"
                    );
                    ensure_eq!(ev.prev, prev, "{name}: prev of event #{i}");
                }
                None => {
                    ensure_eq!(ev.kind, EventKind::Delete, "{name}: kind of event #{i}");
                    ensure_eq!(
                        ev.kv,
                        tombstone(key, rev),
                        "{name}: kv of delete event #{i}"
                    );
                    let prev = last_of_key.remove(&ev.kv.key);
                    ensure!(prev.is_some(), "{name}: delete event #{i} of an absent key");
                    ensure_eq!(ev.prev, prev, "{name}: prev of delete event #{i}");
                }
            }
        }
        expect_quiet(stream, name).await?;
    }
    Ok(())
}

/// A watcher that does not read while many events are written gets them all, in order and
/// without a gap — or, if the backend gives up on it, a `WatchLagged`/`Compacted` error
/// after a gap-free prefix, from where a new watch resumes.
pub async fn watch_slow_consumer<S: Store>(store: S, events: usize) -> CaseResult {
    let store = Arc::new(store);
    let r0 = current(&*store).await?;
    let mut stream = store.watch("/slow/", r0).await.ctx("watch")?;
    futures::stream::iter(0..events)
        .map(|i| {
            let store = store.clone();
            async move {
                store
                    .put(&format!("/slow/{:03}", i % 100), val(&format!("{i}")))
                    .await
                    .ctx("put")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let end = current(&*store).await?;
    ensure_eq!(end, r0 + events as Revision, "revision after the writes");
    let mut next = r0 + 1;
    let mut restarts = 0;
    while next <= end {
        match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Err(_) => return Err(format!("no event {next} within {EVENT_TIMEOUT:?}")),
            Ok(None) => return Err(format!("stream ended without an error before event {next}")),
            Ok(Some(Ok(ev))) => {
                ensure_eq!(
                    ev.revision(),
                    next,
                    "revision of the next event (no gap, no duplicate)"
                );
                next += 1;
            }
            Ok(Some(Err(Error::WatchLagged { last_revision }))) => {
                ensure_eq!(last_revision, next - 1, "WatchLagged's last revision");
                restarts += 1;
                ensure!(restarts < 100, "more than 100 WatchLagged restarts");
                stream = store
                    .watch("/slow/", next - 1)
                    .await
                    .ctx("re-watch after WatchLagged")?;
            }
            Ok(Some(Err(e))) => return Err(format!("watch failed at event {next}: {e} ({e:?})")),
        }
    }
    expect_quiet(&mut stream, "after all events").await
}

// ---------------------------------------------------------------------------------------------
// Cases: concurrency
// ---------------------------------------------------------------------------------------------

/// Concurrent creates of one key: exactly one wins, the others get `AlreadyExists`.
pub async fn concurrent_creates<S: Store>(store: S) -> CaseResult {
    const TASKS: usize = 16;
    let store = Arc::new(store);
    for round in 0..10 {
        let before = current(&*store).await?;
        let key = format!("/cc/{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    (t, store.create(&key, val(&t.to_string())).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (t, res) = task.await.map_err(|e| format!("task failed: {e}"))?;
            match res {
                Ok(rev) => winners.push((t, rev)),
                Err(Error::AlreadyExists { key: k }) => ensure_eq!(k, key, "AlreadyExists key"),
                Err(e) => return Err(format!("create {key} by task {t}: unexpected error {e:?}")),
            }
        }
        ensure_eq!(
            winners.len(),
            1,
            "round {round}: number of successful concurrent creates"
        );
        let (winner, rev) = winners[0];
        ensure_eq!(
            rev,
            before + 1,
            "round {round}: revision of the winning create"
        );
        let got = store.get(&key).await.ctx("get")?;
        ensure_eq!(
            got,
            Some(kv(&key, winner.to_string().as_bytes(), rev, rev, 1)),
            "round {round}: the winner's value"
        );
        expect_revision(&*store, before + 1, "after a round of concurrent creates").await?;
    }
    Ok(())
}

/// Concurrent conditional updates and deletes with the same `expected`: exactly one wins;
/// the losers get `Conflict` carrying the winner's value (or `NotFound` after a delete).
pub async fn concurrent_conditional_writes<S: Store>(store: S) -> CaseResult {
    const TASKS: usize = 16;
    let store = Arc::new(store);
    for round in 0..10 {
        let key = format!("/cu/{round}");
        let base = store.create(&key, val("base")).await.ctx("create")?;
        let delete = round % 2 == 1;
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let res = if delete {
                        store.delete(&key, Some(base)).await.map(|(r, _)| r)
                    } else {
                        store.update(&key, val(&t.to_string()), Some(base)).await
                    };
                    (t, res)
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.map_err(|e| format!("task failed: {e}"))?);
        }
        let winners: Vec<(usize, Revision)> = results
            .iter()
            .filter_map(|(t, r)| r.as_ref().ok().map(|rev| (*t, *rev)))
            .collect();
        ensure_eq!(
            winners.len(),
            1,
            "round {round} ({}): number of winners",
            if delete { "delete" } else { "update" }
        );
        let (winner, rev) = winners[0];
        ensure_eq!(rev, base + 1, "revision of the winner");
        let now = store.get(&key).await.ctx("get")?;
        let expected_now = if delete {
            None
        } else {
            Some(kv(&key, winner.to_string().as_bytes(), base, rev, 2))
        };
        ensure_eq!(now, expected_now, "round {round}: value after the race");
        for (t, res) in results {
            match res {
                Ok(_) => {}
                Err(Error::Conflict {
                    key: k,
                    expected,
                    current,
                }) if !delete => {
                    ensure_eq!(
                        (k.as_str(), expected),
                        (key.as_str(), base),
                        "Conflict fields"
                    );
                    ensure_eq!(
                        current.map(|b| *b),
                        expected_now,
                        "Conflict current of a loser"
                    );
                }
                Err(Error::NotFound { key: k }) if delete => ensure_eq!(k, key, "NotFound key"),
                Err(Error::Conflict { current: None, .. }) if delete => {}
                Err(e) => return Err(format!("round {round}, task {t}: unexpected {e:?}")),
            }
        }
        expect_revision(&*store, base + 1, "after a race").await?;
    }
    Ok(())
}

/// Compare-and-swap races: `tasks` tasks each increment a counter `increments` times with
/// get + `update(expected)` retry loops (half of them retry from the `Conflict`'s current
/// value, half re-read). No update is lost, no failed CAS moves the revision, and a watch
/// sees the counter go up by one per event.
pub async fn cas_race<S: Store>(store: S, tasks: usize, increments: usize) -> CaseResult {
    let store = Arc::new(store);
    let r0 = store
        .create("/counter", val("0"))
        .await
        .ctx("create counter")?;
    let mut watch = store.watch("/counter", r0).await.ctx("watch")?;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut revs = Vec::new();
                let mut conflicts = 0usize;
                let mut cur = store
                    .get("/counter")
                    .await
                    .ctx("get")?
                    .ok_or("counter missing")?;
                while revs.len() < increments {
                    let n: u64 = std::str::from_utf8(&cur.value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| format!("counter value {:?} is not a number", cur.value))?;
                    match store
                        .update(
                            "/counter",
                            val(&(n + 1).to_string()),
                            Some(cur.mod_revision),
                        )
                        .await
                    {
                        Ok(rev) => {
                            revs.push(rev);
                            cur = store
                                .get("/counter")
                                .await
                                .ctx("get")?
                                .ok_or("counter missing")?;
                        }
                        Err(Error::Conflict {
                            current, expected, ..
                        }) => {
                            ensure_eq!(expected, cur.mod_revision, "Conflict expected");
                            conflicts += 1;
                            let current = current
                                .ok_or("Conflict without current value of an existing key")?;
                            ensure!(
                                current.mod_revision > cur.mod_revision,
                                "Conflict current mod_revision {} not newer than the stale {}",
                                current.mod_revision,
                                cur.mod_revision
                            );
                            cur = if t % 2 == 0 {
                                *current
                            } else {
                                store
                                    .get("/counter")
                                    .await
                                    .ctx("get")?
                                    .ok_or("counter missing")?
                            };
                        }
                        Err(e) => return Err(format!("task {t}: update failed: {e:?}")),
                    }
                }
                Ok::<_, String>((revs, conflicts))
            })
        })
        .collect();
    let mut all_revs = HashSet::new();
    let mut conflicts = 0;
    for h in handles {
        let (revs, c) = h.await.map_err(|e| format!("task failed: {e}"))??;
        conflicts += c;
        for r in revs {
            ensure!(
                all_revs.insert(r),
                "revision {r} returned to two successful updates"
            );
        }
    }
    let total = tasks * increments;
    let got = store
        .get("/counter")
        .await
        .ctx("get")?
        .ok_or("counter missing")?;
    ensure_eq!(
        got.value,
        val(&total.to_string()),
        "final counter ({conflicts} conflicts): lost updates"
    );
    ensure_eq!(got.version, 1 + total as i64, "final version");
    ensure_eq!(got.create_revision, r0, "create_revision");
    expect_revision(
        &*store,
        r0 + total as Revision,
        "after the race (failed CAS must not write)",
    )
    .await?;
    let events = next_events(&mut watch, total, "watch of the counter").await?;
    for (i, ev) in events.iter().enumerate() {
        ensure_eq!(
            ev.kv.value,
            val(&(i + 1).to_string()),
            "counter value in event #{i}"
        );
        ensure_eq!(
            ev.prev.as_ref().map(|p| p.value.clone()),
            Some(val(&i.to_string())),
            "prev of event #{i}"
        );
        ensure_eq!(
            ev.revision(),
            r0 + 1 + i as Revision,
            "revision of event #{i}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cases: compaction
// ---------------------------------------------------------------------------------------------

/// After `compact(r)`: reads and watches below `r` fail with `Compacted`; at and above `r`
/// they work (a watch from exactly `r` included); the latest value of every key is kept;
/// `compacted_revision` reports `r`; compacting the future fails with `FutureRevision`,
/// compacting to `r` again is a no-op and below `r` fails with `Compacted`.
pub async fn compaction<S: Store>(store: S) -> CaseResult {
    let mut w = Writer::new(&store).await?;
    let c0 = store.compacted_revision().await.ctx("compacted_revision")?;
    ensure!(
        c0 <= w.model.rev,
        "compacted revision {c0} above the current {}",
        w.model.rev
    );
    w.create("/c/old", "written once, before the compaction")
        .await?;
    w.create("/c/a", "1").await?;
    w.update("/c/a", "2").await?;
    w.create("/c/b", "1").await?;
    w.update("/c/a", "3").await?;
    let mid = w.model.rev;
    w.delete("/c/b").await?;
    w.update("/c/a", "4").await?;
    w.create("/c/d", "1").await?;
    let end = w.model.rev;
    store.compact(mid).await.ctx(format!("compact({mid})"))?;
    ensure_eq!(
        store.compacted_revision().await.ctx("compacted_revision")?,
        mid,
        "compacted_revision after compact"
    );
    expect_revision(&store, end, "after compact (compaction is not a write)").await?;
    for r in [mid - 1, mid - 2, 0] {
        let (req, c) = expect_err!(
            store.get_at("/c/a", r).await,
            Error::Compacted { requested, compacted } => (requested, compacted),
            "get_at below the compaction ({r} < {mid})"
        );
        ensure_eq!((req, c), (r, mid), "Compacted fields of get_at");
        let opts = ListOptions {
            revision: Some(r),
            ..ListOptions::default()
        };
        expect_err!(store.list("/c/", opts).await, Error::Compacted { .. } => (), "list at {r} < {mid}");
        let watch = store.watch("/c/", r).await;
        match watch {
            Err(Error::Compacted { .. }) => {}
            Err(e) => {
                return Err(format!(
                    "watch after {r} < {mid}: expected Compacted, got {e:?}"
                ))
            }
            Ok(mut stream) => match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
                Ok(Some(Err(Error::Compacted { .. }))) => {}
                other => {
                    return Err(format!(
                        "watch after {r} < {mid}: expected Compacted, got {other:?}"
                    ))
                }
            },
        }
    }
    for r in mid..=end {
        for key in ["/c/old", "/c/a", "/c/b", "/c/d"] {
            let got = store
                .get_at(key, r)
                .await
                .ctx(format!("get_at {key} {r}"))?;
            ensure_eq!(
                got.as_ref(),
                w.model.at(r).get(key),
                "get_at({key}, {r}) after compaction"
            );
        }
        let list = store
            .list(
                "/c/",
                ListOptions {
                    revision: Some(r),
                    ..ListOptions::default()
                },
            )
            .await
            .ctx(format!("list at {r}"))?;
        ensure_eq!(
            list.kvs,
            w.model.list(r, "/c/"),
            "list at {r} after compaction"
        );
        let what = format!("watch after {r} (compacted at {mid})");
        let mut stream = store.watch("/c/", r).await.ctx(&what)?;
        let expected = w.model.events_after(r, "/c/");
        let got = next_events(&mut stream, expected.len(), &what).await?;
        compare_events(&got, &expected, &what)?;
    }
    w.check_latest().await?;
    // Compact everything: the latest values stay, a watch from the current revision works.
    store.compact(end).await.ctx(format!("compact({end})"))?;
    ensure_eq!(
        store.compacted_revision().await.ctx("compacted_revision")?,
        end,
        "compacted_revision"
    );
    w.check_latest().await?;
    // Again to the same revision: a no-op; lower: Compacted; in the future: FutureRevision.
    store
        .compact(end)
        .await
        .ctx(format!("compact({end}) a second time"))?;
    expect_err!(
        store.compact(mid).await,
        Error::Compacted { requested, compacted } => ensure_eq!((requested, compacted), (mid, end), "Compacted fields"),
        "compact({mid}) below the compaction revision {end}"
    );
    let ahead = store.current_revision().await.ctx("current_revision")? + 10;
    expect_err!(
        store.compact(ahead).await,
        Error::FutureRevision { requested, .. } => ensure_eq!(requested, ahead, "FutureRevision.requested"),
        "compact({ahead}) above the current revision"
    );
    let list = store
        .list("/c/", ListOptions::default())
        .await
        .ctx("list")?;
    ensure_eq!(
        list.kvs,
        w.model.list(end, "/c/"),
        "list after compacting everything"
    );
    let mut live = store
        .watch("/c/", end)
        .await
        .ctx("watch from the compaction revision")?;
    w.put("/c/e", "after").await?;
    let ev = next_event(&mut live, "event after compacting everything").await?;
    ensure_eq!(
        Some(&ev),
        w.model.events.last(),
        "live event after compaction"
    );
    let now = w.model.rev;
    expect_err!(store.compact(now + 1).await, Error::FutureRevision { .. } => (), "compact({}) above the current revision", now + 1);
    ensure_eq!(
        store.compacted_revision().await.ctx("compacted_revision")?,
        end,
        "compacted_revision after a failed compact"
    );
    // Not spelled out by the contract, but what both backends do: compacting to the
    // compaction revision again is a no-op, below it fails with `Compacted`.
    store
        .compact(end)
        .await
        .ctx("compact to the compaction revision again")?;
    let (req, c) = expect_err!(
        store.compact(mid).await,
        Error::Compacted { requested, compacted } => (requested, compacted),
        "compact({mid}) below the compaction revision {end}"
    );
    ensure_eq!((req, c), (mid, end), "Compacted fields of compact");
    ensure_eq!(
        store.compacted_revision().await.ctx("compacted_revision")?,
        end,
        "compacted_revision after compacting below it"
    );
    Ok(())
}

/// Compaction while watchers lag behind: each watcher delivers a gap-free run of events, and
/// then either the rest or a `Compacted`/`WatchLagged` error — never a silent skip.
pub async fn compaction_with_open_watchers<S: Store>(store: S) -> CaseResult {
    let store = Arc::new(store);
    let r0 = current(&*store).await?;
    let mut streams = Vec::new();
    for _ in 0..4 {
        streams.push(store.watch("/cw2/", r0).await.ctx("watch")?);
    }
    // One watcher reads a little before the compaction.
    for i in 0..200 {
        store
            .put(&format!("/cw2/{}", i % 10), val(&i.to_string()))
            .await
            .ctx("put")?;
    }
    let first = next_events(&mut streams[0], 10, "watcher 0 before compaction").await?;
    ensure_eq!(
        first.last().map(Event::revision),
        Some(r0 + 10),
        "watcher 0's tenth event"
    );
    let end = current(&*store).await?;
    store.compact(end).await.ctx("compact")?;
    for (i, stream) in streams.iter_mut().enumerate() {
        let mut next = if i == 0 { r0 + 11 } else { r0 + 1 };
        loop {
            if next > end {
                expect_quiet(stream, &format!("watcher {i} after all events")).await?;
                break;
            }
            match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
                Ok(Some(Ok(ev))) => {
                    ensure_eq!(ev.revision(), next, "watcher {i}: next revision (no gap)");
                    if ev.kv.version > 1 {
                        ensure!(
                            ev.prev.is_some(),
                            "watcher {i}: update without prev at {next}"
                        );
                    }
                    next += 1;
                }
                Ok(Some(Err(Error::Compacted { .. } | Error::WatchLagged { .. }))) => break,
                other => return Err(format!("watcher {i} at {next}: unexpected {other:?}")),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cases: scale
// ---------------------------------------------------------------------------------------------

/// Writes `n` keys with `in_flight` writes at once, then lists them back page by page
/// (and in one page) and counts them.
pub async fn many_keys<S: Store>(store: S, n: usize, in_flight: usize) -> CaseResult {
    let store = Arc::new(store);
    let r0 = current(&*store).await?;
    let key = |i: usize| format!("/registry/pods/ns-{:02}/pod-{i:07}", i % 17);
    let started = Instant::now();
    let mut revs: Vec<Revision> = futures::stream::iter(0..n)
        .map(|i| {
            let store = store.clone();
            let k = key(i);
            async move {
                store
                    .create(&k, val(&format!("{i}")))
                    .await
                    .ctx(format!("create {k}"))
            }
        })
        .buffer_unordered(in_flight.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    revs.sort_unstable();
    let expected_revs: Vec<Revision> = (r0 + 1..=r0 + n as Revision).collect();
    ensure!(
        revs == expected_revs,
        "the {n} creates did not get revisions {}..={} exactly once each",
        r0 + 1,
        r0 + n as Revision
    );
    expect_revision(&*store, r0 + n as Revision, &format!("after {n} creates")).await?;
    let written = started.elapsed();
    let first = store
        .list(
            "/registry/pods/",
            ListOptions {
                limit: Some(1),
                ..ListOptions::default()
            },
        )
        .await
        .ctx("list limit 1")?;
    ensure_eq!(
        (first.count, first.more, first.kvs.len()),
        (n, n > 1, n.min(1)),
        "count, more of a list with limit 1"
    );
    let all = list_all(&*store, "/registry/pods/", None, 5000).await?;
    ensure_eq!(all.len(), n, "keys listed page by page");
    let mut expected: Vec<String> = (0..n).map(key).collect();
    expected.sort_unstable();
    for (i, (got, want)) in all.iter().zip(&expected).enumerate() {
        ensure_eq!(&*got.key, want.as_str(), "key #{i} of the paginated list");
    }
    let one = store
        .list("/registry/pods/ns-03/", ListOptions::default())
        .await
        .ctx("list one namespace")?;
    ensure_eq!(
        one.kvs.len(),
        expected
            .iter()
            .filter(|k| k.starts_with("/registry/pods/ns-03/"))
            .count(),
        "keys of one namespace"
    );
    let whole = store
        .list("", ListOptions::default())
        .await
        .ctx("unpaginated list")?;
    ensure_eq!(
        (whole.kvs.len(), whole.count, whole.more),
        (n, n, false),
        "unpaginated list"
    );
    println!(
        "kube_store::testing: many_keys: {n} creates in {written:.2?} ({:.0}/s), lists in {:.2?}",
        n as f64 / written.as_secs_f64(),
        started.elapsed() - written
    );
    Ok(())
}
