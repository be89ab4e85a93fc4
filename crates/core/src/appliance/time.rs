//! The appliance's time settings: its time zone and how its clock is kept, beside the clock
//! itself (the host's wall clock plus the offset NetHSM's `/config/time` sets; see
//! [`crate::clock`]). The appliance face's `/appliance/settings/time` reads and changes these;
//! NetHSM's `/config/time` sets the same clock, so each face reports what the other set.
//!
//! What the appliance can do, and so the only modes there are:
//! - [`SyncMode::Disabled`]: the clock is set by hand (provisioning's `systemTime`, NetHSM's
//!   `PUT /config/time`) and runs on from there with the host's clock.
//! - [`SyncMode::Host`]: the clock is the host's own, with no offset: whatever keeps the
//!   host's clock right (chrony, systemd-timesyncd) keeps the appliance's right. Setting the
//!   time by hand ends it ([`clock_set_by_hand`]).
//!
//! The appliance runs no NTP client of its own, so NTP is not a mode here: the appliance face
//! refuses it. The zone is recorded and reported; every time either API shows stays UTC.

use serde::{Deserialize, Serialize};
use strongroom_store::Txn;
use time::OffsetDateTime;

use crate::Core;
use crate::access::Access;
use crate::clock;
use crate::error::{Error, Result};
use crate::handles::Appliance;

const RECORD: &str = "time";

/// How the appliance's clock is kept (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMode {
    Disabled,
    Host,
}

/// The stored time settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSettings {
    /// An IANA time zone name, as the tz database spells it.
    pub zone: String,
    pub mode: SyncMode,
}

impl Default for TimeSettings {
    fn default() -> Self {
        Self {
            zone: "UTC".into(),
            mode: SyncMode::Disabled,
        }
    }
}

/// What [`Appliance::time_settings`] reports: the appliance's time now, and its settings.
#[derive(Debug, Clone)]
pub struct TimeReport {
    pub now: OffsetDateTime,
    pub settings: TimeSettings,
}

/// The tz database's spelling of `name` (matched without regard to case), or `None` when it
/// is not a zone of the database jiff bundles.
pub fn zone(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 64 {
        return None;
    }
    let db = jiff::tz::db();
    // `get` accepts any case; the list gives the database's own spelling to store.
    db.get(name).ok()?;
    db.available()
        .find(|known| known.as_str().eq_ignore_ascii_case(name))
        .map(|known| known.as_str().to_owned())
}

/// Every zone name of the bundled tz database, sorted.
pub fn zones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Core {
    fn time_settings_record(&self) -> Result<TimeSettings> {
        Ok(self.appliance_record(RECORD)?.unwrap_or_default())
    }

    /// The sealed put of the configuration record `name`, for a change that commits it
    /// together with user data ([`Appliance::write_record`] commits one record alone).
    fn appliance_record_txn<T: Serialize>(&self, name: &str, value: &T) -> Result<Txn> {
        let path = format!("{}{name}", super::RECORD_PREFIX);
        let plain = zeroize::Zeroizing::new(crate::json(value)?);
        let sealed = self.appliance_sealer().seal(&path, &plain);
        Ok(Txn::new().put(path, sealed))
    }
}

/// The part of a transaction that a hand-set time (NetHSM `PUT /config/time`) adds: following
/// the host's clock ends, so the settings say `Disabled` again. Empty when they already do.
pub(crate) fn clock_set_by_hand(core: &Core) -> Result<Txn> {
    let settings = core.time_settings_record()?;
    if settings.mode != SyncMode::Host {
        return Ok(Txn::new());
    }
    let disabled = TimeSettings {
        mode: SyncMode::Disabled,
        ..settings
    };
    core.appliance_record_txn(RECORD, &disabled)
}

impl Appliance<'_> {
    /// `GET /appliance/settings/time` (root Administrator).
    pub fn time_settings(&self) -> Result<TimeReport> {
        let (core, _, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        let mut settings = core.time_settings_record()?;
        // A restore sets the clock from its `systemTime` without passing here: a clock with an
        // offset does not follow the host's, whatever was recorded.
        if core.time_offset.load(std::sync::atomic::Ordering::Relaxed) != 0 {
            settings.mode = SyncMode::Disabled;
        }
        Ok(TimeReport {
            now: core.now(),
            settings,
        })
    }

    /// `PUT /appliance/settings/time` (root Administrator): what is `None` stays as it is.
    /// Switching to [`SyncMode::Host`] drops the clock's offset in the same commit.
    pub fn set_time_settings(&self, zone_name: Option<&str>, mode: Option<SyncMode>) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let mut settings = core.time_settings_record()?;
        if let Some(name) = zone_name {
            settings.zone = zone(name).ok_or_else(|| {
                Error::InvalidInput(format!("{name:?} is not a time zone of the IANA database"))
            })?;
        }
        let to_host = mode == Some(SyncMode::Host);
        if let Some(mode) = mode {
            settings.mode = mode;
        }
        let _sealing = core.sealing();
        let mut txn = core.appliance_record_txn(RECORD, &settings)?;
        if to_host {
            txn = txn.merge(
                u.data
                    .seal_txn(Txn::new().put(clock::TIME_OFFSET_PATH, "0")),
            );
        }
        core.commit_audited_sealing(&u.data, txn)?;
        if to_host {
            core.time_offset
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::info!(by = %who.user_id, zone = %settings.zone, mode = ?settings.mode, "time settings changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_the_tz_database_names() {
        assert_eq!(zone("Europe/Berlin").as_deref(), Some("Europe/Berlin"));
        assert_eq!(zone("europe/berlin").as_deref(), Some("Europe/Berlin"));
        assert_eq!(zone("UTC").as_deref(), Some("UTC"));
        assert_eq!(zone("Mars/Olympus_Mons"), None);
        assert_eq!(zone(""), None);
        assert_eq!(zone("../../etc/passwd"), None);
        let all = zones();
        assert!(all.len() > 300, "the whole database: {}", all.len());
        assert!(all.iter().any(|z| z == "America/New_York"));
        assert!(all.iter().all(|z| zone(z).as_deref() == Some(z.as_str())));
    }
}
