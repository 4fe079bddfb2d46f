//! The compact binary encoding shared by the WAL, snapshots and backups.
//!
//! Integers are LEB128 varints (revisions and versions are never negative), byte strings are a
//! varint length followed by the bytes. A *frame* is `[len: u32 LE][crc: u32 LE][payload]`
//! where `crc` is the CRC32C of the four length bytes followed by the payload, so a damaged
//! length is detected as well as a damaged payload.

use crate::Revision;

/// Size of a frame header (length + CRC).
pub(crate) const FRAME_HEADER: usize = 8;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends a non-negative revision (or version, count) as a varint.
pub(crate) fn put_rev(buf: &mut Vec<u8>, v: Revision) {
    debug_assert!(v >= 0, "negative revision {v}");
    put_uvarint(buf, v.max(0) as u64);
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// Starts a frame: reserves the header and returns the frame's start offset.
pub(crate) fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER]);
    start
}

/// Ends the frame started at `start`: fills in its length and CRC.
pub(crate) fn end_frame(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - FRAME_HEADER) as u32;
    let len_bytes = len.to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), &buf[start + FRAME_HEADER..]);
    buf[start..start + 4].copy_from_slice(&len_bytes);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The outcome of reading one frame.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// A valid frame: its payload and the offset just after it.
    Ok(&'a [u8], usize),
    /// No more bytes at all.
    End,
    /// A damaged or incomplete frame, with a description.
    Bad(String),
}

/// Reads the frame at `pos` of `data`.
pub(crate) fn read_frame(data: &[u8], pos: usize) -> Frame<'_> {
    let rest = &data[pos.min(data.len())..];
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < FRAME_HEADER {
        return Frame::Bad(format!("incomplete frame header ({} bytes)", rest.len()));
    }
    let len_bytes: [u8; 4] = rest[0..4].try_into().expect("4 bytes");
    let len = u32::from_le_bytes(len_bytes) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len == 0 {
        return Frame::Bad("empty frame".into());
    }
    if rest.len() - FRAME_HEADER < len {
        return Frame::Bad(format!(
            "frame of {len} bytes extends beyond the end of the file ({} bytes left)",
            rest.len() - FRAME_HEADER
        ));
    }
    let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
    let actual = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload);
    if actual != crc {
        return Frame::Bad(format!(
            "checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"
        ));
    }
    Frame::Ok(payload, pos + FRAME_HEADER + len)
}

/// A cursor over an encoded payload. Every getter returns `None` on malformed input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// Exactly `n` raw bytes.
    pub(crate) fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    /// A little-endian u32.
    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.raw(4)?.try_into().ok()?))
    }

    /// An unsigned LEB128 varint.
    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A non-negative revision (or version, count).
    pub(crate) fn rev(&mut self) -> Option<Revision> {
        Revision::try_from(self.uvarint()?).ok()
    }

    /// A length as usize, at most the bytes left (a cheap sanity bound).
    pub(crate) fn len(&mut self) -> Option<usize> {
        usize::try_from(self.uvarint()?).ok()
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.raw(n)
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let values = [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            i64::MAX as u64,
            u64::MAX,
        ];
        let mut buf = Vec::new();
        for v in values {
            put_uvarint(&mut buf, v);
        }
        let mut r = Reader::new(&buf);
        for v in values {
            assert_eq!(r.uvarint(), Some(v));
        }
        assert!(r.is_empty());
        assert_eq!(r.uvarint(), None);
    }

    #[test]
    fn frames_detect_damage() {
        let mut buf = Vec::new();
        let s = begin_frame(&mut buf);
        put_bytes(&mut buf, b"hello");
        end_frame(&mut buf, s);
        let Frame::Ok(p, next) = read_frame(&buf, 0) else {
            panic!("bad frame")
        };
        assert_eq!(Reader::new(p).bytes(), Some(&b"hello"[..]));
        assert_eq!(next, buf.len());
        assert!(matches!(read_frame(&buf, next), Frame::End));
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert!(
                matches!(read_frame(&bad, 0), Frame::Bad(_)),
                "flip at {i} undetected"
            );
        }
        assert!(matches!(
            read_frame(&buf[..buf.len() - 1], 0),
            Frame::Bad(_)
        ));
        assert!(matches!(read_frame(&buf[..3], 0), Frame::Bad(_)));
    }
}
