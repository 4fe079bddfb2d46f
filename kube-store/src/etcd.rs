//! The [`Store`] trait over a real etcd v3 cluster (feature `etcd`).
//!
//! [`EtcdStore`] keeps every key under a key prefix of its own (a namespace), so several
//! stores — several clusters, or the conformance suite's fresh stores — can share one etcd.
//! The prefix is prepended on the way in and stripped on the way out. It is a plain byte
//! prefix, as etcd's are: two stores on one etcd are isolated only if neither prefix is a
//! prefix of the other (`/cluster-a` would see the keys of `/cluster-ab`), so end prefixes
//! with a separator, e.g. `/kubox/`.
//!
//! # Mapping onto etcd
//!
//! | `Store` | etcd v3 |
//! |---|---|
//! | [`Store::create`] | `Txn(version(k) == 0 ? put : -)` |
//! | [`Store::update`], [`Store::delete`] | `Txn(version(k) > 0 [&& mod_revision(k) == r] ? put/delete : range(k))`; the `else` range gives the `Conflict`'s current value, or `NotFound` |
//! | [`Store::get_at`], [`Store::list`] | `Range` with `revision`, `limit`, `range_end` = prefix end; `start_after` moves the range start to `key + "\0"` |
//! | [`Store::watch`] | `Watch` with `start_revision = after + 1`, `prev_kv`, over the prefix range; `canceled` with `compact_revision` ends the stream with [`Error::Compacted`] |
//! | [`Store::compact`] | `Compact(revision, physical = false)`, as kube-apiserver does: the compaction is logically complete when the call returns (reads below fail at once); the disk space is reclaimed in the background. Like the embedded store, compacting to the compaction revision again is a no-op and below it fails with `Compacted` |
//! | [`Store::current_revision`] | the header revision of a linearizable `count_only` range |
//!
//! Revisions are etcd's global revisions: with one etcd shared by several prefixes, a store's
//! revision also moves when another prefix is written, so "+1 per write" holds only while
//! nobody else writes to the etcd. A watch on a prefix sees the revisions of its own keys only.
//!
//! # The compaction revision
//!
//! etcd 3.4 has no API that reports its compaction revision. [`EtcdStore::compacted_revision`]
//! therefore finds it from the server: a read at revision `r` fails with "required revision
//! has been compacted" exactly when `r` is below the compaction revision, so the smallest
//! readable revision is found by a binary search over `[last known, current]` (one request in
//! the common case that nothing changed). The last known value — the largest revision this
//! handle compacted to or found — is kept, since compaction never goes backwards. A compaction
//! to revision 1 by another client cannot be told apart from none and is reported as 0.
//!
//! Watches check the contract's `after >= compaction revision` rule before they start (etcd
//! itself would also accept `after + 1 == compaction revision`).
//!
//! # Limits
//!
//! Keys and values are checked against [`crate::MAX_KEY_BYTES`] and [`crate::MAX_VALUE_BYTES`]
//! before anything is sent. etcd's own request limit (`--max-request-bytes`, default 1.5 MiB)
//! counts the whole request, so a value of exactly `MAX_VALUE_BYTES` needs an etcd started with
//! a slightly larger limit (the test server uses `MAX_VALUE_BYTES + 64 KiB`); otherwise such a
//! write fails with [`Error::Backend`] ("request is too large").

pub mod testing;

use crate::store::check_limits;
use crate::{Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, Store};
use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType,
    GetOptions, KvClient, Txn, TxnOp, TxnOpResponse, WatchClient, WatchOptions,
    WatchResponseStream,
};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Largest gRPC message the client accepts: lists of many large values are big.
const MAX_MESSAGE_BYTES: usize = i32::MAX as usize;

/// A [`Store`] backed by an etcd v3 cluster, with all keys under one prefix.
///
/// Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    kv: KvClient,
    watch: WatchClient,
    prefix: Vec<u8>,
    /// The largest compaction revision this handle knows of.
    compacted: AtomicI64,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("prefix", &String::from_utf8_lossy(&self.inner.prefix))
            .finish_non_exhaustive()
    }
}

/// Maps an etcd client error to the store's error (without revision context).
fn backend(e: etcd_client::Error) -> Error {
    Error::Backend(e.to_string())
}

/// Which revision-related failure an etcd error message describes.
enum RevisionFailure {
    Compacted,
    Future,
    Other,
}

fn classify(e: &etcd_client::Error) -> RevisionFailure {
    let msg = e.to_string();
    if msg.contains("required revision has been compacted") {
        RevisionFailure::Compacted
    } else if msg.contains("required revision is a future revision") {
        RevisionFailure::Future
    } else {
        RevisionFailure::Other
    }
}

/// The first key after every key starting with `prefix` (etcd's `range_end` of a prefix);
/// `[0]` ("to the end of the key space") when there is none.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (e.g. `["http://127.0.0.1:2379"]`) and
    /// keeps every key under `prefix` (e.g. `"/kubox"`; may be empty). Fails with
    /// [`Error::Backend`] if no endpoint answers.
    pub async fn connect<E: AsRef<str>>(
        endpoints: &[E],
        prefix: impl Into<String>,
    ) -> Result<Self> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(10))
            .with_keep_alive_while_idle(true);
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(backend)?;
        let kv = client
            .kv_client()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let watch = client
            .watch_client()
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let store = EtcdStore {
            inner: Arc::new(Inner {
                client,
                kv,
                watch,
                prefix: prefix.into().into_bytes(),
                compacted: AtomicI64::new(0),
            }),
        };
        // Fail now, not at the first request, when etcd is unreachable.
        store.current_revision().await?;
        Ok(store)
    }

    /// The key prefix of this store.
    pub fn prefix(&self) -> &str {
        // Built from a `String`.
        std::str::from_utf8(&self.inner.prefix).unwrap_or_default()
    }

    /// The underlying etcd client (for maintenance beyond the [`Store`] trait).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Writes an etcd snapshot of the whole etcd database (all prefixes) to `path`, through
    /// etcd's maintenance `Snapshot` API: the file is what `etcdctl snapshot save` writes and
    /// `etcdctl snapshot restore` reads. Written to `path` + `.tmp`, synced, then renamed.
    /// Returns the number of bytes written.
    pub async fn snapshot_to_file(&self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let mut stream = self
            .inner
            .client
            .maintenance_client()
            .snapshot()
            .await
            .map_err(backend)?;
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| Error::io(&tmp, e))?;
        let mut written = 0u64;
        while let Some(chunk) = stream.message().await.map_err(backend)? {
            file.write_all(chunk.blob())
                .await
                .map_err(|e| Error::io(&tmp, e))?;
            written += chunk.blob().len() as u64;
        }
        if written == 0 {
            return Err(Error::Backend("etcd sent an empty snapshot".into()));
        }
        file.sync_all().await.map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| Error::io(path, e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let dir_file = tokio::fs::File::open(dir)
                .await
                .map_err(|e| Error::io(dir, e))?;
            dir_file.sync_all().await.map_err(|e| Error::io(dir, e))?;
        }
        Ok(written)
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.inner.prefix.len() + key.len());
        k.extend_from_slice(&self.inner.prefix);
        k.extend_from_slice(key.as_bytes());
        k
    }

    /// The etcd range `[start, end)` of every key starting with `prefix`.
    fn prefix_range(&self, prefix: &str) -> (Vec<u8>, Vec<u8>) {
        let start = self.full_key(prefix);
        if start.is_empty() {
            (vec![0], vec![0])
        } else {
            let end = prefix_end(&start);
            (start, end)
        }
    }

    /// A key for requests that only want a header or a revision check (etcd rejects an
    /// empty key).
    fn probe_key(&self) -> Vec<u8> {
        if self.inner.prefix.is_empty() {
            vec![0]
        } else {
            self.inner.prefix.clone()
        }
    }

    fn kv_client(&self) -> KvClient {
        self.inner.kv.clone()
    }

    fn convert(&self, kv: etcd_client::KeyValue) -> Result<KeyValue> {
        let (create_revision, mod_revision, version) =
            (kv.create_revision(), kv.mod_revision(), kv.version());
        let (key, value) = kv.into_key_value();
        let key = key
            .strip_prefix(self.inner.prefix.as_slice())
            .ok_or_else(|| Error::Backend("etcd returned a key outside the prefix".into()))?;
        let key = std::str::from_utf8(key)
            .map_err(|_| Error::Backend(format!("etcd key {key:?} is not UTF-8")))?;
        Ok(KeyValue {
            key: Arc::from(key),
            value: Bytes::from(value),
            create_revision,
            mod_revision,
            version,
        })
    }

    /// Turns an etcd error of a read at `requested` into the store's error.
    async fn read_error(&self, e: etcd_client::Error, requested: Revision) -> Error {
        match classify(&e) {
            RevisionFailure::Compacted => {
                let compacted = self.compacted_revision().await.unwrap_or(requested + 1);
                Error::Compacted {
                    requested,
                    compacted,
                }
            }
            RevisionFailure::Future => {
                let current = self.current_revision().await.unwrap_or(requested - 1);
                Error::FutureRevision { requested, current }
            }
            RevisionFailure::Other => backend(e),
        }
    }

    /// Whether a read at revision `r >= 1` succeeds: `Ok(true)`; below the compaction
    /// revision `Ok(false)`.
    async fn readable_at(&self, r: Revision) -> Result<bool> {
        // Serializable: answered by the member itself, without a round of consensus. A
        // member that lags can only under-report the compaction; reads and watches below
        // it still fail on etcd's own check.
        let opts = GetOptions::new()
            .with_revision(r)
            .with_count_only()
            .with_serializable();
        match self.kv_client().get(self.probe_key(), Some(opts)).await {
            Ok(_) => Ok(true),
            Err(e) => match classify(&e) {
                RevisionFailure::Compacted => Ok(false),
                RevisionFailure::Future => {
                    let current = self.current_revision().await?;
                    Err(Error::FutureRevision {
                        requested: r,
                        current,
                    })
                }
                RevisionFailure::Other => Err(backend(e)),
            },
        }
    }

    /// A read at revision `r <= 0`: the store was empty then, unless compacted.
    async fn before_first_revision(&self, r: Revision) -> Result<()> {
        let compacted = self.compacted_revision().await?;
        if compacted > r {
            return Err(Error::Compacted {
                requested: r,
                compacted,
            });
        }
        Ok(())
    }

    fn txn_get_response(resp: &etcd_client::TxnResponse) -> Option<etcd_client::GetResponse> {
        resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(g) => Some(g),
            _ => None,
        })
    }

    /// The failure of a conditional write whose `else` branch read the key.
    fn conditional_failure(
        &self,
        key: &str,
        expected: Option<Revision>,
        resp: &etcd_client::TxnResponse,
    ) -> Result<Error> {
        let current =
            Self::txn_get_response(resp).and_then(|mut g| g.take_kvs().into_iter().next());
        match (current, expected) {
            (None, _) | (Some(_), None) => Ok(Error::NotFound {
                key: key.to_owned(),
            }),
            (Some(kv), Some(expected)) => Ok(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Some(Box::new(self.convert(kv)?)),
            }),
        }
    }

    fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
        header
            .map(|h| h.revision())
            .ok_or_else(|| Error::Backend("etcd response without header".into()))
    }

    /// Conditions of an update/delete: the key exists, and has `mod_revision == expected`.
    fn write_conditions(k: &[u8], expected: Option<Revision>) -> Vec<Compare> {
        let mut cmp = vec![Compare::version(k.to_vec(), CompareOp::Greater, 0)];
        if let Some(r) = expected {
            cmp.push(Compare::mod_revision(k.to_vec(), CompareOp::Equal, r));
        }
        cmp
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision> {
        let opts = GetOptions::new().with_count_only();
        let resp = self
            .kv_client()
            .get(self.probe_key(), Some(opts))
            .await
            .map_err(backend)?;
        Self::header_revision(resp.header())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        let known = self.inner.compacted.load(Ordering::Acquire);
        let lo = known.max(1);
        if self.readable_at(lo).await? {
            return Ok(known);
        }
        // The compaction revision is in (lo, current]: find the smallest readable revision.
        let (mut bad, mut good) = (lo, self.current_revision().await?);
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            if self.readable_at(mid).await? {
                good = mid;
            } else {
                bad = mid;
            }
        }
        self.inner.compacted.fetch_max(good, Ordering::AcqRel);
        Ok(good)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        check_limits(key, None)?;
        let mut resp = self
            .kv_client()
            .get(self.full_key(key), None)
            .await
            .map_err(backend)?;
        resp.take_kvs()
            .into_iter()
            .next()
            .map(|kv| self.convert(kv))
            .transpose()
    }

    async fn get_at(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>> {
        check_limits(key, None)?;
        if revision <= 0 {
            self.before_first_revision(revision).await?;
            return Ok(None);
        }
        let opts = GetOptions::new().with_revision(revision);
        match self.kv_client().get(self.full_key(key), Some(opts)).await {
            Ok(mut resp) => resp
                .take_kvs()
                .into_iter()
                .next()
                .map(|kv| self.convert(kv))
                .transpose(),
            Err(e) => Err(self.read_error(e, revision).await),
        }
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        if let Some(r) = opts.revision.filter(|r| *r <= 0) {
            self.before_first_revision(r).await?;
            return Ok(ListResult {
                revision: r.max(0),
                ..ListResult::default()
            });
        }
        let (mut start, end) = self.prefix_range(prefix);
        if let Some(after) = &opts.start_after {
            let mut first = self.full_key(after);
            first.push(0);
            if first > start {
                start = first;
            }
        }
        let mut get = GetOptions::new().with_range(end);
        if let Some(r) = opts.revision {
            get = get.with_revision(r);
        }
        if let Some(limit) = opts.limit.filter(|l| *l > 0) {
            get = get.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let mut resp = match self.kv_client().get(start, Some(get)).await {
            Ok(resp) => resp,
            Err(e) => return Err(self.read_error(e, opts.revision.unwrap_or(0)).await),
        };
        let revision = match opts.revision {
            Some(r) => r,
            None => Self::header_revision(resp.header())?,
        };
        let more = resp.more();
        let count = usize::try_from(resp.count()).unwrap_or(0);
        let kvs = resp
            .take_kvs()
            .into_iter()
            .map(|kv| self.convert(kv))
            .collect::<Result<Vec<_>>>()?;
        Ok(ListResult {
            kvs,
            more,
            count,
            revision,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        check_limits(key, Some(&value))?;
        let k = self.full_key(key);
        let txn = Txn::new()
            .when([Compare::version(k.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(k, Vec::from(value), None)]);
        let resp = self.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        Self::header_revision(resp.header())
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Option<Revision>,
    ) -> Result<Revision> {
        check_limits(key, Some(&value))?;
        let k = self.full_key(key);
        let txn = Txn::new()
            .when(Self::write_conditions(&k, expected))
            .and_then([TxnOp::put(k.clone(), Vec::from(value), None)])
            .or_else([TxnOp::get(k, None)]);
        let resp = self.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(self.conditional_failure(key, expected, &resp)?);
        }
        Self::header_revision(resp.header())
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<Revision> {
        check_limits(key, Some(&value))?;
        let resp = self
            .kv_client()
            .put(self.full_key(key), Vec::from(value), None)
            .await
            .map_err(backend)?;
        Self::header_revision(resp.header())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        check_limits(key, None)?;
        let k = self.full_key(key);
        let txn = Txn::new()
            .when(Self::write_conditions(&k, expected))
            .and_then([TxnOp::delete(
                k.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(k, None)]);
        let resp = self.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(self.conditional_failure(key, expected, &resp)?);
        }
        let revision = Self::header_revision(resp.header())?;
        let prev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(mut d) => d.take_prev_kvs().into_iter().next(),
                _ => None,
            })
            .ok_or_else(|| Error::Backend("etcd delete returned no previous value".into()))?;
        Ok((revision, self.convert(prev)?))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<crate::WatchStream> {
        let after = after.max(0);
        // The contract: a watch from below the compaction revision fails.
        let known = self.inner.compacted.load(Ordering::Acquire);
        if after < known {
            return Err(Error::Compacted {
                requested: after,
                compacted: known,
            });
        }
        if after == 0 {
            self.before_first_revision(0).await?;
        } else {
            match self.readable_at(after).await {
                Ok(true) | Err(Error::FutureRevision { .. }) => {}
                Ok(false) => {
                    let compacted = self.compacted_revision().await?;
                    return Err(Error::Compacted {
                        requested: after,
                        compacted,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let (start, end) = self.prefix_range(prefix);
        let opts = WatchOptions::new()
            .with_range(end)
            .with_start_revision(after + 1)
            .with_prev_key();
        let mut ws = self
            .inner
            .watch
            .clone()
            .watch(start, Some(opts))
            .await
            .map_err(backend)?;
        // Wait until etcd has registered the watch, so that setup errors surface here.
        let mut pending = VecDeque::new();
        let mut failed = None;
        loop {
            match ws.message().await.map_err(backend)? {
                None => return Err(Error::Backend("etcd closed the watch stream".into())),
                Some(resp) => {
                    if resp.canceled() {
                        if resp.compact_revision() > 0 {
                            return Err(Error::Compacted {
                                requested: after,
                                compacted: resp.compact_revision(),
                            });
                        }
                        return Err(Error::Backend(format!(
                            "etcd cancelled the watch: {}",
                            resp.cancel_reason()
                        )));
                    }
                    let created = resp.created();
                    if let Err(e) = self.push_events(&resp, &mut pending, after) {
                        failed = Some(e);
                    }
                    if created {
                        break;
                    }
                }
            }
        }
        let (sender, responses) = ws.split();
        let last = pending.back().map_or(after, |e: &Event| e.revision());
        let state = WatchState {
            store: self.clone(),
            _sender: sender,
            responses,
            pending,
            failed,
            last,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, WatchState::next)))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        // As the embedded store: compacting to the compaction revision again is a no-op,
        // below it `Compacted` (etcd itself refuses both).
        let known = self.inner.compacted.load(Ordering::Acquire);
        if revision < known {
            return Err(Error::Compacted {
                requested: revision,
                compacted: known,
            });
        }
        if revision == known {
            return Ok(());
        }
        let opts = CompactionOptions::new();
        match self.kv_client().compact(revision, Some(opts)).await {
            Ok(_) => {}
            Err(e) if matches!(classify(&e), RevisionFailure::Compacted) => {
                // Another client compacted to `revision` or further.
                let compacted = self.compacted_revision().await?;
                if revision < compacted {
                    return Err(Error::Compacted {
                        requested: revision,
                        compacted,
                    });
                }
            }
            Err(e) if matches!(classify(&e), RevisionFailure::Future) => {
                let current = self.current_revision().await?;
                return Err(Error::FutureRevision {
                    requested: revision,
                    current,
                });
            }
            Err(e) => return Err(backend(e)),
        }
        self.inner.compacted.fetch_max(revision, Ordering::AcqRel);
        Ok(())
    }
}

impl EtcdStore {
    /// Converts the events of one watch response and appends them to `out`.
    fn push_events(
        &self,
        resp: &etcd_client::WatchResponse,
        out: &mut VecDeque<Event>,
        after: Revision,
    ) -> Result<()> {
        for ev in resp.events() {
            let kv = ev
                .kv()
                .ok_or_else(|| Error::Backend("etcd watch event without kv".into()))?;
            let kv = self.convert(kv.clone())?;
            let prev = ev.prev_kv().map(|p| self.convert(p.clone())).transpose()?;
            let kind = match ev.event_type() {
                EventType::Put => EventKind::Put,
                EventType::Delete => EventKind::Delete,
            };
            let is_create = kind == EventKind::Put && kv.version == 1;
            if prev.is_none() && !is_create {
                // etcd could not read the previous value: it was compacted meanwhile.
                let last = out.back().map_or(after, |e| e.revision());
                return Err(Error::Compacted {
                    requested: last,
                    compacted: self.inner.compacted.load(Ordering::Acquire).max(last + 1),
                });
            }
            out.push_back(Event { kind, kv, prev });
        }
        Ok(())
    }
}

/// The state behind an etcd [`crate::WatchStream`].
struct WatchState {
    store: EtcdStore,
    /// Kept alive: etcd ends the watch when the request side closes.
    _sender: etcd_client::WatchRequestSender,
    responses: WatchResponseStream,
    pending: VecDeque<Event>,
    /// An error to deliver after the pending events.
    failed: Option<Error>,
    /// Revision of the last event handed out (or queued).
    last: Revision,
    done: bool,
}

impl WatchState {
    async fn next(mut self) -> Option<(Result<Event>, Self)> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some((Ok(ev), self));
            }
            if self.done {
                return None;
            }
            if let Some(e) = self.failed.take() {
                self.done = true;
                return Some((Err(e), self));
            }
            let err = match self.responses.message().await {
                Err(e) => Error::Backend(format!("etcd watch failed: {e}")),
                Ok(None) => Error::Backend("etcd closed the watch stream".into()),
                Ok(Some(resp)) if resp.canceled() => {
                    if resp.compact_revision() > 0 {
                        Error::Compacted {
                            requested: self.last,
                            compacted: resp.compact_revision(),
                        }
                    } else {
                        Error::Backend(format!(
                            "etcd cancelled the watch: {}",
                            resp.cancel_reason()
                        ))
                    }
                }
                Ok(Some(resp)) => {
                    if let Err(e) = self.store.push_events(&resp, &mut self.pending, self.last) {
                        self.failed = Some(e);
                    }
                    if let Some(ev) = self.pending.back() {
                        self.last = ev.revision();
                    }
                    continue;
                }
            };
            self.done = true;
            return Some((Err(err), self));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
