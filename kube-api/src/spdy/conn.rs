//! The SPDY session driver: one task per upgraded connection, with a reader task that turns
//! bytes into frames. The driver owns the write half, the streams and the windows, and
//! shuttles DATA to and from the channel frames of [`super::ExecChannels`].

use super::frame::{self, Decoder, Encoder, Frame};
use super::{channel, error_stream_payload, Protocol, StreamType};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, oneshot};

/// SPDY/3.1's initial window, per stream and for the session.
const INITIAL_WINDOW: i64 = 64 * 1024;
/// Granted bytes are returned in WINDOW_UPDATEs once this many have been consumed.
const WINDOW_UPDATE_THRESHOLD: u32 = 32 * 1024;
/// Largest DATA frame sent.
const MAX_DATA_FRAME: usize = 32 * 1024;
/// Received frames held for a slow relay before the reader is paused (TCP backpressure).
const MAX_INBOUND: usize = 64;
/// After our GOAWAY, how long to wait for the client to close before closing ourselves
/// (closing with unread input would reset the TCP connection and could lose our output).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

struct Stream {
    kind: Option<StreamType>,
    /// We sent FIN (or RST, or the client reset it): nothing more goes out.
    local_fin: bool,
    /// The client sent FIN (or RST): nothing more comes in.
    remote_fin: bool,
    /// Bytes the client lets us send on this stream (only enforced once the client shows
    /// it keeps windows; see the module docs).
    send_window: i64,
    /// Bytes received and consumed but not yet granted back.
    unacked: u32,
}

/// A client frame waiting for the relay, with the bytes to grant back once it is taken.
struct Inbound {
    item: (u8, Bytes),
    stream_id: u32,
    credit: u32,
}

enum Next {
    Continue,
    /// The client said GOAWAY or broke the protocol: stop.
    Stop,
}

struct Session<W> {
    writer: W,
    enc: Encoder,
    buf: BytesMut,
    protocol: Protocol,
    streams: BTreeMap<u32, Stream>,
    by_type: HashMap<StreamType, u32>,
    last_client_stream: u32,
    conn_send_window: i64,
    conn_unacked: u32,
    initial_send_window: i64,
    peer_flow_control: bool,
    expected: Vec<StreamType>,
    ready: Option<oneshot::Sender<Result<(), String>>>,
    stdin_closed: bool,
    inbound: VecDeque<Inbound>,
    /// Output waiting for the client's windows: `(stream, data)`, or `(stream, None)` for
    /// a FIN that must follow the data queued before it.
    pending: VecDeque<(u32, Option<Bytes>)>,
}

pub(super) async fn run<IO>(
    io: IO,
    protocol: Protocol,
    expected: Vec<StreamType>,
    ready: oneshot::Sender<Result<(), String>>,
    from_client: mpsc::Sender<(u8, Bytes)>,
    mut to_client: mpsc::Receiver<(u8, Bytes)>,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let (frames_tx, mut frames) = mpsc::channel(16);
    let reader = tokio::spawn(read_frames(read_half, frames_tx));
    let mut s = Session {
        writer: write_half,
        enc: Encoder::new(),
        buf: BytesMut::with_capacity(MAX_DATA_FRAME + 64),
        protocol,
        streams: BTreeMap::new(),
        by_type: HashMap::new(),
        last_client_stream: 0,
        conn_send_window: INITIAL_WINDOW,
        conn_unacked: 0,
        initial_send_window: INITIAL_WINDOW,
        peer_flow_control: false,
        expected,
        ready: Some(ready),
        stdin_closed: false,
        inbound: VecDeque::new(),
        pending: VecDeque::new(),
    };
    let mut from_client = Some(from_client);
    let mut relay_done = false;
    let mut relay_gone = false;
    let result: Result<bool, String> = loop {
        if relay_done && s.pending.is_empty() {
            break Ok(true);
        }
        let relay_open = from_client.is_some();
        tokio::select! {
            f = frames.recv(), if s.inbound.len() < MAX_INBOUND => match f {
                Some(Ok(frame)) => match s.on_frame(frame).await {
                    Ok(Next::Continue) => {}
                    Ok(Next::Stop) => break Ok(false),
                    Err(e) => break Err(e),
                },
                Some(Err(e)) => {
                    let _ = s.write(&Frame::GoAway { last_good_stream_id: s.last_client_stream, status: 1 }).await;
                    break Err(e);
                }
                None => break Ok(false),
            },
            permit = async { from_client.as_ref().expect("guarded").reserve().await }, if relay_open && !s.inbound.is_empty() => match permit {
                Ok(permit) => {
                    let Some(inb) = s.inbound.pop_front() else { continue };
                    permit.send(inb.item);
                    if let Err(e) = s.credit(inb.stream_id, inb.credit).await {
                        break Err(e);
                    }
                }
                // The relay stopped reading: drop what it will never take, grant it back.
                Err(_) => relay_gone = true,
            },
            out = to_client.recv(), if !relay_done && s.pending.is_empty() => match out {
                Some((ch, data)) => {
                    if let Err(e) = s.send_channel(ch, data).await {
                        break Err(e);
                    }
                }
                None => relay_done = true,
            },
        }
        if relay_gone {
            from_client = None;
        }
        if from_client.is_none() {
            // No relay to hand client data to: grant it back at once.
            if let Err(e) = s.discard_inbound().await {
                break Err(e);
            }
        }
        if let Err(e) = s.flush_pending().await {
            break Err(e);
        }
    };
    match result {
        Ok(true) => {
            // The relay is done: EOF on every stream, GOAWAY, then let the client hang up.
            if s.finish().await.is_ok() {
                drop(from_client.take());
                let drain = async {
                    while let Some(Ok(frame)) = frames.recv().await {
                        let go_on = match frame {
                            Frame::GoAway { .. } => false,
                            Frame::Ping { id } if id % 2 == 1 => {
                                s.write(&Frame::Ping { id }).await.is_ok()
                            }
                            _ => true,
                        };
                        if !go_on {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
            }
        }
        Ok(false) => {
            tracing::debug!("SPDY exec client went away");
            s.fail_ready("client closed the connection".into());
        }
        Err(e) => {
            tracing::debug!(error = %e, "SPDY exec session failed");
            s.fail_ready(e);
        }
    }
    let _ = s.writer.shutdown().await;
    reader.abort();
}

async fn read_frames<R: AsyncRead + Unpin>(mut r: R, tx: mpsc::Sender<Result<Frame, String>>) {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => {
                    if tx.send(Ok(f)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string())).await;
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "SPDY read failed");
                return;
            }
        }
    }
}

impl<IO: AsyncWrite> Session<WriteHalf<IO>> {
    async fn write(&mut self, frame: &Frame) -> Result<(), String> {
        self.buf.clear();
        self.enc
            .encode(frame, &mut self.buf)
            .map_err(|e| e.to_string())?;
        self.writer
            .write_all(&self.buf)
            .await
            .map_err(|e| e.to_string())?;
        self.writer.flush().await.map_err(|e| e.to_string())
    }

    fn fail_ready(&mut self, why: String) {
        if let Some(tx) = self.ready.take() {
            let _ = tx.send(Err(why));
        }
    }

    fn check_ready(&mut self) {
        if self.ready.is_some() && self.expected.iter().all(|t| self.by_type.contains_key(t)) {
            if let Some(tx) = self.ready.take() {
                let _ = tx.send(Ok(()));
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<Next, String> {
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
                ..
            } => {
                if stream_id % 2 == 0 || stream_id <= self.last_client_stream {
                    // spdystream's validateStreamId: a protocol error for that stream.
                    self.write(&Frame::RstStream {
                        stream_id,
                        status: frame::rst::PROTOCOL_ERROR,
                    })
                    .await?;
                    return Ok(Next::Continue);
                }
                self.last_client_stream = stream_id;
                let kind = headers
                    .iter()
                    .find(|(k, _)| k == "streamtype")
                    .and_then(|(_, v)| StreamType::from_name(v));
                if kind.is_none() {
                    tracing::debug!(?headers, "SPDY exec stream of unexpected type");
                }
                self.streams.insert(
                    stream_id,
                    Stream {
                        kind,
                        local_fin: false,
                        remote_fin: fin,
                        send_window: self.initial_send_window,
                        unacked: 0,
                    },
                );
                self.write(&Frame::SynReply {
                    stream_id,
                    fin: false,
                    headers: vec![],
                })
                .await?;
                if let Some(kind) = kind {
                    // A later stream of the same type replaces the earlier one (the kubelet
                    // keeps the last).
                    self.by_type.insert(kind, stream_id);
                    if fin && kind == StreamType::Stdin {
                        self.close_stdin(stream_id);
                    }
                }
                self.check_ready();
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                let len = data.len() as u32;
                let Some(st) = self.streams.get_mut(&stream_id) else {
                    tracing::debug!(stream_id, "SPDY DATA for an unknown stream");
                    self.credit(0, len).await?;
                    return Ok(Next::Continue);
                };
                let was_fin = st.remote_fin;
                st.remote_fin |= fin;
                let kind = st.kind;
                match kind {
                    Some(t @ (StreamType::Stdin | StreamType::Resize))
                        if !was_fin && !data.is_empty() =>
                    {
                        self.inbound.push_back(Inbound {
                            item: (t.channel(), data),
                            stream_id,
                            credit: len,
                        });
                    }
                    _ => {
                        // Nothing to hand on (the client does not write to output streams):
                        // grant the bytes back now.
                        self.credit(stream_id, len).await?;
                    }
                }
                if fin && !was_fin && kind == Some(StreamType::Stdin) {
                    self.close_stdin(stream_id);
                }
            }
            Frame::RstStream { stream_id, status } => {
                tracing::debug!(stream_id, status, "SPDY stream reset by the client");
                if let Some(st) = self.streams.get_mut(&stream_id) {
                    st.local_fin = true;
                    st.remote_fin = true;
                    if st.kind == Some(StreamType::Stdin) {
                        self.close_stdin(stream_id);
                    }
                }
            }
            Frame::Headers {
                stream_id,
                fin: true,
                ..
            } => {
                if let Some(st) = self.streams.get_mut(&stream_id) {
                    let was_fin = std::mem::replace(&mut st.remote_fin, true);
                    if !was_fin && st.kind == Some(StreamType::Stdin) {
                        self.close_stdin(stream_id);
                    }
                }
            }
            Frame::Settings { entries, .. } => {
                for (_, id, value) in entries {
                    if id == frame::SETTINGS_INITIAL_WINDOW_SIZE {
                        let delta = i64::from(value) - self.initial_send_window;
                        self.initial_send_window = i64::from(value);
                        for st in self.streams.values_mut() {
                            st.send_window += delta;
                        }
                        self.peer_flow_control = true;
                    }
                }
            }
            Frame::WindowUpdate { stream_id, delta } => {
                self.peer_flow_control = true;
                if stream_id == 0 {
                    self.conn_send_window += i64::from(delta);
                } else if let Some(st) = self.streams.get_mut(&stream_id) {
                    st.send_window += i64::from(delta);
                }
            }
            Frame::Ping { id } => {
                // Odd ids are the client's: echo them. Even ones would answer our pings,
                // and this side sends none.
                if id % 2 == 1 {
                    self.write(&Frame::Ping { id }).await?;
                }
            }
            Frame::GoAway { .. } => return Ok(Next::Stop),
            Frame::SynReply { stream_id, .. } => {
                // The server opens no streams, so there is nothing to reply to.
                self.write(&Frame::RstStream {
                    stream_id,
                    status: frame::rst::INVALID_STREAM,
                })
                .await?;
            }
            Frame::Headers { .. } | Frame::Unknown { .. } => {}
        }
        Ok(Next::Continue)
    }

    /// Queues "stdin closed" for the relay (once).
    fn close_stdin(&mut self, stream_id: u32) {
        if !self.stdin_closed {
            self.stdin_closed = true;
            self.inbound.push_back(Inbound {
                item: (channel::CLOSE, Bytes::from_static(&[channel::STDIN])),
                stream_id,
                credit: 0,
            });
        }
    }

    /// `len` bytes of `stream_id` were consumed: return them to the client's windows.
    async fn credit(&mut self, stream_id: u32, len: u32) -> Result<(), String> {
        if let Some(st) = self.streams.get_mut(&stream_id) {
            st.unacked = st.unacked.saturating_add(len);
            if !st.remote_fin && st.unacked >= WINDOW_UPDATE_THRESHOLD {
                let delta = std::mem::take(&mut st.unacked);
                self.write(&Frame::WindowUpdate { stream_id, delta })
                    .await?;
            }
        }
        self.conn_unacked = self.conn_unacked.saturating_add(len);
        if self.conn_unacked >= WINDOW_UPDATE_THRESHOLD {
            let delta = std::mem::take(&mut self.conn_unacked);
            self.write(&Frame::WindowUpdate {
                stream_id: 0,
                delta,
            })
            .await?;
        }
        Ok(())
    }

    async fn discard_inbound(&mut self) -> Result<(), String> {
        while let Some(inb) = self.inbound.pop_front() {
            self.credit(inb.stream_id, inb.credit).await?;
        }
        Ok(())
    }

    /// One channel frame from the relay.
    async fn send_channel(&mut self, ch: u8, data: Bytes) -> Result<(), String> {
        if ch == channel::CLOSE {
            let Some(kind) = data.first().and_then(|c| StreamType::from_channel(*c)) else {
                return Ok(());
            };
            if let Some(&id) = self.by_type.get(&kind) {
                // After the data queued before it.
                self.pending.push_back((id, None));
            }
            return Ok(());
        }
        let Some(kind) = StreamType::from_channel(ch) else {
            tracing::debug!(ch, "SPDY exec: frame for an unknown channel dropped");
            return Ok(());
        };
        let data = match kind {
            StreamType::Stdout | StreamType::Stderr => data,
            StreamType::Error => match error_stream_payload(self.protocol, data) {
                Some(d) => d,
                None => return Ok(()),
            },
            // Client → server channels.
            StreamType::Stdin | StreamType::Resize => return Ok(()),
        };
        let Some(&id) = self.by_type.get(&kind) else {
            tracing::debug!(
                ?kind,
                "SPDY exec: the client opened no such stream; data dropped"
            );
            return Ok(());
        };
        if !data.is_empty() {
            self.pending.push_back((id, Some(data)));
        }
        Ok(())
    }

    /// Sends queued output as far as the client's windows allow.
    async fn flush_pending(&mut self) -> Result<(), String> {
        while let Some((id, out)) = self.pending.front_mut() {
            let id = *id;
            let Some(data) = out else {
                self.pending.pop_front();
                self.fin(id).await?;
                continue;
            };
            let Some(st) = self.streams.get(&id) else {
                self.pending.pop_front();
                continue;
            };
            if st.local_fin {
                self.pending.pop_front();
                continue;
            }
            let allowed = if self.peer_flow_control {
                st.send_window.min(self.conn_send_window)
            } else {
                i64::MAX
            };
            if allowed <= 0 {
                return Ok(());
            }
            let n = data
                .len()
                .min(MAX_DATA_FRAME)
                .min(usize::try_from(allowed).unwrap_or(usize::MAX));
            let chunk = data.split_to(n);
            if data.is_empty() {
                self.pending.pop_front();
            }
            if let Some(st) = self.streams.get_mut(&id) {
                st.send_window -= n as i64;
            }
            self.conn_send_window -= n as i64;
            self.write(&Frame::Data {
                stream_id: id,
                fin: false,
                data: chunk,
            })
            .await?;
        }
        Ok(())
    }

    async fn fin(&mut self, id: u32) -> Result<(), String> {
        if let Some(st) = self.streams.get_mut(&id) {
            if !st.local_fin {
                st.local_fin = true;
                self.write(&Frame::Data {
                    stream_id: id,
                    fin: true,
                    data: Bytes::new(),
                })
                .await?;
            }
        }
        Ok(())
    }

    /// End of session: FIN on every stream still open our way, then GOAWAY.
    async fn finish(&mut self) -> Result<(), String> {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.fin(id).await?;
        }
        self.write(&Frame::GoAway {
            last_good_stream_id: self.last_client_stream,
            status: 0,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{accept, accept_with_timeout, ExecOptions, Protocol};
    use super::*;
    use tokio::io::DuplexStream;

    /// A SPDY client written with the frame codec, on one end of an in-memory pipe.
    struct Client {
        io: DuplexStream,
        enc: Encoder,
        dec: Decoder,
        buf: BytesMut,
    }

    impl Client {
        fn new() -> (Client, DuplexStream) {
            let (a, b) = tokio::io::duplex(1 << 20);
            let c = Client {
                io: a,
                enc: Encoder::new(),
                dec: Decoder::new(),
                buf: BytesMut::new(),
            };
            (c, b)
        }

        async fn send(&mut self, f: Frame) {
            let mut out = BytesMut::new();
            self.enc.encode(&f, &mut out).unwrap();
            self.io.write_all(&out).await.unwrap();
        }

        async fn open(&mut self, id: u32, kind: &str) {
            self.send(Frame::SynStream {
                stream_id: id,
                associated_to: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: vec![("streamtype".into(), kind.into())],
            })
            .await;
        }

        /// The next frame, `None` at EOF.
        async fn recv(&mut self) -> Option<Frame> {
            loop {
                if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                    return Some(f);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        }

        /// Every frame until the server closes the connection.
        async fn rest(&mut self) -> Vec<Frame> {
            let mut v = Vec::new();
            while let Some(f) = self.recv().await {
                v.push(f);
            }
            v
        }
    }

    fn data(id: u32, fin: bool, d: &'static [u8]) -> Frame {
        Frame::Data {
            stream_id: id,
            fin,
            data: Bytes::from_static(d),
        }
    }

    fn reply(id: u32) -> Frame {
        Frame::SynReply {
            stream_id: id,
            fin: false,
            headers: vec![],
        }
    }

    const FAIL3: &[u8] = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;

    #[tokio::test(start_paused = true)]
    async fn v3_session_output_error_text_fins_and_goaway() {
        let (mut c, server) = Client::new();
        c.open(1, "error").await;
        c.open(3, "stdout").await;
        let opts = ExecOptions {
            stdout: true,
            ..Default::default()
        };
        let session = accept(server, Protocol::V3, opts).await.unwrap();
        assert_eq!(c.recv().await, Some(reply(1)));
        assert_eq!(c.recv().await, Some(reply(3)));
        let (_from, to) = session.into_pair();
        to.send((channel::STDOUT, Bytes::from_static(b"hi")))
            .await
            .unwrap();
        // Stderr was not opened: dropped. Stdin is the client's: ignored.
        to.send((channel::STDERR, Bytes::from_static(b"lost")))
            .await
            .unwrap();
        to.send((channel::ERROR, Bytes::from_static(FAIL3)))
            .await
            .unwrap();
        drop(to);
        assert_eq!(
            c.rest().await,
            vec![
                data(3, false, b"hi"),
                data(
                    1,
                    false,
                    b"command terminated with non-zero exit code: exit status 3"
                ),
                data(1, true, b""),
                data(3, true, b""),
                Frame::GoAway {
                    last_good_stream_id: 3,
                    status: 0
                },
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stdin_is_relayed_with_window_updates_ping_and_close() {
        let (mut c, server) = Client::new();
        c.open(1, "error").await;
        c.open(3, "stdin").await;
        let opts = ExecOptions {
            stdin: true,
            ..Default::default()
        };
        let session = accept(server, Protocol::V4, opts).await.unwrap();
        let (mut from, to) = session.into_pair();
        c.recv().await;
        c.recv().await;
        c.send(Frame::Ping { id: 1 }).await;
        assert_eq!(c.recv().await, Some(Frame::Ping { id: 1 }));
        // 96 KiB of stdin in 16 KiB frames: past the 64 KiB window, so the server must
        // grant more as it hands the bytes on.
        static CHUNK: [u8; 16 * 1024] = [7u8; 16 * 1024];
        for _ in 0..6 {
            c.send(data(3, false, &CHUNK)).await;
        }
        let mut got = 0;
        while got < 96 * 1024 {
            let (ch, d) = from.recv().await.unwrap();
            assert_eq!(ch, channel::STDIN);
            got += d.len();
        }
        assert_eq!(got, 96 * 1024);
        // Every consumed byte is granted back, on the stream and on the session.
        let (mut stream_granted, mut session_granted) = (0, 0);
        while stream_granted < 96 * 1024 || session_granted < 96 * 1024 {
            match c.recv().await.unwrap() {
                Frame::WindowUpdate {
                    stream_id: 3,
                    delta,
                } => stream_granted += delta,
                Frame::WindowUpdate {
                    stream_id: 0,
                    delta,
                } => session_granted += delta,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((stream_granted, session_granted), (96 * 1024, 96 * 1024));
        // FIN on stdin: "stdin closed" for the relay.
        c.send(data(3, true, b"")).await;
        assert_eq!(
            from.recv().await,
            Some((channel::CLOSE, Bytes::from_static(&[channel::STDIN])))
        );
        drop(to);
        let frames = c.rest().await;
        assert_eq!(
            frames,
            vec![
                data(1, true, b""),
                data(3, true, b""),
                Frame::GoAway {
                    last_good_stream_id: 3,
                    status: 0
                }
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_keeps_windows_gets_no_more_than_they_allow() {
        let (mut c, server) = Client::new();
        c.open(1, "error").await;
        c.open(3, "stdout").await;
        let opts = ExecOptions {
            stdout: true,
            ..Default::default()
        };
        let session = accept(server, Protocol::V4, opts).await.unwrap();
        c.recv().await;
        c.recv().await;
        // The client announces 4-byte stream windows.
        c.send(Frame::Settings {
            clear: false,
            entries: vec![(0, frame::SETTINGS_INITIAL_WINDOW_SIZE, 4)],
        })
        .await;
        c.send(Frame::Ping { id: 1 }).await;
        assert_eq!(c.recv().await, Some(Frame::Ping { id: 1 }));
        let (_from, to) = session.into_pair();
        to.send((channel::STDOUT, Bytes::from_static(b"0123456789")))
            .await
            .unwrap();
        // Closing stdout waits for the data queued before it.
        to.send((channel::CLOSE, Bytes::from_static(&[channel::STDOUT])))
            .await
            .unwrap();
        assert_eq!(c.recv().await, Some(data(3, false, b"0123")));
        c.send(Frame::WindowUpdate {
            stream_id: 3,
            delta: 3,
        })
        .await;
        assert_eq!(c.recv().await, Some(data(3, false, b"456")));
        c.send(Frame::WindowUpdate {
            stream_id: 3,
            delta: 100,
        })
        .await;
        assert_eq!(c.recv().await, Some(data(3, false, b"789")));
        assert_eq!(c.recv().await, Some(data(3, true, b"")));
        drop(to);
        assert_eq!(c.recv().await, Some(data(1, true, b"")));
        assert!(matches!(c.recv().await, Some(Frame::GoAway { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn tty_session_has_a_resize_stream_and_no_stderr() {
        let (mut c, server) = Client::new();
        c.open(1, "error").await;
        c.open(3, "stdin").await;
        c.open(5, "stdout").await;
        c.open(7, "resize").await;
        let opts = ExecOptions::from_query("stdin=true&stdout=true&stderr=true&tty=true");
        let session = accept(server, Protocol::V4, opts).await.unwrap();
        let (mut from, _to) = session.into_pair();
        c.send(data(7, false, b"{\"Width\":80,\"Height\":24}\n"))
            .await;
        assert_eq!(
            from.recv().await,
            Some((
                channel::RESIZE,
                Bytes::from_static(b"{\"Width\":80,\"Height\":24}\n")
            ))
        );
        // A reset stdin stream is a closed stdin too.
        c.send(Frame::RstStream {
            stream_id: 3,
            status: frame::rst::CANCEL,
        })
        .await;
        assert_eq!(
            from.recv().await,
            Some((channel::CLOSE, Bytes::from_static(&[channel::STDIN])))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn missing_streams_time_out_and_end_the_session() {
        let (mut c, server) = Client::new();
        c.open(1, "error").await;
        let opts = ExecOptions {
            stdout: true,
            ..Default::default()
        };
        let err = accept_with_timeout(server, Protocol::V4, opts, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out waiting for client to create streams"
        );
        let frames = c.rest().await;
        assert_eq!(frames.first(), Some(&reply(1)));
        assert!(matches!(frames.last(), Some(Frame::GoAway { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn client_goaway_or_hangup_ends_the_relay_input() {
        for goaway in [true, false] {
            let (mut c, server) = Client::new();
            c.open(1, "error").await;
            let session = accept(server, Protocol::V4, ExecOptions::default())
                .await
                .unwrap();
            let (mut from, to) = session.into_pair();
            if goaway {
                c.send(Frame::GoAway {
                    last_good_stream_id: 0,
                    status: 0,
                })
                .await;
            } else {
                drop(c);
            }
            assert_eq!(from.recv().await, None);
            // The session is over: output has nowhere to go.
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert!(to.send((channel::STDOUT, Bytes::new())).await.is_err());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn protocol_errors_are_handled() {
        let (mut c, server) = Client::new();
        c.open(3, "error").await;
        // Stream ids must grow: 1 after 3 is refused.
        c.open(1, "stdout").await;
        let opts = ExecOptions::default();
        let session = accept(server, Protocol::V4, opts).await.unwrap();
        assert_eq!(c.recv().await, Some(reply(3)));
        assert_eq!(
            c.recv().await,
            Some(Frame::RstStream {
                stream_id: 1,
                status: frame::rst::PROTOCOL_ERROR
            })
        );
        // Garbage: the server answers GOAWAY(PROTOCOL_ERROR) and hangs up.
        c.io.write_all(&[0x80, 2, 0, 1, 0, 0, 0, 0]).await.unwrap();
        let frames = c.rest().await;
        assert_eq!(
            frames,
            vec![Frame::GoAway {
                last_good_stream_id: 3,
                status: 1
            }]
        );
        let (mut from, _to) = session.into_pair();
        assert_eq!(from.recv().await, None);
    }
}
