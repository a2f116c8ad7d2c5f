//! A SPDY/3.1 server connection: the peer opens streams, we answer them.
//!
//! One reader task decodes frames and routes them; one writer task owns the
//! header compressor and the socket's write half, so frames leave in the
//! order they were queued. Each accepted stream is a [`Stream`]: a queue of
//! the peer's data (closed by its FIN or RST_STREAM) and methods to reply,
//! write, half-close and reset.
//!
//! Flow control (SPDY/3.1 §2.6.8): we announce what we have consumed with
//! WINDOW_UPDATE, per stream and for the connection, so a peer that honours
//! windows never stalls. Our own sending honours the peer's windows only
//! once the peer shows it keeps them (it sent a WINDOW_UPDATE or an
//! initial-window SETTING): Kubernetes clients use moby/spdystream, which
//! speaks SPDY/3 framing without flow control and never opens a window, so
//! enforcing the default 64 KiB against it would stall every copy.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify};

use super::frame::{rst, Decoder, Encoder, Frame, Headers, FLAG_FIN, SETTINGS_INITIAL_WINDOW_SIZE};

/// The default window of SPDY/3.1, both directions.
const DEFAULT_WINDOW: i64 = 64 * 1024;
/// Largest DATA frame we send.
const MAX_DATA: usize = 32 * 1024;
/// Data frames queued per stream before the reader waits for the
/// application (which holds back the peer).
const STREAM_QUEUE: usize = 64;

enum Cmd {
    Frame(Frame),
    Shutdown,
}

struct StreamState {
    data: Option<mpsc::Sender<Bytes>>,
    send_window: i64,
    reset: bool,
    unacked: i64,
}

struct State {
    streams: HashMap<u32, StreamState>,
    conn_send_window: i64,
    conn_unacked: i64,
    initial_send_window: i64,
    /// The peer keeps flow-control windows.
    enforce: bool,
    last_stream: u32,
    goaway: bool,
}

struct Shared {
    state: Mutex<State>,
    windows: Notify,
    out: mpsc::Sender<Cmd>,
}

/// The connection's handle for the application.
#[derive(Clone)]
pub(crate) struct Conn {
    shared: Arc<Shared>,
    closed: watch::Receiver<bool>,
}

/// A stream the peer opened.
pub(crate) struct Stream {
    pub id: u32,
    pub headers: Headers,
    data: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
}

/// Starts serving `io`; new streams arrive on the receiver, which closes
/// when the peer goes away.
pub(crate) fn serve<T>(io: T) -> (Conn, mpsc::Receiver<Stream>)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(io);
    let (out_tx, out_rx) = mpsc::channel(256);
    let (new_tx, new_rx) = mpsc::channel(64);
    let (closed_tx, closed_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            streams: HashMap::new(),
            conn_send_window: DEFAULT_WINDOW,
            conn_unacked: 0,
            initial_send_window: DEFAULT_WINDOW,
            enforce: false,
            last_stream: 0,
            goaway: false,
        }),
        windows: Notify::new(),
        out: out_tx,
    });
    tokio::spawn(write_loop(wr, out_rx));
    tokio::spawn(read_loop(rd, shared.clone(), new_tx, closed_tx));
    (
        Conn {
            shared,
            closed: closed_rx,
        },
        new_rx,
    )
}

async fn write_loop<W: AsyncWrite>(mut wr: tokio::io::WriteHalf<W>, mut rx: mpsc::Receiver<Cmd>) {
    let mut enc = Encoder::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(cmd) = rx.recv().await {
        buf.clear();
        let mut shutdown = false;
        let mut next = Some(cmd);
        // Coalesce what is queued into one write.
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Frame(f) => {
                    if let Err(e) = enc.encode(&f, &mut buf) {
                        tracing::debug!("spdy: encoding {f:?}: {e}");
                    }
                }
                Cmd::Shutdown => {
                    shutdown = true;
                    break;
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() && (wr.write_all(&buf).await.is_err() || wr.flush().await.is_err()) {
            return;
        }
        if shutdown {
            let _ = wr.shutdown().await;
            return;
        }
    }
}

async fn read_loop<R: AsyncRead>(
    mut rd: tokio::io::ReadHalf<R>,
    shared: Arc<Shared>,
    new_streams: mpsc::Sender<Stream>,
    closed: watch::Sender<bool>,
) {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'conn: loop {
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if !handle(&shared, frame, &new_streams).await {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("spdy: {e}");
                    let last = shared.state.lock().last_stream;
                    let _ = shared
                        .out
                        .send(Cmd::Frame(Frame::GoAway {
                            last_good_stream_id: last,
                            status: 1,
                        }))
                        .await;
                    break 'conn;
                }
            }
        }
        buf.reserve(16 * 1024);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // The peer is gone: every stream's data ends.
    {
        let mut st = shared.state.lock();
        for s in st.streams.values_mut() {
            s.data = None;
            s.reset = true;
        }
    }
    shared.windows.notify_waiters();
    let _ = closed.send(true);
}

/// Handles one frame; false ends the connection.
async fn handle(shared: &Arc<Shared>, frame: Frame, new_streams: &mpsc::Sender<Stream>) -> bool {
    let send = |f: Frame| shared.out.try_send(Cmd::Frame(f));
    match frame {
        Frame::SynStream {
            stream_id,
            flags,
            headers,
            ..
        } => {
            let (tx, rx) = mpsc::channel(STREAM_QUEUE);
            let refused = {
                let mut st = shared.state.lock();
                // Client streams are odd and increase (§2.3.2).
                let invalid = stream_id % 2 == 0
                    || stream_id <= st.last_stream
                    || st.streams.contains_key(&stream_id);
                if invalid {
                    Some(rst::PROTOCOL_ERROR)
                } else if st.goaway {
                    Some(rst::REFUSED_STREAM)
                } else {
                    st.last_stream = stream_id;
                    let initial = st.initial_send_window;
                    st.streams.insert(
                        stream_id,
                        StreamState {
                            data: (flags & FLAG_FIN == 0).then_some(tx),
                            send_window: initial,
                            reset: false,
                            unacked: 0,
                        },
                    );
                    None
                }
            };
            if let Some(status) = refused {
                let _ = send(Frame::RstStream { stream_id, status });
                return true;
            }
            let stream = Stream {
                id: stream_id,
                headers,
                data: rx,
                shared: shared.clone(),
            };
            if new_streams.send(stream).await.is_err() {
                let _ = send(Frame::RstStream {
                    stream_id,
                    status: rst::REFUSED_STREAM,
                });
            }
        }
        Frame::Data {
            stream_id,
            flags,
            data,
        } => {
            let len = data.len() as i64;
            let tx = {
                let st = shared.state.lock();
                st.streams.get(&stream_id).and_then(|s| s.data.clone())
            };
            match tx {
                Some(tx) => {
                    if !data.is_empty() {
                        // Waiting here holds back the peer (TCP), not
                        // other work: this is the connection's reader.
                        let _ = tx.send(data).await;
                    }
                }
                None => {
                    let known = shared.state.lock().streams.contains_key(&stream_id);
                    if !known {
                        let _ = send(Frame::RstStream {
                            stream_id,
                            status: rst::INVALID_STREAM,
                        });
                    }
                }
            }
            let mut updates = Vec::new();
            {
                let mut st = shared.state.lock();
                st.conn_unacked += len;
                if st.conn_unacked >= DEFAULT_WINDOW / 2 {
                    updates.push((0, st.conn_unacked));
                    st.conn_unacked = 0;
                }
                if let Some(s) = st.streams.get_mut(&stream_id) {
                    s.unacked += len;
                    if s.unacked >= DEFAULT_WINDOW / 2 && flags & FLAG_FIN == 0 {
                        updates.push((stream_id, s.unacked));
                        s.unacked = 0;
                    }
                    if flags & FLAG_FIN != 0 {
                        s.data = None;
                    }
                }
            }
            for (stream_id, delta) in updates {
                let _ = send(Frame::WindowUpdate {
                    stream_id,
                    delta: delta as u32,
                });
            }
        }
        Frame::RstStream { stream_id, .. } => {
            let mut st = shared.state.lock();
            if let Some(s) = st.streams.get_mut(&stream_id) {
                s.data = None;
                s.reset = true;
            }
            drop(st);
            shared.windows.notify_waiters();
        }
        Frame::Settings { entries } => {
            let mut st = shared.state.lock();
            for (_, id, value) in entries {
                if id == SETTINGS_INITIAL_WINDOW_SIZE {
                    let delta = value as i64 - st.initial_send_window;
                    st.initial_send_window = value as i64;
                    st.enforce = true;
                    for s in st.streams.values_mut() {
                        s.send_window += delta;
                    }
                }
            }
            drop(st);
            shared.windows.notify_waiters();
        }
        Frame::WindowUpdate { stream_id, delta } => {
            let mut st = shared.state.lock();
            st.enforce = true;
            if stream_id == 0 {
                st.conn_send_window += delta as i64;
            } else if let Some(s) = st.streams.get_mut(&stream_id) {
                s.send_window += delta as i64;
            }
            drop(st);
            shared.windows.notify_waiters();
        }
        Frame::Ping { id } => {
            // Our pings would be even; a peer's ping is echoed (§2.6.5).
            if id % 2 == 1 {
                let _ = send(Frame::Ping { id });
            }
        }
        Frame::GoAway { .. } => {
            shared.state.lock().goaway = true;
        }
        Frame::SynReply { .. } | Frame::Headers { .. } | Frame::Unknown { .. } => {}
    }
    true
}

impl Conn {
    /// Stops accepting streams and tells the peer (GOAWAY, status OK).
    pub(crate) async fn goaway(&self) {
        let last = {
            let mut st = self.shared.state.lock();
            st.goaway = true;
            st.last_stream
        };
        let _ = self
            .shared
            .out
            .send(Cmd::Frame(Frame::GoAway {
                last_good_stream_id: last,
                status: 0,
            }))
            .await;
    }

    /// Waits until the peer closes the connection.
    pub(crate) async fn closed(&self) {
        let mut c = self.closed.clone();
        let _ = c.wait_for(|closed| *closed).await;
    }

    /// Ends the session: GOAWAY, a moment for the peer to close its side
    /// (so nothing it still sends is answered with a reset), then our close.
    pub(crate) async fn finish(&self, wait: Duration) {
        self.goaway().await;
        let _ = tokio::time::timeout(wait, self.closed()).await;
        let _ = self.shared.out.send(Cmd::Shutdown).await;
    }
}

impl Stream {
    /// Accepts the stream (SYN_REPLY).
    pub(crate) async fn reply(&self) {
        let _ = self
            .shared
            .out
            .send(Cmd::Frame(Frame::SynReply {
                stream_id: self.id,
                flags: 0,
                headers: Vec::new(),
            }))
            .await;
    }

    /// The next piece of the peer's data; `None` once it half-closed,
    /// reset the stream, or went away.
    pub(crate) async fn read(&mut self) -> Option<Bytes> {
        self.data.recv().await
    }

    /// Sends `data`, within the peer's windows when it keeps them.
    pub(crate) async fn write(&self, data: &[u8]) -> io::Result<()> {
        self.writer().write(data).await
    }

    /// Half-closes our side (an empty DATA frame with FIN).
    pub(crate) async fn close(&self) {
        self.writer().close().await
    }

    /// A handle that writes to this stream while it is being read.
    pub(crate) fn writer(&self) -> StreamWriter {
        StreamWriter {
            id: self.id,
            shared: self.shared.clone(),
        }
    }

    /// Aborts the stream (RST_STREAM).
    pub(crate) async fn reset(&self, status: u32) {
        if let Some(s) = self.shared.state.lock().streams.get_mut(&self.id) {
            s.reset = true;
            s.data = None;
        }
        let _ = self
            .shared
            .out
            .send(Cmd::Frame(Frame::RstStream {
                stream_id: self.id,
                status,
            }))
            .await;
    }

    /// A header of the stream's SYN_STREAM.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        super::frame::header(&self.headers, name)
    }
}

/// The writing side of a [`Stream`].
#[derive(Clone)]
pub(crate) struct StreamWriter {
    id: u32,
    shared: Arc<Shared>,
}

impl StreamWriter {
    /// Sends `data`, within the peer's windows when it keeps them.
    pub(crate) async fn write(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.reserve(data.len().min(MAX_DATA)).await?;
            self.shared
                .out
                .send(Cmd::Frame(Frame::Data {
                    stream_id: self.id,
                    flags: 0,
                    data: Bytes::copy_from_slice(&data[..n]),
                }))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Takes up to `want` bytes of send window.
    async fn reserve(&self, want: usize) -> io::Result<usize> {
        loop {
            let notified = self.shared.windows.notified();
            {
                let mut st = self.shared.state.lock();
                let enforce = st.enforce;
                let conn_window = st.conn_send_window;
                let Some(s) = st.streams.get_mut(&self.id) else {
                    return Err(io::ErrorKind::BrokenPipe.into());
                };
                if s.reset {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                if !enforce {
                    return Ok(want);
                }
                let n = s.send_window.min(conn_window).min(want as i64);
                if n > 0 {
                    s.send_window -= n;
                    st.conn_send_window -= n;
                    return Ok(n as usize);
                }
            }
            notified.await;
        }
    }

    /// Half-closes our side (an empty DATA frame with FIN).
    pub(crate) async fn close(&self) {
        let _ = self
            .shared
            .out
            .send(Cmd::Frame(Frame::Data {
                stream_id: self.id,
                flags: FLAG_FIN,
                data: Bytes::new(),
            }))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client over a duplex pipe, framing by hand.
    struct Peer {
        enc: Encoder,
        dec: Decoder,
        io: tokio::io::DuplexStream,
        buf: BytesMut,
    }

    impl Peer {
        async fn send(&mut self, f: Frame) {
            let mut out = Vec::new();
            self.enc.encode(&f, &mut out).unwrap();
            self.io.write_all(&out).await.unwrap();
        }
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
    }

    fn peer() -> (Peer, Conn, mpsc::Receiver<Stream>) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (conn, streams) = serve(b);
        (
            Peer {
                enc: Encoder::default(),
                dec: Decoder::default(),
                io: a,
                buf: BytesMut::new(),
            },
            conn,
            streams,
        )
    }

    fn syn(id: u32, kind: &str) -> Frame {
        Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: vec![("streamtype".into(), kind.into())],
        }
    }

    #[tokio::test]
    async fn streams_carry_data_both_ways_and_half_close() {
        let (mut p, conn, mut streams) = peer();
        p.send(syn(1, "stdin")).await;
        let mut s = streams.recv().await.unwrap();
        assert_eq!((s.id, s.header("streamtype")), (1, Some("stdin")));
        s.reply().await;
        assert!(matches!(
            p.recv().await,
            Some(Frame::SynReply { stream_id: 1, .. })
        ));
        p.send(Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"hi"),
        })
        .await;
        assert_eq!(s.read().await.as_deref(), Some(&b"hi"[..]));
        assert_eq!(s.read().await, None);
        s.write(b"back").await.unwrap();
        s.close().await;
        assert_eq!(
            p.recv().await,
            Some(Frame::Data {
                stream_id: 1,
                flags: 0,
                data: Bytes::from_static(b"back")
            })
        );
        assert_eq!(
            p.recv().await,
            Some(Frame::Data {
                stream_id: 1,
                flags: FLAG_FIN,
                data: Bytes::new()
            })
        );
        // Pings are echoed; GOAWAY names the last stream.
        p.send(Frame::Ping { id: 5 }).await;
        assert_eq!(p.recv().await, Some(Frame::Ping { id: 5 }));
        conn.goaway().await;
        assert_eq!(
            p.recv().await,
            Some(Frame::GoAway {
                last_good_stream_id: 1,
                status: 0
            })
        );
        p.send(syn(3, "stdout")).await;
        assert_eq!(
            p.recv().await,
            Some(Frame::RstStream {
                stream_id: 3,
                status: rst::REFUSED_STREAM
            })
        );
        drop(p);
        conn.closed().await;
    }

    #[tokio::test]
    async fn stream_ids_must_be_odd_and_increase() {
        let (mut p, _conn, mut streams) = peer();
        p.send(syn(3, "a")).await;
        let _s = streams.recv().await.unwrap();
        for bad in [1, 4] {
            p.send(syn(bad, "b")).await;
            assert_eq!(
                p.recv().await,
                Some(Frame::RstStream {
                    stream_id: bad,
                    status: rst::PROTOCOL_ERROR
                })
            );
        }
    }

    #[tokio::test]
    async fn a_peer_that_keeps_windows_gets_them_kept() {
        let (mut p, _conn, mut streams) = peer();
        p.send(Frame::Settings {
            entries: vec![(0, SETTINGS_INITIAL_WINDOW_SIZE, 10)],
        })
        .await;
        p.send(syn(1, "stdout")).await;
        let s = streams.recv().await.unwrap();
        let writer = tokio::spawn(async move {
            s.write(b"0123456789abcdef").await.unwrap();
            s
        });
        let first = p.recv().await.unwrap();
        assert!(
            matches!(&first, Frame::Data { data, .. } if data.len() == 10),
            "{first:?}"
        );
        // Nothing more until the window opens.
        assert!(tokio::time::timeout(Duration::from_millis(50), p.recv())
            .await
            .is_err());
        p.send(Frame::WindowUpdate {
            stream_id: 1,
            delta: 6,
        })
        .await;
        let second = p.recv().await.unwrap();
        assert!(
            matches!(&second, Frame::Data { data, .. } if &data[..] == b"abcdef"),
            "{second:?}"
        );
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn consumed_data_opens_the_peers_window() {
        let (mut p, _conn, mut streams) = peer();
        p.send(syn(1, "stdin")).await;
        let mut s = streams.recv().await.unwrap();
        let chunk = Bytes::from(vec![7u8; 40 * 1024]);
        p.send(Frame::Data {
            stream_id: 1,
            flags: 0,
            data: chunk.clone(),
        })
        .await;
        assert_eq!(s.read().await.unwrap().len(), chunk.len());
        let mut updates = Vec::new();
        while updates.len() < 2 {
            if let Some(Frame::WindowUpdate { stream_id, delta }) = p.recv().await {
                updates.push((stream_id, delta));
            }
        }
        updates.sort();
        assert_eq!(updates, vec![(0, 40 * 1024), (1, 40 * 1024)]);
    }
}
