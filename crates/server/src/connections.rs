//! How connections are accepted and served, so that slow clients cannot hold the server: a cap
//! on open connections, a header timeout, a body timeout, an idle keep-alive timeout, and accept
//! errors (such as running out of file descriptors) logged and retried with back-off.
//!
//! At the cap, a new connection takes the place of the one that has waited longest for a
//! request's headers (or, if none, for its next request): a slow client cannot keep others out,
//! and a request being answered is never cut. Only when every connection is answering a request
//! does a new one wait (in the kernel's listen backlog) until one finishes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::problem::Problem;
use custos_types::ErrorCode;

/// The limits on connections, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From a connection's opening, or the first byte of a request, to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of a response to the first byte of the next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// The shortest and longest pause after a failed accept.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The shortest interval between two log lines about failed accepts.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// How often, at the cap with every connection busy, to look for one that has become idle.
const EVICT_RETRY: Duration = Duration::from_millis(50);

/// The open connections, to choose one to close at the cap.
#[derive(Default)]
struct Open {
    next: AtomicU64,
    all: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Open {
    fn add(self: &Arc<Self>, activity: Arc<Activity>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, activity);
        Registered {
            open: self.clone(),
            id,
        }
    }

    /// Asks the connection that has waited longest for a request's headers, else for its next
    /// request, to close; `false` when every connection is answering a request.
    fn evict_one(&self) -> bool {
        let all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        let victim = all
            .values()
            .filter(|a| !a.evicted.load(Ordering::Acquire))
            .filter_map(|a| {
                let (phase, since) = a.now();
                let rank = match phase {
                    Phase::Headers => 0,
                    Phase::Idle => 1,
                    Phase::Busy => return None,
                };
                Some(((rank, since), a))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, a)| a.clone());
        drop(all);
        match victim {
            Some(a) => {
                a.evicted.store(true, Ordering::Release);
                a.changed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in [`Open`], and its slot of the cap, given back when it closes.
struct Registered {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open
            .all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown` resolves; then
/// stops accepting, closes the connections that are not answering a request, and waits for the
/// others to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    // Waiting for every slot at shutdown takes them as one u32.
    let cap = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    if let Some(files) = open_files_limit()
        && cap as u64 + FILES_BESIDES_CONNECTIONS > files
    {
        tracing::warn!(
            max_connections = cap,
            open_files_limit = files,
            "max_connections leaves fewer than {FILES_BESIDES_CONNECTIONS} of the open-files limit \
             for the database, logs and webhooks: lower it or raise the limit (ulimit -n)"
        );
    }
    let slots = Arc::new(Semaphore::new(cap));
    let open = Arc::new(Open::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut backoff = Duration::ZERO;
    let mut at_cap = false;
    let (mut failed, mut last_logged) = (0u64, None);
    'accept: loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            // The peer's address is personal data: it is not logged.
            // Kept in the request's extensions for `client.rs`, which never logs it either.
            Ok((stream, peer)) => {
                backoff = Duration::ZERO;
                (stream, peer)
            }
            // The client gave up before it was accepted: nothing to wait for.
            Err(e) if is_connection_error(&e) => continue,
            // Out of file descriptors or memory (a cap above the open-files limit): the
            // connection stays in the backlog and accept would fail again at once, so close the
            // connection that has waited longest for a request and wait a little.
            Err(e) => {
                backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                let evicted = open.evict_one();
                failed += 1;
                // At most one line a second however fast clients come.
                if last_logged.is_none_or(|at: Instant| at.elapsed() >= LOG_EVERY) {
                    tracing::warn!(
                        error = %e,
                        failures = failed,
                        retry_in_ms = backoff.as_millis() as u64,
                        closed_a_waiting_connection = evicted,
                        "accepting connections failed; retrying"
                    );
                    last_logged = Some(Instant::now());
                    failed = 0;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                at_cap = false;
                slot
            }
            Err(_) => {
                let evicted = open.evict_one();
                if !at_cap {
                    at_cap = true;
                    if evicted {
                        tracing::warn!(
                            max_connections = cap,
                            "connection cap reached: closing the connections that have waited longest for a request"
                        );
                    } else {
                        tracing::warn!(
                            max_connections = cap,
                            "connection cap reached with every connection answering a request: new connections wait"
                        );
                    }
                }
                // A connection answering a request now may be idle soon: look again until a
                // slot frees.
                let mut evicted = evicted;
                loop {
                    tokio::select! {
                        slot = slots.clone().acquire_owned() => match slot {
                            Ok(slot) => break slot,
                            Err(_) => break 'accept,
                        },
                        () = tokio::time::sleep(EVICT_RETRY), if !evicted => {
                            evicted = open.evict_one();
                        }
                        () = &mut shutdown => break 'accept,
                    }
                }
            }
        };
        tokio::spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            stop_rx.clone(),
            (slot, open.clone()),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every open connection holds a slot: all slots back means every connection has closed.
    let _ = slots.acquire_many(cap as u32).await;
}

/// File descriptors the server needs besides its connections (database, logs, webhooks).
const FILES_BESIDES_CONNECTIONS: u64 = 64;

/// The soft limit on open files of this process, where the system tells it (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_files(&limits)
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `None` when unlimited or absent.
fn soft_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Where a connection is, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request's headers (a new connection starts here).
    Headers,
    /// A request is being answered: its body is bounded by the body timeout, the handler by
    /// nothing here.
    Busy,
    /// Between requests, no byte of the next one yet.
    Idle,
}

/// A connection's phase, shared by its reader, its service and its watchdog.
struct Activity {
    state: Mutex<(Phase, Instant)>,
    /// Chosen to make room at the cap, or the server is stopping: close unless answering a
    /// request, else after the answer.
    evicted: AtomicBool,
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new((Phase::Headers, Instant::now())),
            evicted: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> (Phase, Instant) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters `phase`. The watchdog is not woken (that would cost every request a wake-up): it
    /// looks at least every `check_every`, and the deadline counts from here. Only a connection
    /// chosen to close, now idle, wakes it.
    fn set(&self, phase: Phase) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (phase, Instant::now());
        if phase != Phase::Busy && self.evicted.load(Ordering::Acquire) {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection they start the next request's headers.
    fn read_some(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 == Phase::Idle {
            *s = (Phase::Headers, Instant::now());
        }
    }

    /// When the current phase runs out, and why; `None` while a request is answered.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        let (phase, since) = self.now();
        if phase != Phase::Busy && self.evicted.load(Ordering::Acquire) {
            return Some((
                since,
                "the connection cap was reached or the server is stopping",
            ));
        }
        match phase {
            Phase::Headers => Some((
                since + limits.header_timeout,
                "the request headers did not arrive within the header timeout",
            )),
            Phase::Idle => Some((
                since + limits.idle_timeout,
                "the keep-alive connection was idle for the idle timeout",
            )),
            Phase::Busy => None,
        }
    }
}

/// Serves one connection until it closes, a timeout cuts it, or the server shuts down (then it
/// finishes the request in flight first). Holds its slot of the cap and its place among the
/// open connections while open.
async fn serve_connection(
    (stream, peer): (TcpStream, std::net::SocketAddr),
    router: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    (_slot, open): (OwnedSemaphorePermit, Arc<Open>),
) {
    let activity = Arc::new(Activity::new());
    let _registered = open.add(activity.clone());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = Tracked {
        router,
        peer: crate::client::Peer(peer.ip()),
        activity: activity.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header timeout is ours (it must not run while a keep-alive connection is idle).
    builder.header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut stopping = false;
    // Phases change without waking the watchdog; it looks again at least this often, so a
    // deadline counted from a phase's start is never missed.
    let check_every = limits.header_timeout.min(limits.idle_timeout);
    loop {
        let look = Instant::now() + check_every;
        let wake = activity
            .deadline(&limits)
            .map_or(look, |(at, _)| at.min(look));
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "a connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = tokio::time::sleep_until(wake) => {
                // The phase may have changed since the deadline was taken.
                if let Some((at, why)) = activity.deadline(&limits)
                    && at <= Instant::now()
                {
                    tracing::debug!(reason = why, "closing a connection");
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    // Waiting for a request's headers or the next request ends now; a request
                    // being answered is finished first.
                    activity.evicted.store(true, Ordering::Release);
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The socket, noting when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

/// The router, noting when a request starts and when its response has been sent.
#[derive(Clone)]
struct Tracked {
    router: axum::Router,
    peer: crate::client::Peer,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Tracked {
    type Response = Response<Answered>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Answered>, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        self.activity.set(Phase::Busy);
        let done = IdleWhenDropped(self.activity.clone());
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(self.peer);
        let answer = self.router.clone().oneshot(req);
        Box::pin(async move {
            let res = answer.await?;
            Ok(res.map(|inner| Answered { inner, _done: done }))
        })
    }
}

/// Marks the connection idle when the response (or the request, if it is abandoned) is done.
struct IdleWhenDropped(Arc<Activity>);

impl Drop for IdleWhenDropped {
    fn drop(&mut self) {
        self.0.set(Phase::Idle);
    }
}

/// A response body; hyper drops it once the last byte is written.
pub(crate) struct Answered {
    inner: Body,
    _done: IdleWhenDropped,
}

impl HttpBody for Answered {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The limits on request bodies, for [`bound_body`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// From the first read of the body (when the handler asks for it, after the caller's key is
    /// checked) to its end.
    pub timeout: Duration,
}

/// A body declared larger than the limit is refused before a byte of it is read (413); a body
/// that does not arrive within the body timeout is answered 408. Either closes the connection,
/// whose unread rest cannot be told apart from the next request.
pub(crate) async fn bound_body(
    State(limits): State<BodyLimits>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return closing(
            Problem::new(ErrorCode::BodyTooLarge)
                .detail(format!(
                    "the body exceeds the server's limit of {} bytes",
                    limits.max_bytes
                ))
                .into_response(),
        );
    }
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let late = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(InTime {
        inner: body,
        timeout: limits.timeout,
        deadline: None,
        late: late.clone(),
    });
    let res = next.run(Request::from_parts(parts, body)).await;
    if late.load(Ordering::Acquire) {
        return closing(
            Problem::new(ErrorCode::RequestTimeout)
                .detail(format!(
                    "the request body did not arrive within {} ms",
                    limits.timeout.as_millis()
                ))
                .into_response(),
        );
    }
    res
}

/// `res` with `Connection: close`.
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// A request body that fails once `timeout` has passed since it was first read, noting that it
/// did. The clock starts at the first read, not at the headers: time the server spends before it
/// asks for the body (checking the key) is not the client's.
struct InTime {
    inner: Body,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    late: Arc<AtomicBool>,
}

impl HttpBody for InTime {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(this.timeout)));
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if deadline.as_mut().poll(cx).is_ready() {
            this.late.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(
                "the request body did not arrive within the body timeout",
            ))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_files_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             63445                63445                processes \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files(text), Some(1024));
        assert_eq!(
            soft_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        assert_eq!(soft_open_files(""), None);
    }
}
