//! The embedded store: an in-memory MVCC index made durable by a write-ahead log with group
//! commit and periodic snapshots in one data directory — or memory-only.
//!
//! # Design
//!
//! - **Index** (`mvcc`): a `BTreeMap` from key to the key's current value and the revisions
//!   at which it changed, plus one revision-ordered log of `Arc<Event>` since the compaction
//!   revision. The log is the MVCC history (a past value is the `prev` of the first change
//!   after it) and the watch replay buffer at once. It sits behind a `parking_lot::RwLock`;
//!   readers never wait for a disk.
//! - **Writes** go to a single writer thread over a channel. It takes every queued request
//!   (up to [`Options::max_batch_bytes`]), validates them in order against the index plus the
//!   changes logged but not yet applied (an overlay of the latest pending change per key, and
//!   the revision and compaction revision after the last logged batch), appends their records
//!   to the WAL with one `write` and one `fdatasync` (group commit), and hands the batch to the
//!   **applier** thread. The applier applies logged batches to the index in log order (several
//!   under one write lock when they queue up), wakes the watchers, resolves the writers'
//!   futures (failed ones too, so that an error decided on a pending change is only answered
//!   once that change is visible), and only then frees the history a compaction dropped. So
//!   the two stages overlap: while the applier publishes batch N, the writer validates and
//!   syncs batch N+1. A read never sees a write that a crash could lose (batches reach the
//!   applier only after their `fdatasync`), a write is visible when its future resolves, and
//!   revisions are assigned and applied in log order, without gaps.
//! - **Compaction** drops events from the front of the log; only for a deletion does it look
//!   up the key (to remove it if nothing newer exists); each key prunes its own list of
//!   revisions when it next changes. The dropped events are freed outside the lock.
//! - **Files** in the data directory: `LOCK` (an exclusive `flock` while open),
//!   `wal-<seq>.log` segments, and `snap-<seq>.snap`, the latest snapshot, which covers every
//!   segment before `seq`. A snapshot is taken every [`Options::snapshot_every_n_writes`]
//!   writes and on close, after which older segments and snapshots are deleted. See the `wal`
//!   and `snapshot` modules for the formats.
//! - **Snapshots** cost the writer thread next to nothing: it rotates the WAL, waits for the
//!   applier to catch up (a batch or two), and notes the revision and compaction revision. A
//!   background thread then copies the index *as of that revision* in short read-lock
//!   sections while writes go on — the MVCC history makes that copy consistent (see
//!   `mvcc::copy_view`) — and serializes it. Should a compaction overtake
//!   the copy, it is abandoned and retried after the next batch; the WAL has every write
//!   meanwhile.
//! - **Recovery** loads the latest snapshot and replays the segments after it. A torn record
//!   at the end of the last segment is truncated with a warning; any other damage, in a
//!   segment or a snapshot, is [`Error::Corrupt`] naming the file.
//! - **Watches** (`watch`): a per-watcher cursor into the shared event log, woken by a
//!   `tokio::sync::watch` channel after each applied batch.
//! - **History** is bounded: when more than [`Options::max_history`] events are retained the
//!   writer compacts automatically (durably, like an explicit [`Store::compact`]), as etcd's
//!   auto-compaction does. Watchers that are further behind end with [`Error::Compacted`].

mod codec;
mod mvcc;
mod snapshot;
mod wal;
mod watch;

use crate::{Error, KeyValue, ListOptions, ListResult, Result, Revision, Store, WatchStream};
use async_trait::async_trait;
use bytes::Bytes;
use mvcc::{Change, Index, Op, Overlay, Reply};
use parking_lot::RwLock;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub(crate) use codec::{
    begin_frame, end_frame, put_bytes, put_rev, put_uvarint, read_frame, Frame, Reader,
};

/// The name of the lock file in a data directory.
const LOCK_FILE: &str = "LOCK";

/// Tuning of an [`EmbeddedStore`] opened on a data directory.
#[derive(Clone, Debug)]
pub struct Options {
    /// `fdatasync` the WAL before acknowledging a write (default `true`). Without it a power
    /// loss (not a process crash) can lose acknowledged writes.
    pub fsync: bool,
    /// Take a snapshot after this many writes (default 100 000; 0: only on close).
    pub snapshot_every_n_writes: u64,
    /// Start a new WAL segment when the current one reaches this size (default 64 MiB).
    pub segment_bytes: u64,
    /// Upper bound of one group-commit batch, in bytes of records (default 4 MiB; a single
    /// larger write still goes through, alone).
    pub max_batch_bytes: usize,
    /// Events of history kept for reads in the past and watch replay before the store compacts
    /// automatically (default 100 000; 0: never compact automatically).
    pub max_history: usize,
    /// How many events a watcher copies out of the shared log at a time (default 256).
    pub watch_batch: usize,
    /// Take a snapshot on close (default `true`), so that the next open replays no WAL.
    pub snapshot_on_close: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fsync: true,
            snapshot_every_n_writes: 100_000,
            segment_bytes: 64 << 20,
            max_batch_bytes: 4 << 20,
            max_history: 100_000,
            watch_batch: 256,
            snapshot_on_close: true,
        }
    }
}

/// State shared by the store handles, the writer thread and the watchers.
struct Core {
    /// The MVCC index; written only by the writer (or, memory-only, under this lock).
    index: RwLock<Index>,
    /// The revision of the last applied batch; wakes the watchers.
    notify: tokio::sync::watch::Sender<Revision>,
    /// Set by `close`: new requests are refused.
    closing: AtomicBool,
    /// Set once the last write is applied after `close`: watchers end.
    closed: AtomicBool,
}

impl Core {
    fn new(index: Index) -> Core {
        let rev = index.revision();
        Core {
            index: RwLock::new(index),
            notify: tokio::sync::watch::Sender::new(rev),
            closing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    fn mark_closed(&self) {
        self.closing.store(true, Ordering::Release);
        self.closed.store(true, Ordering::Release);
        self.notify.send_modify(|_| {});
    }
}

/// A request to the writer thread.
enum Request {
    Write(Op, oneshot::Sender<Result<Reply>>),
    Close(oneshot::Sender<Result<()>>),
}

struct Inner {
    core: Arc<Core>,
    /// `None` in memory-only mode.
    tx: Option<mpsc::UnboundedSender<Request>>,
    dir: Option<PathBuf>,
    options: Options,
}

/// The embedded [`Store`]: an MVCC index in memory, durable through a write-ahead log with
/// group commit and snapshots in a data directory ([`EmbeddedStore::open`]), or memory-only
/// ([`EmbeddedStore::in_memory`]). Cloning is cheap; clones share the store.
///
/// It satisfies the whole [`Store`] contract; in particular a write's future resolves only once
/// the write is on disk (fdatasync'ed, with [`Options::fsync`]), and only then is it visible.
/// Two stores (in one process or two) cannot open the same directory.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.inner.dir)
            .field("revision", &self.inner.core.index.read().revision())
            .finish()
    }
}

impl EmbeddedStore {
    /// A memory-only store: nothing is written to disk, everything is lost when the last
    /// clone is dropped. Durable means visible here.
    pub fn in_memory() -> EmbeddedStore {
        Self::in_memory_with(Options::default())
    }

    /// A memory-only store with `options` (of which only [`Options::max_history`] and
    /// [`Options::watch_batch`] matter without a data directory).
    pub fn in_memory_with(options: Options) -> EmbeddedStore {
        EmbeddedStore {
            inner: Arc::new(Inner {
                core: Arc::new(Core::new(Index::default())),
                tx: None,
                dir: None,
                options,
            }),
        }
    }

    /// Opens (creating it if missing) the store in data directory `dir`, recovering its
    /// contents: loads the latest snapshot, replays the WAL after it, truncates a torn write at
    /// its end. Revisions continue where they stopped.
    ///
    /// Fails with [`Error::Corrupt`] if a snapshot or a WAL record (other than a torn last one)
    /// is damaged, and with [`Error::Io`] on the `LOCK` file if another store has the
    /// directory open.
    pub async fn open(dir: impl AsRef<Path>, options: Options) -> Result<EmbeddedStore> {
        let dir = dir.as_ref().to_owned();
        tokio::task::spawn_blocking(move || open_blocking(dir, options))
            .await
            .map_err(|e| Error::Closed(format!("opening the store panicked: {e}")))?
    }

    /// The data directory (`None` for a memory-only store).
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Flushes pending writes, takes a final snapshot, stops the writer and releases the data
    /// directory. Afterwards every operation fails with [`Error::Closed`] and watches end with
    /// it. Idempotent; affects every clone.
    pub async fn close(&self) -> Result<()> {
        let core = &self.inner.core;
        core.closing.store(true, Ordering::Release);
        match &self.inner.tx {
            None => {
                core.mark_closed();
                Ok(())
            }
            Some(tx) => {
                let (rtx, rrx) = oneshot::channel();
                if tx.send(Request::Close(rtx)).is_err() {
                    return Ok(()); // Already closed.
                }
                rrx.await.unwrap_or(Ok(()))
            }
        }
    }

    /// Every live key-value at one revision, and that revision and the compaction revision —
    /// consistently, under one read lock (used by online backups).
    pub(crate) fn consistent_copy(&self) -> Result<(Revision, Revision, Vec<KeyValue>)> {
        self.check_open()?;
        let index = self.inner.core.index.read();
        Ok((
            index.revision(),
            index.compacted(),
            index.live_values().cloned().collect(),
        ))
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.core.closing.load(Ordering::Acquire) {
            return Err(closed());
        }
        Ok(())
    }

    async fn write(&self, op: Op) -> Result<Reply> {
        self.check_open()?;
        let core = &self.inner.core;
        match &self.inner.tx {
            None => {
                let max_history = self.inner.options.max_history;
                let mut index = core.index.write();
                let (_, reply) = index.execute(op)?;
                if let Some(target) = auto_compact(max_history, index.revision(), index.compacted())
                {
                    index.apply(Change::Compact(target));
                }
                let rev = index.revision();
                let garbage = index.take_garbage();
                drop(index);
                core.notify.send_replace(rev);
                drop(garbage);
                Ok(reply)
            }
            Some(tx) => {
                let (rtx, rrx) = oneshot::channel();
                tx.send(Request::Write(op, rtx)).map_err(|_| closed())?;
                rrx.await.map_err(|_| closed())?
            }
        }
    }
}

/// Writes the snapshot of a restored backup (state at `revision`, no history) into the fresh
/// data directory `dir`.
pub(crate) fn write_restored(dir: &Path, revision: Revision, kvs: Vec<KeyValue>) -> Result<()> {
    let view = mvcc::View {
        revision,
        compact: revision,
        base: kvs,
        events: Vec::new(),
    };
    snapshot::write(dir, &view, 0, true).map(|_| ())
}

fn closed() -> Error {
    Error::Closed("the embedded store has been closed".into())
}

/// The revision to compact to when the history exceeds `max_history` by an eighth.
fn auto_compact(max_history: usize, rev: Revision, compact: Revision) -> Option<Revision> {
    let max = max_history as Revision;
    (max > 0 && rev - compact > max + max / 8).then(|| rev - max)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn current_revision(&self) -> Result<Revision> {
        self.check_open()?;
        Ok(self.inner.core.index.read().revision())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.check_open()?;
        Ok(self.inner.core.index.read().compacted())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.check_open()?;
        crate::store::check_limits(key, None)?;
        Ok(self.inner.core.index.read().get(key).cloned())
    }

    async fn get_at(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>> {
        self.check_open()?;
        crate::store::check_limits(key, None)?;
        self.inner.core.index.read().get_at(key, revision)
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        self.check_open()?;
        self.inner.core.index.read().list(prefix, &opts)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        crate::store::check_limits(key, Some(&value))?;
        match self
            .write(Op::Create {
                key: key.to_owned(),
                value,
            })
            .await?
        {
            Reply::Written(rev) => Ok(rev),
            r => unreachable!("create answered {r:?}"),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Option<Revision>,
    ) -> Result<Revision> {
        crate::store::check_limits(key, Some(&value))?;
        match self
            .write(Op::Update {
                key: key.to_owned(),
                value,
                expected,
            })
            .await?
        {
            Reply::Written(rev) => Ok(rev),
            r => unreachable!("update answered {r:?}"),
        }
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<Revision> {
        crate::store::check_limits(key, Some(&value))?;
        match self
            .write(Op::Put {
                key: key.to_owned(),
                value,
            })
            .await?
        {
            Reply::Written(rev) => Ok(rev),
            r => unreachable!("put answered {r:?}"),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        crate::store::check_limits(key, None)?;
        match self
            .write(Op::Delete {
                key: key.to_owned(),
                expected,
            })
            .await?
        {
            Reply::Deleted(rev, kv) => Ok((rev, kv)),
            r => unreachable!("delete answered {r:?}"),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.check_open()?;
        let core = self.inner.core.clone();
        {
            let index = core.index.read();
            if after < index.compacted() {
                return Err(Error::Compacted {
                    requested: after,
                    compacted: index.compacted(),
                });
            }
        }
        Ok(watch::stream(
            core,
            prefix.to_owned(),
            after,
            self.inner.options.watch_batch,
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        match self.write(Op::Compact { revision }).await? {
            Reply::Compacted => Ok(()),
            r => unreachable!("compact answered {r:?}"),
        }
    }
}

/// Takes the exclusive lock on the data directory.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    #[allow(clippy::incompatible_msrv)] // File::try_lock: stable since Rust 1.89.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::io(
            &path,
            std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the data directory is already open (locked by another store or process)",
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Creates `dir` if missing; a newly created directory's entry is made durable in its parent,
/// so that a power loss cannot take the whole data directory with it.
pub(crate) fn create_dir_durably(dir: &Path, fsync: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if fsync {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            wal::sync_dir(parent)?;
        }
    }
    Ok(())
}

fn open_blocking(dir: PathBuf, options: Options) -> Result<EmbeddedStore> {
    create_dir_durably(&dir, options.fsync)?;
    let lock = lock_dir(&dir)?;
    let mut snapshots = Vec::new();
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = snapshot::parse_snapshot_name(name) {
            snapshots.push(seq);
        } else if let Some(seq) = wal::parse_segment_name(name) {
            segments.push(seq);
        } else if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    snapshots.sort_unstable();
    segments.sort_unstable();
    let (mut index, first_seq) = match snapshots.last() {
        Some(&seq) => snapshot::load(&dir.join(snapshot::snapshot_name(seq)))?,
        None => (Index::default(), 0),
    };
    let snapshot_compact = index.compacted();
    segments.retain(|&s| s >= first_seq);
    for (i, &seq) in segments.iter().enumerate() {
        let expected = first_seq + i as u64;
        if seq != expected {
            return Err(Error::Corrupt {
                path: dir.join(wal::segment_name(expected)),
                detail: format!(
                    "WAL segment missing (found {} instead)",
                    wal::segment_name(seq)
                ),
            });
        }
    }
    let before = index.revision();
    for (i, &seq) in segments.iter().enumerate() {
        wal::recover_segment(
            &dir.join(wal::segment_name(seq)),
            i + 1 == segments.len(),
            &mut index,
        )?;
    }
    let replayed = (index.revision() - before) as u64;
    snapshot::remove_older(&dir, first_seq, options.fsync)?;
    let next_seq = segments.last().map_or(first_seq, |s| s + 1);
    let wal = wal::Wal::create(&dir, next_seq, options.segment_bytes, options.fsync)?;
    tracing::debug!(
        dir = %dir.display(),
        revision = index.revision(),
        compacted = index.compacted(),
        keys = index.live_keys(),
        replayed,
        "opened embedded store"
    );
    let (tail_rev, tail_compact) = (index.revision(), index.compacted());
    let core = Arc::new(Core::new(index));
    let (tx, rx) = mpsc::unbounded_channel();
    let progress = Arc::new(Progress {
        rev: AtomicI64::new(tail_rev),
        batches: AtomicU64::new(0),
    });
    let (apply_tx, apply_rx) = std::sync::mpsc::channel();
    let applier = {
        let (core, progress) = (core.clone(), progress.clone());
        std::thread::Builder::new()
            .name("kubox-store-apply".into())
            .spawn(move || apply_loop(&core, &progress, &apply_rx))
            .map_err(|e| Error::io(&dir, e))?
    };
    let writer = Writer {
        core: core.clone(),
        rx,
        wal,
        dir: dir.clone(),
        options: options.clone(),
        since_snapshot: replayed,
        snapshot_compact,
        job: None,
        failed: None,
        lock,
        buf: Vec::with_capacity(1 << 20),
        pending: Overlay::new(),
        tail_rev,
        tail_compact,
        apply_tx,
        applier,
        progress,
        sent_batches: 0,
    };
    std::thread::Builder::new()
        .name("kubox-store-wal".into())
        .spawn(move || writer.run())
        .map_err(|e| Error::io(&dir, e))?;
    Ok(EmbeddedStore {
        inner: Arc::new(Inner {
            core,
            tx: Some(tx),
            dir: Some(dir),
            options,
        }),
    })
}

/// A logged (durable) batch on its way to the applier thread: the changes to apply, in
/// order, and the answers to send once they are visible (failed writes included, so that
/// every answer follows the state it was decided on).
struct Logged {
    changes: Vec<Change>,
    replies: Vec<(oneshot::Sender<Result<Reply>>, Result<Reply>)>,
}

/// How far the applier thread has got.
struct Progress {
    /// The index's revision after the last applied batch.
    rev: AtomicI64,
    /// Batches applied and answered.
    batches: AtomicU64,
}

/// The applier thread: applies logged batches to the index in order (several at a time when
/// they queue up, under one write lock), wakes the watchers, answers the writers, and frees
/// compacted history after that.
fn apply_loop(core: &Core, progress: &Progress, rx: &std::sync::mpsc::Receiver<Logged>) {
    let mut queued = Vec::new();
    while let Ok(first) = rx.recv() {
        queued.push(first);
        while queued.len() < 64 {
            match rx.try_recv() {
                Ok(next) => queued.push(next),
                Err(_) => break,
            }
        }
        let n = queued.len() as u64;
        let (rev, garbage) = {
            let mut index = core.index.write();
            for logged in &mut queued {
                for change in logged.changes.drain(..) {
                    index.apply(change);
                }
            }
            (index.revision(), index.take_garbage())
        };
        progress.rev.store(rev, Ordering::Release);
        core.notify.send_replace(rev);
        for logged in queued.drain(..) {
            for (tx, r) in logged.replies {
                let _ = tx.send(r);
            }
        }
        progress.batches.fetch_add(n, Ordering::Release);
        drop(garbage);
    }
}

/// The writer thread: group commit, snapshots, shutdown.
struct Writer {
    core: Arc<Core>,
    rx: mpsc::UnboundedReceiver<Request>,
    wal: wal::Wal,
    dir: PathBuf,
    options: Options,
    /// Writes since the last snapshot.
    since_snapshot: u64,
    /// The compaction revision of the last snapshot.
    snapshot_compact: Revision,
    /// A snapshot being written in the background; it answers `true` if it was abandoned
    /// (see [`mvcc::copy_view`]) and should be retried.
    job: Option<std::thread::JoinHandle<bool>>,
    /// Set after a WAL I/O error: the store refuses further writes.
    failed: Option<String>,
    /// Holds the directory's lock until the writer ends.
    #[allow(dead_code)]
    lock: File,
    buf: Vec<u8>,
    /// Changes logged but perhaps not applied yet, for the validation of later writes.
    pending: Overlay,
    /// The revision and compaction revision after the last logged batch.
    tail_rev: Revision,
    tail_compact: Revision,
    /// To the applier thread.
    apply_tx: std::sync::mpsc::Sender<Logged>,
    /// The applier thread (ends when `apply_tx` is dropped, with the writer).
    applier: std::thread::JoinHandle<()>,
    progress: Arc<Progress>,
    /// Batches sent to the applier thread.
    sent_batches: u64,
}

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::new();
        loop {
            let mut close = None;
            match self.rx.blocking_recv() {
                None => break,
                Some(Request::Close(tx)) => close = Some(tx),
                Some(Request::Write(op, tx)) => {
                    let mut bytes = op.size();
                    batch.push((op, tx));
                    while bytes < self.options.max_batch_bytes {
                        match self.rx.try_recv() {
                            Ok(Request::Write(op, tx)) => {
                                bytes += op.size();
                                batch.push((op, tx));
                            }
                            Ok(Request::Close(tx)) => {
                                close = Some(tx);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            if !batch.is_empty() {
                self.commit(&mut batch);
            }
            if let Some(tx) = close {
                let result = self.shutdown();
                drop(self);
                let _ = tx.send(result);
                return;
            }
            self.maybe_snapshot();
        }
        if let Err(e) = self.shutdown() {
            tracing::error!("closing the embedded store: {e}");
        }
    }

    /// Validates, logs and syncs one batch, then hands it to the applier thread, which makes
    /// it visible and answers its writers.
    fn commit(&mut self, batch: &mut Vec<(Op, oneshot::Sender<Result<Reply>>)>) {
        if let Some(why) = &self.failed {
            for (_, tx) in batch.drain(..) {
                let _ = tx.send(Err(Error::Closed(format!(
                    "the store stopped after an I/O error: {why}"
                ))));
            }
            return;
        }
        // Forget the pending changes that the index has caught up with: a key's entry is the
        // latest pending change to it, so the index now holds that same value.
        let applied = self.progress.rev.load(Ordering::Acquire);
        self.pending.retain(|_, (_, rev)| *rev > applied);
        let mut replies = Vec::with_capacity(batch.len());
        let mut changes = Vec::with_capacity(batch.len() + 1);
        self.buf.clear();
        let (mut rev, mut compact) = (self.tail_rev, self.tail_compact);
        {
            let index = self.core.index.read();
            for (op, tx) in batch.drain(..) {
                match index.prepare(op, &mut self.pending, &mut rev, &mut compact) {
                    Ok((change, reply)) => {
                        wal::encode_change(&mut self.buf, &change);
                        changes.push(change);
                        replies.push((tx, Ok(reply)));
                    }
                    Err(e) => replies.push((tx, Err(e))),
                }
            }
        }
        if let Some(target) = auto_compact(self.options.max_history, rev, compact) {
            let change = Change::Compact(target);
            wal::encode_change(&mut self.buf, &change);
            changes.push(change);
            compact = target;
        }
        if !changes.is_empty() {
            let written = self.wal.append(&self.buf).and_then(|()| {
                if self.wal.full() {
                    self.wal.rotate()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = written {
                tracing::error!("write-ahead log failed, the store stops accepting writes: {e}");
                self.failed = Some(e.to_string());
                changes.clear();
                for (_, r) in &mut replies {
                    if r.is_ok() {
                        *r = Err(copy_io_error(&e));
                    }
                }
            } else {
                self.since_snapshot += changes.len() as u64;
                (self.tail_rev, self.tail_compact) = (rev, compact);
            }
        }
        // Answered by the applier, in order, even when nothing is to be applied: an error
        // decided on a pending change is answered once that change is visible.
        self.sent_batches += 1;
        if self.apply_tx.send(Logged { changes, replies }).is_err() {
            // Unreachable: the applier only stops once the writer is dropped.
            tracing::error!("the applier thread of the embedded store is gone");
        }
    }

    /// Waits until the applier thread has applied and answered every batch sent to it (or
    /// has died, which only a bug can cause).
    fn wait_applied(&self) {
        while self.progress.batches.load(Ordering::Acquire) < self.sent_batches
            && !self.applier.is_finished()
        {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }

    fn maybe_snapshot(&mut self) {
        let every = self.options.snapshot_every_n_writes;
        if self.job.as_ref().is_some_and(|j| !j.is_finished()) {
            return; // Still writing the previous one.
        }
        self.join_job();
        if self.failed.is_some() || every == 0 || self.since_snapshot < every {
            return;
        }
        if let Err(e) = self.snapshot(true) {
            tracing::error!("snapshot failed (the WAL still has every write): {e}");
        }
    }

    /// Waits for the background snapshot, if any; if it was abandoned, makes the next
    /// [`Writer::maybe_snapshot`] (or the close) take one.
    fn join_job(&mut self) {
        if let Some(job) = self.job.take() {
            if job.join().unwrap_or(false) {
                self.since_snapshot = self
                    .since_snapshot
                    .max(self.options.snapshot_every_n_writes.max(1));
            }
        }
    }

    /// Rotates the WAL and writes a snapshot of the index at that point, covering every older
    /// segment, in the background or synchronously; then deletes older files.
    ///
    /// The writer thread only rotates and notes the revision and the compaction revision;
    /// the copy of the index ([`mvcc::copy_view`], in short read-lock sections while writes go
    /// on) and its serialization happen on the snapshot thread.
    fn snapshot(&mut self, background: bool) -> Result<()> {
        self.join_job();
        self.wal.rotate()?;
        let seq = self.wal.seq();
        // The index at the rotation point: with every batch logged so far, and no later one.
        self.wait_applied();
        let (revision, compact) = {
            let index = self.core.index.read();
            (index.revision(), index.compacted())
        };
        debug_assert_eq!((revision, compact), (self.tail_rev, self.tail_compact));
        self.since_snapshot = 0;
        self.snapshot_compact = compact;
        let (core, dir, fsync) = (self.core.clone(), self.dir.clone(), self.options.fsync);
        // `Ok(false)`: abandoned, to be retried.
        let work = move || -> Result<bool> {
            let Some(view) = mvcc::copy_view(&core.index, revision, compact) else {
                tracing::debug!(revision, "snapshot abandoned: compacted during the copy");
                return Ok(false);
            };
            let path = snapshot::write(&dir, &view, seq, fsync)?;
            tracing::debug!(path = %path.display(), revision, "wrote snapshot");
            snapshot::remove_older(&dir, seq, fsync)?;
            Ok(true)
        };
        if background {
            let job = std::thread::Builder::new()
                .name("kubox-store-snapshot".into())
                .spawn(move || match work() {
                    Ok(written) => !written,
                    Err(e) => {
                        tracing::error!("snapshot failed (the WAL still has every write): {e}");
                        false
                    }
                })
                .map_err(|e| Error::io(&self.dir, e))?;
            self.job = Some(job);
            Ok(())
        } else {
            // Nothing writes meanwhile (the writer is closing): the copy cannot be abandoned.
            work().map(|_| ())
        }
    }

    /// Final snapshot (if anything changed) and wake-up of the watchers.
    fn shutdown(&mut self) -> Result<()> {
        self.wait_applied();
        self.join_job();
        let compact = self.core.index.read().compacted();
        let changed = self.since_snapshot > 0 || compact != self.snapshot_compact;
        let result = if self.failed.is_none() && self.options.snapshot_on_close && changed {
            self.snapshot(false)
        } else {
            Ok(())
        };
        self.core.mark_closed();
        result
    }
}

fn copy_io_error(e: &Error) -> Error {
    match e {
        Error::Io { path, source } => {
            Error::io(path, std::io::Error::new(source.kind(), source.to_string()))
        }
        other => Error::Closed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_basics() {
        let s = EmbeddedStore::in_memory();
        let r1 = s.create("/a", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(r1, 1);
        assert!(matches!(
            s.create("/a", Bytes::new()).await,
            Err(Error::AlreadyExists { .. })
        ));
        assert!(matches!(
            s.update("/a", Bytes::new(), Some(7)).await,
            Err(Error::Conflict {
                current: Some(_),
                ..
            })
        ));
        let r2 = s
            .update("/a", Bytes::from_static(b"2"), Some(r1))
            .await
            .unwrap();
        let kv = s.get("/a").await.unwrap().unwrap();
        assert_eq!(
            (kv.create_revision, kv.mod_revision, kv.version),
            (1, r2, 2)
        );
        let (r3, old) = s.delete("/a", None).await.unwrap();
        assert_eq!((r3, old.mod_revision), (3, 2));
        assert_eq!(s.current_revision().await.unwrap(), 3);
        s.close().await.unwrap();
        assert!(matches!(s.get("/a").await, Err(Error::Closed(_))));
    }

    #[test]
    fn auto_compaction_threshold() {
        assert_eq!(auto_compact(0, 1_000_000, 0), None);
        assert_eq!(auto_compact(800, 900, 0), None);
        assert_eq!(auto_compact(800, 901, 0), Some(101));
    }
}
