//! Bounds on connections: how many may be open at once, and how long each may sit waiting on
//! the client. Without them an idle TLS connection stayed open for good, and a few hundred of
//! them used up the process's file descriptors.
//!
//! What comes from the libraries: the TLS handshake timeout (`RustlsAcceptor`), the body idle
//! timeout (`tower_http::timeout::RequestBodyTimeoutLayer`, set in `serve.rs`), and hyper's
//! own HTTP/1 header timer as a backstop. What is here, because hyper does not offer it:
//!
//! - [`ConnectionAcceptor`]: takes a slot of the connection limit before the handshake, or
//!   closes the connection at once; the slot is held until the connection is dropped. The
//!   same for a second, smaller limit per client address ([`AddressCounts`]), so one host
//!   cannot take every slot.
//! - [`GuardedStream`] with [`TrackedService`]: a clock per connection that knows whether a
//!   request is in progress. With none, the connection waits on the client, and a read that
//!   stays pending past the deadline fails, which makes hyper close the connection:
//!   * before the first request: the header timeout, counted from the end of the handshake
//!     (this also bounds hyper-util's protocol detection, which has no timer of its own);
//!   * between requests: the keep-alive idle timeout, counted from the end of the last response;
//!   * once a later request has started to arrive: the header timeout, from its first byte.
//!
//!   hyper's own header timer starts when the connection goes idle, so it cannot tell a quiet
//!   keep-alive connection from a slow request; HTTP/2 has no idle timer at all.
//!
//! While a request is in progress nothing here runs: the body idle timeout bounds a stalled
//! upload, and the server's own work is not the client's fault.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use axum_server::accept::Accept;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::rate_limit::limited_prefix;

/// The timeouts [`GuardedStream`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub keep_alive_idle: Duration,
}

/// Wraps the TLS acceptor: a slot of the connection limit first, the handshake next, then the
/// connection's clock.
#[derive(Clone)]
pub struct ConnectionAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
    per_address: Arc<AddressCounts>,
    timeouts: Timeouts,
}

impl<A> ConnectionAcceptor<A> {
    pub fn new(
        inner: A,
        max_connections: usize,
        max_per_address: usize,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max_connections)),
            per_address: Arc::new(AddressCounts {
                limit: max_per_address,
                open: Mutex::new(HashMap::new()),
            }),
            timeouts,
        }
    }
}

/// Open connections per client address (IPv4 address or IPv6 /64, as the rate limits count
/// them), each at most `limit`. Only addresses with a connection open are in the map, so it
/// never holds more entries than the connection limit.
pub struct AddressCounts {
    limit: usize,
    open: Mutex<HashMap<[u8; 16], usize>>,
}

impl AddressCounts {
    /// A place for one more connection from `ip`, or `None` when it has `limit` open.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = limited_prefix(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&limited_prefix(ip)).copied().unwrap_or(0)
    }
}

/// One connection's place in its address's count, given back when the connection is dropped.
pub struct AddressSlot {
    counts: Arc<AddressCounts>,
    key: [u8; 16],
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<A, S> Accept<TcpStream, S> for ConnectionAcceptor<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = GuardedStream<A::Stream>;
    type Service = TrackedService<A::Service>;
    type Future = BoxFuture<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Never wait for a slot: the connections already open keep theirs, and the new one is
        // closed (dropped) at once rather than queued holding a descriptor.
        let address = match stream.peer_addr() {
            Ok(peer) => self.per_address.take(peer.ip()),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let Some(address) = address else {
            drop(stream);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit per client address reached; connection closed",
            ))));
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            drop(stream);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached; connection closed",
            ))));
        };
        let handshake = self.inner.accept(stream, service);
        let timeouts = self.timeouts;
        Box::pin(async move {
            let (stream, service) = handshake.await?;
            let clock = Arc::new(Mutex::new(Clock {
                in_flight: 0,
                phase: Phase::FirstRequest,
                since: Instant::now(),
            }));
            Ok((
                GuardedStream {
                    inner: stream,
                    clock: clock.clone(),
                    timeouts,
                    timer: Box::pin(tokio::time::sleep(timeouts.header_read)),
                    _slot: slot,
                    _address: address,
                },
                TrackedService {
                    inner: service,
                    clock,
                },
            ))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connected; no request yet (`since`: the end of the handshake).
    FirstRequest,
    /// Between requests (`since`: the end of the last response).
    KeepAlive,
    /// A later request has started to arrive (`since`: its first byte).
    Header,
}

/// Shared by a connection's stream and its service.
#[derive(Debug)]
struct Clock {
    /// Requests dispatched whose response has not been sent (or dropped) yet.
    in_flight: usize,
    phase: Phase,
    since: Instant,
}

impl Clock {
    /// When a pending read fails; `None` while a request is in progress.
    fn deadline(&self, t: &Timeouts) -> Option<Instant> {
        if self.in_flight > 0 {
            return None;
        }
        Some(match self.phase {
            Phase::FirstRequest | Phase::Header => self.since + t.header_read,
            Phase::KeepAlive => self.since + t.keep_alive_idle,
        })
    }
}

fn lock(clock: &Mutex<Clock>) -> std::sync::MutexGuard<'_, Clock> {
    clock.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection's stream: holds its slot of the connection limit, and fails a read that
/// waits on the client past the deadline of [`Clock`].
pub struct GuardedStream<S> {
    inner: S,
    clock: Arc<Mutex<Clock>>,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
    _address: AddressSlot,
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let mut clock = lock(&this.clock);
                    if clock.in_flight == 0 && clock.phase == Phase::KeepAlive {
                        clock.phase = Phase::Header;
                        clock.since = Instant::now();
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let deadline = lock(&this.clock).deadline(&this.timeouts);
                if let Some(deadline) = deadline {
                    if this.timer.deadline() != deadline {
                        this.timer.as_mut().reset(deadline);
                    }
                    if this.timer.as_mut().poll(cx).is_ready() {
                        let phase = lock(&this.clock).phase;
                        tracing::debug!(?phase, "closing a connection that waited too long");
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client sent nothing in time",
                        )));
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Counts a request as in progress from its dispatch until its response body is dropped
/// (sent, or abandoned with the connection).
#[derive(Clone)]
pub struct TrackedService<S> {
    inner: S,
    clock: Arc<Mutex<Clock>>,
}

/// One request in progress; dropping it ends it and starts the keep-alive idle time.
struct InFlight(Arc<Mutex<Clock>>);

impl InFlight {
    fn start(clock: &Arc<Mutex<Clock>>) -> Self {
        lock(clock).in_flight += 1;
        Self(clock.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut clock = lock(&self.0);
        clock.in_flight -= 1;
        if clock.in_flight == 0 {
            clock.phase = Phase::KeepAlive;
            clock.since = Instant::now();
        }
    }
}

impl<S, R, B> tower::Service<Request<R>> for TrackedService<S>
where
    S: tower::Service<Request<R>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<R>) -> Self::Future {
        let in_flight = InFlight::start(&self.clock);
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            // The request lasts as long as its response body: the closure owns `in_flight`,
            // and the body owns the closure.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &in_flight;
                    frame
                }))
            }))
        })
    }
}

#[cfg(test)]
mod address_tests {
    use super::*;

    fn counts(limit: usize) -> Arc<AddressCounts> {
        Arc::new(AddressCounts {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    #[test]
    fn each_address_gets_at_most_its_limit_and_gets_places_back() {
        let c = counts(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = c.take(a).expect("first");
        let _second = c.take(a).expect("second");
        assert!(c.take(a).is_none(), "a third from the same address");
        let _other = c.take(b).expect("another address is counted apart");
        drop(first);
        assert_eq!(c.open_from(a), 1);
        let _again = c.take(a).expect("a place given back is taken again");
        assert!(c.take(a).is_none());
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let c = counts(1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _held = c.take(one).unwrap();
        assert!(c.take(same_64).is_none());
        assert!(c.take(other_64).is_some());
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let _v4 = c.take(v4).unwrap();
        assert!(c.take(mapped).is_none());
    }

    #[test]
    fn the_map_forgets_addresses_with_nothing_open() {
        let c = counts(3);
        let slots: Vec<_> = (1..=50u8)
            .map(|i| c.take(IpAddr::from([10, 0, 0, i])).unwrap())
            .collect();
        assert_eq!(c.open.lock().unwrap().len(), 50);
        drop(slots);
        assert!(c.open.lock().unwrap().is_empty());
    }
}
