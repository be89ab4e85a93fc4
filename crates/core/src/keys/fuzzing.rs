//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, which no build of
//! the server turns on): the key import parsers, reachable without a running core.

use super::{ImportedKey, KeyType, crypt, import_pkcs8};
use crate::error::Result;

/// The PEM import's parser (`POST /keys` as `multipart/form-data`): the key's type.
pub fn read_pem(pem: &[u8]) -> Result<KeyType> {
    super::pem::read_pem(pem).map(|(t, _)| t)
}

/// The JSON import's checks of a key's parts (`PrivateKey`, decoded): the PKCS#8 (or, for a
/// Generic key, the secret) that would be stored.
pub fn import_parts(t: KeyType, key: &ImportedKey) -> Result<Vec<u8>> {
    match t {
        KeyType::Generic => crypt::import_secret(&key.data).map(|s| s.to_vec()),
        t => import_pkcs8(t, key).map(|der| der.to_vec()),
    }
}
