//! SPDY/3.1 frames: their wire format, and the zlib header-block compression with the fixed
//! SPDY/3 dictionary. No IO: [`Decoder::decode`] takes frames out of a byte buffer,
//! [`Encoder::encode`] appends them to one.
//!
//! Formats as in the SPDY/3 draft (draft-mbelshe-httpbis-spdy-00, §2.2 and §2.6) and as
//! github.com/moby/spdystream's `spdy/read.go` and `spdy/write.go` (the framer kubectl and the
//! kubelet use) read and write them:
//!
//! ```text
//! control frame: |1| version(15) | type(16) | flags(8) | length(24) | data
//! data frame:    |0| stream-id(31)          | flags(8) | length(24) | data
//! ```
//!
//! Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are `u32` count, then `u32` length + name,
//! `u32` length + value (several values joined by NUL), zlib-compressed with one compression
//! context per direction for the whole connection, seeded with [`dictionary`].

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::sync::LazyLock;

/// The only protocol version spoken (SPDY/3 framing; 3.1 adds session flow control).
pub const VERSION: u16 = 3;

/// Control frame type numbers (SPDY/3 §2.6).
pub mod kind {
    /// SYN_STREAM.
    pub const SYN_STREAM: u16 = 1;
    /// SYN_REPLY.
    pub const SYN_REPLY: u16 = 2;
    /// RST_STREAM.
    pub const RST_STREAM: u16 = 3;
    /// SETTINGS.
    pub const SETTINGS: u16 = 4;
    /// PING.
    pub const PING: u16 = 6;
    /// GOAWAY.
    pub const GOAWAY: u16 = 7;
    /// HEADERS.
    pub const HEADERS: u16 = 8;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u16 = 9;
}

/// RST_STREAM status codes (SPDY/3 §2.6.3).
pub mod rst {
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// INVALID_STREAM.
    pub const INVALID_STREAM: u32 = 2;
    /// REFUSED_STREAM.
    pub const REFUSED_STREAM: u32 = 3;
    /// UNSUPPORTED_VERSION.
    pub const UNSUPPORTED_VERSION: u32 = 4;
    /// CANCEL.
    pub const CANCEL: u32 = 5;
    /// INTERNAL_ERROR.
    pub const INTERNAL_ERROR: u32 = 6;
    /// FLOW_CONTROL_ERROR.
    pub const FLOW_CONTROL_ERROR: u32 = 7;
    /// STREAM_IN_USE.
    pub const STREAM_IN_USE: u32 = 8;
    /// STREAM_ALREADY_CLOSED.
    pub const STREAM_ALREADY_CLOSED: u32 = 9;
    /// FRAME_TOO_LARGE.
    pub const FRAME_TOO_LARGE: u32 = 11;
}

/// SETTINGS id of the initial stream window size (SPDY/3 §2.6.4).
pub const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

/// Flag FIN (control frames and data frames).
pub const FLAG_FIN: u8 = 0x01;
/// Flag UNIDIRECTIONAL (SYN_STREAM).
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// Largest payload of one frame (24-bit length).
pub const MAX_FRAME_PAYLOAD: usize = (1 << 24) - 1;

/// Largest decompressed header block accepted (a guard against compression bombs; real header
/// blocks of kubectl are a few dozen bytes).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Header name/value pairs in wire order. Names are lower case; a value holding several values
/// joins them with NUL, as on the wire.
pub type Headers = Vec<(String, String)>;

/// One SPDY/3.1 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream (SYN_STREAM).
    SynStream {
        /// The new stream (odd when opened by the client).
        stream_id: u32,
        /// The stream this one is associated with (0: none).
        associated_to: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// FIN: the sender sends nothing more on this stream.
        fin: bool,
        /// UNIDIRECTIONAL: the receiver must not send on this stream.
        unidirectional: bool,
        /// The stream's headers.
        headers: Headers,
    },
    /// Accepts a stream (SYN_REPLY).
    SynReply {
        /// The accepted stream.
        stream_id: u32,
        /// FIN: the sender sends nothing more on this stream.
        fin: bool,
        /// Reply headers.
        headers: Headers,
    },
    /// Aborts a stream (RST_STREAM).
    RstStream {
        /// The aborted stream.
        stream_id: u32,
        /// Why (see [`rst`]).
        status: u32,
    },
    /// Connection settings (SETTINGS): `(flags, id, value)` entries.
    Settings {
        /// FLAG_SETTINGS_CLEAR_SETTINGS.
        clear: bool,
        /// The entries.
        entries: Vec<(u8, u32, u32)>,
    },
    /// Liveness check (PING); the receiver echoes a ping the other side started.
    Ping {
        /// Odd when started by the client, even when started by the server.
        id: u32,
    },
    /// The sender opens no more streams and accepts none above `last_good_stream_id`.
    GoAway {
        /// Last stream the sender handled.
        last_good_stream_id: u32,
        /// 0 OK, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR.
        status: u32,
    },
    /// More headers for a stream (HEADERS).
    Headers {
        /// The stream.
        stream_id: u32,
        /// FIN: the sender sends nothing more on this stream.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// Grants the sender `delta` more bytes of DATA (WINDOW_UPDATE); stream 0 is the session
    /// window (SPDY/3.1).
    WindowUpdate {
        /// The stream, or 0 for the whole connection.
        stream_id: u32,
        /// Bytes granted.
        delta: u32,
    },
    /// Stream payload (DATA).
    Data {
        /// The stream.
        stream_id: u32,
        /// FIN: the sender sends nothing more on this stream (half-close).
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// A control frame of a type this implementation does not know (ignored, as SPDY/3
    /// §2.2.1 asks).
    Unknown {
        /// Its type number.
        kind: u16,
    },
}

/// A malformed frame or a broken compression context: the connection cannot go on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A control frame of another SPDY version.
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    /// A frame whose fields do not add up.
    #[error("invalid {kind} frame: {why}")]
    Invalid {
        /// Frame type name.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A header block that does not inflate (wrong dictionary, corrupt stream) or is too big.
    #[error("header block: {0}")]
    HeaderBlock(String),
}

fn invalid(kind: &'static str, why: impl Into<String>) -> Error {
    Error::Invalid {
        kind,
        why: why.into(),
    }
}

/// Header names of the SPDY/3 dictionary, each stored as `u32` length + name.
const DICTIONARY_NAMES: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The raw text that ends the SPDY/3 dictionary (no length prefixes).
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut d = Vec::with_capacity(1423);
    for name in DICTIONARY_NAMES {
        d.extend_from_slice(&(name.len() as u32).to_be_bytes());
        d.extend_from_slice(name.as_bytes());
    }
    d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    d
});

/// The SPDY/3 header compression dictionary (1423 bytes).
///
/// Byte for byte the `headerDictionary` of github.com/moby/spdystream `spdy/dictionary.go`
/// (vendored by kubernetes/kubernetes at `vendor/github.com/moby/spdystream/spdy/`), which is
/// the dictionary of the SPDY/3 draft §2.6.10.1: length-prefixed header names, then status
/// lines, dates and common values. Written here as the names and text it is made of; its
/// Adler-32 (the zlib DICTID) is checked against every peer's header stream.
pub fn dictionary() -> &'static [u8] {
    &DICTIONARY
}

/// Reads frames out of a byte buffer; owns the connection's inbound decompression context.
pub struct Decoder {
    inflate: Decompress,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder at the start of a connection.
    pub fn new() -> Self {
        Decoder {
            inflate: Decompress::new(true),
        }
    }

    /// Takes one whole frame off the front of `buf`; `Ok(None)` when `buf` holds only part of
    /// one (read more and call again). Frames are decoded in order: the header decompression
    /// context carries over from frame to frame.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
        if buf.len() < 8 + len {
            buf.reserve(8 + len - buf.len());
            return Ok(None);
        }
        let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = buf[4];
        buf.advance(8);
        let mut body = buf.split_to(len).freeze();
        if first & 0x8000_0000 == 0 {
            let stream_id = first & 0x7fff_ffff;
            if stream_id == 0 {
                return Err(invalid("DATA", "stream id 0"));
            }
            return Ok(Some(Frame::Data {
                stream_id,
                fin: flags & FLAG_FIN != 0,
                data: body,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        let kind = (first & 0xffff) as u16;
        if version != VERSION {
            return Err(Error::Version(version));
        }
        let need = |n: usize, name: &'static str| {
            if len < n {
                Err(invalid(name, format!("length {len} < {n}")))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            kind::SYN_STREAM => {
                need(10, "SYN_STREAM")?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let associated_to = body.get_u32() & 0x7fff_ffff;
                let priority = body.get_u8() >> 5;
                let _slot = body.get_u8();
                let headers = self.headers(&body)?;
                if stream_id == 0 {
                    return Err(invalid("SYN_STREAM", "stream id 0"));
                }
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    fin: flags & FLAG_FIN != 0,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                }
            }
            kind::SYN_REPLY | kind::HEADERS => {
                let name = if kind == kind::SYN_REPLY {
                    "SYN_REPLY"
                } else {
                    "HEADERS"
                };
                need(4, name)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let headers = self.headers(&body)?;
                if stream_id == 0 {
                    return Err(invalid(name, "stream id 0"));
                }
                let fin = flags & FLAG_FIN != 0;
                if kind == kind::SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            kind::RST_STREAM => {
                if len != 8 {
                    return Err(invalid("RST_STREAM", format!("length {len} != 8")));
                }
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let status = body.get_u32();
                if stream_id == 0 || status == 0 {
                    return Err(invalid("RST_STREAM", "stream id or status 0"));
                }
                Frame::RstStream { stream_id, status }
            }
            kind::SETTINGS => {
                need(4, "SETTINGS")?;
                let n = body.get_u32() as usize;
                if n.checked_mul(8) != Some(len - 4) {
                    return Err(invalid(
                        "SETTINGS",
                        format!("{n} entries in {} bytes", len - 4),
                    ));
                }
                let entries = (0..n)
                    .map(|_| {
                        let flag_id = body.get_u32();
                        ((flag_id >> 24) as u8, flag_id & 0xff_ffff, body.get_u32())
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & 0x01 != 0,
                    entries,
                }
            }
            kind::PING => {
                if len != 4 {
                    return Err(invalid("PING", format!("length {len} != 4")));
                }
                Frame::Ping { id: body.get_u32() }
            }
            kind::GOAWAY => {
                // SPDY/3 adds the status word; accept the SPDY/2 form without it too.
                need(4, "GOAWAY")?;
                let last_good_stream_id = body.get_u32() & 0x7fff_ffff;
                let status = if body.remaining() >= 4 {
                    body.get_u32()
                } else {
                    0
                };
                Frame::GoAway {
                    last_good_stream_id,
                    status,
                }
            }
            kind::WINDOW_UPDATE => {
                if len != 8 {
                    return Err(invalid("WINDOW_UPDATE", format!("length {len} != 8")));
                }
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let delta = body.get_u32() & 0x7fff_ffff;
                Frame::WindowUpdate { stream_id, delta }
            }
            other => Frame::Unknown { kind: other },
        };
        Ok(Some(frame))
    }

    /// Inflates one header block (the rest of the frame) and parses it.
    fn headers(&mut self, block: &[u8]) -> Result<Headers, Error> {
        let raw = self.inflate_block(block)?;
        parse_header_block(&raw)
    }

    fn inflate_block(&mut self, mut input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= MAX_HEADER_BLOCK {
                    return Err(Error::HeaderBlock(format!(
                        "inflates to more than {MAX_HEADER_BLOCK} bytes"
                    )));
                }
                out.reserve(out.len().max(256));
            }
            let before = self.inflate.total_in();
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.inflate.total_in() - before) as usize;
            input = &input[used..];
            match result {
                Ok(Status::StreamEnd) => {
                    return Err(Error::HeaderBlock("zlib stream ended".into()));
                }
                Ok(_) => {
                    if input.is_empty() && out.len() < out.capacity() {
                        return Ok(out);
                    }
                }
                Err(e) => match e.needs_dictionary() {
                    Some(want) => {
                        let have = self
                            .inflate
                            .set_dictionary(dictionary())
                            .map_err(|e| Error::HeaderBlock(e.to_string()))?;
                        if have != want {
                            return Err(Error::HeaderBlock(format!(
                                "peer's dictionary has Adler-32 {want:#010x}, ours {have:#010x}"
                            )));
                        }
                    }
                    None => return Err(Error::HeaderBlock(e.to_string())),
                },
            }
        }
    }
}

/// Parses an uncompressed SPDY/3 header block.
pub fn parse_header_block(mut raw: &[u8]) -> Result<Headers, Error> {
    fn take<'a>(raw: &mut &'a [u8], n: usize) -> Result<&'a [u8], Error> {
        if raw.len() < n {
            return Err(Error::HeaderBlock("truncated header block".into()));
        }
        let (a, b) = raw.split_at(n);
        *raw = b;
        Ok(a)
    }
    fn u32_of(raw: &mut &[u8]) -> Result<usize, Error> {
        let b = take(raw, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn text(b: &[u8]) -> Result<String, Error> {
        String::from_utf8(b.to_vec()).map_err(|_| Error::HeaderBlock("header not UTF-8".into()))
    }
    let n = u32_of(&mut raw)?;
    if n > raw.len() / 8 {
        return Err(Error::HeaderBlock(format!(
            "{n} headers in {} bytes",
            raw.len()
        )));
    }
    let mut headers = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u32_of(&mut raw)?;
        let name = text(take(&mut raw, len)?)?.to_ascii_lowercase();
        let len = u32_of(&mut raw)?;
        let value = text(take(&mut raw, len)?)?;
        headers.push((name, value));
    }
    if !raw.is_empty() {
        return Err(Error::HeaderBlock(format!(
            "{} bytes after the last header",
            raw.len()
        )));
    }
    Ok(headers)
}

/// Serializes an uncompressed SPDY/3 header block (names lower-cased).
pub fn header_block(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Writes frames into a byte buffer; owns the connection's outbound compression context.
pub struct Encoder {
    deflate: Compress,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder at the start of a connection.
    pub fn new() -> Self {
        let mut deflate = Compress::new(Compression::best(), true);
        deflate
            .set_dictionary(dictionary())
            .expect("a fresh zlib stream takes a dictionary");
        Encoder { deflate }
    }

    /// Appends `frame` to `out`. Fails only for a payload over [`MAX_FRAME_PAYLOAD`] or a
    /// zero stream id where one is required.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), Error> {
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                if *stream_id == 0 || *stream_id > 0x7fff_ffff {
                    return Err(invalid("DATA", "stream id out of range"));
                }
                if data.len() > MAX_FRAME_PAYLOAD {
                    return Err(invalid("DATA", "payload over 16 MiB"));
                }
                out.put_u32(*stream_id);
                out.put_u32((u32::from(flag(*fin, FLAG_FIN)) << 24) | data.len() as u32);
                out.extend_from_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                fin,
                unidirectional,
                headers,
            } => {
                let block = self.deflate_block(headers)?;
                let flags = flag(*fin, FLAG_FIN) | flag(*unidirectional, FLAG_UNIDIRECTIONAL);
                control(out, kind::SYN_STREAM, flags, 10 + block.len())?;
                out.put_u32(*stream_id);
                out.put_u32(*associated_to);
                out.put_u8((priority & 0x7) << 5);
                out.put_u8(0);
                out.extend_from_slice(&block);
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let k = if matches!(frame, Frame::SynReply { .. }) {
                    kind::SYN_REPLY
                } else {
                    kind::HEADERS
                };
                let block = self.deflate_block(headers)?;
                control(out, k, flag(*fin, FLAG_FIN), 4 + block.len())?;
                out.put_u32(*stream_id);
                out.extend_from_slice(&block);
            }
            Frame::RstStream { stream_id, status } => {
                control(out, kind::RST_STREAM, 0, 8)?;
                out.put_u32(*stream_id);
                out.put_u32(*status);
            }
            Frame::Settings { clear, entries } => {
                control(
                    out,
                    kind::SETTINGS,
                    flag(*clear, 0x01),
                    4 + 8 * entries.len(),
                )?;
                out.put_u32(entries.len() as u32);
                for (flags, id, value) in entries {
                    out.put_u32((u32::from(*flags) << 24) | (id & 0xff_ffff));
                    out.put_u32(*value);
                }
            }
            Frame::Ping { id } => {
                control(out, kind::PING, 0, 4)?;
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                control(out, kind::GOAWAY, 0, 8)?;
                out.put_u32(*last_good_stream_id);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, kind::WINDOW_UPDATE, 0, 8)?;
                out.put_u32(*stream_id);
                out.put_u32(*delta & 0x7fff_ffff);
            }
            Frame::Unknown { kind } => {
                control(out, *kind, 0, 0)?;
            }
        }
        Ok(())
    }

    /// Compresses one header block, ending with a sync flush so the peer can inflate it whole.
    fn deflate_block(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, Error> {
        let raw = header_block(headers);
        let mut input = &raw[..];
        let mut out = Vec::with_capacity(raw.len() + 64);
        loop {
            if out.len() == out.capacity() {
                out.reserve(256);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| Error::HeaderBlock(e.to_string()))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            // Done when all input is in and the flush did not run out of room.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

fn flag(on: bool, bit: u8) -> u8 {
    if on {
        bit
    } else {
        0
    }
}

fn control(out: &mut BytesMut, kind: u16, flags: u8, len: usize) -> Result<(), Error> {
    if len > MAX_FRAME_PAYLOAD {
        return Err(invalid("control", "payload over 16 MiB"));
    }
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32((u32::from(flags) << 24) | len as u32);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let mut enc = Encoder::new();
        let mut buf = BytesMut::new();
        for f in frames {
            enc.encode(f, &mut buf).unwrap();
        }
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert_eq!(&d[d.len() - 6..], b"enq=0.");
        let mut c = Compress::new(Compression::best(), true);
        assert_eq!(c.set_dictionary(d).unwrap(), SPDY3_DICTIONARY_ADLER32);
    }

    /// Adler-32 of the SPDY/3 dictionary: the DICTID in the zlib header of every SPDY/3
    /// header stream. kubectl's streams carry the same one: `Decoder` checks the peer's
    /// DICTID against ours, and the real-kubectl tests (`tests/spdy_kubectl.rs`) pass.
    const SPDY3_DICTIONARY_ADLER32: u32 = 0xe3c6_a7c2;

    #[test]
    fn every_frame_kind_round_trips() {
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: h(&[("streamtype", "error")]),
            },
            Frame::SynStream {
                stream_id: 3,
                associated_to: 1,
                priority: 7,
                fin: true,
                unidirectional: true,
                headers: h(&[("streamtype", "stdin"), ("x", "a\0b")]),
            },
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: vec![],
            },
            Frame::Headers {
                stream_id: 3,
                fin: true,
                headers: h(&[("k", "v")]),
            },
            Frame::RstStream {
                stream_id: 5,
                status: rst::CANCEL,
            },
            Frame::Settings {
                clear: false,
                entries: vec![(0, SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20), (1, 4, 100)],
            },
            Frame::Ping { id: 7 },
            Frame::GoAway {
                last_good_stream_id: 9,
                status: 0,
            },
            Frame::WindowUpdate {
                stream_id: 0,
                delta: 65536,
            },
            Frame::Data {
                stream_id: 1,
                fin: false,
                data: Bytes::from_static(b"hello"),
            },
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::new(),
            },
        ];
        assert_eq!(round_trip(&frames), frames);
    }

    #[test]
    fn header_context_carries_across_frames() {
        // The second block reuses the first's window: it only inflates with shared state.
        let hs = h(&[("streamtype", "stdout"), ("user-agent", "kubectl/v1.27")]);
        let frames: Vec<Frame> = (0..5)
            .map(|i| Frame::SynStream {
                stream_id: 2 * i + 1,
                associated_to: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: hs.clone(),
            })
            .collect();
        assert_eq!(round_trip(&frames), frames);
        let mut enc = Encoder::new();
        let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
        enc.encode(&frames[0], &mut a).unwrap();
        enc.encode(&frames[1], &mut b).unwrap();
        assert!(b.len() < a.len(), "second block should be smaller");
        // A fresh decoder cannot read the second block alone.
        assert!(Decoder::new().decode(&mut b).is_err());
    }

    #[test]
    fn wire_layout_matches_spdy3() {
        let mut enc = Encoder::new();
        let mut buf = BytesMut::new();
        enc.encode(&Frame::Ping { id: 1 }, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        buf.clear();
        enc.encode(
            &Frame::Data {
                stream_id: 5,
                fin: true,
                data: Bytes::from_static(b"ab"),
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 5, 1, 0, 0, 2, b'a', b'b']);
        buf.clear();
        enc.encode(
            &Frame::WindowUpdate {
                stream_id: 0,
                delta: 0x8000,
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            &buf[..],
            &[0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x80, 0]
        );
        // The header block starts with a zlib header announcing a preset dictionary.
        buf.clear();
        enc.encode(
            &Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: vec![],
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..4], &[0x80, 3, 0, 2]);
        assert_eq!(buf[12] & 0x0f, 8, "deflate");
        assert_ne!(buf[13] & 0x20, 0, "FDICT set");
        let dictid = u32::from_be_bytes([buf[14], buf[15], buf[16], buf[17]]);
        assert_eq!(dictid, SPDY3_DICTIONARY_ADLER32);
    }

    #[test]
    fn partial_input_waits_for_more() {
        let mut enc = Encoder::new();
        let mut full = BytesMut::new();
        enc.encode(
            &Frame::Data {
                stream_id: 1,
                fin: false,
                data: Bytes::from_static(b"0123456789"),
            },
            &mut full,
        )
        .unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        for (i, byte) in full.iter().enumerate() {
            buf.put_u8(*byte);
            let got = dec.decode(&mut buf).unwrap();
            assert_eq!(got.is_some(), i == full.len() - 1);
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("version 2", vec![0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]),
            ("short ping", vec![0x80, 3, 0, 6, 0, 0, 0, 2, 0, 0]),
            (
                "rst status 0",
                vec![0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0],
            ),
            ("data stream 0", vec![0, 0, 0, 0, 0, 0, 0, 1, b'x']),
            ("short syn", vec![0x80, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]),
            (
                "garbage header block",
                vec![0x80, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 3, 4],
            ),
            (
                "settings count lies",
                vec![0x80, 3, 0, 4, 0, 0, 0, 4, 0, 0, 0, 9],
            ),
        ];
        for (what, bytes) in cases {
            let mut buf = BytesMut::from(&bytes[..]);
            assert!(Decoder::new().decode(&mut buf).is_err(), "{what}");
        }
        // Unknown control frames are skipped, not fatal.
        let mut buf = BytesMut::from(&[0x80, 3, 0, 0x42, 0, 0, 0, 2, 9, 9][..]);
        assert_eq!(
            Decoder::new().decode(&mut buf).unwrap(),
            Some(Frame::Unknown { kind: 0x42 })
        );
        // Header blocks: truncated, trailing bytes, absurd counts.
        assert!(parse_header_block(&[0, 0, 0, 1, 0, 0, 0, 5, b'a']).is_err());
        assert!(parse_header_block(&[0, 0, 0, 0, 1]).is_err());
        assert!(parse_header_block(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn header_names_are_lower_cased() {
        let raw = header_block(&h(&[("StreamType", "stdin")]));
        assert_eq!(
            parse_header_block(&raw).unwrap(),
            h(&[("streamtype", "stdin")])
        );
    }
}
