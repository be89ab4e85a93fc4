//! The cryptographic building blocks of the core: randomness, the passphrase KDF that makes
//! the unlock key, and Argon2id password verifiers.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The one gate every Argon2 run (hash, verify, key derivation) goes through. Each run uses
/// a core and its memory cost (19 MiB for a verifier, up to [`KDF_MAX_MEMORY_KIB`] for a key),
/// so at most [`HashGate::running`] run at once (twice the cores), and only while the memory
/// of the runs in progress stays within [`HashGate::memory_kib`]; at most
/// [`HashGate::queued`] more wait for a turn, in order of arrival. Past that, a run is refused
/// at once with [`Error::Busy`], so a flood of logins or restores costs neither a thread nor
/// memory per request.
///
/// The memory budget is one derivation at the ceiling plus a verifier for every running
/// place: a 256 MiB derivation runs beside a full set of logins, but two never run at once,
/// so eight restores whose files ask for the ceiling take turns rather than 2 GiB together.
///
/// A place is taken with [`admit`] or [`admit_kib`] (cheap, never blocks: async callers take
/// it before they go to a blocking thread) and used with [`Admission::run`], which waits for
/// a turn.
pub struct HashGate {
    state: std::sync::Mutex<GateState>,
    turn: std::sync::Condvar,
    running: usize,
    queued: usize,
    memory_kib: u64,
}

#[derive(Default)]
struct GateState {
    /// Admissions taken and not yet finished: running plus waiting.
    admitted: usize,
    running: usize,
    /// The memory of the runs in progress.
    running_kib: u64,
    /// Turns are given in the order runs asked for them: the next ticket to hand out, and
    /// the ticket whose turn is next.
    next_ticket: u64,
    serving: u64,
}

/// How many Argon2 runs may wait for a turn beyond those running.
const HASH_QUEUE: usize = 128;

fn gate() -> &'static HashGate {
    static GATE: std::sync::OnceLock<HashGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let running = cores * 2;
        HashGate::new(
            running,
            HASH_QUEUE,
            u64::from(KDF_MAX_MEMORY_KIB) + running as u64 * u64::from(VERIFIER_MEMORY_KIB),
        )
    })
}

impl HashGate {
    fn new(running: usize, queued: usize, memory_kib: u64) -> Self {
        Self {
            state: std::sync::Mutex::new(GateState::default()),
            turn: std::sync::Condvar::new(),
            running,
            queued,
            memory_kib,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(&'static self, kib: u32) -> Result<Admission> {
        let kib = u64::from(kib);
        if kib > self.memory_kib {
            // Could never run; `KdfParams::validate` keeps callers from asking.
            return Err(Error::Internal(format!(
                "an Argon2 run of {kib} KiB is over the gate's budget"
            )));
        }
        let mut st = self.lock();
        if st.admitted >= self.running + self.queued {
            return Err(Error::Busy);
        }
        st.admitted += 1;
        Ok(Admission {
            gate: self,
            kib,
            started: false,
        })
    }
}

/// A place at the Argon2 gate; dropping it unused gives the place back.
#[must_use]
pub struct Admission {
    gate: &'static HashGate,
    /// The memory the run will take.
    kib: u64,
    started: bool,
}

/// Takes a place at the gate for a password verification, or `Busy` if every run and queue
/// place is taken.
pub fn admit() -> Result<Admission> {
    gate().admit(VERIFIER_MEMORY_KIB)
}

/// Takes a place at the gate for a run of `kib` KiB of memory.
pub fn admit_kib(kib: u32) -> Result<Admission> {
    gate().admit(kib)
}

impl Admission {
    /// Waits for a turn (blocking, in order of arrival), then runs `f`.
    pub fn run<T>(mut self, f: impl FnOnce() -> T) -> T {
        {
            let gate = self.gate;
            let mut st = gate.lock();
            let ticket = st.next_ticket;
            st.next_ticket += 1;
            while st.serving != ticket
                || st.running >= gate.running
                || st.running_kib + self.kib > gate.memory_kib
            {
                st = gate.turn.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.serving += 1;
            st.running += 1;
            st.running_kib += self.kib;
            // The next in line may fit beside this one.
            gate.turn.notify_all();
        }
        self.started = true;
        f()
        // Dropping `self` gives back the turn, the memory and the place.
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.admitted -= 1;
        if self.started {
            st.running -= 1;
            st.running_kib -= self.kib;
            self.gate.turn.notify_all();
        }
    }
}

/// Admits and runs `f` at the gate (blocking until a turn comes), counting `kib` of memory.
fn with_hash_slot<T>(kib: u32, f: impl FnOnce() -> T) -> Result<T> {
    Ok(admit_kib(kib)?.run(f))
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

/// The Argon2id cost of the unlock and backup keys (see [`KdfParams::new_for_key`]).
pub const KEY_MEMORY_KIB: u32 = 256 * 1024;
pub const KEY_ITERATIONS: u32 = 3;

/// The memory of a password verifier: OWASP's minimum for Argon2id (19 MiB, 2 passes).
pub const VERIFIER_MEMORY_KIB: u32 = 19 * 1024;
const VERIFIER_ITERATIONS: u32 = 2;

/// Bounds on the Argon2id parameters of every key derivation, whoever chose them (this build,
/// an older one, or a backup file, which is untrusted input): [`KdfParams::validate`].
/// The floor is the verifiers' cost; the ceiling keeps one derivation to 256 MiB and a few
/// seconds.
pub const KDF_MIN_MEMORY_KIB: u32 = VERIFIER_MEMORY_KIB;
pub const KDF_MAX_MEMORY_KIB: u32 = 256 * 1024;
pub const KDF_MIN_ITERATIONS: u32 = 2;
pub const KDF_MAX_ITERATIONS: u32 = 10;
pub const KDF_MAX_PARALLELISM: u32 = 8;
pub const KDF_MIN_SALT_BYTES: usize = 16;
pub const KDF_MAX_SALT_BYTES: usize = 64;

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
    /// Fresh parameters with a new 16-byte salt: [`KEY_MEMORY_KIB`] (256 MiB),
    /// [`KEY_ITERATIONS`] passes, one lane. The unlock and backup keys guard material an
    /// attacker can take away (the store file, a backup file) and guess at offline, and they
    /// are derived rarely, so they get far more than the per-user verifiers: about 0.8 s on
    /// a 2-core machine shared with other work (docs/security-model.md).
    pub fn new_for_key() -> Self {
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        Self {
            algorithm: "argon2id".into(),
            memory_kib: KEY_MEMORY_KIB,
            iterations: KEY_ITERATIONS,
            parallelism: 1,
            salt: hex::encode(salt),
        }
    }

    /// Whether these are the parameters this build makes new keys with (the salt aside):
    /// a key derived with others is derived again when its passphrase is next given.
    pub fn is_current(&self) -> bool {
        let current = Self::new_for_key();
        self.algorithm == current.algorithm
            && self.memory_kib == current.memory_kib
            && self.iterations == current.iterations
            && self.parallelism == current.parallelism
    }

    /// Checks the parameters against the floor and ceiling ([`KDF_MAX_MEMORY_KIB`] and the
    /// others): `Err` names the first that is out of bounds. Every derivation checks them
    /// first, so nothing runs with parameters out of bounds.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.algorithm != "argon2id" {
            return Err(format!(
                "algorithm {:?} is not supported (argon2id is)",
                self.algorithm.chars().take(32).collect::<String>()
            ));
        }
        let bounds = [
            (
                "memory_kib",
                self.memory_kib,
                KDF_MIN_MEMORY_KIB,
                KDF_MAX_MEMORY_KIB,
            ),
            (
                "iterations",
                self.iterations,
                KDF_MIN_ITERATIONS,
                KDF_MAX_ITERATIONS,
            ),
            ("parallelism", self.parallelism, 1, KDF_MAX_PARALLELISM),
        ];
        for (name, value, min, max) in bounds {
            if !(min..=max).contains(&value) {
                return Err(format!("{name} {value} is outside {min}..={max}"));
            }
        }
        let salt_len = hex::decode(&self.salt)
            .map_err(|_| "the salt is not hex".to_owned())?
            .len();
        if !(KDF_MIN_SALT_BYTES..=KDF_MAX_SALT_BYTES).contains(&salt_len) {
            return Err(format!(
                "a salt of {salt_len} bytes is outside {KDF_MIN_SALT_BYTES}..={KDF_MAX_SALT_BYTES}"
            ));
        }
        Ok(())
    }

    /// Derives a 32-byte key from the passphrase with these parameters, at the Argon2 gate
    /// (counted by their memory). Parameters out of bounds ([`KdfParams::validate`]) are
    /// refused before anything runs.
    pub fn derive(&self, passphrase: &[u8]) -> Result<Key32> {
        self.validate().map_err(|why| {
            Error::Internal(format!(
                "key derivation parameters are not acceptable: {why}"
            ))
        })?;
        let salt = hex::decode(&self.salt).map_err(Error::internal)?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(Error::internal)?;
        let mut key = Zeroizing::new([0u8; 32]);
        with_hash_slot(self.memory_kib, || {
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
    let params = Params::new(VERIFIER_MEMORY_KIB, VERIFIER_ITERATIONS, 1, None)
        .expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Makes an Argon2id verifier (a PHC string with its own salt) for a password.
pub fn make_verifier(password: &[u8]) -> Result<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let hash = with_hash_slot(VERIFIER_MEMORY_KIB, || {
        verifier_hasher().hash_password_with_salt(password, &salt)
    })?
    .map_err(Error::internal)?;
    Ok(hash.to_string())
}

/// Checks a password against a verifier, at the gate. The comparison inside argon2 is
/// constant time. `Busy` if the gate is full.
pub fn check_verifier(password: &[u8], verifier: &str) -> Result<bool> {
    with_hash_slot(VERIFIER_MEMORY_KIB, || {
        check_verifier_ungated(password, verifier)
    })
}

fn check_verifier_ungated(password: &[u8], verifier: &str) -> bool {
    // A verifier carries its own parameters, and it may come from a backup (untrusted): one
    // that would cost more than the gate counted for it is refused, not run.
    match verifier_params(verifier) {
        Some((m, t, p))
            if m <= VERIFIER_MEMORY_KIB && t <= KDF_MAX_ITERATIONS && p <= KDF_MAX_PARALLELISM => {}
        _ => return false,
    }
    verifier_hasher()
        .verify_password(password, verifier)
        .is_ok()
}

/// The (memory KiB, passes, lanes) of an Argon2id PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), or `None` if it is not one.
fn verifier_params(verifier: &str) -> Option<(u32, u32, u32)> {
    let mut fields = verifier.split('$');
    if fields.next() != Some("") || fields.next() != Some("argon2id") {
        return None;
    }
    let mut params = fields.next()?;
    if params.starts_with("v=") {
        params = fields.next()?;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    Some((m?, t?, p?))
}

/// Whether a verifier was made with the parameters this build makes verifiers with; one made
/// with others is made again at the user's next successful login.
pub fn verifier_is_current(verifier: &str) -> bool {
    verifier_params(verifier) == Some((VERIFIER_MEMORY_KIB, VERIFIER_ITERATIONS, 1))
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
    with_hash_slot(VERIFIER_MEMORY_KIB, || {
        check_verifier_ungated(password, verifier)
    })
    .map(|_| ())
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
        assert!(verifier_is_current(&v));
    }

    /// A verifier made with other parameters, by the argon2 crate directly.
    fn verifier_with(m: u32, t: u32, password: &[u8]) -> String {
        let params = Params::new(m, t, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(password, &[5u8; 16])
            .unwrap()
            .to_string()
    }

    #[test]
    fn older_verifiers_still_verify_and_costlier_ones_are_refused() {
        let old = verifier_with(8 * 1024, 1, b"old passphrase");
        assert!(old.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{old}");
        assert!(!verifier_is_current(&old));
        assert!(check_verifier(b"old passphrase", &old).unwrap());
        // More memory than the gate counts for a verification: refused without running.
        let costly = verifier_with(VERIFIER_MEMORY_KIB + 1024, 1, b"costly passphrase");
        assert!(!check_verifier(b"costly passphrase", &costly).unwrap());
    }

    #[test]
    fn the_gate_runs_a_bounded_number_and_refuses_past_its_queue() {
        let g: &'static HashGate = Box::leak(Box::new(HashGate::new(1, 2, 100)));
        let a = g.admit(10).unwrap();
        let b = g.admit(10).unwrap();
        let c = g.admit(10).unwrap();
        assert!(
            matches!(g.admit(10), Err(Error::Busy)),
            "running + queued are taken"
        );
        drop(c);
        let c = g.admit(10).unwrap();
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
    fn the_gate_counts_memory_not_only_runs() {
        // Four runs at once, 100 KiB of memory between them.
        let g: &'static HashGate = Box::leak(Box::new(HashGate::new(4, 8, 100)));
        assert!(
            g.admit(101).is_err(),
            "a run larger than the budget can never go"
        );
        let peak = std::sync::Mutex::new((0u64, 0u64)); // (now, highest)
        // For each run, the runs that had finished when it started.
        let finished = std::sync::Mutex::new(Vec::<usize>::new());
        let seen_at_start = std::sync::Mutex::new([const { Vec::<usize>::new() }; 5]);
        std::thread::scope(|s| {
            for (i, kib) in [60u64, 60, 20, 20, 60].into_iter().enumerate() {
                let adm = g.admit(kib as u32).unwrap();
                let (peak, finished, seen_at_start) = (&peak, &finished, &seen_at_start);
                s.spawn(move || {
                    adm.run(|| {
                        seen_at_start.lock().unwrap()[i] = finished.lock().unwrap().clone();
                        {
                            let mut p = peak.lock().unwrap();
                            p.0 += kib;
                            p.1 = p.1.max(p.0);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(60));
                        peak.lock().unwrap().0 -= kib;
                        finished.lock().unwrap().push(i);
                    })
                });
                // Arrival order is the order of tickets: wait until this run has taken its
                // ticket before the next one asks (no sleeping, so a loaded machine cannot
                // reorder them).
                while g.lock().next_ticket < i as u64 + 1 {
                    std::thread::yield_now();
                }
            }
        });
        let (now, highest) = *peak.lock().unwrap();
        assert_eq!(now, 0);
        assert!(highest <= 100, "{highest} KiB ran at once");
        // Turns go in order of arrival: the second 60 waits for the first to finish, and the
        // small ones behind it wait their turn too, although they would fit beside the first
        // (no overtaking that could starve a large run); the last 60 waits for the second.
        let seen = seen_at_start.lock().unwrap();
        assert!(seen[1].contains(&0), "run 1 started beside run 0: {seen:?}");
        assert!(seen[2].contains(&0), "run 2 overtook run 1: {seen:?}");
        assert!(seen[3].contains(&0), "run 3 overtook run 1: {seen:?}");
        assert!(
            seen[4].contains(&0) && seen[4].contains(&1),
            "run 4 started beside run 1: {seen:?}"
        );
        assert_eq!(g.lock().admitted, 0);
        assert_eq!(g.lock().running_kib, 0);
    }

    fn params(memory_kib: u32, iterations: u32, parallelism: u32, salt_len: usize) -> KdfParams {
        KdfParams {
            algorithm: "argon2id".into(),
            memory_kib,
            iterations,
            parallelism,
            salt: hex::encode(vec![7u8; salt_len]),
        }
    }

    #[test]
    fn kdf_parameters_have_a_floor_and_a_ceiling() {
        assert!(KdfParams::new_for_key().validate().is_ok());
        assert!(
            params(KDF_MAX_MEMORY_KIB, KDF_MAX_ITERATIONS, 8, 64)
                .validate()
                .is_ok()
        );
        assert!(
            params(KDF_MIN_MEMORY_KIB, KDF_MIN_ITERATIONS, 1, 16)
                .validate()
                .is_ok()
        );
        for (p, what) in [
            (
                params(KDF_MAX_MEMORY_KIB + 1, 3, 1, 16),
                "memory_kib 262145",
            ),
            (params(KDF_MIN_MEMORY_KIB - 1, 3, 1, 16), "memory_kib 19455"),
            (
                params(65536, KDF_MAX_ITERATIONS + 1, 1, 16),
                "iterations 11",
            ),
            (params(65536, 1, 1, 16), "iterations 1"),
            (params(65536, 3, 0, 16), "parallelism 0"),
            (params(65536, 3, 9, 16), "parallelism 9"),
            (params(65536, 3, 1, 15), "15 bytes"),
            (params(65536, 3, 1, 65), "65 bytes"),
        ] {
            let why = p.validate().unwrap_err();
            assert!(why.contains(what), "{why} should name {what}");
            // And nothing runs: refused before the gate and before Argon2.
            let e = p.derive(b"passphrase").unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        let mut scrypt = params(65536, 3, 1, 16);
        scrypt.algorithm = "scrypt".into();
        assert!(scrypt.validate().unwrap_err().contains("scrypt"));
        let mut bad_salt = params(65536, 3, 1, 16);
        bad_salt.salt = "zz".repeat(16);
        assert!(bad_salt.validate().is_err());
    }

    #[test]
    fn kdf_is_deterministic_per_salt() {
        let mut p = KdfParams::new_for_key();
        p.memory_kib = KDF_MIN_MEMORY_KIB; // keep the unit test fast
        let a = p.derive(b"passphrase").unwrap();
        assert_eq!(*a, *p.derive(b"passphrase").unwrap());
        assert_ne!(*a, *p.derive(b"passphrasf").unwrap());
        let q = KdfParams::new_for_key();
        assert_ne!(p.salt, q.salt);
    }
}
