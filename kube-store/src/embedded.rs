//! The embedded store: in-memory MVCC index + write-ahead log + snapshots.
