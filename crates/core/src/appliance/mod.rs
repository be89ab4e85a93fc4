//! The appliance's own configuration (issue 14): what an administrator sets through either
//! the NetHSM face (`/config/*`) or the appliance face (`/appliance/settings/*`, `/services`),
//! kept once here so that what one face sets is what the other reports.
//!
//! Each concern is one record at its own path under `meta/appliance/`, sealed under the
//! device key (like the TLS identity): the server needs it before unlock (a syslog
//! destination, a stopped service), and it is node configuration rather than user data.
//! Writes go through [`Appliance::write_record`], which audits them in the same commit.

pub mod info;
pub mod network;
pub mod services;
pub mod support;
pub mod syslog;
pub mod time;
pub mod updates;

use serde::Serialize;
use serde::de::DeserializeOwned;
use strongroom_store::Txn;
use strongroom_store::sealed::Sealer;

use crate::error::{Error, Result};
use crate::handles::Appliance;
use crate::{Core, json};

mod pkcs12;
pub mod tls;

/// The prefix of every appliance configuration record.
pub const RECORD_PREFIX: &str = "meta/appliance/";
const RECORD_PURPOSE: &str = "strongroom/appliance-config/v1";

impl Core {
    fn appliance_sealer(&self) -> Sealer {
        Sealer::new(&self.device_key, RECORD_PURPOSE)
    }

    /// Reads the configuration record `name` (under [`RECORD_PREFIX`]); `None` when it was
    /// never set. Needs no caller: the server reads its own configuration in any state.
    pub fn appliance_record<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = format!("{RECORD_PREFIX}{name}");
        let Some(entry) = self.raw.get(&path)? else {
            return Ok(None);
        };
        let plain = self
            .appliance_sealer()
            .open(&path, &entry.value)
            .map_err(|_| Error::Internal(format!("{path} does not open with the device key")))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(Error::internal)
    }
}

impl Appliance<'_> {
    /// Writes the configuration record `name`, sealed under the device key, with the
    /// request's audit event in the same commit. The caller checks the role first.
    pub(crate) fn write_record<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let (core, unlocked, _) = self.parts();
        let path = format!("{RECORD_PREFIX}{name}");
        let plain = zeroize::Zeroizing::new(json(value)?);
        let sealed = core.appliance_sealer().seal(&path, &plain);
        core.commit_audited(&unlocked.data, Txn::new().put(path, sealed))?;
        Ok(())
    }
}
