//! The store's error type.

use crate::store::{KeyValue, Revision};
use std::path::PathBuf;

/// `Result` with the store's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a [`crate::Store`] operation can fail with.
///
/// Each variant says whether retrying the same call can succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key does not exist (update/delete of a missing key). Not retryable as is.
    #[error("key {key:?} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// `create` of a key that exists. Not retryable as is.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// A compare-and-swap failed: the key's `mod_revision` is not the expected one.
    /// Retryable after re-reading `current`.
    #[error("conflict on key {key:?}: expected mod_revision {expected}, found {}", current.as_ref().map_or(0, |kv| kv.mod_revision))]
    Conflict {
        /// The key.
        key: String,
        /// The `mod_revision` the caller expected.
        expected: Revision,
        /// The key's current value (`None` if it was deleted meanwhile).
        current: Option<Box<KeyValue>>,
    },
    /// The requested revision has been compacted away. Retry from a newer revision
    /// (a watcher re-lists).
    #[error("revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compaction revision.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision. Not retryable
    /// unless the store catches up.
    #[error("revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// A key longer than [`crate::MAX_KEY_BYTES`], or empty. Not retryable.
    #[error("invalid key ({len} bytes; must be 1..={max} bytes)")]
    InvalidKey {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value larger than [`crate::MAX_VALUE_BYTES`]. Not retryable.
    #[error("value of {len} bytes is too large (limit {max} bytes)")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A file of the store or a backup is damaged. Not retryable; the file is named.
    #[error("corrupt file {}: {detail}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// An I/O error on a file of the store. Possibly retryable.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store has been closed or has failed and stopped accepting writes.
    #[error("store is closed: {0}")]
    Closed(String),
    /// A watcher fell too far behind and was cancelled; re-watch from its last revision.
    #[error("watch lagged and was cancelled after revision {last_revision}")]
    WatchLagged {
        /// The last revision the watcher received.
        last_revision: Revision,
    },
    /// An error reported by a remote backend (etcd). Possibly retryable.
    #[error("backend error: {0}")]
    Backend(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
