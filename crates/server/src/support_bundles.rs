//! The support bundles made since the server started, kept in memory (never on disk: a
//! bundle holds nothing secret, but it need not outlive the process either), at most
//! [`KEPT`] of them: making one more drops the oldest. Each is at most a few MiB (its log
//! lines are bounded by [`crate::recent_logs`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use md5::Digest;

/// The most bundles kept.
pub const KEPT: usize = 5;

/// One bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Its name in `/support-bundles/{key}`: letters, digits and `-` only.
    pub key: String,
    /// Milliseconds since the Unix epoch, on the appliance's clock.
    pub time_created: i64,
    /// The MD5 of [`Bundle::tar`], in lower-case hex (the appliance spec's checksum).
    pub md5: String,
    pub tar: Bytes,
}

impl Bundle {
    pub fn new(created: time::OffsetDateTime, tar: Vec<u8>) -> Self {
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            created.year(),
            u8::from(created.month()),
            created.day(),
            created.hour(),
            created.minute(),
            created.second()
        );
        let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
        Self {
            key: format!("strongroom-support-{stamp}-{unique}"),
            time_created: (created.unix_timestamp_nanos() / 1_000_000) as i64,
            md5: hex::encode(md5::Md5::digest(&tar)),
            tar: Bytes::from(tar),
        }
    }
}

#[derive(Debug, Default)]
pub struct SupportBundles {
    bundles: Mutex<VecDeque<Bundle>>,
    /// Held while a bundle is made: one at a time (each verifies the whole audit trail), the
    /// others wait their turn as `QUEUED` tasks.
    making: Mutex<()>,
}

impl SupportBundles {
    /// Waits until no other bundle is being made (blocking: call it on the blocking pool).
    pub fn turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.making.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Bundle>> {
        self.bundles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `bundle`, dropping the oldest beyond [`KEPT`].
    pub fn add(&self, bundle: Bundle) {
        let mut bundles = self.lock();
        while bundles.len() >= KEPT {
            bundles.pop_front();
        }
        bundles.push_back(bundle);
    }

    /// Every bundle kept, oldest first.
    pub fn list(&self) -> Vec<Bundle> {
        self.lock().iter().cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<Bundle> {
        self.lock().iter().find(|b| b.key == key).cloned()
    }

    /// Removes the bundle `key`; whether there was one.
    pub fn remove(&self, key: &str) -> bool {
        let mut bundles = self.lock();
        let before = bundles.len();
        bundles.retain(|b| b.key != key);
        bundles.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_kept_up_to_the_bound_and_checksummed() {
        let store = SupportBundles::default();
        let t = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let first = Bundle::new(t, b"abc".to_vec());
        // RFC 1321's test vector.
        assert_eq!(first.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert!(
            first
                .key
                .starts_with("strongroom-support-20261123T120000Z-")
        );
        assert_eq!(first.time_created, 1_795_435_200_000);
        let first_key = first.key.clone();
        store.add(first);
        for _ in 0..KEPT {
            store.add(Bundle::new(t, Vec::new()));
        }
        assert_eq!(store.list().len(), KEPT);
        assert!(store.get(&first_key).is_none());
        let key = store.list()[0].key.clone();
        assert!(store.remove(&key));
        assert!(!store.remove(&key));
        assert_eq!(store.list().len(), KEPT - 1);
    }
}
