//! The accept loop: connection limits and timeouts that keep hostile clients from starving the server.
//!
//! - **Header timeout** (`header_timeout_seconds`): a request's head must arrive in time (hyper's
//!   header-read timer), so a slowloris client cannot hold a connection by trickling headers.
//! - **Idle timeout** (`idle_timeout_seconds`): a connection with no request in flight and no bytes in
//!   either direction for that long is closed (keep-alive connections, and clients that connect and
//!   say nothing).
//! - **Body timeout** (`body_timeout_seconds`): enforced where bodies are read (see
//!   [`super::http::read_body`]), after the key was checked.
//! - **Connection cap** (`max_connections`, and never more than about three quarters of the open-file
//!   limit, which [`raise_open_file_limit`] lifts to its hard maximum at start): at the cap, the
//!   connection that has been quiet longest *without a request in flight* is closed to make room;
//!   when every connection is busy, the new one gets a short `503` with `Retry-After` and is closed.
//!   Idle and half-open connections therefore never stop a new client from being served.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Connection limits and timeouts, from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most open client connections.
    pub max_connections: usize,
    /// Time allowed for a request's head.
    pub header_timeout: Duration,
    /// Time a connection may sit with no request in flight and no traffic.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 8192,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// The limits in `config`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Limits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
        }
    }

    /// The cap actually applied: the configured one, but leaving a quarter of the open-file limit
    /// (at most 1,024 descriptors) for the database, miner connections and the admin socket.
    pub fn effective_max_connections(&self, open_file_limit: u64) -> usize {
        let reserve = (open_file_limit / 4).min(1024);
        let by_files =
            usize::try_from(open_file_limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
        self.max_connections.min(by_files).max(1)
    }
}

/// Raises the soft open-file limit to the hard limit and returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return 1024;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
        let limit = lim.rlim_cur as u64;
        limit
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// What the accept loop knows about one open connection.
#[derive(Debug)]
struct Activity {
    /// Requests being handled on it.
    in_flight: AtomicUsize,
    /// Milliseconds since the loop started when bytes last moved.
    last_io_ms: AtomicU64,
    /// Tells the connection's task to close it (evicted to make room); taken by the eviction.
    evict: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// Already chosen for eviction (so it is not chosen twice while it closes).
    evicted: std::sync::atomic::AtomicBool,
}

/// Open connections, for eviction at the cap.
#[derive(Debug, Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Activity>>>,
    /// Signalled whenever a connection has closed.
    closed: tokio::sync::Notify,
}

impl Registry {
    fn len(&self) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Asks the quietest connection without a request in flight to close; false when all are busy.
    fn evict_one(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let victim = conns
            .iter()
            .filter(|(_, a)| {
                a.in_flight.load(Ordering::Acquire) == 0 && !a.evicted.load(Ordering::Relaxed)
            })
            .min_by_key(|(_, a)| a.last_io_ms.load(Ordering::Relaxed))
            .map(|(id, a)| (*id, a.clone()));
        drop(conns);
        match victim {
            Some((_, a)) => {
                a.evicted.store(true, Ordering::Relaxed);
                if let Some(tx) = a.evict.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = tx.send(());
                }
                true
            }
            None => false,
        }
    }
}

/// Serves `service` (a warp filter made a service by `warp::service`) on `listener` with [`Limits`]
/// until `shutdown` resolves, then waits for the requests in flight to finish.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<
            hyper::Request<Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let open_files = raise_open_file_limit();
    let cap = limits.effective_max_connections(open_files);
    tracing::info!(
        max_connections = cap,
        open_file_limit = open_files,
        header_timeout_s = limits.header_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        "accepting connections"
    );
    let registry = Arc::new(Registry::default());
    let epoch = Instant::now();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut next_id: u64 = 0;
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // At the cap, a quiet connection makes room. While evicted connections are still closing, at
        // most EVICTION_SLACK more are held open: beyond that the loop waits (up to SHED_AFTER) for
        // closes, so descriptors stay bounded however fast clients connect. Only when every connection
        // has a request in flight, or nothing closes in time, is the newcomer shed with a 503.
        if registry.len() >= cap {
            let deadline = tokio::time::Instant::now() + SHED_AFTER;
            while registry.len() >= cap + EVICTION_SLACK
                && tokio::time::timeout_at(deadline, registry.closed.notified())
                    .await
                    .is_ok()
            {}
            let open = registry.len();
            if open >= cap + EVICTION_SLACK || !registry.evict_one() {
                tracing::warn!(open, cap, "at the connection limit: shed a new connection");
                shed(stream);
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let (evict_tx, evict_rx) = tokio::sync::oneshot::channel::<()>();
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_io_ms: AtomicU64::new(epoch.elapsed().as_millis() as u64),
            evict: Mutex::new(Some(evict_tx)),
            evicted: std::sync::atomic::AtomicBool::new(false),
        });
        registry
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, activity.clone());
        let io = TokioIo::new(WatchedIo::new(
            stream,
            activity.clone(),
            epoch,
            limits.idle_timeout,
        ));
        let service = Service {
            inner: service.clone(),
            activity: activity.clone(),
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_headers(100)
            .max_buf_size(64 * 1024);
        let conn = graceful.watch(builder.serve_connection(io, service));
        let registry = registry.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!("connection closed with an error: {e}");
                    }
                }
                _ = evict_rx => {
                    tracing::debug!("closed a quiet connection to make room");
                }
            }
            registry
                .conns
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            registry.closed.notify_one();
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Connections accepted beyond the cap while evicted ones are still closing.
const EVICTION_SLACK: usize = 32;
/// How long the accept loop waits for evicted connections to close before shedding a newcomer.
const SHED_AFTER: Duration = Duration::from_secs(2);

/// Answers a connection over the cap with a short 503 and closes it, without waiting: the reply fits
/// in a fresh socket's send buffer, and the descriptor is closed before the next accept.
fn shed(stream: TcpStream) {
    const REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 65\r\n\r\n{\"detail\":\"The server is at its connection limit; retry shortly\"}";
    let _ = stream.try_write(REPLY);
    drop(stream);
}

/// Accept failures: per-connection errors are ignored; running out of descriptors backs off briefly
/// (in-flight requests free some) instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The warp service, counting the requests in flight on its connection.
struct Service<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// Decrements the connection's in-flight count when a request ends, however it ends.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Service<S>
where
    S: tower_service::Service<
            hyper::Request<Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = warp::reply::Response;
    type Error = std::convert::Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self.activity.clone());
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let out = tower_service::Service::call(&mut inner, req).await;
            drop(guard);
            out
        })
    }
}

/// A TCP stream that records when bytes move and fails reads once the connection has been idle (no
/// request in flight, no traffic) for the idle timeout.
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    epoch: Instant,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl WatchedIo {
    fn new(inner: TcpStream, activity: Arc<Activity>, epoch: Instant, idle: Duration) -> Self {
        WatchedIo {
            inner,
            activity,
            epoch,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touched(&mut self) {
        self.activity
            .last_io_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.timer
            .as_mut()
            .reset(tokio::time::Instant::now() + self.idle);
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.touched();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.activity.in_flight.load(Ordering::Acquire) == 0
                    && self.timer.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "idle connection timed out",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touched();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touched();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_other_files() {
        let l = Limits::default();
        assert_eq!(l.effective_max_connections(1024), 768);
        assert_eq!(l.effective_max_connections(1_048_576), 8192);
        assert_eq!(l.effective_max_connections(0), 1);
    }
}
