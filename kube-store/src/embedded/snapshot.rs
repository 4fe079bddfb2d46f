//! Snapshots: the full state of the index at one revision, in `snap-<seq>.snap`, where `seq`
//! is the first WAL segment *not* covered by the snapshot.
//!
//! Format: `"KUBOXSNP"`, format version (u32 LE), then varints `revision`, `compact`,
//! `next_wal_seq`, `n_base`, `n_base` key-values live at the compaction revision (`key value
//! create_revision mod_revision version`), `n_events`, the events after the compaction revision
//! as framed WAL records (so the MVCC history and watch replay survive a restart), and a CRC32C
//! (u32 LE) of every byte before it. Written to a temporary file, fsynced, renamed, and the
//! directory fsynced.

use super::codec::{self, Frame, Reader};
use super::mvcc::{Change, Index, View};
use super::wal;
use crate::{Error, KeyValue, Result};
use bytes::Bytes;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"KUBOXSNP";
const VERSION: u32 = 1;

/// The file name of the snapshot whose next WAL segment is `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snap-{seq:020}.snap")
}

/// Parses a snapshot file name.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<u64> {
    name.strip_prefix("snap-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// Streams bytes to a file while computing their CRC32C.
struct CrcWriter {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    crc: u32,
}

impl CrcWriter {
    fn flush_if_big(&mut self) -> Result<()> {
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.buf.clear();
        Ok(())
    }
}

/// Writes `view` as snapshot `next_wal_seq` in `dir` (atomically) and returns its path.
pub(crate) fn write(dir: &Path, view: &View, next_wal_seq: u64, fsync: bool) -> Result<PathBuf> {
    let path = dir.join(snapshot_name(next_wal_seq));
    let tmp = dir.join(format!("{}.tmp", snapshot_name(next_wal_seq)));
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = CrcWriter {
        file,
        path: tmp.clone(),
        buf: Vec::with_capacity(1 << 20),
        crc: 0,
    };
    w.buf.extend_from_slice(MAGIC);
    w.buf.extend_from_slice(&VERSION.to_le_bytes());
    codec::put_rev(&mut w.buf, view.revision);
    codec::put_rev(&mut w.buf, view.compact);
    codec::put_uvarint(&mut w.buf, next_wal_seq);
    codec::put_uvarint(&mut w.buf, view.base.len() as u64);
    for kv in &view.base {
        codec::put_bytes(&mut w.buf, kv.key.as_bytes());
        codec::put_bytes(&mut w.buf, &kv.value);
        codec::put_rev(&mut w.buf, kv.create_revision);
        codec::put_rev(&mut w.buf, kv.mod_revision);
        codec::put_rev(&mut w.buf, kv.version);
        w.flush_if_big()?;
    }
    codec::put_uvarint(&mut w.buf, view.events.len() as u64);
    for ev in &view.events {
        wal::encode_change(&mut w.buf, &Change::Event(ev.clone()));
        w.flush_if_big()?;
    }
    w.flush()?;
    w.file
        .write_all(&w.crc.to_le_bytes())
        .map_err(|e| Error::io(&tmp, e))?;
    if fsync {
        w.file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    drop(w);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    if fsync {
        wal::sync_dir(dir)?;
    }
    Ok(path)
}

/// Loads a snapshot: the index and the first WAL segment to replay after it.
pub(crate) fn load(path: &Path) -> Result<(Index, u64)> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_owned(),
        detail,
    };
    if data.len() < MAGIC.len() + 8 {
        return Err(corrupt(format!("too short ({} bytes)", data.len())));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    let mut r = Reader::new(body);
    if r.raw(8) != Some(&MAGIC[..]) {
        return Err(corrupt("not a kubox snapshot (bad magic)".into()));
    }
    let version = r
        .u32_le()
        .ok_or_else(|| corrupt("truncated header".into()))?;
    if version != VERSION {
        return Err(corrupt(format!(
            "unsupported snapshot format version {version}"
        )));
    }
    let bad = |what: &str, at: usize| corrupt(format!("malformed {what} at offset {at}"));
    let (Some(revision), Some(compact), Some(next_seq), Some(n_base)) =
        (r.rev(), r.rev(), r.uvarint(), r.len())
    else {
        return Err(bad("header", r.position()));
    };
    let mut base = Vec::with_capacity(n_base.min(body.len() / 5));
    for _ in 0..n_base {
        let at = r.position();
        let (Some(key), Some(value), Some(create_revision), Some(mod_revision), Some(version)) =
            (r.str(), r.bytes(), r.rev(), r.rev(), r.rev())
        else {
            return Err(bad("key-value", at));
        };
        base.push(KeyValue {
            key: Arc::from(key),
            value: Bytes::copy_from_slice(value),
            create_revision,
            mod_revision,
            version,
        });
    }
    let mut index = Index::from_base(compact, base);
    let n_events = r.len().ok_or_else(|| bad("event count", r.position()))?;
    let mut pos = r.position();
    for _ in 0..n_events {
        match codec::read_frame(body, pos) {
            Frame::Ok(payload, next) => {
                wal::replay(&mut index, payload)
                    .map_err(|d| corrupt(format!("event at offset {pos}: {d}")))?;
                pos = next;
            }
            Frame::End => return Err(bad("event (missing)", pos)),
            Frame::Bad(why) => return Err(corrupt(format!("event at offset {pos}: {why}"))),
        }
    }
    if pos != body.len() {
        return Err(corrupt(format!("{} trailing bytes", body.len() - pos)));
    }
    if index.revision() != revision {
        return Err(corrupt(format!(
            "events end at revision {}, header says {revision}",
            index.revision()
        )));
    }
    Ok((index, next_seq))
}

/// Deletes snapshots and WAL segments older than snapshot `keep_seq`, and temporary files.
pub(crate) fn remove_older(dir: &Path, keep_seq: u64, fsync: bool) -> Result<()> {
    let mut removed = false;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let old = parse_snapshot_name(name).is_some_and(|s| s < keep_seq)
            || wal::parse_segment_name(name).is_some_and(|s| s < keep_seq)
            || name.ends_with(".snap.tmp");
        if old {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            removed = true;
        }
    }
    if removed && fsync {
        wal::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::mvcc::Op;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = Index::default();
        for i in 0..50 {
            idx.execute(Op::Put {
                key: format!("/k{}", i % 7),
                value: Bytes::from(vec![i as u8; i]),
            })
            .unwrap();
        }
        idx.execute(Op::Delete {
            key: "/k3".into(),
            expected: None,
        })
        .unwrap();
        idx.execute(Op::Compact { revision: 30 }).unwrap();
        let path = write(dir.path(), &idx.view(), 5, true).unwrap();
        let (loaded, seq) = load(&path).unwrap();
        assert_eq!(seq, 5);
        assert_eq!(loaded.revision(), idx.revision());
        assert_eq!(loaded.compacted(), 30);
        assert_eq!(
            loaded.live_values().collect::<Vec<_>>(),
            idx.live_values().collect::<Vec<_>>()
        );
        for rev in 30..=51 {
            for k in 0..7 {
                let key = format!("/k{k}");
                assert_eq!(
                    loaded.get_at(&key, rev).unwrap(),
                    idx.get_at(&key, rev).unwrap()
                );
            }
        }
        let mut data = std::fs::read(&path).unwrap();
        let n = data.len();
        data[n / 2] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(load(&path), Err(Error::Corrupt { path: p, .. }) if p == path));
    }
}
