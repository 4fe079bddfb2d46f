//! Container logs in CRI format: the writer runtimes use to record a container's output, the
//! parser, and the reader behind `kubectl logs` with Kubernetes' `PodLogOptions` semantics
//! (`pkg/kubelet/kuberuntime/logs/logs.go`).
//!
//! # Format
//!
//! One record per line: `<RFC3339Nano> <stdout|stderr> <P|F> <content>\n`. `F` marks the
//! last fragment of an output line, `P` a partial fragment (a line longer than
//! [`MAX_RECORD_BYTES`], or output not terminated by a newline when the stream ended). A
//! reader joins `P` fragments with the following record: an `F` record is shown as
//! `content + "\n"`, a `P` record as `content` alone.
//!
//! # Public API for runtimes
//!
//! - [`CriLogWriter`] splits one stream's raw output into records: call
//!   [`write`](CriLogWriter::write) with each chunk read from the process and
//!   [`finish`](CriLogWriter::finish) when the stream closes. Several writers (stdout and
//!   stderr) may share one file when each `write` call ends in a single `write_all` of whole
//!   records (which it does) on a file opened in append mode.
//! - [`format_record`] formats one record, [`parse_record`] parses one line.
//!
//! # Reading
//!
//! [`read_logs`] copies a log file to an [`AsyncWrite`] applying [`LogOptions`]: `tail_lines`,
//! `since_time` (the caller turns `sinceSeconds` into a time), `timestamps`, `limit_bytes` and
//! `follow` (keep reading until the container is no longer running and the file has been
//! drained; a rotated file is reopened). `previous` is the caller's choice of file: the log of
//! the container's previous attempt.

use std::io::{self, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader,
};

/// A record longer than this is split into `P` records (containerd's default, 16 KiB).
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// The stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl LogStream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// One parsed log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When the output was read.
    pub time: Timestamp,
    /// Its stream.
    pub stream: LogStream,
    /// A partial fragment (`P`): the line continues in the next record.
    pub partial: bool,
    /// The content, without the line's newline.
    pub content: Vec<u8>,
}

/// Why a line is not a CRI log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CRI log line: {0}")]
pub struct ParseError(pub String);

/// Formats one record: `<RFC3339Nano> <stream> <P|F> <content>\n`.
pub fn format_record(time: Timestamp, stream: LogStream, partial: bool, content: &[u8]) -> Vec<u8> {
    let mut line = format!(
        "{} {} {} ",
        format_time(time),
        stream.as_str(),
        if partial { "P" } else { "F" }
    )
    .into_bytes();
    line.extend_from_slice(content);
    line.push(b'\n');
    line
}

/// Formats a time as Go's `time.RFC3339Nano` does (UTC, trailing zeros of the fraction
/// dropped).
pub fn format_time(time: Timestamp) -> String {
    time.to_string()
}

/// Parses one line (with or without its trailing newline).
pub fn parse_record(line: &[u8]) -> Result<LogRecord, ParseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |b| *b == b' ');
    let bad = |what: &str| ParseError(format!("{what} in {:?}", String::from_utf8_lossy(line)));
    let time = parts.next().ok_or_else(|| bad("no timestamp"))?;
    let time: Timestamp = std::str::from_utf8(time)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad("bad timestamp"))?;
    let stream = match parts.next() {
        Some(b"stdout") => LogStream::Stdout,
        Some(b"stderr") => LogStream::Stderr,
        _ => return Err(bad("unknown stream")),
    };
    let partial = match parts.next() {
        Some(b"P") => true,
        Some(b"F") => false,
        _ => return Err(bad("unknown tag")),
    };
    let content = parts.next().unwrap_or_default().to_vec();
    Ok(LogRecord {
        time,
        stream,
        partial,
        content,
    })
}

/// Splits one stream's output into CRI records written to `out`.
#[derive(Debug)]
pub struct CriLogWriter<W: Write> {
    out: W,
    stream: LogStream,
    pending: Vec<u8>,
}

impl<W: Write> CriLogWriter<W> {
    /// A writer for `stream` into `out` (a log file opened for appending).
    pub fn new(out: W, stream: LogStream) -> Self {
        CriLogWriter {
            out,
            stream,
            pending: Vec::new(),
        }
    }

    /// Records a chunk of output read at `now`: every complete line becomes an `F` record,
    /// an incomplete tail waits for more output (or becomes `P` records past
    /// [`MAX_RECORD_BYTES`]).
    pub fn write(&mut self, now: Timestamp, data: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        let mut records = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let line = &self.pending[start..start + pos];
            push_line(&mut records, now, self.stream, line);
            start += pos + 1;
        }
        while self.pending.len() - start >= MAX_RECORD_BYTES {
            let chunk = &self.pending[start..start + MAX_RECORD_BYTES];
            records.extend(format_record(now, self.stream, true, chunk));
            start += MAX_RECORD_BYTES;
        }
        self.pending.drain(..start);
        if !records.is_empty() {
            self.out.write_all(&records)?;
        }
        Ok(())
    }

    /// The stream has closed: output not terminated by a newline is written as a `P` record.
    pub fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        if !self.pending.is_empty() {
            let rec = format_record(now, self.stream, true, &self.pending);
            self.pending.clear();
            self.out.write_all(&rec)?;
        }
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn push_line(records: &mut Vec<u8>, now: Timestamp, stream: LogStream, line: &[u8]) {
    let mut rest = line;
    while rest.len() > MAX_RECORD_BYTES {
        records.extend(format_record(now, stream, true, &rest[..MAX_RECORD_BYTES]));
        rest = &rest[MAX_RECORD_BYTES..];
    }
    records.extend(format_record(now, stream, false, rest));
}

/// What to read (Kubernetes' `PodLogOptions`, minus the container and `previous`, which
/// choose the file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// Keep streaming new records until the container stops.
    pub follow: bool,
    /// Only the last N records of the file (`None`: all).
    pub tail_lines: Option<u64>,
    /// Only records at or after this time (`sinceTime`, or now − `sinceSeconds`).
    pub since_time: Option<Timestamp>,
    /// Prefix every record with its RFC3339Nano timestamp and a space.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
}

/// How often a follower polls the file and the container's state.
pub const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Finds the byte offset where the last `n` lines of `data` start.
pub fn tail_start(data: &[u8], n: u64) -> usize {
    if n == 0 {
        return data.len();
    }
    let mut end = data.len();
    if data.last() == Some(&b'\n') {
        end -= 1;
    }
    let mut seen = 0;
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

struct Output<'a, W> {
    out: &'a mut W,
    opts: &'a LogOptions,
    written: u64,
}

impl<W: AsyncWrite + Unpin> Output<'_, W> {
    /// Writes one record; `Ok(false)` once the byte limit is reached.
    async fn record(&mut self, rec: &LogRecord) -> io::Result<bool> {
        if self.opts.since_time.is_some_and(|since| rec.time < since) {
            return Ok(true);
        }
        let mut buf = Vec::with_capacity(rec.content.len() + 40);
        if self.opts.timestamps {
            buf.extend_from_slice(format_time(rec.time).as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(&rec.content);
        if !rec.partial {
            buf.push(b'\n');
        }
        if let Some(limit) = self.opts.limit_bytes {
            let room = limit.saturating_sub(self.written) as usize;
            if buf.len() >= room {
                self.out.write_all(&buf[..room]).await?;
                self.out.flush().await?;
                self.written = limit;
                return Ok(false);
            }
        }
        self.out.write_all(&buf).await?;
        self.written += buf.len() as u64;
        Ok(true)
    }
}

/// File identity, to notice rotation.
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Copies the log at `path` to `out` with `opts` applied. With `follow`, it keeps reading
/// until `running()` reports that the container is no longer running and the file is
/// drained (or the reader of `out` goes away); a file replaced by rotation is reopened from
/// its beginning. Lines that are not CRI records are skipped, as the kubelet does.
pub async fn read_logs<W, F, Fut>(
    path: &Path,
    opts: &LogOptions,
    out: &mut W,
    mut running: F,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if opts.limit_bytes == Some(0) {
        return Ok(());
    }
    let mut file = tokio::fs::File::open(path).await?;
    let mut id = file_id(&file.metadata().await?);
    let mut offset = 0u64;
    if let Some(n) = opts.tail_lines {
        let mut data = Vec::new();
        file.read_to_end(&mut data).await?;
        offset = tail_start(&data, n) as u64;
        file.seek(SeekFrom::Start(offset)).await?;
    }
    let mut reader = BufReader::new(file);
    let mut output = Output {
        out,
        opts,
        written: 0,
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n > 0 && line.last() == Some(&b'\n') {
            offset += n as u64;
            if let Ok(rec) = parse_record(&line) {
                if !output.record(&rec).await? {
                    return Ok(());
                }
            }
            continue;
        }
        // End of the file (possibly in the middle of a record being written).
        if n > 0 {
            // Re-read the incomplete record later.
            reader.seek(SeekFrom::Start(offset)).await?;
        }
        if !opts.follow {
            if n > 0 {
                if let Ok(rec) = parse_record(&line) {
                    output.record(&rec).await?;
                }
            }
            output.out.flush().await?;
            return Ok(());
        }
        output.out.flush().await?;
        let alive = running().await;
        // Rotation: the path now names another file.
        if let Ok(meta) = tokio::fs::metadata(path).await {
            if file_id(&meta) != id {
                // Drain what is left of the old file first.
                let mut rest = Vec::new();
                reader.read_to_end(&mut rest).await?;
                for l in rest.split_inclusive(|b| *b == b'\n') {
                    if let Ok(rec) = parse_record(l) {
                        if !output.record(&rec).await? {
                            return Ok(());
                        }
                    }
                }
                let file = tokio::fs::File::open(path).await?;
                id = file_id(&file.metadata().await?);
                reader = BufReader::new(file);
                offset = 0;
                continue;
            }
        }
        if !alive {
            // One last pass for records written just before the exit.
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await?;
            for l in rest.split_inclusive(|b| *b == b'\n') {
                if let Ok(rec) = parse_record(l) {
                    if !output.record(&rec).await? {
                        return Ok(());
                    }
                }
            }
            output.out.flush().await?;
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn records_round_trip() {
        let t = ts("2026-11-26T14:49:53.877Z");
        let line = format_record(t, LogStream::Stderr, true, b"a b c");
        assert_eq!(line, b"2026-11-26T14:49:53.877Z stderr P a b c\n");
        let rec = parse_record(&line).unwrap();
        assert_eq!(rec.time, t);
        assert_eq!(rec.stream, LogStream::Stderr);
        assert!(rec.partial);
        assert_eq!(rec.content, b"a b c");
        assert_eq!(
            parse_record(b"2026-11-26T14:49:53Z stdout F ")
                .unwrap()
                .content,
            b""
        );
        assert!(parse_record(b"garbage").is_err());
        assert!(parse_record(b"2026-11-26T14:49:53Z stdin F x").is_err());
        assert!(parse_record(b"2026-11-26T14:49:53Z stdout X x").is_err());
    }

    #[test]
    fn writer_splits_lines_and_long_output() {
        let t = ts("2026-01-01T00:00:00Z");
        let mut w = CriLogWriter::new(Vec::new(), LogStream::Stdout);
        w.write(t, b"one\ntw").unwrap();
        w.write(t, b"o\nthr").unwrap();
        w.finish(t).unwrap();
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(
            out,
            "2026-01-01T00:00:00Z stdout F one\n2026-01-01T00:00:00Z stdout F two\n2026-01-01T00:00:00Z stdout P thr\n"
        );
        let mut w = CriLogWriter::new(Vec::new(), LogStream::Stdout);
        let long = vec![b'x'; MAX_RECORD_BYTES + 10];
        w.write(t, &long).unwrap();
        w.write(t, b"\n").unwrap();
        let out = w.into_inner();
        let recs: Vec<LogRecord> = out
            .split_inclusive(|b| *b == b'\n')
            .map(|l| parse_record(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[0].partial && recs[0].content.len() == MAX_RECORD_BYTES);
        assert!(!recs[1].partial && recs[1].content.len() == 10);
    }

    #[test]
    fn tail_start_counts_lines_from_the_end() {
        let d = b"a\nb\nc\n";
        assert_eq!(&d[tail_start(d, 1)..], b"c\n");
        assert_eq!(&d[tail_start(d, 2)..], b"b\nc\n");
        assert_eq!(&d[tail_start(d, 10)..], d);
        assert_eq!(tail_start(d, 0), d.len());
    }
}
