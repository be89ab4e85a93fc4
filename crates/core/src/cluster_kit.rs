//! The joiner kit of NetHSM's `POST /cluster/members`: what a node joining the cluster needs
//! (where etcd is, the key prefix, the id and name of the member it is to become, the
//! members with their peer URLs), sealed under the backup key so that only someone who knows
//! the cluster's backup passphrase can open it (`/cluster/join` takes both).
//!
//! Format (docs/cluster.md, "The joiner kit"): the kit is standard base64 of a JSON envelope
//! `{"version": 1, "kdf": {Argon2id parameters and salt}, "nonce": hex, "ciphertext": base64}`.
//! The key is the backup key: Argon2id over the backup passphrase with the parameters and salt
//! of the appliance's backup key record, which the envelope carries so a joining node can
//! derive it again. The ciphertext is AES-256-GCM over the JSON of [`JoinerKitContent`], with
//! a fresh random nonce, and the label and the parameters as associated data (so neither can
//! be swapped).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Key32};
use crate::error::{Error, Result};
use crate::handles::System;
use crate::system::{BackupKey, read_backup_key};

/// The envelope's version this build writes and reads.
pub const KIT_VERSION: u32 = 1;

/// Bound into the associated data: a kit is never taken for another sealed thing.
const KIT_LABEL: &[u8] = b"strongroom joiner kit v1";

/// The largest kit [`open`] reads (a kit of a few members is well under 4 KiB).
pub const KIT_MAX_LEN: usize = 64 * 1024;

/// What a joining node learns from its kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinerKitContent {
    /// The etcd members' client URLs the cluster's nodes use (`http://` or `https://`).
    pub endpoints: Vec<String>,
    /// The prefix of every key the cluster writes in etcd.
    pub key_prefix: String,
    /// The new member's etcd id, 16 lowercase hex digits.
    pub member_id: String,
    /// The name the new member must start with (`--name`), as in `members`.
    pub member_name: String,
    /// Every member after the addition, the new one included (`--initial-cluster`).
    pub members: Vec<KitMember>,
}

/// One member in a kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitMember {
    pub id: String,
    pub name: String,
    pub urls: Vec<String>,
    pub learner: bool,
}

/// The sealed envelope.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    version: u32,
    kdf: KdfParams,
    nonce: String,
    ciphertext: String,
}

/// The backup key and the parameters that derive it from the backup passphrase. Its
/// `Debug` never shows the key.
pub struct KitKey {
    kdf: KdfParams,
    key: Key32,
}

impl std::fmt::Debug for KitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KitKey")
            .field("kdf", &self.kdf)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl KitKey {
    /// The key `passphrase` derives with `kdf` (for tests, and for a node that has the
    /// passphrase rather than the stored key).
    pub fn derive(kdf: KdfParams, passphrase: &[u8]) -> Result<Self> {
        let key = kdf.derive(passphrase)?;
        Ok(Self { kdf, key })
    }
}

impl System<'_> {
    /// The key joiner kits are sealed under: the backup key (root Administrator). Refused
    /// (412) while no backup passphrase is set, as NetHSM refuses `POST /cluster/members`.
    pub fn joiner_kit_key(&self) -> Result<KitKey> {
        let (_, u, _) = self.parts();
        self.require(crate::access::Access::RootAdministrator)?;
        match read_backup_key(&u.data)?.0 {
            // Decoded straight into wiped memory (no plain `[u8; 32]` copy on the stack).
            BackupKey::Set(record) => Ok(KitKey {
                key: record.key()?,
                kdf: record.kdf,
            }),
            BackupKey::Unset | BackupKey::Missing => Err(Error::Precondition(
                "no backup passphrase is set: a joiner kit is sealed under it; set one with \
                 PUT /config/backup-passphrase first"
                    .into(),
            )),
        }
    }
}

fn aad(kdf: &KdfParams) -> Result<Vec<u8>> {
    let mut aad = KIT_LABEL.to_vec();
    aad.extend_from_slice(&serde_json::to_vec(kdf).map_err(Error::internal)?);
    Ok(aad)
}

fn aead_key(key: &Key32) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(Error::internal)?,
    ))
}

/// Seals `content` under `key`: the kit, as `POST /cluster/members` answers it.
pub fn seal(key: &KitKey, content: &JoinerKitContent) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    crypto::fill_random(&mut nonce);
    let mut data = Zeroizing::new(serde_json::to_vec(content).map_err(Error::internal)?);
    aead_key(&key.key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&key.kdf)?),
            &mut *data,
        )
        .map_err(Error::internal)?;
    let envelope = Envelope {
        version: KIT_VERSION,
        kdf: key.kdf.clone(),
        nonce: hex::encode(nonce),
        ciphertext: STANDARD.encode(&*data),
    };
    Ok(STANDARD.encode(serde_json::to_vec(&envelope).map_err(Error::internal)?))
}

/// Opens a kit with the backup passphrase. A malformed kit is `InvalidInput`; a kit the
/// passphrase does not open (wrong passphrase, altered kit) is `WrongPassphrase`.
pub fn open(kit: &str, passphrase: &[u8]) -> Result<JoinerKitContent> {
    let bad = |why: &str| Error::InvalidInput(format!("joinerKit: {why}"));
    if kit.len() > KIT_MAX_LEN {
        return Err(bad("too long"));
    }
    let json = STANDARD.decode(kit.trim()).map_err(|_| bad("not base64"))?;
    let envelope: Envelope = serde_json::from_slice(&json).map_err(|_| bad("not a joiner kit"))?;
    if envelope.version != KIT_VERSION {
        return Err(bad(&format!(
            "version {} is not known (this build reads {KIT_VERSION})",
            envelope.version
        )));
    }
    envelope
        .kdf
        .validate()
        .map_err(|why| bad(&format!("key derivation parameters: {why}")))?;
    let nonce: [u8; NONCE_LEN] = hex::decode(&envelope.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| bad("the nonce is not 12 bytes of hex"))?;
    let mut data = Zeroizing::new(
        STANDARD
            .decode(&envelope.ciphertext)
            .map_err(|_| bad("the ciphertext is not base64"))?,
    );
    let key = KitKey::derive(envelope.kdf, passphrase)?;
    let wrong = || {
        Error::WrongPassphrase(
            "the backup passphrase does not open this joiner kit (or the kit was altered)".into(),
        )
    };
    let plain = aead_key(&key.key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&key.kdf)?),
            &mut data,
        )
        .map_err(|_| wrong())?;
    serde_json::from_slice(plain).map_err(|_| bad("its content is not a joiner kit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cheapest parameters the bounds allow: the tests derive several keys.
    fn quick_kdf() -> KdfParams {
        KdfParams {
            algorithm: "argon2id".into(),
            memory_kib: crypto::KDF_MIN_MEMORY_KIB,
            iterations: crypto::KDF_MIN_ITERATIONS,
            parallelism: 1,
            salt: hex::encode([7u8; 16]),
        }
    }

    fn content() -> JoinerKitContent {
        JoinerKitContent {
            endpoints: vec!["http://10.0.0.1:2379".into(), "http://10.0.0.2:2379".into()],
            key_prefix: "strongroom/".into(),
            member_id: "8e9e05c52164694d".into(),
            member_name: "strongroom-8e9e05c52164694d".into(),
            members: vec![
                KitMember {
                    id: "1".repeat(16),
                    name: "first-member-of-the-kit".into(),
                    urls: vec!["https://10.0.0.1:2380".into()],
                    learner: false,
                },
                KitMember {
                    id: "8e9e05c52164694d".into(),
                    name: "strongroom-8e9e05c52164694d".into(),
                    urls: vec!["https://10.0.0.3:2380".into()],
                    learner: true,
                },
            ],
        }
    }

    #[test]
    fn a_kit_opens_with_its_passphrase_only() {
        let key = KitKey::derive(quick_kdf(), b"backup passphrase").unwrap();
        let kit = seal(&key, &content()).unwrap();
        assert_eq!(open(&kit, b"backup passphrase").unwrap(), content());
        assert!(matches!(
            open(&kit, b"another passphrase"),
            Err(Error::WrongPassphrase(_))
        ));
        // Nothing of the content is readable in the kit, nor in its decoded envelope.
        // (Each word is long enough that random base64 cannot hold it by chance: a
        // two-letter name once did, one run in a few.)
        let envelope = String::from_utf8(STANDARD.decode(&kit).unwrap()).unwrap();
        for word in [
            "strongroom/",
            "10.0.0.1",
            "8e9e05c52164694d",
            "first-member-of-the-kit",
        ] {
            assert!(!kit.contains(word) && !envelope.contains(word), "{word}");
        }
        // Two kits of the same content differ (fresh nonce).
        assert_ne!(seal(&key, &content()).unwrap(), kit);
        assert!(!format!("{key:?}").contains(&hex::encode(key.key.as_ref())));
    }

    #[test]
    fn altered_or_malformed_kits_are_refused() {
        let key = KitKey::derive(quick_kdf(), b"backup passphrase").unwrap();
        let kit = seal(&key, &content()).unwrap();
        let mut envelope: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(&kit).unwrap()).unwrap();
        let reseal = |v: &serde_json::Value| STANDARD.encode(serde_json::to_vec(v).unwrap());

        // A flipped ciphertext byte.
        let mut ct = STANDARD
            .decode(envelope["ciphertext"].as_str().unwrap())
            .unwrap();
        ct[0] ^= 1;
        let mut altered = envelope.clone();
        altered["ciphertext"] = STANDARD.encode(&ct).into();
        assert!(matches!(
            open(&reseal(&altered), b"backup passphrase"),
            Err(Error::WrongPassphrase(_))
        ));
        // Other parameters (another salt): another key, refused.
        let mut altered = envelope.clone();
        altered["kdf"]["salt"] = hex::encode([8u8; 16]).into();
        assert!(matches!(
            open(&reseal(&altered), b"backup passphrase"),
            Err(Error::WrongPassphrase(_))
        ));
        // Parameters out of bounds are refused before any derivation.
        let mut altered = envelope.clone();
        altered["kdf"]["memory_kib"] = (4u32 << 20).into();
        assert!(matches!(
            open(&reseal(&altered), b"backup passphrase"),
            Err(Error::InvalidInput(_))
        ));
        envelope["version"] = 2.into();
        assert!(matches!(
            open(&reseal(&envelope), b"backup passphrase"),
            Err(Error::InvalidInput(_))
        ));
        for junk in [
            "",
            "not base64!",
            &STANDARD.encode("{}"),
            &"A".repeat(KIT_MAX_LEN + 4),
        ] {
            assert!(
                matches!(
                    open(junk, b"backup passphrase"),
                    Err(Error::InvalidInput(_))
                ),
                "{junk:.20}"
            );
        }
    }
}
