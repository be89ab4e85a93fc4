//! The cryptographic building blocks of the core: randomness, the passphrase KDF that makes
//! the unlock key, and Argon2id password verifiers.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The one gate every Argon2 run (hash, verify, key derivation) goes through. Each run uses
/// 19 to 64 MiB and a core, so at most [`HashGate::running`] run at once (twice the cores) and
/// at most [`HashGate::queued`] more wait for a turn; past that, a run is refused at once with
/// [`Error::Busy`], so a flood of logins costs neither a thread nor memory per request.
///
/// A place is taken with [`admit`] (cheap, never blocks: async callers take it before they go
/// to a blocking thread) and used with [`Admission::run`], which waits for a turn.
pub struct HashGate {
    state: std::sync::Mutex<GateState>,
    turn: std::sync::Condvar,
    running: usize,
    queued: usize,
}

#[derive(Default)]
struct GateState {
    /// Admissions taken and not yet finished: running plus waiting.
    admitted: usize,
    running: usize,
}

/// How many Argon2 runs may wait for a turn beyond those running.
const HASH_QUEUE: usize = 128;

fn gate() -> &'static HashGate {
    static GATE: std::sync::OnceLock<HashGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashGate::new(cores * 2, HASH_QUEUE)
    })
}

impl HashGate {
    fn new(running: usize, queued: usize) -> Self {
        Self {
            state: std::sync::Mutex::new(GateState::default()),
            turn: std::sync::Condvar::new(),
            running,
            queued,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(&'static self) -> Result<Admission> {
        let mut st = self.lock();
        if st.admitted >= self.running + self.queued {
            return Err(Error::Busy);
        }
        st.admitted += 1;
        Ok(Admission {
            gate: self,
            started: false,
        })
    }
}

/// A place at the Argon2 gate; dropping it unused gives the place back.
#[must_use]
pub struct Admission {
    gate: &'static HashGate,
    started: bool,
}

/// Takes a place at the gate, or `Busy` if every run and queue place is taken.
pub fn admit() -> Result<Admission> {
    gate().admit()
}

impl Admission {
    /// Waits for a turn (blocking), then runs `f`.
    pub fn run<T>(mut self, f: impl FnOnce() -> T) -> T {
        {
            let mut st = self.gate.lock();
            while st.running >= self.gate.running {
                st = self.gate.turn.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.running += 1;
        }
        self.started = true;
        f()
        // Dropping `self` gives back the turn and the place.
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.admitted -= 1;
        if self.started {
            st.running -= 1;
            self.gate.turn.notify_one();
        }
    }
}

/// Admits and runs `f` at the gate (blocking until a turn comes).
fn with_hash_slot<T>(f: impl FnOnce() -> T) -> Result<T> {
    Ok(admit()?.run(f))
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
        })?
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
    let hash = with_hash_slot(|| verifier_hasher().hash_password_with_salt(password, &salt))?
        .map_err(Error::internal)?;
    Ok(hash.to_string())
}

/// Checks a password against a verifier, at the gate. The comparison inside argon2 is
/// constant time. `Busy` if the gate is full.
pub fn check_verifier(password: &[u8], verifier: &str) -> Result<bool> {
    with_hash_slot(|| check_verifier_ungated(password, verifier))
}

fn check_verifier_ungated(password: &[u8], verifier: &str) -> bool {
    verifier_hasher()
        .verify_password(password, verifier)
        .is_ok()
}

/// The verifier of no password anyone knows, made once per process (outside the gate: it
/// runs once, and must not fail for want of a place).
fn dummy_verifier() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 32];
        fill_random(&mut random);
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        verifier_hasher()
            .hash_password_with_salt(&random, &salt)
            .expect("hashing a fixed-size random password succeeds")
            .to_string()
    })
}

/// Spends the same time as a real check, for users that do not exist, so that timing does
/// not reveal which users exist.
pub fn check_dummy_verifier(password: &[u8]) -> Result<()> {
    let verifier = dummy_verifier();
    with_hash_slot(|| check_verifier_ungated(password, verifier)).map(|_| ())
}

/// [`check_verifier`] with a place already taken at the gate.
pub fn check_verifier_admitted(admission: Admission, password: &[u8], verifier: &str) -> bool {
    admission.run(|| check_verifier_ungated(password, verifier))
}

/// [`check_dummy_verifier`] with a place already taken at the gate.
pub fn check_dummy_verifier_admitted(admission: Admission, password: &[u8]) {
    let verifier = dummy_verifier();
    admission.run(|| check_verifier_ungated(password, verifier));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trip() {
        let v = make_verifier(b"hunter2hunter2").unwrap();
        assert!(v.starts_with("$argon2id$"));
        assert!(check_verifier(b"hunter2hunter2", &v).unwrap());
        assert!(!check_verifier(b"hunter2hunter3", &v).unwrap());
        assert!(!check_verifier(b"x", "not a phc string").unwrap());
    }

    #[test]
    fn the_gate_runs_a_bounded_number_and_refuses_past_its_queue() {
        let g: &'static HashGate = Box::leak(Box::new(HashGate::new(1, 2)));
        let a = g.admit().unwrap();
        let b = g.admit().unwrap();
        let c = g.admit().unwrap();
        assert!(
            matches!(g.admit(), Err(Error::Busy)),
            "running + queued are taken"
        );
        drop(c);
        let c = g.admit().unwrap();
        // One at a time: while `a` runs, `b` waits for its turn.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                a.run(|| {
                    tx.send("a started").unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    tx.send("a done").unwrap();
                })
            });
            assert_eq!(rx.recv().unwrap(), "a started");
            s.spawn(|| b.run(|| tx.send("b ran").unwrap()));
            assert_eq!(rx.recv().unwrap(), "a done");
            assert_eq!(rx.recv().unwrap(), "b ran");
        });
        drop(c);
        assert_eq!(g.lock().admitted, 0);
        assert_eq!(g.lock().running, 0);
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
