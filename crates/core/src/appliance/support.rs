//! What a support bundle may say about the appliance's own configuration records: each
//! record's name, and the content only of those on [`NOT_SECRET_RECORDS`]. A record is left
//! out unless it is listed, so a new record holding a secret (a TLS key, a syslog TLS client
//! key) cannot reach a bundle by being forgotten here.

use crate::error::Result;
use crate::{Core, appliance::RECORD_PREFIX};

/// Name prefixes (under [`RECORD_PREFIX`]) of records that hold nothing secret. A new
/// concern adds its record here once it has checked that.
pub const NOT_SECRET_RECORDS: &[&str] = &["services/", "syslog", "time", "network"];

/// One configuration record as a support bundle shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportRecord {
    /// The name under [`RECORD_PREFIX`].
    pub name: String,
    /// The content, for records on [`NOT_SECRET_RECORDS`]; `None` for the others.
    pub content: Option<serde_json::Value>,
}

impl Core {
    /// Every appliance configuration record, for a support bundle: names always, contents
    /// only of records on [`NOT_SECRET_RECORDS`]. Needs no caller: these records are the
    /// node's own (the handler that builds a bundle checks its caller).
    pub fn appliance_records_for_support(&self) -> Result<Vec<SupportRecord>> {
        let mut records = Vec::new();
        for (path, _) in self.raw.scan_prefix(RECORD_PREFIX)? {
            let name = path[RECORD_PREFIX.len()..].to_owned();
            let content = if NOT_SECRET_RECORDS.iter().any(|p| name.starts_with(p)) {
                self.appliance_record::<serde_json::Value>(&name)?
            } else {
                None
            };
            records.push(SupportRecord { name, content });
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{admin, open_provisioned};

    #[test]
    fn only_listed_records_show_their_content() {
        let (_dir, core) = open_provisioned();
        let root = admin();
        let op = core.operational(&root).unwrap();
        op.appliance()
            .set_service_running("backup-client", false)
            .unwrap();
        // A record of another concern that is not on the list (it could hold a key).
        op.appliance()
            .write_record("tls-key", &serde_json::json!({"pem": "PRIVATE"}))
            .unwrap();
        let records = core.appliance_records_for_support().unwrap();
        let find = |name: &str| records.iter().find(|r| r.name == name).cloned();
        assert_eq!(
            find("services/backup-client").and_then(|r| r.content),
            Some(serde_json::json!({"running": false}))
        );
        let tls = find("tls-key").expect("listed by name");
        assert_eq!(tls.content, None);
    }
}
