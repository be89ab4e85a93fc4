//! A phase: one request, sent over and over by many tasks for a fixed time, and the figures
//! that come out of it.
//!
//! To add a phase, build a [`Phase`] (a name, a label for the request, a closure that builds
//! the request on the shared client, and the status that counts as success) and pass it to
//! [`run`]; [`Report`] prints the result in the same shape as every other phase.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder, StatusCode};

/// Builds one request of a phase; called once per request.
pub type BuildRequest = Arc<dyn Fn(&Client) -> RequestBuilder + Send + Sync>;

/// What to hammer and what counts as success.
#[derive(Clone)]
pub struct Phase {
    /// Short name shown in the report, e.g. `A (Locked)`.
    pub name: String,
    /// What is sent, for the report, e.g. `GET /api/v1/health/alive, unauthenticated`.
    pub endpoint: String,
    /// Builds each request.
    pub build: BuildRequest,
    /// The only status that counts as a success; anything else is an error.
    pub expected: StatusCode,
}

impl Phase {
    pub fn new(
        name: impl Into<String>,
        endpoint: impl Into<String>,
        expected: StatusCode,
        build: impl Fn(&Client) -> RequestBuilder + Send + Sync + 'static,
    ) -> Phase {
        Phase {
            name: name.into(),
            endpoint: endpoint.into(),
            build: Arc::new(build),
            expected,
        }
    }
}

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Number of tasks, each with one request in flight at a time.
    pub concurrency: usize,
    /// Run before measuring; its requests are not counted.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// The server process whose CPU time the report counts beside the bench's own, if any.
    pub server_pid: Option<u32>,
}

/// CPU time (user and system, every thread, living or ended) that a process has used so far,
/// from field 14 and 15 of `/proc/<pid>/stat` (the bench itself for `None`); `None` where
/// `/proc` cannot tell. CPU time per request does not depend on how busy the machine is the
/// way req/s does, so it says where the cost of a phase is even on a shared machine.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    parse_cpu_time(&std::fs::read_to_string(path).ok()?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks of 1/100 s (`USER_HZ`, which
/// the kernel keeps at 100 in `/proc` on the architectures the bench runs on).
fn parse_cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used during a measured window: by the bench (the client side) and by the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub bench: Duration,
    pub server: Option<Duration>,
}

impl CpuUse {
    /// Reads both at the start of the window and again at its end.
    async fn over_window(
        measure_from: Instant,
        stop_at: Instant,
        server: Option<u32>,
    ) -> Option<CpuUse> {
        tokio::time::sleep_until(measure_from.into()).await;
        let (bench0, server0) = (cpu_time(None)?, server.and_then(|p| cpu_time(Some(p))));
        tokio::time::sleep_until(stop_at.into()).await;
        let bench = cpu_time(None)?.saturating_sub(bench0);
        let server = match (server0, server) {
            (Some(before), Some(pid)) => cpu_time(Some(pid)).map(|now| now.saturating_sub(before)),
            _ => None,
        };
        Some(CpuUse { bench, server })
    }

    fn add(self, other: CpuUse) -> CpuUse {
        CpuUse {
            bench: self.bench + other.bench,
            server: self.server.zip(other.server).map(|(a, b)| a + b),
        }
    }
}

/// What one task saw during the measured window.
#[derive(Default)]
struct Tally {
    /// Latency of each successful request.
    latencies: Vec<Duration>,
    /// Failed requests by kind (`HTTP 404`, `timeout`, ...).
    errors: BTreeMap<String, u64>,
    /// The first failure, in full, to help diagnose it.
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, kind: String, detail: impl FnOnce() -> String) {
        *self.errors.entry(kind).or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(detail());
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Runs `phase` under `load`: `load.concurrency` tasks share `client`, each sending one
/// request after another. Requests started during the warm-up are not counted; no request is
/// started after the measured window, and the phase ends when the last one in flight returns
/// (or times out, see [`crate::tls::REQUEST_TIMEOUT`]).
pub async fn run(client: &Client, phase: &Phase, load: Load) -> anyhow::Result<Report> {
    let begin = Instant::now();
    let measure_from = begin + load.warmup;
    let stop_at = measure_from + load.duration;

    let cpu = tokio::spawn(CpuUse::over_window(measure_from, stop_at, load.server_pid));
    let mut tasks = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency.max(1) {
        let client = client.clone();
        let build = phase.build.clone();
        let expected = phase.expected;
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let start = Instant::now();
                if start >= stop_at {
                    break;
                }
                let outcome = send(&client, &build, expected).await;
                let latency = start.elapsed();
                if start < measure_from {
                    continue;
                }
                match outcome {
                    Ok(()) => tally.latencies.push(latency),
                    Err((kind, detail)) => tally.error(kind, || detail),
                }
            }
            tally
        }));
    }

    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await?);
    }
    // From the start of the window until the last request in flight came back.
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let mut report = Report::new(phase, total, elapsed);
    report.cpu = cpu.await?;
    Ok(report)
}

/// Runs `phases` as one mixed load: `load.concurrency` tasks, each sending the phases' requests
/// in turn (task `i` starting at phase `i`, so every phase is in flight at every moment). Returns
/// one report per phase and one for the whole mix; every report has the mix's window, so each
/// phase's rate is its share of the mix's throughput.
pub async fn run_mixed(
    client: &Client,
    name: &str,
    phases: &[Phase],
    load: Load,
) -> anyhow::Result<(Vec<Report>, Report)> {
    anyhow::ensure!(!phases.is_empty(), "a mixed load needs at least one phase");
    let begin = Instant::now();
    let measure_from = begin + load.warmup;
    let stop_at = measure_from + load.duration;
    let phases: Arc<Vec<Phase>> = Arc::new(phases.to_vec());

    let mut tasks = Vec::with_capacity(load.concurrency);
    for task in 0..load.concurrency.max(1) {
        let client = client.clone();
        let phases = phases.clone();
        tasks.push(tokio::spawn(async move {
            let mut tallies: Vec<Tally> = phases.iter().map(|_| Tally::default()).collect();
            for turn in task.. {
                let start = Instant::now();
                if start >= stop_at {
                    break;
                }
                let i = turn % phases.len();
                let outcome = send(&client, &phases[i].build, phases[i].expected).await;
                let latency = start.elapsed();
                if start < measure_from {
                    continue;
                }
                match outcome {
                    Ok(()) => tallies[i].latencies.push(latency),
                    Err((kind, detail)) => tallies[i].error(kind, || detail),
                }
            }
            tallies
        }));
    }

    let mut totals: Vec<Tally> = phases.iter().map(|_| Tally::default()).collect();
    for task in tasks {
        for (total, tally) in totals.iter_mut().zip(task.await?) {
            total.merge(tally);
        }
    }
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let mut whole = Tally::default();
    let mut reports = Vec::with_capacity(phases.len());
    for (phase, tally) in phases.iter().zip(totals) {
        let report = Report::new(phase, tally, elapsed);
        whole.latencies.extend_from_slice(&report.latencies);
        for (kind, n) in &report.errors {
            *whole
                .errors
                .entry(format!("{}: {kind}", phase.name))
                .or_default() += n;
        }
        if whole.first_error.is_none() {
            whole.first_error = report
                .first_error
                .as_ref()
                .map(|e| format!("{}: {e}", phase.name));
        }
        reports.push(report);
    }
    let endpoint = format!("{} operations in turn", phases.len());
    Ok((reports, Report::named(name, &endpoint, whole, elapsed)))
}

/// Sends one request and reads its whole body (so that the connection can be reused).
async fn send(
    client: &Client,
    build: &BuildRequest,
    expected: StatusCode,
) -> Result<(), (String, String)> {
    let transport = |e: reqwest::Error| {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect error"
        } else {
            "transport error"
        };
        (kind.to_owned(), format!("{kind}: {e:#}"))
    };
    let response = build(client).send().await.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if status == expected {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(300).collect();
        Err((
            format!("HTTP {}", status.as_u16()),
            format!("{status}: {text}"),
        ))
    }
}

/// The figures of one phase.
pub struct Report {
    pub name: String,
    pub endpoint: String,
    /// Successful requests completed in the measured window.
    pub ok: u64,
    /// Failed requests in the measured window, by kind.
    pub errors: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    /// The measured window, up to the return of the last request in flight.
    pub elapsed: Duration,
    /// Latencies of the successful requests, sorted.
    latencies: Vec<Duration>,
    /// CPU time used during the measured window (not measured for a mixed load).
    pub cpu: Option<CpuUse>,
}

impl Report {
    fn new(phase: &Phase, tally: Tally, elapsed: Duration) -> Report {
        Report::named(&phase.name, &phase.endpoint, tally, elapsed)
    }

    fn named(name: &str, endpoint: &str, mut tally: Tally, elapsed: Duration) -> Report {
        tally.latencies.sort_unstable();
        Report {
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            ok: tally.latencies.len() as u64,
            errors: tally.errors,
            first_error: tally.first_error,
            elapsed,
            latencies: tally.latencies,
            cpu: None,
        }
    }

    /// Two measurements of one phase as one: requests, errors and latencies added up, and the
    /// measured windows summed (the phase runs in slices, interleaved with others).
    pub fn merge(mut self, other: Report) -> Report {
        self.ok += other.ok;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.cpu = self.cpu.zip(other.cpu).map(|(a, b)| a.add(b));
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
        self
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second of the measured window.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// CPU time per successful request of the measured window: (bench, server). The window
    /// ends when the last request starts; the few requests in flight then are not counted in
    /// either, so this errs by at most the concurrency over the requests counted.
    pub fn cpu_per_request(&self) -> Option<(Duration, Option<Duration>)> {
        let cpu = self.cpu?;
        let n = u32::try_from(self.ok).ok().filter(|&n| n > 0)?;
        Some((cpu.bench / n, cpu.server.map(|s| s / n)))
    }

    /// The `q`-quantile (0 < q <= 1) of the successful requests' latencies, by nearest rank.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        percentile(&self.latencies, q)
    }
}

/// Nearest-rank quantile of sorted values: the smallest value with at least `q` of all values
/// at or below it.
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2}", d.as_secs_f64() * 1000.0),
        None => "-".to_owned(),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "phase {}: {}", self.name, self.endpoint)?;
        writeln!(f, "  requests   {} ok", self.ok)?;
        let errors = self.error_count();
        if errors == 0 {
            writeln!(f, "  errors     0")?;
        } else {
            let kinds = self
                .errors
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(f, "  errors     {errors} ({kinds})")?;
            if let Some(first) = &self.first_error {
                writeln!(f, "  first error {first}")?;
            }
        }
        writeln!(
            f,
            "  req/s      {:.1} (over {:.2} s)",
            self.rate(),
            self.elapsed.as_secs_f64()
        )?;
        write!(
            f,
            "  latency ms p50 {}  p90 {}  p99 {}  max {}",
            ms(self.percentile(0.50)),
            ms(self.percentile(0.90)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied()),
        )?;
        if let Some((bench, server)) = self.cpu_per_request() {
            write!(
                f,
                "\n  CPU us/req server {}  bench (client) {}",
                micros(server),
                micros(Some(bench))
            )?;
        }
        Ok(())
    }
}

/// Microseconds with one decimal, or `-`.
pub fn micros(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}", d.as_secs_f64() * 1e6),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_user_and_system_ticks_after_the_name() {
        // A command name with spaces and a parenthesis; utime 250, stime 50 ticks.
        let stat = "4242 (strong (room) x) S 1 4242 4242 0 -1 4194304 1500 0 0 0 250 50 0 0 20 0 \
                    9 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(3000)));
        assert_eq!(parse_cpu_time("4242 (x) S 1"), None);
        assert!(cpu_time(None).is_some(), "the bench reads its own CPU time");
    }

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&v, 0.50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.90), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(
            percentile(&millis(&[7]), 0.5),
            Some(Duration::from_millis(7))
        );
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn tallies_merge() {
        let mut a = Tally::default();
        a.latencies.push(Duration::from_millis(1));
        a.error("HTTP 500".into(), || "first".into());
        let mut b = Tally::default();
        b.error("HTTP 500".into(), || "second".into());
        b.error("timeout".into(), || "third".into());
        a.merge(b);
        assert_eq!(a.latencies.len(), 1);
        assert_eq!(a.errors["HTTP 500"], 2);
        assert_eq!(a.errors["timeout"], 1);
        assert_eq!(a.first_error.as_deref(), Some("first"));
    }
}
