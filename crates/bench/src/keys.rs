//! The key store section (issue 13): over HTTPS, key generation (RSA-2048, P-256) and
//! `POST /keys/{KeyID}/sign` (Ed25519, ECDSA P-256, RSA-2048 PKCS1 and PSS_SHA256), each sign
//! twice: with one key, which the server's parsed-key cache holds after the first request,
//! and cycling over more keys than the cache holds ([`UNCACHED_KEYS`]), so that every request
//! parses its key again. In the same run, the raw in-process rate of the same signature with
//! the same library (aws-lc through aws-lc-rs), on one thread and on as many threads as the
//! host has logical CPUs (the server's tokio runtime sizes its workers by the same count, and
//! signing runs on its blocking pool), so the HTTPS figures can be read as a share of it.
//!
//! The raw rates sign a short message with aws-lc-rs's message API (it hashes the message
//! first; the server signs a caller-supplied digest without hashing): the hash of a few dozen
//! bytes is a negligible part of the cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::phase::Phase;

/// More keys than the server's parsed-key cache holds (1024, least recently used out): signing
/// with them in turn makes every signature a cache miss.
pub const UNCACHED_KEYS: usize = 1100;

/// The message the raw rates sign, and the digest the HTTPS phases send.
const MESSAGE: &[u8] = b"strongroom bench: the message to sign";
/// The goal for RSA-2048 signing: HTTPS req/s over the raw rate on every CPU.
const RSA_GOAL: f64 = 0.8;

/// A sign workload: how the key is made, the mode, and the input the server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Ed25519,
    EcdsaP256,
    RsaPkcs1,
    RsaPss,
}

pub const SIGNERS: [Signer; 4] = [
    Signer::Ed25519,
    Signer::EcdsaP256,
    Signer::RsaPkcs1,
    Signer::RsaPss,
];

impl Signer {
    pub fn name(self) -> &'static str {
        match self {
            Signer::Ed25519 => "Ed25519",
            Signer::EcdsaP256 => "ECDSA P-256",
            Signer::RsaPkcs1 => "RSA-2048 PKCS1",
            Signer::RsaPss => "RSA-2048 PSS_SHA256",
        }
    }

    pub fn mode(self) -> &'static str {
        match self {
            Signer::Ed25519 => "EdDSA",
            Signer::EcdsaP256 => "ECDSA",
            Signer::RsaPkcs1 => "PKCS1",
            Signer::RsaPss => "PSS_SHA256",
        }
    }

    fn key_type(self) -> &'static str {
        match self {
            Signer::Ed25519 => "Curve25519",
            Signer::EcdsaP256 => "EC_P256",
            _ => "RSA",
        }
    }

    fn mechanism(self) -> &'static str {
        match self {
            Signer::Ed25519 => "EdDSA_Signature",
            Signer::EcdsaP256 => "ECDSA_Signature",
            Signer::RsaPkcs1 => "RSA_Signature_PKCS1",
            Signer::RsaPss => "RSA_Signature_PSS_SHA256",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Signer::RsaPkcs1 | Signer::RsaPss)
    }

    /// The `message` of the sign request (base64): the message itself for EdDSA, its SHA-256
    /// for ECDSA and PSS, its SHA-256 DigestInfo for PKCS1.
    fn input(self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, MESSAGE);
        let bytes = match self {
            Signer::Ed25519 => MESSAGE.to_vec(),
            Signer::EcdsaP256 | Signer::RsaPss => digest.as_ref().to_vec(),
            Signer::RsaPkcs1 => {
                // DigestInfo for SHA-256 (RFC 8017 9.2 note 1).
                let mut info = vec![
                    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
                    0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
                ];
                info.extend_from_slice(digest.as_ref());
                info
            }
        };
        STANDARD.encode(bytes)
    }
}

/// The NetHSM import body (`private`) of one key of `signer`'s type, made here.
pub fn import_body(signer: Signer, rsa: &RsaPrimes) -> Value {
    let private = match signer {
        Signer::Ed25519 => {
            let mut seed = [0u8; 32];
            aws_lc_rs::rand::fill(&mut seed).expect("random");
            json!({ "data": STANDARD.encode(seed) })
        }
        // Any scalar below the group order will do: a fixed one, far below it.
        Signer::EcdsaP256 => json!({ "data": STANDARD.encode([0x3au8; 32]) }),
        _ => json!({
            "primeP": STANDARD.encode(&rsa.p),
            "primeQ": STANDARD.encode(&rsa.q),
            "publicExponent": STANDARD.encode(&rsa.e),
        }),
    };
    json!({
        "type": signer.key_type(),
        "mechanisms": [signer.mechanism()],
        "private": private,
    })
}

/// The `POST /keys/generate` body of one key of `signer`'s type.
pub fn generate_body(signer: Signer) -> Value {
    let mut body = json!({ "type": signer.key_type(), "mechanisms": [signer.mechanism()] });
    if signer.is_rsa() {
        body["length"] = json!(2048);
    }
    body
}

/// An RSA key's primes and public exponent, big-endian, for the NetHSM import format.
pub struct RsaPrimes {
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub e: Vec<u8>,
    /// The key's PKCS#8, for the raw rates.
    pub pkcs8: Vec<u8>,
}

/// Generates an RSA-2048 key with aws-lc-rs and reads its primes out of its PKCS#8.
pub fn rsa_2048() -> anyhow::Result<RsaPrimes> {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).context("RSA generation")?;
    let pkcs8 = pair.as_der().context("RSA PKCS#8")?.as_ref().to_vec();
    // PrivateKeyInfo { version, algorithm, privateKey OCTET STRING { RSAPrivateKey {
    // version, n, e, d, p, q, ... } } }
    let info = der_children(&pkcs8).context("PKCS#8")?;
    let rsa = der_children(info.get(2).context("PKCS#8 privateKey")?.1)?;
    let int = |i: usize| -> anyhow::Result<Vec<u8>> {
        let (_, v) = rsa.get(i).context("RSAPrivateKey field")?;
        Ok(v.iter().copied().skip_while(|b| *b == 0).collect())
    };
    Ok(RsaPrimes {
        e: int(2)?,
        p: int(4)?,
        q: int(5)?,
        pkcs8,
    })
}

/// The (tag, contents) of the elements inside the DER SEQUENCE or OCTET STRING `der`.
fn der_children(der: &[u8]) -> anyhow::Result<Vec<(u8, &[u8])>> {
    let (_, inner, _) = der_tlv(der)?;
    let mut rest = inner;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (tag, value, after) = der_tlv(rest)?;
        out.push((tag, value));
        rest = after;
    }
    Ok(out)
}

/// One DER element: its tag, its contents, what follows it.
fn der_tlv(der: &[u8]) -> anyhow::Result<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first().context("DER: empty")?;
    let (&first, rest) = rest.split_first().context("DER: no length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            bail!("DER: bad length");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        bail!("DER: short");
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// A sign phase over HTTPS: `POST /keys/{id}/sign` as the Operator, with `ids` in turn.
pub fn sign_phase(
    name: String,
    url_of: impl Fn(&str) -> String,
    signer: Signer,
    ids: &[String],
    operator: &str,
    passphrase: &'static str,
) -> Phase {
    let urls: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .map(|id| url_of(&format!("/keys/{id}/sign")))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let body = json!({ "mode": signer.mode(), "message": signer.input() });
    let operator = operator.to_owned();
    let endpoint = if ids.len() == 1 {
        format!(
            "POST /api/v1/keys/{{id}}/sign {} (one key, cached), Basic auth as the Operator",
            signer.mode()
        )
    } else {
        format!(
            "POST /api/v1/keys/{{id}}/sign {} over {} keys in turn (every one a cache miss), Basic auth as the Operator",
            signer.mode(),
            ids.len()
        )
    };
    Phase::new(name, endpoint, StatusCode::OK, move |c: &Client| {
        let i = next.fetch_add(1, Ordering::Relaxed) % urls.len();
        c.post(&urls[i])
            .basic_auth(&operator, Some(passphrase))
            .json(&body)
    })
}

/// A key generation phase over HTTPS: `POST /keys/generate` as the Administrator.
pub fn generate_phase(
    name: String,
    url: String,
    signer: Signer,
    admin_passphrase: &'static str,
) -> Phase {
    let body = generate_body(signer);
    let what = if signer.is_rsa() {
        "RSA 2048"
    } else {
        "EC_P256"
    };
    Phase::new(
        name,
        format!("POST /api/v1/keys/generate {what}, Basic auth as the Administrator"),
        StatusCode::CREATED,
        move |c: &Client| {
            c.post(&url)
                .basic_auth("admin", Some(admin_passphrase))
                .json(&body)
        },
    )
}

/// A raw in-process rate: signatures per second on `threads` threads for `duration`.
pub struct RawRate {
    pub label: String,
    pub threads: usize,
    pub ops: u64,
    pub elapsed: Duration,
    /// The bench's CPU time over the run (the server is idle then), if `/proc` tells.
    pub cpu: Option<Duration>,
}

impl RawRate {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// CPU time per signature.
    pub fn cpu_per_op(&self) -> Option<Duration> {
        let n = u32::try_from(self.ops).ok().filter(|&n| n > 0)?;
        Some(self.cpu? / n)
    }
}

impl std::fmt::Display for RawRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "raw {:<52} {} thread{:<2} {:>10.1} ops/s {:>8} us CPU/op",
            self.label,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.rate(),
            crate::phase::micros(self.cpu_per_op())
        )
    }
}

/// One signer's keys, parsed once (`parse_each` false) or from PKCS#8 on every signature.
enum RawKey {
    Ed25519(Vec<u8>),
    Ecdsa(Vec<u8>),
    Rsa(Vec<u8>, &'static dyn signature::RsaEncoding),
}

impl RawKey {
    fn new(signer: Signer, rsa: &RsaPrimes) -> anyhow::Result<RawKey> {
        let rng = SystemRandom::new();
        Ok(match signer {
            Signer::Ed25519 => RawKey::Ed25519(
                Ed25519KeyPair::generate_pkcs8(&rng)
                    .context("Ed25519")?
                    .as_ref()
                    .to_vec(),
            ),
            Signer::EcdsaP256 => RawKey::Ecdsa(
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .context("P-256")?
                    .as_ref()
                    .to_vec(),
            ),
            Signer::RsaPkcs1 => RawKey::Rsa(rsa.pkcs8.clone(), &signature::RSA_PKCS1_SHA256),
            Signer::RsaPss => RawKey::Rsa(rsa.pkcs8.clone(), &signature::RSA_PSS_SHA256),
        })
    }

    /// A signing function: parses the key once, or on every call.
    fn signer(&self, parse_each: bool) -> Box<dyn Fn() + Send + Sync + '_> {
        let rng = SystemRandom::new();
        match self {
            RawKey::Ed25519(der) => {
                let parse = move || Ed25519KeyPair::from_pkcs8(der).expect("Ed25519 parse");
                if parse_each {
                    Box::new(move || {
                        std::hint::black_box(parse().sign(MESSAGE));
                    })
                } else {
                    let pair = parse();
                    Box::new(move || {
                        std::hint::black_box(pair.sign(MESSAGE));
                    })
                }
            }
            RawKey::Ecdsa(der) => {
                let parse = move || {
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
                        .expect("P-256 parse")
                };
                if parse_each {
                    Box::new(move || {
                        std::hint::black_box(parse().sign(&rng, MESSAGE).expect("sign"));
                    })
                } else {
                    let pair = parse();
                    Box::new(move || {
                        std::hint::black_box(pair.sign(&rng, MESSAGE).expect("sign"));
                    })
                }
            }
            RawKey::Rsa(der, encoding) => {
                let parse = move || RsaKeyPair::from_pkcs8(der).expect("RSA parse");
                let sign = move |pair: &RsaKeyPair| {
                    let mut sig = vec![0u8; pair.public_modulus_len()];
                    pair.sign(*encoding, &SystemRandom::new(), MESSAGE, &mut sig)
                        .expect("sign");
                    std::hint::black_box(sig);
                };
                if parse_each {
                    Box::new(move || sign(&parse()))
                } else {
                    let pair = parse();
                    Box::new(move || sign(&pair))
                }
            }
        }
    }
}

/// Signs with `signer`'s key as fast as `threads` threads can for `duration`.
pub fn raw_rate(
    signer: Signer,
    rsa: &RsaPrimes,
    threads: usize,
    parse_each: bool,
    duration: Duration,
) -> anyhow::Result<RawRate> {
    let key = RawKey::new(signer, rsa)?;
    let sign = key.signer(parse_each);
    let ops = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let cpu_before = crate::phase::cpu_time(None);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    sign();
                    n += 1;
                }
                ops.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    let what = if parse_each {
        "parse PKCS#8 + sign"
    } else {
        "sign"
    };
    Ok(RawRate {
        label: format!("{} ({what}, aws-lc-rs)", signer.name()),
        threads,
        ops: ops.into_inner(),
        elapsed: start.elapsed(),
        cpu: cpu_before
            .zip(crate::phase::cpu_time(None))
            .map(|(before, after)| after.saturating_sub(before)),
    })
}

/// What the key section measured besides its phases, for the report.
pub struct KeyFigures {
    pub raw: Vec<RawRate>,
    /// (label, HTTPS phase name, raw rate index or `None` for the phase named in `under`,
    /// under phase name, goal).
    pub ratios: Vec<KeyRatio>,
    /// (signer, HTTPS phase name, raw one-thread rate index): how much of the server's CPU
    /// time per sign request the signature itself is.
    pub cpu_shares: Vec<(Signer, String, usize)>,
    /// The phase of `POST /random` (32 bytes): what an authenticated request costs when its
    /// work is next to nothing, for the RSA budget lines.
    pub random: String,
}

pub struct KeyRatio {
    pub label: String,
    pub over: String,
    pub under: Under,
    /// The ratio the issue asks for, if any.
    pub goal: Option<f64>,
}

pub enum Under {
    Phase(String),
    Raw(usize),
}

/// Imports `count` keys of `signer`'s type under `prefix-0`, `prefix-1`, ... with up to
/// `concurrency` requests in flight; answers their ids.
async fn import_many(
    api: &crate::Api<'_>,
    signer: Signer,
    rsa: &RsaPrimes,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    for chunk in ids.chunks(concurrency.max(1)) {
        let mut sends = tokio::task::JoinSet::new();
        for id in chunk {
            let request = api
                .put(&format!("/keys/{id}"))
                .basic_auth("admin", Some(crate::ADMIN_PASSPHRASE))
                .json(&import_body(signer, rsa));
            sends.spawn(request.send());
        }
        while let Some(sent) = sends.join_next().await {
            let response = sent?.context("PUT /keys/{id} (import)")?;
            let status = response.status();
            if status != StatusCode::NO_CONTENT {
                let body = response.text().await.unwrap_or_default();
                bail!("PUT /keys/{{id}} (import): expected 204, got {status}: {body}");
            }
        }
    }
    Ok(ids)
}

/// Runs the key section's phases on the Operational `server` (pushing their reports), then
/// the raw rates. `random` names the phase of `POST /random` (32 bytes), the baseline of the
/// Ed25519 and P-256 signatures.
pub async fn run(
    api: &crate::Api<'_>,
    client: &Client,
    load: crate::phase::Load,
    operator: &str,
    random: &str,
    reports: &mut Vec<crate::phase::Report>,
) -> anyhow::Result<KeyFigures> {
    let server = api.server;
    crate::progress("keys: making an RSA-2048 key to import");
    let rsa = tokio::task::spawn_blocking(rsa_2048).await??;
    let mut ratios = Vec::new();
    let mut cpu_shares = Vec::new();

    for (tag, signer) in [("K1", Signer::RsaPkcs1), ("K2", Signer::EcdsaP256)] {
        let phase = generate_phase(
            format!("{tag} (generate {})", signer.key_type()),
            server.url("/keys/generate"),
            signer,
            crate::ADMIN_PASSPHRASE,
        );
        reports.push(crate::run_phase(client, &phase, load).await?);
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let raw_secs = load.duration.min(Duration::from_secs(5));
    let mut raw = Vec::new();
    for (i, signer) in SIGNERS.into_iter().enumerate() {
        let mode = signer.mode();
        let id = format!("bench-{}", mode.to_lowercase().replace('_', "-"));
        import_many(api, signer, &rsa, &id, 1, 1).await?;
        let one = vec![format!("{id}-0")];
        let cached = format!("S{} ({} cached)", i + 1, signer.name());
        let phase = sign_phase(
            cached.clone(),
            |p| server.url(p),
            signer,
            &one,
            operator,
            crate::OPERATOR_PASSPHRASE,
        );
        // One signature first, checked, so the phase measures signing and nothing else.
        api.expect(
            client
                .post(server.url(&format!("/keys/{}/sign", one[0])))
                .basic_auth(operator, Some(crate::OPERATOR_PASSPHRASE))
                .json(&json!({ "mode": mode, "message": signer.input() })),
            StatusCode::OK,
            "POST /keys/{id}/sign",
        )
        .await?;
        reports.push(crate::run_phase(client, &phase, load).await?);

        let uncached = if signer == Signer::RsaPss {
            // The parse is the same key's as PKCS1's: measured there.
            None
        } else {
            crate::progress(format!(
                "keys: importing {UNCACHED_KEYS} {} keys",
                signer.key_type()
            ));
            let ids = import_many(
                api,
                signer,
                &rsa,
                &format!("{id}-many"),
                UNCACHED_KEYS,
                load.concurrency,
            )
            .await?;
            let name = format!("U{} ({} uncached)", i + 1, signer.name());
            let phase = sign_phase(
                name.clone(),
                |p| server.url(p),
                signer,
                &ids,
                operator,
                crate::OPERATOR_PASSPHRASE,
            );
            reports.push(crate::run_phase(client, &phase, load).await?);
            Some(name)
        };

        crate::progress(format!(
            "keys: raw {} rates ({} s each)",
            signer.name(),
            raw_secs.as_secs()
        ));
        let rates = {
            let rsa = &rsa;
            let mut rates = Vec::new();
            for (n, parse_each) in [(1, false), (threads, false), (1, true)] {
                rates.push(tokio::task::block_in_place(|| {
                    raw_rate(signer, rsa, n, parse_each, raw_secs)
                })?);
            }
            rates
        };
        let base = raw.len();
        raw.extend(rates);
        cpu_shares.push((signer, cached.clone(), base));

        if !signer.is_rsa() {
            ratios.push(KeyRatio {
                label: format!("{} sign/random(32)", signer.name()),
                over: cached.clone(),
                under: Under::Phase(random.to_owned()),
                goal: Some(0.5),
            });
        }
        ratios.push(KeyRatio {
            label: format!("{} https/raw {threads} threads", signer.name()),
            over: cached.clone(),
            under: Under::Raw(base + 1),
            goal: signer.is_rsa().then_some(RSA_GOAL),
        });
        if let Some(uncached) = uncached {
            ratios.push(KeyRatio {
                label: format!("{} cached/uncached", signer.name()),
                over: cached,
                under: Under::Phase(uncached),
                goal: None,
            });
        }
    }
    Ok(KeyFigures {
        raw,
        ratios,
        cpu_shares,
        random: random.to_owned(),
    })
}

/// Prints the raw rates and the key section's ratios (after the phases' reports).
pub fn print(figures: &KeyFigures, reports: &[crate::phase::Report]) {
    println!();
    println!(
        "raw in-process rates: aws-lc-rs in this process, while the server is idle; \
         {} logical CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for rate in &figures.raw {
        println!("{rate}");
    }
    println!();
    let rate_of = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .map(crate::phase::Report::rate)
    };
    for ratio in &figures.ratios {
        let under = match &ratio.under {
            Under::Phase(name) => rate_of(name),
            Under::Raw(i) => figures.raw.get(*i).map(RawRate::rate),
        };
        let value = match (rate_of(&ratio.over), under) {
            (Some(over), Some(under)) if under > 0.0 => {
                let v = over / under;
                match ratio.goal {
                    Some(goal) => format!(
                        "{v:.2} (goal >= {goal:.1}: {})",
                        if v >= goal { "met" } else { "NOT met" }
                    ),
                    None => format!("{v:.2}"),
                }
            }
            _ => "n/a".to_owned(),
        };
        println!("ratio {} req/s: {value}", ratio.label);
    }
    // CPU time, unlike req/s, leaves out the bench's own share of the machine (its client
    // runs on the same CPUs) and how busy the machine was.
    for (signer, phase, raw) in &figures.cpu_shares {
        let server = reports
            .iter()
            .find(|r| &r.name == phase)
            .and_then(|r| r.cpu_per_request())
            .and_then(|(_, server)| server);
        let value = match (figures.raw.get(*raw).and_then(RawRate::cpu_per_op), server) {
            (Some(sign), Some(request)) if !request.is_zero() => format!(
                "{:.2} ({} us of {} us)",
                sign.as_secs_f64() / request.as_secs_f64(),
                crate::phase::micros(Some(sign)),
                crate::phase::micros(Some(request))
            ),
            _ => "n/a".to_owned(),
        };
        println!(
            "ratio {} raw CPU per signature / server CPU per sign request: {value}",
            signer.name()
        );
    }
    print_rsa_budgets(figures, reports);
}

/// For each RSA signer, the CPU a sign request spends beyond the signature (the server's and
/// the bench's), against what the 0.8 goal leaves for it and what a `POST /random` costs in
/// all. With both processes on the same CPUs, HTTPS over raw is about raw CPU per signature
/// over (server + bench CPU per request), so this says where the ratio stands and why.
fn print_rsa_budgets(figures: &KeyFigures, reports: &[crate::phase::Report]) {
    let cpu_of = |name: &str| {
        let (bench, server) = reports.iter().find(|r| r.name == name)?.cpu_per_request()?;
        Some((server?.as_secs_f64() * 1e6, bench.as_secs_f64() * 1e6))
    };
    let random = cpu_of(&figures.random);
    for (signer, phase, raw) in &figures.cpu_shares {
        if !signer.is_rsa() {
            continue;
        }
        let signer = signer.name();
        let sign = figures.raw.get(*raw).and_then(RawRate::cpu_per_op);
        let (Some(sign), Some((server, bench)), Some((random_server, random_bench))) =
            (sign, cpu_of(phase), random)
        else {
            println!("budget {signer}: n/a");
            continue;
        };
        let sign = sign.as_secs_f64() * 1e6;
        println!(
            "budget {signer}: CPU per request beyond the signature {:.1} us (server {:.1}, \
             bench {bench:.1}); the {RSA_GOAL} goal leaves {:.1} us; POST /random(32) costs \
             {:.1} us in all",
            server - sign + bench,
            server - sign,
            sign * (1.0 / RSA_GOAL - 1.0),
            random_server + random_bench,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_primes_come_out_of_the_pkcs8() {
        let key = rsa_2048().unwrap();
        assert_eq!(key.e, [1, 0, 1]);
        assert_eq!(key.p.len(), 128);
        assert_eq!(key.q.len(), 128);
        assert!(key.p[0] & 0x80 != 0 && key.q[0] & 0x80 != 0);
        assert_ne!(key.p, key.q);
    }

    #[test]
    fn inputs_are_what_each_mode_takes() {
        let len = |s: Signer| STANDARD.decode(s.input()).unwrap().len();
        assert_eq!(len(Signer::Ed25519), MESSAGE.len());
        assert_eq!(len(Signer::EcdsaP256), 32);
        assert_eq!(len(Signer::RsaPss), 32);
        assert_eq!(len(Signer::RsaPkcs1), 19 + 32);
    }
}
