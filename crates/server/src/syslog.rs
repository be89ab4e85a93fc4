//! The syslog forwarder: sends RFC 5424 messages to the destinations of the `syslog`
//! appliance record (`strongroom_core::appliance::syslog`): the log lines at or above its
//! level (through [`SyslogLayer`], installed with the logger), every stored audit event (the
//! core's audit observer), and test messages.
//!
//! It never blocks a request: a message is formatted on the caller's thread and offered to
//! each destination's bounded queue; a full queue drops it and counts it. One task per
//! destination sends: over UDP one datagram per message, over TCP with octet-counting framing
//! (RFC 6587), reconnecting after a failure. The forwarder logs nothing about its own sends
//! (a failure logged would be forwarded, and fail again); it counts them, and a line with the
//! counts goes to the local log only ([`LOCAL_ONLY_TARGET`]).
//!
//! The destinations are process-wide, like the logger that feeds them: [`forwarder`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use strongroom_core::appliance::syslog::{LogLevel, SyslogConfig, SyslogDestination, Transport};
use strongroom_core::audit::AuditEvent;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Log lines with this target go to the local log only, never to syslog.
pub const LOCAL_ONLY_TARGET: &str = "strongroom::syslog_forwarder";
/// Messages waiting per destination; past this they are dropped (and counted).
const QUEUE: usize = 1024;
/// The longest message text sent; longer text is cut (RFC 5424 receivers need only take
/// 480 octets, and UDP datagrams stay well under their limit).
const MAX_MSG_BYTES: usize = 8 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A TCP receiver that does not take a message within this is dropped and reconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// [`Forwarder::least`] while there is no destination: no log line is sent.
const NOTHING: u8 = 0;

/// RFC 5424 facilities.
const FACILITY_DAEMON: u8 = 3;
const FACILITY_LOG_AUDIT: u8 = 13;

/// RFC 5424 severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Severity {
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Severity {
    fn of_level(level: &Level) -> Severity {
        match *level {
            Level::ERROR => Severity::Error,
            Level::WARN => Severity::Warning,
            Level::INFO => Severity::Informational,
            _ => Severity::Debug,
        }
    }

    /// The least severe log line a [`LogLevel`] sends.
    fn least_for(level: LogLevel) -> Severity {
        match level {
            LogLevel::Debug => Severity::Debug,
            LogLevel::Info => Severity::Informational,
            LogLevel::Warning => Severity::Warning,
            LogLevel::Error => Severity::Error,
        }
    }
}

/// How many messages were not delivered, over the life of the process.
#[derive(Debug, Default)]
pub struct Counters {
    /// Offered to a destination whose queue was full.
    pub dropped: AtomicU64,
    /// Taken from the queue but not sent (no connection, a send that failed).
    pub failed: AtomicU64,
    pub sent: AtomicU64,
}

impl Counters {
    /// Each count by its name in the metrics: `sent`, `dropped`, `failed`.
    pub fn totals(&self) -> [(&'static str, u64); 3] {
        [
            ("sent", self.sent.load(Ordering::Relaxed)),
            ("dropped", self.dropped.load(Ordering::Relaxed)),
            ("failed", self.failed.load(Ordering::Relaxed)),
        ]
    }
}

/// One destination's queue, and the task that empties it.
struct Route {
    queue: mpsc::Sender<Arc<str>>,
}

/// The process's forwarder.
pub struct Forwarder {
    /// Destinations in order, each with its queue.
    routes: RwLock<Vec<(SyslogDestination, Route)>>,
    /// The least severe [`Severity`] of log lines sent, as a number; [`NOTHING`] while there
    /// is no destination, so a log line costs one atomic load then.
    least: AtomicU8,
    pub counters: Arc<Counters>,
    hostname: String,
    /// Held from reading the stored setting to applying it ([`reload`]), so two changes
    /// applied at once cannot leave the older one in force.
    reloading: std::sync::Mutex<()>,
    /// Set while an administrator has stopped the `syslog` service (`/services`): nothing is
    /// queued, and the destinations stay configured for when it starts again.
    paused: AtomicBool,
}

/// The forwarder of this process.
pub fn forwarder() -> &'static Forwarder {
    static FORWARDER: OnceLock<Forwarder> = OnceLock::new();
    FORWARDER.get_or_init(Forwarder::new)
}

/// The host's name as RFC 5424 wants it (printable ASCII, no space), or `-`.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if name.is_empty() { "-".into() } else { name }
}

impl Forwarder {
    fn new() -> Forwarder {
        Forwarder {
            routes: RwLock::new(Vec::new()),
            least: AtomicU8::new(NOTHING),
            counters: Arc::default(),
            hostname: hostname(),
            reloading: std::sync::Mutex::new(()),
            paused: AtomicBool::new(false),
        }
    }

    /// Follows the `syslog` service's state (`/services`): stopped, nothing is sent.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Follows `config`: destinations that stay keep their queue and connection; new ones
    /// get a task; removed ones end once their queue is empty. Must run inside the runtime.
    pub fn apply(&self, config: &SyslogConfig) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let mut old: HashMap<SyslogDestination, Route> = routes.drain(..).collect();
        for d in &config.destinations {
            let route = old.remove(d).unwrap_or_else(|| self.start_route(d.clone()));
            routes.push((d.clone(), route));
        }
        let least = if routes.is_empty() {
            NOTHING
        } else {
            Severity::least_for(config.level) as u8
        };
        self.least.store(least, Ordering::Relaxed);
        // `old` now holds the removed destinations: dropping their senders ends their tasks.
    }

    fn start_route(&self, d: SyslogDestination) -> Route {
        let (queue, rx) = mpsc::channel(QUEUE);
        let counters = self.counters.clone();
        tokio::spawn(async move {
            match d.transport {
                Transport::Udp => send_udp(d, rx, counters).await,
                Transport::Tcp => send_tcp(d, rx, counters).await,
            }
        });
        Route { queue }
    }

    /// How many destinations there are.
    pub fn destinations(&self) -> usize {
        self.routes.read().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether any log line is sent anywhere.
    fn has_destinations(&self) -> bool {
        self.least.load(Ordering::Relaxed) != NOTHING
    }

    /// Whether a log line of `level` is sent.
    fn sends(&self, level: &Level) -> bool {
        if self.paused.load(Ordering::Relaxed) {
            return false;
        }
        let least = self.least.load(Ordering::Relaxed);
        least != NOTHING && Severity::of_level(level) as u8 <= least
    }

    /// Offers a message to every destination; never waits.
    fn offer(&self, message: String) {
        if self.paused.load(Ordering::Relaxed) {
            return;
        }
        let message: Arc<str> = message.into();
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        for (_, route) in routes.iter() {
            if route.queue.try_send(message.clone()).is_err() {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An RFC 5424 message (without transport framing).
    fn format(
        &self,
        facility: u8,
        severity: Severity,
        time: &str,
        msgid: &str,
        structured: &str,
        text: &str,
    ) -> String {
        format!(
            "<{}>1 {time} {} strongroom {} {msgid} {structured} {}",
            facility * 8 + severity as u8,
            self.hostname,
            std::process::id(),
            clean(text),
        )
    }

    /// Sends an audit event (always, whatever the level). The event names who, what, the
    /// outcome and the request; it never holds a secret.
    pub fn audit(&self, event: &AuditEvent) {
        if self.least.load(Ordering::Relaxed) == NOTHING {
            return;
        }
        let severity = match event.outcome.as_str() {
            "success" | "allowed" => Severity::Notice,
            "error" => Severity::Error,
            _ => Severity::Warning,
        };
        let mut text = format!(
            "audit seq={} actor={} face={} action={} target={} outcome={}",
            event.seq,
            quoted(event.actor.as_deref().unwrap_or("-")),
            quoted(&event.face),
            quoted(&event.action),
            quoted(&event.target),
            quoted(&event.outcome),
        );
        if let Some(status) = event.status {
            let _ = write!(text, " status={status}");
        }
        let request_id = if event.request_id.is_empty() {
            "-"
        } else {
            &event.request_id
        };
        let _ = write!(text, " request_id={}", quoted(request_id));
        if let Some(count) = event.count {
            let _ = write!(text, " count={count}");
        }
        // The event's own time in the trail (the appliance clock).
        let time = OffsetDateTime::parse(&event.time, &Rfc3339)
            .map(timestamp)
            .unwrap_or_else(|_| now());
        let message = self.format(FACILITY_LOG_AUDIT, severity, &time, "audit", "-", &text);
        self.offer(message);
    }

    /// Sends `text` to every destination as a test message; returns how many there are.
    pub fn test_message(&self, text: &str) -> usize {
        let message = self.format(FACILITY_DAEMON, Severity::Notice, &now(), "test", "-", text);
        self.offer(message);
        self.destinations()
    }

    /// Writes the counts to the local log if they changed since `last`. Never forwarded.
    pub fn report_counts(&self, last: &mut (u64, u64)) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        let failed = self.counters.failed.load(Ordering::Relaxed);
        if (dropped, failed) != *last {
            tracing::warn!(
                target: LOCAL_ONLY_TARGET,
                dropped,
                failed,
                sent = self.counters.sent.load(Ordering::Relaxed),
                "syslog messages not delivered (totals since start)"
            );
            *last = (dropped, failed);
        }
    }
}

/// RFC 5424's TIMESTAMP: RFC 3339 in UTC with at most 6 digits of fraction.
fn timestamp(at: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_else(|_| "-".into())
}

fn now() -> String {
    timestamp(OffsetDateTime::now_utc())
}

/// The message text with control characters written out (`\n`, `\u{1b}`), so a value in a
/// message cannot start a forged line at the receiver, and cut to [`MAX_MSG_BYTES`].
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MSG_BYTES));
    for c in text.chars() {
        if out.len() >= MAX_MSG_BYTES {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A value for `key=value`: bare when it has no space, quote or backslash, else quoted.
fn quoted(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '"', '\\', '=']) {
        return value.to_owned();
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Resolves a destination to its first address.
async fn resolve(d: &SyslogDestination) -> Option<std::net::SocketAddr> {
    tokio::net::lookup_host((d.host.as_str(), d.port))
        .await
        .ok()?
        .next()
}

/// The wait before reconnect attempt `n` (1 s, 2 s, 4 s ... up to [`MAX_BACKOFF`]).
fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(5)).min(MAX_BACKOFF)
}

async fn send_udp(d: SyslogDestination, mut rx: mpsc::Receiver<Arc<str>>, counters: Arc<Counters>) {
    let mut socket: Option<tokio::net::UdpSocket> = None;
    // After a name that did not resolve (or a socket that failed), the next try waits: a
    // lookup per message would hold every message behind a slow resolver.
    let mut retry_at = tokio::time::Instant::now();
    let mut failures = 0u32;
    while let Some(message) = rx.recv().await {
        if socket.is_none() && tokio::time::Instant::now() >= retry_at {
            socket = udp_socket(&d).await;
            if socket.is_none() {
                failures += 1;
                retry_at = tokio::time::Instant::now() + backoff(failures);
            } else {
                failures = 0;
            }
        }
        let sent = match &socket {
            Some(s) => s.send(message.as_bytes()).await.is_ok(),
            None => false,
        };
        if sent {
            counters.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            // Resolve again for the next one: the name may point elsewhere now.
            socket = None;
        }
    }
}

async fn udp_socket(d: &SyslogDestination) -> Option<tokio::net::UdpSocket> {
    let to = resolve(d).await?;
    let local: std::net::SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local).await.ok()?;
    socket.connect(to).await.ok()?;
    Some(socket)
}

async fn send_tcp(d: SyslogDestination, mut rx: mpsc::Receiver<Arc<str>>, counters: Arc<Counters>) {
    let mut stream: Option<tokio::net::TcpStream> = None;
    let mut failures = 0u32;
    while let Some(message) = rx.recv().await {
        // RFC 6587 octet counting: the length in bytes, a space, the message.
        let framed = format!("{} {message}", message.len());
        if stream.as_ref().is_some_and(peer_closed) {
            // Closed by the receiver while idle: a write would still be taken by the kernel
            // and lost, so connect again first.
            stream = None;
        }
        loop {
            if stream.is_none() {
                stream = tcp_connect(&d).await;
                if stream.is_none() {
                    // Down: wait, and let the queue hold what comes meanwhile (and drop the
                    // rest); this message is lost.
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    tokio::time::sleep(backoff(failures)).await;
                    break;
                }
            }
            let Some(s) = stream.as_mut() else { break };
            match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(framed.as_bytes())).await {
                Ok(Ok(())) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    failures = 0;
                    break;
                }
                _ => {
                    // The connection broke (or stalled): one reconnect for this message.
                    stream = None;
                    if failures > 0 {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    failures += 1;
                }
            }
        }
    }
}

/// Whether the receiver closed the connection (it never sends anything, so anything readable
/// is its end of stream or an error). Does not wait.
fn peer_closed(stream: &tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 256];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

async fn tcp_connect(d: &SyslogDestination) -> Option<tokio::net::TcpStream> {
    let to = resolve(d).await?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(to))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

/// Makes the forwarder follow the stored setting: at start, after each change through either
/// face, after a factory reset erased it. Readable in any state. Must run inside the runtime.
pub fn reload(core: &strongroom_core::Core) {
    let forwarder = forwarder();
    let _one_at_a_time = forwarder
        .reloading
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match core.syslog_config() {
        Ok(config) => forwarder.apply(&config),
        Err(e) => tracing::error!(
            target: LOCAL_ONLY_TARGET,
            error = %e,
            "the syslog setting could not be read; syslog destinations unchanged"
        ),
    }
}

/// The `syslog` service's restart (`/services/syslog/actions/restart`): every destination's
/// connection and queue is dropped and opened again from the stored setting.
pub fn restart(core: &strongroom_core::Core) {
    {
        let forwarder = forwarder();
        let _one_at_a_time = forwarder
            .reloading
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Dropping the senders ends the destinations' tasks and closes their connections.
        forwarder
            .routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
    reload(core);
}

/// Reports the forwarder's undelivered counts to the local log once a minute, when they
/// changed. Runs for the life of the server.
pub async fn report_every_minute() {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (0, 0);
    loop {
        tick.tick().await;
        forwarder().report_counts(&mut last);
    }
}

/// The `tracing` layer that sends log lines to the forwarder: those that pass the log
/// filter and are at or above the syslog level, with the `request_id` of their request.
pub struct SyslogLayer;

/// The request id a span carries, kept in the span's extensions for its events.
struct SpanRequestId(String);

impl<S> Layer<S> for SyslogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        // Without a destination no line is sent: the id is not worth formatting (a span
        // opened before a destination was set finds it in its task, see `on_event`).
        if attrs.metadata().fields().field("request_id").is_none()
            || !forwarder().has_destinations()
        {
            return;
        }
        let mut found = RequestIdField(None);
        attrs.record(&mut found);
        if let (Some(request_id), Some(span)) = (found.0, ctx.span(id)) {
            span.extensions_mut().insert(SpanRequestId(request_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let forwarder = forwarder();
        if !forwarder.sends(meta.level()) || meta.target().starts_with(LOCAL_ONLY_TARGET) {
            return;
        }
        let mut text = Text {
            message: String::new(),
            fields: String::new(),
        };
        event.record(&mut text);
        let request_id = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().find_map(|span| {
                span.extensions()
                    .get::<SpanRequestId>()
                    .map(|r| r.0.clone())
            })
        });
        let request_id = request_id
            .or_else(|| crate::middleware::request_id::current().map(|id| id.to_string()));
        let mut line = format!("{}: {}{}", meta.target(), text.message, text.fields);
        if let Some(id) = request_id {
            let _ = write!(line, " request_id={id}");
        }
        let message = forwarder.format(
            FACILITY_DAEMON,
            Severity::of_level(meta.level()),
            &now(),
            "log",
            "-",
            &line,
        );
        forwarder.offer(message);
    }
}

struct RequestIdField(Option<String>);

impl Visit for RequestIdField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "request_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_owned());
        }
    }
}

/// An event's message, and its other fields as ` key=value`.
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(
                self.fields,
                " {}={}",
                field.name(),
                quoted(&format!("{value:?}"))
            );
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), quoted(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_line() {
        assert_eq!(clean("a\nb\r\u{1b}[1m\tc"), "a\\nb\\r\\u{1b}[1m c");
        let long = "é".repeat(MAX_MSG_BYTES);
        assert!(clean(&long).len() <= MAX_MSG_BYTES + 4);
    }

    #[test]
    fn timestamps_have_at_most_six_digits_of_fraction() {
        let at = OffsetDateTime::parse("2026-11-23T13:00:05.789117227+01:00", &Rfc3339).unwrap();
        assert_eq!(timestamp(at), "2026-11-23T12:00:05.789117Z");
    }

    #[test]
    fn values_are_quoted_when_they_need_it() {
        assert_eq!(quoted("admin"), "admin");
        assert_eq!(quoted("POST /x"), "\"POST /x\"");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        assert_eq!(quoted(""), "\"\"");
    }

    #[test]
    fn the_header_is_rfc_5424() {
        let f = forwarder();
        let m = f.format(
            13,
            Severity::Notice,
            "2026-01-01T00:00:00Z",
            "audit",
            "-",
            "x",
        );
        let pid = std::process::id();
        assert_eq!(
            m,
            format!(
                "<109>1 2026-01-01T00:00:00Z {} strongroom {pid} audit - x",
                f.hostname
            )
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let f = Forwarder::new();
        let (queue, mut rx) = mpsc::channel(QUEUE);
        let d = SyslogDestination {
            host: "192.0.2.1".into(),
            port: 514,
            transport: Transport::Udp,
        };
        f.routes.write().unwrap().push((d, Route { queue }));
        f.least.store(Severity::Debug as u8, Ordering::Relaxed);
        // Nobody empties the queue: the offers past its size return at once, counted.
        for i in 0..QUEUE + 5 {
            f.offer(format!("message {i}"));
        }
        assert_eq!(f.counters.dropped.load(Ordering::Relaxed), 5);
        assert_eq!(&*rx.try_recv().unwrap(), "message 0");
    }

    #[test]
    fn reconnects_back_off_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn levels_send_what_is_at_least_as_severe() {
        let least = Severity::least_for(LogLevel::Warning) as u8;
        assert!(Severity::of_level(&Level::ERROR) as u8 <= least);
        assert!(Severity::of_level(&Level::WARN) as u8 <= least);
        assert!(Severity::of_level(&Level::INFO) as u8 > least);
    }
}
