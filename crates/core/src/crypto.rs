//! The cryptographic building blocks of the core: randomness, the passphrase KDF that makes
//! the unlock key, and Argon2id password verifiers.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Argon2 runs use 19 to 64 MiB each and a core each: at most this many at once (twice the
/// cores), so a burst of logins queues instead of exhausting memory.
fn with_hash_slot<T>(f: impl FnOnce() -> T) -> T {
    use std::sync::{Condvar, Mutex, OnceLock};
    static SLOTS: OnceLock<(Mutex<usize>, Condvar)> = OnceLock::new();
    let (free, cv) = SLOTS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        (Mutex::new(n), Condvar::new())
    });
    {
        let mut n = free.lock().unwrap_or_else(|e| e.into_inner());
        while *n == 0 {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n -= 1;
    }
    struct Release<'a>(&'a Mutex<usize>, &'a Condvar);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            self.1.notify_one();
        }
    }
    let _release = Release(free, cv);
    f()
}

/// A 32-byte symmetric key, wiped on drop.
pub type Key32 = Zeroizing<[u8; 32]>;

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the OS random generator does not fail");
}

pub fn random_key() -> Key32 {
    let mut key = Zeroizing::new([0u8; 32]);
    fill_random(key.as_mut());
    key
}

/// Argon2id parameters, recorded next to the salt so they can change without breaking old data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Always `argon2id` in this version.
    pub algorithm: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hex-encoded random salt.
    pub salt: String,
}

impl KdfParams {
    /// Fresh parameters with a new 16-byte salt: 64 MiB, 3 passes (the unlock key is derived
    /// rarely, so it can afford more than the per-user verifiers).
    pub fn new_for_key() -> Self {
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        Self {
            algorithm: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
            salt: hex::encode(salt),
        }
    }

    /// Derives a 32-byte key from the passphrase with these parameters.
    pub fn derive(&self, passphrase: &[u8]) -> Result<Key32> {
        if self.algorithm != "argon2id" {
            return Err(Error::Internal(format!(
                "unsupported KDF {:?}",
                self.algorithm
            )));
        }
        let salt = hex::decode(&self.salt).map_err(Error::internal)?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(Error::internal)?;
        let mut key = Zeroizing::new([0u8; 32]);
        with_hash_slot(|| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(
                passphrase,
                &salt,
                key.as_mut(),
            )
        })
        .map_err(Error::internal)?;
        Ok(key)
    }
}

/// The Argon2id instance for password verifiers: OWASP's minimum (19 MiB, 2 passes).
fn verifier_hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Makes an Argon2id verifier (a PHC string with its own salt) for a password.
pub fn make_verifier(password: &[u8]) -> Result<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let hash = with_hash_slot(|| verifier_hasher().hash_password_with_salt(password, &salt))
        .map_err(Error::internal)?;
    Ok(hash.to_string())
}

/// Checks a password against a verifier. The comparison inside argon2 is constant time.
pub fn check_verifier(password: &[u8], verifier: &str) -> bool {
    verifier_hasher()
        .verify_password(password, verifier)
        .is_ok()
}

/// Spends the same time as a real check, for users that do not exist, so that timing does
/// not reveal which users exist.
pub fn check_dummy_verifier(password: &[u8]) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let verifier = DUMMY.get_or_init(|| {
        let mut random = [0u8; 32];
        fill_random(&mut random);
        make_verifier(&random).expect("hashing a fixed-size random password succeeds")
    });
    let _ = check_verifier(password, verifier);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trip() {
        let v = make_verifier(b"hunter2hunter2").unwrap();
        assert!(v.starts_with("$argon2id$"));
        assert!(check_verifier(b"hunter2hunter2", &v));
        assert!(!check_verifier(b"hunter2hunter3", &v));
        assert!(!check_verifier(b"x", "not a phc string"));
    }

    #[test]
    fn kdf_is_deterministic_per_salt() {
        let mut p = KdfParams::new_for_key();
        p.memory_kib = 1024; // keep the unit test fast
        let a = p.derive(b"passphrase").unwrap();
        assert_eq!(*a, *p.derive(b"passphrase").unwrap());
        assert_ne!(*a, *p.derive(b"passphrasf").unwrap());
        let q = KdfParams::new_for_key();
        assert_ne!(p.salt, q.salt);
    }
}
