//! The cluster's key-value store, after etcd's data model.
//!
//! # Tour
//!
//! - [`Store`]: the trait every backend implements — a revisioned key space with one global
//!   revision, create-if-absent, compare-and-swap on a key's `mod_revision`, ranges with limits
//!   and continuation, watches from any retained revision, and compaction. Its docs are the
//!   contract.
//! - [`embedded`]: the default backend — an in-memory MVCC index, made durable by a write-ahead
//!   log with group commit and snapshots in one data directory (or memory-only).
//! - [`backup`]: online snapshots to a file, verification, restore into a fresh data directory,
//!   scheduled backups with retention.
//! - `etcd` (feature `etcd`): the same trait over a real etcd v3 cluster.
//! - [`testing`]: the conformance suite every backend runs.
//!
//! # Example
//!
//! ```
//! use kube_store::{embedded::EmbeddedStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kube_store::Result<()> {
//! let store = EmbeddedStore::in_memory();
//! let rev = store.create("/registry/pods/default/web", b"{}".to_vec().into()).await?;
//! let kv = store.get("/registry/pods/default/web").await?.expect("just created");
//! assert_eq!(kv.mod_revision, rev);
//! # Ok(())
//! # }
//! ```

mod error;
mod store;

pub mod backup;
pub mod embedded;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod testing;

pub use error::{Error, Result};
pub use store::{
    Event, EventKind, KeyValue, ListOptions, ListResult, Revision, Store, WatchStream,
    MAX_KEY_BYTES, MAX_VALUE_BYTES,
};
