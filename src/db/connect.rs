//! Opening the pool's connections, so that a database that stops answering cannot hold a request
//! (or a pool slot) for ever.
//!
//! `statement_timeout` bounds what PostgreSQL does, but a server that is frozen (a paused VM, a
//! stopped process, a host that went away behind a live TCP peer) never gets to enforce it: the
//! kernel keeps acknowledging our packets and the query waits. So the socket goes through
//! [`StallGuard`], which follows the protocol's message framing just enough to know when an
//! answer is owed, and fails the connection when the server has said nothing for too long while
//! one is. Every query on it then errors at once ("connection closed"), which the app answers
//! with 503, and the pool throws the connection away.

use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_postgres::config::Host;
use tokio_postgres::{AsyncMessage, NoTls, Notification};

/// Opens one connection to `url`, its socket guarded against a silent server after `stall`
/// (`None`: unguarded).
/// The runtime pooled connections live on. A connection's socket and the task driving it belong
/// to the runtime that opened it, and each actix worker has a runtime of its own that ends when
/// the worker stops: at shutdown the idle workers stop first, and a connection one of them opened
/// would die under a download still streaming on another ("connection closed"). So the pool
/// opens every connection on the runtime that built it, the app's main one, which lives longest.
#[derive(Debug, Clone)]
pub(crate) struct Home(Option<tokio::runtime::Handle>);

impl Home {
    /// The runtime of the caller; outside of one, each connection stays where it is opened.
    pub(crate) fn current() -> Self {
        Self(tokio::runtime::Handle::try_current().ok())
    }

    /// [`establish`], on this runtime.
    pub(crate) async fn establish(
        &self,
        url: String,
        stall: Option<Duration>,
    ) -> Result<AsyncPgConnection, ConnectionError> {
        self.run(async move { establish(&url, stall).await }).await
    }

    /// Runs `open` (which opens a connection) on this runtime.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        open: impl Future<Output = Result<T, ConnectionError>> + Send + 'static,
    ) -> Result<T, ConnectionError> {
        match &self.0 {
            Some(home) => home.spawn(open).await.unwrap_or_else(|e| {
                Err(ConnectionError::BadConnection(format!(
                    "opening the database connection stopped: {e}"
                )))
            }),
            None => open.await,
        }
    }
}

/// A pooled connection for queries.
pub(crate) async fn establish(
    url: &str,
    stall: Option<Duration>,
) -> Result<AsyncPgConnection, ConnectionError> {
    each_host(url, stall, |config, stream| async move {
        let (client, connection) = config
            .connect_raw(stream, NoTls)
            .await
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
        // The connection task ends when the client is dropped, or with the socket's error;
        // either way the client's pending queries fail with "connection closed". It drops
        // notifications: a connection that LISTENs is a [`Listener`].
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "database connection ended");
            }
        });
        AsyncPgConnection::try_from(client).await
    })
    .await
}

/// A connection that LISTENs. diesel-async delivers notifications only on connections it opens
/// itself, and ours go through [`StallGuard`], so this one reads them from the protocol stream.
pub struct Listener {
    client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<Result<Notification, tokio_postgres::Error>>,
}

impl Listener {
    pub async fn open(url: &str, stall: Option<Duration>) -> Result<Self, ConnectionError> {
        each_host(url, stall, |config, stream| async move {
            let (client, mut connection) = config
                .connect_raw(stream, NoTls)
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            let (sender, notifications) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                loop {
                    match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        Some(Ok(AsyncMessage::Notification(notification))) => {
                            if sender.send(Ok(notification)).is_err() {
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(error)) => {
                            let _ = sender.send(Err(error));
                            break;
                        }
                        None => break,
                    }
                }
            });
            Ok(Listener {
                client,
                notifications,
            })
        })
        .await
    }

    /// Runs `sql` (`LISTEN …`, or a query that makes a silent server owe an answer).
    pub async fn execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    /// The next notification; `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<Result<Notification, tokio_postgres::Error>> {
        self.notifications.recv().await
    }
}

/// A stream to the server, whichever kind the URL names.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens a guarded stream to each host of `url` in turn, like libpq, and returns what `connect`
/// makes of the first that accepts it.
async fn each_host<T, F, Fut>(
    url: &str,
    stall: Option<Duration>,
    connect: F,
) -> Result<T, ConnectionError>
where
    F: Fn(tokio_postgres::Config, Box<dyn Io + 'static>) -> Fut,
    Fut: Future<Output = Result<T, ConnectionError>>,
{
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let ports = config.get_ports();
    let count = hosts.len().max(addrs.len());
    if count == 0 {
        return Err(ConnectionError::BadConnection(
            "the database URL names no host".into(),
        ));
    }
    let mut last_error = None;
    for index in 0..count {
        let port = match ports {
            [] => 5432,
            [one] => *one,
            many => many.get(index).copied().unwrap_or(5432),
        };
        let stream = match (addrs.get(index), hosts.get(index)) {
            (Some(addr), _) => open_tcp((*addr, port), stall).await,
            (None, Some(Host::Tcp(name))) => open_tcp((name.as_str(), port), stall).await,
            (None, Some(Host::Unix(dir))) => open_unix(dir, port, stall).await,
            (None, None) => continue,
        };
        let attempt = match stream {
            Ok(stream) => connect(config.clone(), stream).await,
            Err(error) => Err(error),
        };
        match attempt {
            Ok(made) => return Ok(made),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error
        .unwrap_or_else(|| ConnectionError::BadConnection("no database host to try".into())))
}

async fn open_tcp(
    address: impl tokio::net::ToSocketAddrs,
    stall: Option<Duration>,
) -> Result<Box<dyn Io>, ConnectionError> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(Box::new(StallGuard::new(stream, stall)))
}

async fn open_unix(
    dir: &std::path::Path,
    port: u16,
    stall: Option<Duration>,
) -> Result<Box<dyn Io>, ConnectionError> {
    let stream = tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    Ok(Box::new(StallGuard::new(stream, stall)))
}

/// Tracks the PostgreSQL message framing in one direction: how many messages of interest went by.
#[derive(Debug)]
struct Framing {
    /// The next message has no type byte (the startup message, from the client).
    untyped_next: bool,
    header: [u8; 5],
    header_len: usize,
    /// Bytes of the current message's body still to skip.
    body_left: usize,
}

impl Framing {
    fn new(untyped_first: bool) -> Self {
        Self {
            untyped_next: untyped_first,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
        }
    }

    /// Feeds bytes; calls `on_message` with each message's type byte (0 for the untyped one).
    fn feed(&mut self, mut bytes: &[u8], mut on_message: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len());
                self.body_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let wanted = if self.untyped_next { 4 } else { 5 };
            let take = (wanted - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
            self.header_len += take;
            bytes = &bytes[take..];
            if self.header_len < wanted {
                return;
            }
            let (tag, length) = if self.untyped_next {
                (0, &self.header[..4])
            } else {
                (self.header[0], &self.header[1..5])
            };
            let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
            // The length counts itself; a malformed one just means no body.
            self.body_left = length.saturating_sub(4);
            self.header_len = 0;
            self.untyped_next = false;
            on_message(tag);
        }
    }
}

/// A socket that fails when the server owes an answer and has sent nothing for `limit`.
///
/// An answer is owed from the startup message, each simple `Query` and each `Sync` until the
/// matching `ReadyForQuery`; an idle connection is never timed out.
pub(crate) struct StallGuard<S> {
    inner: S,
    limit: Option<Duration>,
    sent: Framing,
    received: Framing,
    /// Answers owed (`ReadyForQuery` messages still to come).
    owed: usize,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    pub(crate) fn new(inner: S, limit: Option<Duration>) -> Self {
        Self {
            inner,
            limit,
            sent: Framing::new(true),
            received: Framing::new(false),
            owed: 0,
            deadline: None,
        }
    }

    /// Starts (or restarts) the clock while an answer is owed; stops it otherwise.
    ///
    /// The clock is polled here too: the connection task may write after its last read of a
    /// turn, and must still be woken when the time is up.
    fn rearm(&mut self, cx: &mut Context<'_>) {
        let (true, Some(limit)) = (self.owed > 0, self.limit) else {
            self.deadline = None;
            return;
        };
        let sleep = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        sleep.as_mut().reset(Instant::now() + limit);
        if sleep.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                if !fresh.is_empty() {
                    let mut ready = 0;
                    this.received.feed(fresh, |tag| {
                        if tag == b'Z' {
                            ready += 1;
                        }
                    });
                    this.owed = this.owed.saturating_sub(ready);
                    // The server is talking: the clock starts again from now.
                    this.rearm(cx);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Some(deadline) = &mut this.deadline
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    this.deadline = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the database stopped answering",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = &result {
            let owed_before = this.owed;
            let mut more = 0;
            this.sent.feed(&buf[..*written], |tag| {
                // 0: the startup message, answered by ReadyForQuery once signed in.
                if matches!(tag, 0 | b'Q' | b'S') {
                    more += 1;
                }
            });
            this.owed += more;
            if owed_before == 0 && this.owed > 0 {
                this.rearm(cx);
            }
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn framing_counts_messages_split_anywhere() {
        let mut stream = Vec::new();
        stream.extend(message(b'T', b"row description"));
        stream.extend(message(b'D', b"a row"));
        stream.extend(message(b'Z', b"I"));
        stream.extend(message(b'Z', b"I"));
        for chunk in [1, 2, 3, 5, 7, stream.len()] {
            let mut framing = Framing::new(false);
            let mut tags = Vec::new();
            for piece in stream.chunks(chunk) {
                framing.feed(piece, |tag| tags.push(tag));
            }
            assert_eq!(tags, b"TDZZ", "in chunks of {chunk}");
        }
    }

    #[test]
    fn framing_reads_the_untyped_startup_message_first() {
        let mut framing = Framing::new(true);
        let mut startup = 12u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0, 1, 2, 3, 4]);
        let mut tags = Vec::new();
        framing.feed(&startup, |tag| tags.push(tag));
        framing.feed(&message(b'Q', b"SELECT 1\0"), |tag| tags.push(tag));
        assert_eq!(tags, vec![0, b'Q']);
    }

    #[tokio::test]
    async fn a_silent_server_fails_the_read_once_an_answer_is_owed() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut guard = StallGuard::new(client, Some(Duration::from_millis(200)));
        let mut startup = 8u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0]);
        guard.write_all(&startup).await.unwrap();
        let mut received = [0u8; 8];
        server.read_exact(&mut received).await.unwrap();
        let mut buf = [0u8; 16];
        let error = tokio::time::timeout(Duration::from_secs(5), guard.read(&mut buf))
            .await
            .expect("the guard gives up well within the bound")
            .expect_err("a silent server is an error");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn an_idle_connection_is_never_timed_out() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut guard = StallGuard::new(client, Some(Duration::from_millis(50)));
        let mut startup = 8u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0]);
        guard.write_all(&startup).await.unwrap();
        server.write_all(&message(b'Z', b"I")).await.unwrap();
        let mut buf = [0u8; 6];
        guard.read_exact(&mut buf).await.unwrap();
        // Nothing owed now: a read just waits, however long the server stays quiet.
        let mut more = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_millis(300), guard.read(&mut more)).await;
        assert!(waited.is_err(), "still waiting, no error: {waited:?}");
    }
}
