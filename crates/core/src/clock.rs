//! The appliance's clock. NetHSM sets its system clock from `systemTime` at provisioning; a
//! process cannot (and should not) set the host's clock, so Strongroom keeps the difference
//! between the time it was given and the host's clock, sealed in `config/time-offset`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

pub(crate) const TIME_OFFSET_PATH: &str = "config/time-offset";

/// Parses an RFC 3339 date-time that must be in UTC (`Z` or `+00:00`).
pub fn parse_utc(s: &str) -> Result<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        Error::InvalidInput("systemTime must be an RFC 3339 date-time in UTC".into())
    })?;
    if !t.offset().is_utc() {
        return Err(Error::InvalidInput(
            "systemTime must be in UTC (ending in Z)".into(),
        ));
    }
    Ok(t)
}

/// Seconds to add to the host clock to get the appliance's time.
pub(crate) fn offset_to(t: OffsetDateTime) -> i64 {
    (t - OffsetDateTime::now_utc()).whole_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_utc_rfc3339() {
        assert!(parse_utc("2018-10-30T11:20:50Z").is_ok());
        assert!(parse_utc("2018-10-30T11:20:50+00:00").is_ok());
        assert!(parse_utc("2018-10-30T11:20:50+02:00").is_err());
        assert!(parse_utc("2018-10-30 11:20:50").is_err());
        assert!(parse_utc("yesterday").is_err());
        assert!(parse_utc("").is_err());
    }
}
