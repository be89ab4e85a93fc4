//! The clocks the core and the server read.
//!
//! [`Clock`] gives the host's two clocks: wall time ([`Clock::now_utc`]) and monotonic time
//! ([`Clock::instant`]). Everything that measures a limit in time (sessions, the failure
//! limiter, the auth cache, passkey back-off and authorization windows) reads them from the
//! [`Clock`] it was given ([`crate::CoreSettings::clock`]), never from `std` directly, so a
//! test can move time forward instead of sleeping. The system clock is the default; a
//! [`ManualClock`] (unit tests) or another [`Ahead`] source (the server's `test-clock` feature)
//! runs both clocks ahead of the host's by as much as it says.
//!
//! The appliance's clock is the host's wall clock plus an offset. NetHSM sets its system clock
//! from `systemTime` at provisioning; a process cannot (and should not) set the host's clock,
//! so Strongroom keeps the difference between the time it was given and the host's clock,
//! sealed in `config/time-offset`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// How far a moved clock runs ahead of the host's clocks.
pub trait Ahead: Send + Sync + 'static {
    /// The distance now. It must never decrease: monotonic time does not go back.
    fn ahead(&self) -> Duration;
}

/// The host's wall and monotonic clocks, possibly run ahead (see the module docs).
#[derive(Clone, Default)]
pub struct Clock {
    ahead: Option<Arc<dyn Ahead>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ahead {
            None => f.write_str("Clock(system)"),
            // Not read here: a source may do I/O to say how far ahead it is.
            Some(_) => f.write_str("Clock(run ahead)"),
        }
    }
}

impl Clock {
    /// The host's clocks as they are.
    pub fn system() -> Self {
        Self::default()
    }

    /// The host's clocks, run ahead by what `ahead` says at each reading.
    pub fn ahead_by(ahead: Arc<dyn Ahead>) -> Self {
        Self { ahead: Some(ahead) }
    }

    /// A clock that runs with the host's until moved forward with the [`ManualClock`].
    pub fn manual() -> (Self, ManualClock) {
        let manual = ManualClock::default();
        (Self::ahead_by(Arc::new(manual.clone())), manual)
    }

    fn ahead(&self) -> Duration {
        self.ahead.as_ref().map_or(Duration::ZERO, |a| a.ahead())
    }

    /// Wall time (the host's, not the appliance's: see [`crate::Core::now`]).
    pub fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.ahead()
    }

    /// Monotonic time, to measure durations and set deadlines.
    pub fn instant(&self) -> Instant {
        Instant::now() + self.ahead()
    }

    /// How long since `earlier`, an [`Clock::instant`] of this clock; zero if it is later.
    pub fn since(&self, earlier: Instant) -> Duration {
        self.instant().saturating_duration_since(earlier)
    }

    /// Seconds to add to this clock's wall time to get `t` (the appliance's time offset).
    pub(crate) fn offset_to(&self, t: OffsetDateTime) -> i64 {
        (t - self.now_utc()).whole_seconds()
    }
}

/// Moves a [`Clock::manual`] forward.
#[derive(Clone, Default)]
pub struct ManualClock {
    ahead_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// Moves the clock forward by `by`, at once.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturating, so the distance never wraps back to a smaller one.
        let _ = self
            .ahead_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(nanos))
            });
    }
}

impl Ahead for ManualClock {
    fn ahead(&self) -> Duration {
        Duration::from_nanos(self.ahead_nanos.load(Ordering::SeqCst))
    }
}

pub(crate) const TIME_OFFSET_PATH: &str = "config/time-offset";

/// Parses an RFC 3339 date-time that must be in UTC (`Z` or `+00:00`); `field` names it in
/// the error message (`systemTime` at provisioning and restore, `time` in `/config/time`).
pub fn parse_utc(field: &str, s: &str) -> Result<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        Error::InvalidInput(format!("{field} must be an RFC 3339 date-time in UTC"))
    })?;
    if !t.offset().is_utc() {
        return Err(Error::InvalidInput(format!(
            "{field} must be in UTC (ending in Z)"
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_utc_rfc3339() {
        assert!(parse_utc("systemTime", "2018-10-30T11:20:50Z").is_ok());
        assert!(parse_utc("systemTime", "2018-10-30T11:20:50+00:00").is_ok());
        assert!(parse_utc("systemTime", "2018-10-30T11:20:50+02:00").is_err());
        assert!(parse_utc("systemTime", "2018-10-30 11:20:50").is_err());
        assert!(parse_utc("systemTime", "yesterday").is_err());
        assert!(parse_utc("systemTime", "").is_err());
    }

    #[test]
    fn a_manual_clock_moves_both_clocks_forward_together() {
        let (clock, manual) = Clock::manual();
        let (wall, mono) = (clock.now_utc(), clock.instant());
        manual.advance(Duration::from_secs(3600));
        assert!(clock.since(mono) >= Duration::from_secs(3600));
        assert!(clock.now_utc() - wall >= time::Duration::hours(1));
        // Real time still passes, but an hour is an hour more than the host's clocks say.
        assert!(clock.since(mono) < Duration::from_secs(3600) + Duration::from_secs(60));
        assert!(clock.instant() > Instant::now() + Duration::from_secs(3599));
        assert_eq!(
            clock.since(clock.instant() + Duration::from_secs(1)),
            Duration::ZERO
        );
        // The offset to the appliance's time is taken from the moved clock.
        let in_a_day = clock.now_utc() + time::Duration::days(1);
        assert!((86_399..=86_400).contains(&clock.offset_to(in_a_day)));
        let system = Clock::system();
        assert!(system.instant() <= Instant::now());
    }
}
