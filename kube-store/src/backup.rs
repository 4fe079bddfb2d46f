//! Backups: online snapshots, verification, restore, scheduled backups with retention.
