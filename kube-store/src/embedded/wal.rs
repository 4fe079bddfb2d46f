//! The write-ahead log: numbered segment files `wal-<seq>.log` of framed records.
//!
//! Record payloads (see [`super::codec`] for the framing):
//! - `1 rev key value` — a put (create or update) at `rev`;
//! - `2 rev key` — a delete at `rev`;
//! - `3 rev` — a compaction to `rev`.
//!
//! A batch of records is appended with one `write` and made durable with one `fdatasync`
//! (group commit). A segment is never appended to after a later one exists, so only the last
//! segment can end in a torn write.

use super::codec::{self, Frame, Reader};
use super::mvcc::{Change, Index};
use crate::{Error, EventKind, Result};
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const PUT: u8 = 1;
const DELETE: u8 = 2;
const COMPACT: u8 = 3;

/// The file name of WAL segment `seq`.
pub(crate) fn segment_name(seq: u64) -> String {
    format!("wal-{seq:020}.log")
}

/// Parses a WAL segment file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// Appends the WAL record of `change` to `buf`.
pub(crate) fn encode_change(buf: &mut Vec<u8>, change: &Change) {
    let start = codec::begin_frame(buf);
    match change {
        Change::Compact(r) => {
            buf.push(COMPACT);
            codec::put_rev(buf, *r);
        }
        Change::Event(ev) => match ev.kind {
            EventKind::Put => {
                buf.push(PUT);
                codec::put_rev(buf, ev.kv.mod_revision);
                codec::put_bytes(buf, ev.kv.key.as_bytes());
                codec::put_bytes(buf, &ev.kv.value);
            }
            EventKind::Delete => {
                buf.push(DELETE);
                codec::put_rev(buf, ev.kv.mod_revision);
                codec::put_bytes(buf, ev.kv.key.as_bytes());
            }
        },
    }
    codec::end_frame(buf, start);
}

/// Applies one record payload to the index (recovery and snapshot loading).
pub(crate) fn replay(index: &mut Index, payload: &[u8]) -> Result<(), String> {
    let mut r = Reader::new(payload);
    let bad = || "malformed record".to_string();
    match r.u8().ok_or_else(bad)? {
        PUT => {
            let rev = r.rev().ok_or_else(bad)?;
            let key = r.str().ok_or_else(bad)?;
            let value = r.bytes().ok_or_else(bad)?;
            if !r.is_empty() {
                return Err(bad());
            }
            index.replay_put(rev, key, Bytes::copy_from_slice(value))
        }
        DELETE => {
            let rev = r.rev().ok_or_else(bad)?;
            let key = r.str().ok_or_else(bad)?;
            if !r.is_empty() {
                return Err(bad());
            }
            index.replay_delete(rev, key)
        }
        COMPACT => {
            let rev = r.rev().ok_or_else(bad)?;
            if !r.is_empty() {
                return Err(bad());
            }
            index.replay_compact(rev)
        }
        t => Err(format!("unknown record type {t}")),
    }
}

/// The segment currently appended to.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    seq: u64,
    size: u64,
    segment_bytes: u64,
    fsync: bool,
}

impl Wal {
    /// Creates segment `seq` (which must not exist) in `dir`.
    pub(crate) fn create(dir: &Path, seq: u64, segment_bytes: u64, fsync: bool) -> Result<Wal> {
        let path = dir.join(segment_name(seq));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if fsync {
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            sync_dir(dir)?;
        }
        Ok(Wal {
            dir: dir.to_owned(),
            file,
            path,
            seq,
            size: 0,
            segment_bytes,
            fsync,
        })
    }

    /// The current segment's sequence number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Appends `buf` (whole records) and makes it durable.
    pub(crate) fn append(&mut self, buf: &[u8]) -> Result<()> {
        self.file
            .write_all(buf)
            .map_err(|e| Error::io(&self.path, e))?;
        if self.fsync {
            self.file
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.size += buf.len() as u64;
        Ok(())
    }

    /// True when the segment has reached its size limit.
    pub(crate) fn full(&self) -> bool {
        self.size >= self.segment_bytes
    }

    /// Closes the current segment and starts the next one.
    pub(crate) fn rotate(&mut self) -> Result<()> {
        let next = Wal::create(&self.dir, self.seq + 1, self.segment_bytes, self.fsync)?;
        *self = next;
        Ok(())
    }
}

/// Fsyncs a directory (so that created, renamed and deleted entries are durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Replays segment `path` into `index`. In the last segment, a damaged tail after which no
/// valid record follows is a torn write: it is truncated (with a warning). Any other damage
/// is [`Error::Corrupt`].
///
/// Limits of what can be told apart: damage to the very last acknowledged record looks like a
/// torn write and is truncated; and if a power loss persisted the pages of an unacknowledged
/// batch out of order (a valid record after a damaged one), the store refuses to open rather
/// than guess (an operator can truncate the file at the reported offset).
pub(crate) fn recover_segment(path: &Path, is_last: bool, index: &mut Index) -> Result<()> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let mut pos = 0;
    loop {
        match codec::read_frame(&data, pos) {
            Frame::End => return Ok(()),
            Frame::Ok(payload, next) => {
                replay(index, payload)
                    .map_err(|d| corrupt(format!("record at offset {pos}: {d}")))?;
                pos = next;
            }
            Frame::Bad(why) => {
                if !is_last {
                    return Err(corrupt(format!("record at offset {pos}: {why}")));
                }
                if let Some(at) = find_valid_frame(&data, pos + 1) {
                    return Err(corrupt(format!(
                        "record at offset {pos}: {why} (a valid record follows at offset {at})"
                    )));
                }
                tracing::warn!(
                    path = %path.display(),
                    offset = pos,
                    dropped_bytes = data.len() - pos,
                    "truncating torn write at the end of the write-ahead log: {why}"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?;
                f.set_len(pos as u64).map_err(|e| Error::io(path, e))?;
                f.sync_all().map_err(|e| Error::io(path, e))?;
                return Ok(());
            }
        }
    }
}

/// The first offset `>= from` holding a valid frame with a known record type, if any.
fn find_valid_frame(data: &[u8], from: usize) -> Option<usize> {
    (from..data.len().saturating_sub(codec::FRAME_HEADER)).find(|&at| {
        let t = data.get(at + codec::FRAME_HEADER).copied();
        matches!(t, Some(PUT | DELETE | COMPACT))
            && matches!(codec::read_frame(data, at), Frame::Ok(..))
    })
}

/// The WAL record of a revision, for tests: encodes a put.
#[cfg(test)]
pub(crate) fn encode_put(buf: &mut Vec<u8>, rev: crate::Revision, key: &str, value: &[u8]) {
    let start = codec::begin_frame(buf);
    buf.push(PUT);
    codec::put_rev(buf, rev);
    codec::put_bytes(buf, key.as_bytes());
    codec::put_bytes(buf, value);
    codec::end_frame(buf, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_and_middle_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_name(0));
        let mut buf = Vec::new();
        for rev in 1..=10 {
            encode_put(&mut buf, rev, &format!("/k{rev}"), b"value");
        }
        let whole = buf.len();
        // Torn tail: half of an 11th record.
        let mut torn = buf.clone();
        encode_put(&mut torn, 11, "/k11", b"value");
        torn.truncate(whole + 7);
        std::fs::write(&path, &torn).unwrap();
        let mut idx = Index::default();
        recover_segment(&path, true, &mut idx).unwrap();
        assert_eq!(idx.revision(), 10);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);
        // Not the last segment: fatal.
        std::fs::write(&path, &torn).unwrap();
        let err = recover_segment(&path, false, &mut Index::default()).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        // A flipped byte in the middle of the last segment: fatal, names the file.
        let mut mid = buf.clone();
        mid[whole / 2] ^= 0xff;
        std::fs::write(&path, &mid).unwrap();
        match recover_segment(&path, true, &mut Index::default()).unwrap_err() {
            Error::Corrupt { path: p, .. } => assert_eq!(p, path),
            e => panic!("{e}"),
        }
    }
}
