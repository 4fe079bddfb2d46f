//! The [`Store`] trait and its data types.

use crate::Result;
use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use std::pin::Pin;
use std::sync::Arc;

/// A store revision. One global counter: every successful write (create, update, put, delete)
/// increments it by exactly one. The first write of an empty store gets revision 1; an empty
/// store is at revision 0. Kubernetes' `resourceVersion` is this number as a decimal string.
pub type Revision = i64;

/// Longest key a store accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 3 * 1024;
/// Largest value a store accepts, in bytes (etcd's default request limit, 1.5 MiB).
pub const MAX_VALUE_BYTES: usize = 1536 * 1024;

/// A key with its value and versioning, as of some revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key (UTF-8, e.g. `/registry/pods/default/web`).
    pub key: Arc<str>,
    /// The value; cheap to clone.
    pub value: Bytes,
    /// Revision that created the key (since its last deletion).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
    /// Number of writes since creation: 1 after create, +1 per update. 0 in delete events.
    pub version: i64,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Created or updated.
    Put,
    /// Deleted.
    Delete,
}

/// One change, as delivered by [`Store::watch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put: the new key-value. For a delete: the key, with `mod_revision` = the revision
    /// of the deletion, an empty value, `create_revision` and `version` 0 (as etcd reports it).
    pub kv: KeyValue,
    /// The key-value before this change: `None` for a create; always `Some` for a delete and
    /// an update.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which this change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Options of [`Store::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Read at this revision instead of the current one (a consistent snapshot of the past).
    /// Below the compaction revision: [`crate::Error::Compacted`]; above the current revision:
    /// [`crate::Error::FutureRevision`].
    pub revision: Option<Revision>,
    /// Return at most this many key-values (`None` or `Some(0)`: no limit).
    pub limit: Option<usize>,
    /// Start strictly after this key (continuation of a previous page).
    pub start_after: Option<String>,
}

/// The answer of [`Store::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResult {
    /// Key-values in ascending key order.
    pub kvs: Vec<KeyValue>,
    /// True when keys beyond the limit remain under the prefix.
    pub more: bool,
    /// Number of keys under the prefix after `start_after`, including those returned.
    pub count: usize,
    /// The revision the list was read at (the current one unless `revision` was given).
    pub revision: Revision,
}

/// A stream of watch events. It ends with an error item (e.g. [`crate::Error::Compacted`],
/// [`crate::Error::WatchLagged`], [`crate::Error::Closed`]) or never; dropping it cancels
/// the watch.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send>>;

/// A revisioned key-value store after etcd v3's data model. Only the API server uses it.
///
/// # Contract
///
/// Every backend must satisfy the following; [`crate::testing`] checks each point.
///
/// - **One global revision.** Every successful write increments the store's revision by exactly
///   one and stamps the written key with it (`mod_revision`). Failed writes change nothing.
///   Revisions never go backwards, also across restarts.
/// - **Per-key versioning.** A create sets `create_revision = mod_revision = rev` and
///   `version = 1`; each update keeps `create_revision` and increments `version`; after a delete
///   the key is absent and a later create starts again at `version = 1`.
/// - **Durability.** A write is durable when its future resolves `Ok`: a crash afterwards never
///   loses it (for the embedded store in memory-only mode, "durable" means "visible").
/// - **Linearizable reads.** A read that starts after a write resolved observes that write.
/// - **Conditional writes.** [`Store::create`] fails with `AlreadyExists` if the key exists;
///   [`Store::update`] and [`Store::delete`] with `expected = Some(r)` fail with `Conflict`
///   (carrying the current value) unless the key's `mod_revision == r`, and with `NotFound` if
///   the key is absent. Among concurrent conditional writers on one key exactly one wins.
/// - **Watches.** [`Store::watch`] delivers, for every key under the prefix, every change with
///   revision `> after`, in revision order, with no gap and no duplicate, each with its previous
///   value (`prev`) for updates and deletes. A watch may start at any revision at or after the
///   compaction revision, including ones in the past; older ones yield `Compacted`. A watcher
///   that cannot keep up is ended with `WatchLagged` or `Compacted`, never silently skipped.
/// - **Compaction.** After `compact(r)` the history below `r` is gone: reads at revisions `< r`
///   and watches from `after < r` fail with `Compacted`. The latest value of every key is kept.
///   Compacting again to the same revision is a no-op; to a lower one fails with `Compacted`;
///   to one above the current revision fails with `FutureRevision`.
/// - **Limits.** Keys are 1..=[`MAX_KEY_BYTES`] bytes, values at most [`MAX_VALUE_BYTES`]
///   bytes; larger ones fail with `InvalidKey` / `ValueTooLarge` before anything is written.
///
/// All methods take `&self` and are safe to call concurrently. The trait is object safe
/// (`Arc<dyn Store>`), via `async-trait`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current revision (that of the latest durable write).
    async fn current_revision(&self) -> Result<Revision>;

    /// The revision up to which history has been compacted (0 if never).
    async fn compacted_revision(&self) -> Result<Revision>;

    /// The key's current value, or `None`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// The key's value as of `revision`, or `None` if it did not exist then.
    async fn get_at(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>>;

    /// Keys starting with `prefix`, in key order, as of one revision.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult>;

    /// Creates `key`; fails with `AlreadyExists` if it exists. Returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replaces the value of an existing `key`. With `expected = Some(r)`, only if its
    /// `mod_revision` is `r` (else `Conflict`). `NotFound` if absent. Returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: Option<Revision>)
        -> Result<Revision>;

    /// Writes `key` whether or not it exists. Returns the new revision.
    async fn put(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Deletes `key`. With `expected = Some(r)`, only if its `mod_revision` is `r` (else
    /// `Conflict`). `NotFound` if absent. Returns the deletion's revision and the deleted value.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)>;

    /// Watches every key starting with `prefix` for changes with revision `> after`.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Discards history below `revision` (which must be `<=` the current revision).
    async fn compact(&self, revision: Revision) -> Result<()>;
}

/// Checks the key and value limits of the [`Store`] contract.
pub(crate) fn check_limits(key: &str, value: Option<&[u8]>) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(crate::Error::InvalidKey {
            len: key.len(),
            max: MAX_KEY_BYTES,
        });
    }
    if let Some(v) = value {
        if v.len() > MAX_VALUE_BYTES {
            return Err(crate::Error::ValueTooLarge {
                len: v.len(),
                max: MAX_VALUE_BYTES,
            });
        }
    }
    Ok(())
}
