//! The soak (`--soak-secs N`): a mixed load over the three faces and the key operations for
//! minutes, on the request phases' server, with no error allowed (issue 17, "Load and soak").
//!
//! Every task sends the mix's requests in turn (`phase::run_mixed`): reads and writes on the
//! NetHSM face (health, random, a user, two signatures, key generation, a new user, a
//! passphrase change), the appliance face (its session, the appliance's description) and the
//! backup-client face (a login, the client list). The report gives each operation's share and
//! latency, the whole mix's req/s and p99, and the server's peak resident memory over the soak.
//! Any error fails the bench: a soak is a test of staying correct under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::keys::{self, Signer};
use crate::memory::{self, Mib};
use crate::phase::{self, Load, Phase, Report};
use crate::{ADMIN_PASSPHRASE, Api, OPERATOR_PASSPHRASE, progress};

/// The appliance face's base path.
pub(crate) const APPLIANCE: &str = "/api/rest/configure/v1";
/// The backup-client face's base path.
const BACKUP_CLIENT: &str = "/commandcenter/api";
/// A user whose passphrase the mix sets over and over (to the same value: it stays usable).
const WRITER: &str = "soakwriter";
const WRITER_PASSPHRASE: &str = "strongroom bench soak writer passphrase";
/// An Administrator that logs in on the backup-client face over and over. Not `admin`: each
/// login may end the oldest of its owner's sessions, and the mix's own token is `admin`'s.
const LOGIN: &str = "soaklogin";
const LOGIN_PASSPHRASE: &str = "strongroom bench soak login passphrase";

/// What the soak measured.
pub struct Soak {
    pub operations: Vec<Report>,
    pub whole: Report,
    /// The server's peak resident memory over the soak, and whether the peak is the soak's
    /// own (false: the kernel would not reset the mark, and it is the process's lifetime peak).
    pub peak: Option<(memory::Memory, bool)>,
}

/// Sets up what the mix needs on the Operational server and runs it for `duration`.
pub async fn run(
    api: &Api<'_>,
    client: &Client,
    load: Load,
    operator: &str,
    duration: Duration,
) -> anyhow::Result<Soak> {
    let server = api.server;
    progress("soak: setting up its users, keys and sessions");
    for (id, role, passphrase) in [
        (WRITER, "Operator", WRITER_PASSPHRASE),
        (LOGIN, "Administrator", LOGIN_PASSPHRASE),
    ] {
        api.expect(
            api.put(&format!("/users/{id}"))
                .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                .json(&json!({ "realName": id, "role": role, "passphrase": passphrase })),
            StatusCode::CREATED,
            "PUT /users/{id} (a soak user)",
        )
        .await?;
    }
    let mut signing_keys = Vec::new();
    for (signer, id) in [
        (Signer::Ed25519, "soaked25519"),
        (Signer::EcdsaP256, "soakp256"),
    ] {
        let mut body = keys::generate_body(signer);
        body["id"] = json!(id);
        api.expect(
            api.post("/keys/generate")
                .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                .json(&body),
            StatusCode::CREATED,
            "POST /keys/generate (a soak signing key)",
        )
        .await?;
        signing_keys.push((signer, id.to_owned()));
    }
    let session = api.appliance_session().await?;
    let login_body = |user: &str, passphrase: &str| {
        json!({
            "username": user,
            "password": STANDARD.encode(passphrase),
            "mode": 4,
            "deviceId": "strongroom-bench",
            "clientType": 30,
        })
    };
    let login_url = format!("{}{BACKUP_CLIENT}/Login", server.base);
    let token = {
        let body = api
            .expect(
                client
                    .post(&login_url)
                    .json(&login_body("admin", ADMIN_PASSPHRASE)),
                StatusCode::OK,
                "POST /commandcenter/api/Login",
            )
            .await?;
        json_field(&body, "token", "the backup-client login")?
    };

    let mut mix = Vec::new();
    let health = server.url("/health/state");
    mix.push(Phase::new(
        "health",
        "GET /api/v1/health/state",
        StatusCode::OK,
        move |c: &Client| c.get(&health),
    ));
    let (random, id) = (server.url("/random"), operator.to_owned());
    mix.push(Phase::new(
        "random",
        "POST /api/v1/random 32 bytes, Operator",
        StatusCode::OK,
        move |c: &Client| {
            c.post(&random)
                .basic_auth(&id, Some(OPERATOR_PASSPHRASE))
                .json(&json!({ "length": 32 }))
        },
    ));
    let (user, id) = (
        server.url(&format!("/users/{operator}")),
        operator.to_owned(),
    );
    mix.push(Phase::new(
        "user",
        "GET /api/v1/users/{id}, Operator",
        StatusCode::OK,
        move |c: &Client| c.get(&user).basic_auth(&id, Some(OPERATOR_PASSPHRASE)),
    ));
    for (signer, key) in &signing_keys {
        mix.push(keys::sign_phase(
            format!("sign {}", signer.name()),
            |p| server.url(p),
            *signer,
            std::slice::from_ref(key),
            operator,
            OPERATOR_PASSPHRASE,
        ));
    }
    mix.push(keys::generate_phase(
        "generate P-256".into(),
        server.url("/keys/generate"),
        Signer::EcdsaP256,
        ADMIN_PASSPHRASE,
    ));
    let users = server.url("/users");
    let created = Arc::new(AtomicU64::new(0));
    mix.push(Phase::new(
        "create user",
        "POST /api/v1/users (a new Operator each time), Administrator",
        StatusCode::CREATED,
        move |c: &Client| {
            let n = created.fetch_add(1, Ordering::Relaxed);
            c.post(&users)
                .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                .json(&json!({
                    "realName": format!("Soak Operator {n}"),
                    "role": "Operator",
                    "passphrase": OPERATOR_PASSPHRASE,
                }))
        },
    ));
    let passphrase = server.url(&format!("/users/{WRITER}/passphrase"));
    mix.push(Phase::new(
        "set passphrase",
        "POST /api/v1/users/{id}/passphrase, Administrator",
        StatusCode::NO_CONTENT,
        move |c: &Client| {
            c.post(&passphrase)
                .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                .json(&json!({ "passphrase": WRITER_PASSPHRASE }))
        },
    ));
    for (name, path) in [
        ("appliance session", "/session"),
        ("appliance", "/appliance"),
    ] {
        let (url, session) = (format!("{}{APPLIANCE}{path}", server.base), session.clone());
        mix.push(Phase::new(
            name,
            format!("GET {APPLIANCE}{path}, appliance session"),
            StatusCode::OK,
            move |c: &Client| c.get(&url).header("x-dr-session", &session),
        ));
    }
    let clients = format!("{}{BACKUP_CLIENT}/Client", server.base);
    mix.push(Phase::new(
        "backup clients",
        format!("GET {BACKUP_CLIENT}/Client, login token"),
        StatusCode::OK,
        move |c: &Client| c.get(&clients).header("Authtoken", &token),
    ));
    let body = login_body(LOGIN, LOGIN_PASSPHRASE);
    mix.push(Phase::new(
        "backup login",
        format!("POST {BACKUP_CLIENT}/Login (JSON), an Administrator"),
        StatusCode::OK,
        move |c: &Client| c.post(&login_url).json(&body),
    ));

    progress(format!(
        "soak: {} operations in turn, {} tasks, {} s",
        mix.len(),
        load.concurrency,
        duration.as_secs()
    ));
    let reset = memory::reset_peak(server.pid());
    let (operations, whole) =
        phase::run_mixed(client, "soak", &mix, Load { duration, ..load }).await?;
    let peak = memory::try_read(server.pid()).map(|m| (m, reset));
    Ok(Soak {
        operations,
        whole,
        peak,
    })
}

pub(crate) fn json_field(body: &[u8], field: &str, what: &str) -> anyhow::Result<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v[field].as_str().map(str::to_owned))
        .with_context(|| {
            format!(
                "{what}: no {field:?} in {:?}",
                String::from_utf8_lossy(body)
            )
        })
}

/// Prints the soak's figures; fails if any request failed.
pub fn print(soak: &Soak) -> anyhow::Result<()> {
    println!();
    println!("== soak: a mixed load over every face ==");
    println!(
        "{:<22} {:>9} {:>7} {:>9} {:>9} {:>9}",
        "operation", "ok", "errors", "req/s", "p50 ms", "p99 ms"
    );
    for r in soak.operations.iter().chain(std::iter::once(&soak.whole)) {
        let ms = |q| {
            r.percentile(q)
                .map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
        };
        println!(
            "{:<22} {:>9} {:>7} {:>9.1} {:>9} {:>9}",
            r.name,
            r.ok,
            r.error_count(),
            r.rate(),
            ms(0.50),
            ms(0.99)
        );
    }
    match soak.peak {
        Some((m, true)) => println!(
            "server peak resident memory over the soak: {}",
            Mib(m.hwm_kib)
        ),
        Some((m, false)) => println!(
            "server peak resident memory (lifetime; the soak's own peak could not be isolated): {}",
            Mib(m.hwm_kib)
        ),
        None => println!("server peak resident memory: unknown"),
    }
    if soak.whole.error_count() > 0 {
        for r in &soak.operations {
            if r.error_count() > 0 {
                println!("{r}");
            }
        }
        bail!(
            "the soak had {} failed requests; see above",
            soak.whole.error_count()
        );
    }
    Ok(())
}
