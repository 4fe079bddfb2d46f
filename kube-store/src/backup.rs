//! Backups: online snapshots of a store to a file, verification, restore into a fresh data
//! directory, and scheduled backups with retention.
//!
//! # The backup plan
//!
//! - [`snapshot_to_file`] takes an **online** backup of any [`Store`] (embedded or etcd) while
//!   writes continue: it reads every key at one fixed revision (paginated `list` at that
//!   revision), so the file is a consistent cut. [`snapshot_embedded`] does the same for an
//!   [`EmbeddedStore`] under one read lock, without pagination.
//! - [`verify`] checks a backup file end to end (header, every record's CRC32C, the record
//!   count and the whole-file CRC32C) and reports what it holds.
//! - [`restore`] turns a backup into a **fresh** data directory that [`EmbeddedStore::open`]
//!   opens with the same keys, values, `create_revision`, `mod_revision`, `version` and store
//!   revision. History before the backup's revision is not in the file, so the restored
//!   store's compaction revision is the backup's revision.
//! - [`Scheduler`] (and [`backup_into_dir`]) takes a backup every interval into a directory, naming each file after the
//!   revision and the UTC time (`backup-r<revision>-<YYYYMMDDTHHMMSSmmm>Z.kbak`), and keeps
//!   the newest N.
//!
//! # File format
//!
//! `"KUBOXBAK"`, format version (u32 LE), then frames `[len u32 LE][crc32c u32 LE][payload]`
//! (the CRC covers the length and the payload): a header (`0 revision compact_revision
//! created_unix_ms`), one frame per key in ascending key order (`1 key value create_revision
//! mod_revision version`), and an end frame (`2 key_count` followed by the CRC32C of every
//! byte of the file before the end frame, u32 LE). Integers are LEB128 varints, strings are
//! length-prefixed. Files are written to `<name>.tmp`, fsynced, renamed and the directory
//! fsynced, so a crash never leaves a half-written backup under the final name.

use crate::embedded::{self, EmbeddedStore, Frame, Reader};
use crate::{Error, KeyValue, ListOptions, Result, Revision, Store};
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const MAGIC: &[u8; 8] = b"KUBOXBAK";
const VERSION: u32 = 1;
const HEADER: u8 = 0;
const KV: u8 = 1;
const END: u8 = 2;
/// Keys per `list` page of an online backup.
const PAGE: usize = 1000;
/// File name prefix and suffix of scheduled backups.
const PREFIX: &str = "backup-r";
const SUFFIX: &str = ".kbak";

/// What a backup file holds (answer of [`verify`] and of the backup functions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    /// The store revision the backup is consistent at.
    pub revision: Revision,
    /// The store's compaction revision when the backup was taken.
    pub compact_revision: Revision,
    /// Number of keys.
    pub keys: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// The whole-file CRC32C (of every byte before the end frame).
    pub checksum: u32,
    /// When the backup was taken, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
}

/// Takes an online backup of `store` into `path`, consistent at the store's current revision,
/// while writes continue. Works over any backend. Retries (a few times) if a compaction
/// overtakes the backup's revision.
pub async fn snapshot_to_file(store: &dyn Store, path: impl AsRef<Path>) -> Result<BackupInfo> {
    let (revision, compact, kvs) = read_consistent(store).await?;
    write_file(path.as_ref().to_owned(), revision, compact, kvs).await
}

/// Takes an online backup of an embedded store into `path`: one consistent copy under the
/// index's read lock (no pagination), then written without holding it.
pub async fn snapshot_embedded(
    store: &EmbeddedStore,
    path: impl AsRef<Path>,
) -> Result<BackupInfo> {
    let (revision, compact, kvs) = store.consistent_copy()?;
    write_file(path.as_ref().to_owned(), revision, compact, kvs).await
}

/// Every key at one revision, read page by page.
async fn read_consistent(store: &dyn Store) -> Result<(Revision, Revision, Vec<KeyValue>)> {
    let mut attempt = 0;
    loop {
        let revision = store.current_revision().await?;
        let compact = store.compacted_revision().await?;
        let mut kvs = Vec::new();
        let mut start_after = None;
        let result = loop {
            let opts = ListOptions {
                revision: Some(revision),
                limit: Some(PAGE),
                start_after: start_after.take(),
            };
            match store.list("", opts).await {
                Ok(page) => {
                    start_after = page.kvs.last().map(|kv| kv.key.to_string());
                    let more = page.more && start_after.is_some();
                    kvs.extend(page.kvs);
                    if !more {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => return Ok((revision, compact, kvs)),
            Err(Error::Compacted { .. }) if attempt < 5 => {
                attempt += 1;
                tracing::info!("backup at revision {revision} overtaken by a compaction; retrying");
            }
            Err(e) => return Err(e),
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn encode(
    revision: Revision,
    compact: Revision,
    created_unix_ms: u64,
    kvs: &[KeyValue],
) -> (Vec<u8>, u32) {
    let size: usize = kvs
        .iter()
        .map(|kv| kv.key.len() + kv.value.len() + 40)
        .sum();
    let mut buf = Vec::with_capacity(size + 64);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&VERSION.to_le_bytes());
    let s = embedded::begin_frame(&mut buf);
    buf.push(HEADER);
    embedded::put_rev(&mut buf, revision);
    embedded::put_rev(&mut buf, compact);
    embedded::put_uvarint(&mut buf, created_unix_ms);
    embedded::end_frame(&mut buf, s);
    for kv in kvs {
        let s = embedded::begin_frame(&mut buf);
        buf.push(KV);
        embedded::put_bytes(&mut buf, kv.key.as_bytes());
        embedded::put_bytes(&mut buf, &kv.value);
        embedded::put_rev(&mut buf, kv.create_revision);
        embedded::put_rev(&mut buf, kv.mod_revision);
        embedded::put_rev(&mut buf, kv.version);
        embedded::end_frame(&mut buf, s);
    }
    let checksum = crc32c::crc32c(&buf);
    let s = embedded::begin_frame(&mut buf);
    buf.push(END);
    embedded::put_uvarint(&mut buf, kvs.len() as u64);
    buf.extend_from_slice(&checksum.to_le_bytes());
    embedded::end_frame(&mut buf, s);
    (buf, checksum)
}

async fn write_file(
    path: PathBuf,
    revision: Revision,
    compact: Revision,
    kvs: Vec<KeyValue>,
) -> Result<BackupInfo> {
    tokio::task::spawn_blocking(move || {
        let created_unix_ms = unix_ms(SystemTime::now());
        let (buf, checksum) = encode(revision, compact, created_unix_ms, &kvs);
        write_atomically(&path, &buf)?;
        Ok(BackupInfo {
            revision,
            compact_revision: compact,
            keys: kvs.len() as u64,
            bytes: buf.len() as u64,
            checksum,
            created_unix_ms,
        })
    })
    .await
    .map_err(|e| Error::Closed(format!("backup task failed: {e}")))?
}

/// Writes `data` to `path` via a fsynced temporary file and a rename.
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    std::fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(&parent, e))
}

/// Parses and checks a backup file completely.
fn decode(path: &Path, data: &[u8]) -> Result<(BackupInfo, Vec<KeyValue>)> {
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_owned(),
        detail,
    };
    if data.len() < 12 || &data[..8] != MAGIC {
        return Err(corrupt("not a kubox backup (bad magic)".into()));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(corrupt(format!(
            "unsupported backup format version {version}"
        )));
    }
    let frame = |pos: usize| match embedded::read_frame(data, pos) {
        Frame::Ok(p, next) => Ok((p, next)),
        Frame::End => Err(corrupt(format!("truncated: no end record (offset {pos})"))),
        Frame::Bad(why) => Err(corrupt(format!("record at offset {pos}: {why}"))),
    };
    let bad = |what: &str, pos: usize| corrupt(format!("malformed {what} at offset {pos}"));
    let (payload, mut pos) = frame(12)?;
    let mut r = Reader::new(payload);
    let (Some(HEADER), Some(revision), Some(compact_revision), Some(created_unix_ms), true) =
        (r.u8(), r.rev(), r.rev(), r.uvarint(), true)
    else {
        return Err(bad("header", 12));
    };
    let mut kvs: Vec<KeyValue> = Vec::new();
    loop {
        let at = pos;
        let (payload, next) = frame(pos)?;
        let mut r = Reader::new(payload);
        match r.u8() {
            Some(KV) => {
                let (
                    Some(key),
                    Some(value),
                    Some(create_revision),
                    Some(mod_revision),
                    Some(version),
                ) = (r.str(), r.bytes(), r.rev(), r.rev(), r.rev())
                else {
                    return Err(bad("key-value", at));
                };
                if !r.is_empty() {
                    return Err(bad("key-value", at));
                }
                if kvs.last().is_some_and(|last| &*last.key >= key) {
                    return Err(corrupt(format!("key {key:?} at offset {at} out of order")));
                }
                if key.is_empty()
                    || mod_revision > revision
                    || create_revision > mod_revision
                    || create_revision < 1
                    || version < 1
                {
                    return Err(corrupt(format!(
                        "key {key:?} at offset {at} has impossible revisions"
                    )));
                }
                kvs.push(KeyValue {
                    key: Arc::from(key),
                    value: Bytes::copy_from_slice(value),
                    create_revision,
                    mod_revision,
                    version,
                });
                pos = next;
            }
            Some(END) => {
                let (Some(count), Some(crc)) = (r.uvarint(), r.u32_le()) else {
                    return Err(bad("end record", at));
                };
                if count != kvs.len() as u64 {
                    return Err(corrupt(format!(
                        "end record says {count} keys, found {}",
                        kvs.len()
                    )));
                }
                let actual = crc32c::crc32c(&data[..at]);
                if actual != crc {
                    return Err(corrupt(format!(
                        "whole-file checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"
                    )));
                }
                if next != data.len() {
                    return Err(corrupt(format!(
                        "{} bytes after the end record",
                        data.len() - next
                    )));
                }
                let info = BackupInfo {
                    revision,
                    compact_revision,
                    keys: count,
                    bytes: data.len() as u64,
                    checksum: crc,
                    created_unix_ms,
                };
                return Ok((info, kvs));
            }
            _ => return Err(bad("record", at)),
        }
    }
}

/// Verifies a backup file: magic, version, every record's CRC, key order, the key count and
/// the whole-file CRC. A damaged file is [`Error::Corrupt`] naming it.
pub async fn verify(path: impl AsRef<Path>) -> Result<BackupInfo> {
    let path = path.as_ref().to_owned();
    tokio::task::spawn_blocking(move || {
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        decode(&path, &data).map(|(info, _)| info)
    })
    .await
    .map_err(|e| Error::Closed(format!("verify task failed: {e}")))?
}

/// Restores backup `path` into `data_dir`, which must not exist or be empty (a non-empty
/// directory is refused with [`Error::Io`] of kind `AlreadyExists`, nothing is touched).
/// [`EmbeddedStore::open`] on it then sees every key with its value and metadata, at the
/// backup's revision; the compaction revision is the backup's revision (older history is not
/// in a backup).
pub async fn restore(path: impl AsRef<Path>, data_dir: impl AsRef<Path>) -> Result<BackupInfo> {
    let path = path.as_ref().to_owned();
    let dir = data_dir.as_ref().to_owned();
    tokio::task::spawn_blocking(move || {
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let (info, kvs) = decode(&path, &data)?;
        drop(data);
        match std::fs::read_dir(&dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::io(
                        &dir,
                        std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "refusing to restore into a non-empty directory (restore needs a fresh data directory)",
                        ),
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                embedded::create_dir_durably(&dir, true)?;
            }
            Err(e) => return Err(Error::io(&dir, e)),
        }
        embedded::write_restored(&dir, info.revision, kvs)?;
        Ok(info)
    })
    .await
    .map_err(|e| Error::Closed(format!("restore task failed: {e}")))?
}

/// The backups in `dir` taken by [`Scheduler`] / [`backup_into_dir`], oldest first.
pub fn list_backups(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if name
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        {
            out.push(entry.path());
        }
    }
    // Names embed the zero-padded revision, then the time: name order is age order.
    out.sort();
    Ok(out)
}

/// `YYYYMMDDTHHMMSSmmmZ` (UTC) for a time, without a date library.
fn timestamp(t: SystemTime) -> String {
    let ms = unix_ms(t);
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}{milli:03}Z")
}

/// Takes one backup of `store` into `dir` (named after its revision and the time), then
/// deletes all but the newest `keep` backups there (`keep == 0` keeps all). Returns the new
/// file and what it holds.
pub async fn backup_into_dir(
    store: &dyn Store,
    dir: impl AsRef<Path>,
    keep: usize,
) -> Result<(PathBuf, BackupInfo)> {
    into_dir(Source::Dyn(store), dir.as_ref(), keep).await
}

/// [`backup_into_dir`] for an embedded store, through [`snapshot_embedded`]'s fast path.
pub async fn backup_embedded_into_dir(
    store: &EmbeddedStore,
    dir: impl AsRef<Path>,
    keep: usize,
) -> Result<(PathBuf, BackupInfo)> {
    into_dir(Source::Embedded(store), dir.as_ref(), keep).await
}

/// Where a backup reads from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Dyn(&'a dyn Store),
    Embedded(&'a EmbeddedStore),
}

impl Source<'_> {
    async fn read(self) -> Result<(Revision, Revision, Vec<KeyValue>)> {
        match self {
            Source::Dyn(store) => read_consistent(store).await,
            Source::Embedded(store) => store.consistent_copy(),
        }
    }
}

async fn into_dir(source: Source<'_>, dir: &Path, keep: usize) -> Result<(PathBuf, BackupInfo)> {
    let (revision, compact, kvs) = source.read().await?;
    let path = dir.join(format!(
        "{PREFIX}{revision:020}-{}{SUFFIX}",
        timestamp(SystemTime::now())
    ));
    let info = write_file(path.clone(), revision, compact, kvs).await?;
    if keep > 0 {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || apply_retention(&dir, keep))
            .await
            .map_err(|e| Error::Closed(format!("retention task failed: {e}")))??;
    }
    Ok((path, info))
}

fn apply_retention(dir: &Path, keep: usize) -> Result<()> {
    let all = list_backups(dir)?;
    let excess = all.len().saturating_sub(keep);
    for old in &all[..excess] {
        std::fs::remove_file(old).map_err(|e| Error::io(old, e))?;
        tracing::debug!(path = %old.display(), "deleted old backup");
    }
    Ok(())
}

/// Settings of a [`Scheduler`].
#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    /// Directory the backups go to (created if missing).
    pub dir: PathBuf,
    /// Time between two backups; the first is taken one interval after the start.
    pub interval: Duration,
    /// How many backups to keep (the newest); 0 keeps all.
    pub keep: usize,
}

/// Scheduled backups: every [`ScheduleConfig::interval`] a backup of the store into
/// [`ScheduleConfig::dir`], keeping the newest [`ScheduleConfig::keep`]. Runs on the tokio
/// runtime it was started on (and follows its clock, so paused-time tests work). A failed
/// backup is logged and retried at the next tick. Dropping the scheduler stops it.
#[derive(Debug)]
pub struct Scheduler {
    task: tokio::task::JoinHandle<()>,
    taken: tokio::sync::watch::Receiver<u64>,
}

impl Scheduler {
    /// Starts taking backups of any `store` (paginated reads at one revision).
    pub fn start(store: Arc<dyn Store>, config: ScheduleConfig) -> Scheduler {
        Self::spawn(OwnedSource::Dyn(store), config)
    }

    /// Starts taking backups of an embedded store (one consistent copy per backup).
    pub fn start_embedded(store: EmbeddedStore, config: ScheduleConfig) -> Scheduler {
        Self::spawn(OwnedSource::Embedded(store), config)
    }

    fn spawn(source: OwnedSource, config: ScheduleConfig) -> Scheduler {
        let (tx, taken) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now() + config.interval;
            let mut ticks = tokio::time::interval_at(start, config.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let source = match &source {
                    OwnedSource::Dyn(s) => Source::Dyn(&**s),
                    OwnedSource::Embedded(s) => Source::Embedded(s),
                };
                match into_dir(source, &config.dir, config.keep).await {
                    Ok((path, info)) => {
                        tracing::info!(
                            path = %path.display(),
                            revision = info.revision,
                            keys = info.keys,
                            "backup taken"
                        );
                        tx.send_modify(|n| *n += 1);
                    }
                    Err(Error::Closed(_)) => {
                        tracing::info!("store closed; backup scheduler stops");
                        return;
                    }
                    Err(e) => tracing::error!("scheduled backup failed: {e}"),
                }
            }
        });
        Scheduler { task, taken }
    }

    /// A receiver of the number of backups taken so far (to wait for one).
    pub fn taken(&self) -> tokio::sync::watch::Receiver<u64> {
        self.taken.clone()
    }

    /// Stops the scheduler (a backup in progress is abandoned; its temporary file is left).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// The store a [`Scheduler`] owns.
enum OwnedSource {
    Dyn(Arc<dyn Store>),
    Embedded(EmbeddedStore),
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_165_045_123);
        assert_eq!(timestamp(t), "20251126T135045123Z");
        assert_eq!(timestamp(SystemTime::UNIX_EPOCH), "19700101T000000000Z");
    }

    #[test]
    fn decode_detects_every_flip() {
        let kv = |k: &str, r| KeyValue {
            key: Arc::from(k),
            value: Bytes::from_static(b"v"),
            create_revision: r,
            mod_revision: r,
            version: 1,
        };
        let (buf, _) = encode(5, 0, 7, &[kv("/a", 1), kv("/b", 4)]);
        let p = Path::new("x.kbak");
        let (info, kvs) = decode(p, &buf).unwrap();
        assert_eq!((info.revision, info.keys, kvs.len()), (5, 2, 2));
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x04;
            assert!(
                matches!(decode(p, &bad), Err(Error::Corrupt { .. })),
                "flip at {i} undetected"
            );
        }
        assert!(decode(p, &buf[..buf.len() - 3]).is_err());
    }
}
