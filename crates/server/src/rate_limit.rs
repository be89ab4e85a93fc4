//! Rate limiting of failed attempts, as the original: after a failure, further attempts with
//! the same key from the same client address within the window (one second) are refused
//! with 429 without being checked. Shared by every face (one instance per kind of secret).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many remembered failures, old ones are swept.
const SWEEP_AT: usize = 100_000;

pub struct FailureLimiter {
    window: Duration,
    last_failure: Mutex<HashMap<(IpAddr, String), Instant>>,
}

impl FailureLimiter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last_failure: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(IpAddr, String), Instant>> {
        self.last_failure.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an attempt for `key` from `ip` must be refused now.
    pub fn is_limited(&self, ip: IpAddr, key: &str) -> bool {
        self.map()
            .get(&(ip, key.to_owned()))
            .is_some_and(|t| t.elapsed() < self.window)
    }

    pub fn record_failure(&self, ip: IpAddr, key: &str) {
        let mut map = self.map();
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, t| t.elapsed() < window);
        }
        map.insert((ip, key.to_owned()), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_per_window() {
        let l = FailureLimiter::new(Duration::from_millis(50));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(!l.is_limited(ip, "alice"));
        l.record_failure(ip, "alice");
        assert!(l.is_limited(ip, "alice"));
        assert!(!l.is_limited(ip, "bob"));
        assert!(!l.is_limited(other, "alice"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!l.is_limited(ip, "alice"));
    }
}
