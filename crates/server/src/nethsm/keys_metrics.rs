//! The key operation counters (`docs/admin-api.md`, metrics): what the key routes did, by
//! operation and by the key type or mode, and what they refused, by operation and status.
//! Label values are only ever the spec's names of validated types and modes, never
//! caller input, so the number of series stays bounded.

use crate::app::AppState;

use super::error::NetHsmError;

/// A key operation, with the validated name its counter is labelled with.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyOp<'a> {
    /// A key type name (`RSA`, `EC_P256`, ...).
    Generate(&'a str),
    Import(&'a str),
    /// A sign mode name (`PKCS1`, `EdDSA`, ...).
    Sign(&'a str),
    /// A decrypt mode name (`RAW`, `OAEP_SHA256`, ...).
    Decrypt(&'a str),
    /// An encrypt mode name (`AES_CBC`).
    Encrypt(&'a str),
}

impl KeyOp<'_> {
    fn operation(self) -> &'static str {
        match self {
            KeyOp::Generate(_) => "generate",
            KeyOp::Import(_) => "import",
            KeyOp::Sign(_) => "sign",
            KeyOp::Decrypt(_) => "decrypt",
            KeyOp::Encrypt(_) => "encrypt",
        }
    }
}

/// Counts what a key route answered: one success of `op`, or one failure of its operation
/// labelled with the status. Returns `result` as it was.
pub(super) fn count<T>(
    s: &AppState,
    op: KeyOp<'_>,
    result: Result<T, NetHsmError>,
) -> Result<T, NetHsmError> {
    match (&result, op) {
        (Ok(_), KeyOp::Generate(t)) => s.metrics.inc("keys_generated_total", &[("type", t)]),
        (Ok(_), KeyOp::Import(t)) => s.metrics.inc("keys_imported_total", &[("type", t)]),
        (Ok(_), KeyOp::Sign(m)) => s.metrics.inc("key_signatures_total", &[("mode", m)]),
        (Ok(_), KeyOp::Decrypt(m)) => s.metrics.inc("key_decryptions_total", &[("mode", m)]),
        (Ok(_), KeyOp::Encrypt(m)) => s.metrics.inc("key_encryptions_total", &[("mode", m)]),
        (Err(e), op) => s.metrics.inc(
            "key_operation_failures_total",
            &[("operation", op.operation()), ("status", e.status.as_str())],
        ),
    }
    result
}
