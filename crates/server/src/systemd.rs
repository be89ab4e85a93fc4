//! Telling a service manager how the server is doing (`sd_notify`, for a `Type=notify`
//! systemd unit): `READY=1` once the port is bound and the two start lines are printed,
//! `STOPPING=1` when a shutdown begins, and `WATCHDOG=1` pings when the unit sets
//! `WatchdogSec=`. Without `NOTIFY_SOCKET` in the environment (not started by systemd) every
//! call here does nothing.

use std::net::SocketAddr;
use std::time::Duration;

use sd_notify::NotifyState;

/// Says the server is listening on `addr`. A failure to tell is logged, never fatal: the
/// server serves either way, and systemd then reports the start as timed out.
pub fn ready(addr: SocketAddr) {
    let status = format!("listening on https://{addr}");
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(&status)]) {
        tracing::warn!(error = %e, "cannot tell the service manager the server is ready");
    }
}

/// Says the server is stopping, so systemd does not take the exit for a crash.
pub fn stopping() {
    if let Err(e) = sd_notify::notify(&[NotifyState::Stopping]) {
        tracing::debug!(error = %e, "cannot tell the service manager the server is stopping");
    }
}

/// Pings the watchdog at half the interval the unit asked for, from the async runtime the
/// requests are served on: a runtime that stopped making progress stops the pings, and
/// systemd restarts the service. Returns at once when no watchdog is set.
pub async fn keep_watchdog_fed() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(ping_every(interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sd_notify::notify(&[NotifyState::Watchdog]) {
            tracing::warn!(error = %e, "cannot ping the service manager's watchdog");
        }
    }
}

/// Half the watchdog interval (what `sd_watchdog_enabled(3)` advises), at least 10 ms.
fn ping_every(interval: Duration) -> Duration {
    (interval / 2).max(Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_pinged_at_half_its_interval() {
        assert_eq!(ping_every(Duration::from_secs(30)), Duration::from_secs(15));
        assert_eq!(
            ping_every(Duration::from_millis(2)),
            Duration::from_millis(10)
        );
    }
}
