//! NetHSM request and response bodies, named after the schemas of `nethsm-api.yaml`.
//! Requests refuse unknown fields ("All endpoints expect exactly the specified JSON").

use serde::{Deserialize, Serialize};
use strongroom_core::SystemState;
use strongroom_core::secret::Passphrase;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "unlockPassphrase": "a long and unusual unlock passphrase",
    "adminPassphrase": "the administrator's own passphrase",
    "systemTime": "2026-11-30T12:00:00Z",
}))]
pub struct ProvisionRequestData {
    #[schema(value_type = String)]
    pub unlock_passphrase: Passphrase,
    #[schema(value_type = String)]
    pub admin_passphrase: Passphrase,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub system_time: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequestData {
    #[schema(value_type = String)]
    pub passphrase: Passphrase,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthStateData {
    pub state: SystemState,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InfoData {
    pub vendor: String,
    pub product: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnattendedBootConfig {
    pub status: Switch,
}

/// Attestation keys of the original's TPM; Strongroom has none, so the object is empty.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct AkPub {}

/// TPM measurement registers of the original; empty for the same reason.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Pcr {}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    pub software_version: String,
    pub software_build: String,
    pub firmware_version: String,
    pub hardware_version: String,
    pub device_id: String,
    pub ak_pub: AkPub,
    pub pcr: Pcr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum UserRole {
    Administrator,
    Operator,
    Metrics,
    Backup,
}

impl From<UserRole> for strongroom_core::identity::Role {
    fn from(r: UserRole) -> Self {
        use strongroom_core::identity::Role;
        match r {
            UserRole::Administrator => Role::Administrator,
            UserRole::Operator => Role::Operator,
            UserRole::Metrics => Role::Metrics,
            UserRole::Backup => Role::Backup,
        }
    }
}

impl From<strongroom_core::identity::Role> for UserRole {
    fn from(r: strongroom_core::identity::Role) -> Self {
        use strongroom_core::identity::Role;
        match r {
            Role::Administrator => UserRole::Administrator,
            Role::Operator => UserRole::Operator,
            Role::Metrics => UserRole::Metrics,
            Role::Backup => UserRole::Backup,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPostData {
    pub real_name: String,
    pub role: UserRole,
    #[schema(value_type = String)]
    pub passphrase: Passphrase,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    pub real_name: String,
    pub role: UserRole,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserItem {
    pub user: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NamespaceItem {
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateResourceId {
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPassphrasePostData {
    #[schema(value_type = String)]
    pub passphrase: Passphrase,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomRequestData {
    /// How many bytes.
    #[schema(minimum = 1, maximum = 1024)]
    pub length: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RandomData {
    /// Standard, padded base64.
    pub random: String,
}

/// `PUT /config/backup-passphrase` takes the current spec's body or the older one of the
/// seed (`nethsm-api-2023-legacy.yaml`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BackupPassphraseBody {
    Current(BackupPassphraseConfig),
    Legacy(LegacyBackupPassphraseConfig),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupPassphraseConfig {
    #[schema(value_type = String)]
    pub new_passphrase: Passphrase,
    /// `""` while no backup passphrase is set.
    #[schema(value_type = String)]
    pub current_passphrase: Passphrase,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyBackupPassphraseConfig {
    #[schema(value_type = String)]
    pub passphrase: Passphrase,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnlockPassphraseConfig {
    #[schema(value_type = String)]
    pub new_passphrase: Passphrase,
    #[schema(value_type = String)]
    pub current_passphrase: Passphrase,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub time: String,
}

/// The `arguments` part of `POST /system/restore`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreArguments {
    #[schema(value_type = String)]
    pub backup_passphrase: Passphrase,
    /// RFC 3339.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, format = DateTime)]
    pub system_time: Option<String>,
}

// `/keys` (the spec's key schemas). Type, mechanism and mode names stay strings here so the
// core answers names the spec has but this build does not support with its own 400.

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRestrictions {
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519"}))]
pub struct KeyGenerateRequestData {
    pub mechanisms: Vec<String>,
    #[serde(rename = "type")]
    pub key_type: String,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub length: Option<u32>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub restrictions: Option<KeyRestrictions>,
    /// `KeyLabel`, a string: left out, no label; `null` refused (not nullable in the spec).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub label: Option<String>,
}

/// `KeyPrivateData`: base64 fields, kept in wiped strings. An RSA key is `primeP`, `primeQ`
/// and `publicExponent`; an elliptic-curve key is `data`, its raw scalar (big-endian; little-
/// endian for Curve25519); a Generic key's `data` is its bytes.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyPrivateData {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, nullable = false)]
    pub prime_p: Option<zeroize::Zeroizing<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, nullable = false)]
    pub prime_q: Option<zeroize::Zeroizing<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub public_exponent: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, nullable = false)]
    pub data: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for KeyPrivateData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPrivateData(..)")
    }
}

/// `PrivateKey`, the JSON import body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "mechanisms": ["EdDSA_Signature"],
    "type": "Curve25519",
    "private": {"data": "qZ8AXzC02MkF8/SjP+juDpLK97plzbT+h/74x+x6+X4="},
}))]
pub struct PrivateKey {
    pub mechanisms: Vec<String>,
    #[serde(rename = "type")]
    pub key_type: String,
    pub private: KeyPrivateData,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub restrictions: Option<KeyRestrictions>,
    /// `KeyLabel`, a string: left out, no label; `null` refused (not nullable in the spec).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub label: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyItem {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPublicData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modulus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_exponent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// `PublicKey`, what `GET /keys/{KeyID}` answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicKey {
    pub mechanisms: Vec<String>,
    #[serde(rename = "type")]
    pub key_type: String,
    pub restrictions: KeyRestrictions,
    /// Absent for a Generic key, which has no public part (the spec: "null for Generic keys").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<KeyPublicData>,
    pub operations: u64,
    /// The key's label; the empty string when it has none (the spec's default).
    pub label: String,
}

/// `MoveKeyRequest`, the body of `POST /keys/{KeyID}/move`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"newId": "movedkey"}))]
pub struct MoveKeyRequest {
    #[serde(rename = "newId")]
    pub new_id: String,
}

/// `KeySetLabel`, the body of `PUT /keys/{KeyID}/label`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySetLabel {
    pub label: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "EdDSA", "message": "aGVsbG8="}))]
pub struct SignRequestData {
    pub mode: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignData {
    pub signature: String,
}

/// An optional field that, when present, is a `T` (never `null`, which serde would take for
/// the field left out); with `#[serde(default)]` it is `None` when left out. For fields the
/// spec does not make nullable.
pub(crate) fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
