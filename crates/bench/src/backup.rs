//! The backup/restore section: for each number of users, fill a fresh server, time
//! `POST /system/backup`, then time `POST /system/restore` of that file on a second fresh
//! server, and watch the resident memory of the server process during both.
//!
//! Each size gets its own servers, so sizes do not influence each other:
//!
//! 1. server 1: provision, set the backup passphrase, create a Backup user, then create the
//!    Operators with [`CREATE_TASKS`] concurrent `PUT /users/{id}` (each one an Argon2id hash
//!    on the server, so this takes a while; progress goes to stderr);
//! 2. `POST /system/backup` as the Backup user, its body streamed and counted;
//! 3. server 1 is stopped; server 2 starts Unprovisioned;
//! 4. `POST /system/restore` of the file (multipart, no credentials): 204 and Locked;
//! 5. a check, not timed: unlock server 2 and count the users that `GET /users` lists.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::ACCEPT;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::memory::{self, Memory, Mib};
use crate::server::Server;
use crate::{ADMIN_PASSPHRASE, Api, OPERATOR_PASSPHRASE, SYSTEM_TIME, log_tail, progress, tls};

/// Concurrent user creations.
pub const CREATE_TASKS: usize = 16;
/// How long the backup or the restore request may take (instead of the usual 30 s).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(1800);
const BACKUP_PASSPHRASE: &str = "strongroom bench backup passphrase";
const BACKUP_USER: &str = "benchbackup";
const BACKUP_USER_PASSPHRASE: &str = "strongroom bench backup user passphrase";

/// Memory of the server around one step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepMemory {
    /// Just before the step.
    pub before: Option<Memory>,
    /// Right after it; its `hwm_kib` is the peak of the step if `peak_reset`.
    pub after: Option<Memory>,
    /// Whether `VmHWM` was reset to `VmRSS` just before the step; if not, the peak is the
    /// lifetime peak of the process.
    pub peak_reset: bool,
}

impl StepMemory {
    fn before(pid: u32) -> StepMemory {
        let before = memory::try_read(pid);
        let peak_reset = memory::reset_peak(pid);
        if !peak_reset {
            progress("could not reset VmHWM; the peak reported is the server's lifetime peak");
        }
        StepMemory {
            before,
            after: None,
            peak_reset,
        }
    }

    fn finish(mut self, pid: u32) -> StepMemory {
        self.after = memory::try_read(pid);
        self
    }

    fn peak_kib(&self) -> Option<u64> {
        self.after.map(|m| m.hwm_kib)
    }
}

impl fmt::Display for StepMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rss = |m: Option<Memory>| m.map_or("?".to_owned(), |m| Mib(m.rss_kib).to_string());
        write!(
            f,
            "server VmRSS {} before, {} after; VmHWM {} ({})",
            rss(self.before),
            rss(self.after),
            self.peak_kib()
                .map_or("?".to_owned(), |k| Mib(k).to_string()),
            if self.peak_reset {
                "peak during the step: reset just before it"
            } else {
                "lifetime peak of the process: could not be reset"
            }
        )
    }
}

/// The figures of one size.
pub struct SizeReport {
    /// Operators created (the server also holds the admin and the Backup user).
    pub users: u64,
    pub create: Duration,
    /// After the users were created: `VmHWM` is the lifetime peak, creation included.
    pub after_create: Option<Memory>,
    pub backup_bytes: u64,
    pub backup_time: Duration,
    /// Until the response headers arrived.
    pub backup_headers: Duration,
    pub backup_memory: StepMemory,
    pub restore_time: Duration,
    pub restore_memory: StepMemory,
    /// Users listed by the restored server after unlocking it, or what went wrong.
    pub check: Result<u64, String>,
}

impl SizeReport {
    /// All users the backup holds: the Operators, the admin and the Backup user.
    pub fn expected_users(&self) -> u64 {
        self.users + 2
    }

    pub fn check_ok(&self) -> bool {
        self.check
            .as_ref()
            .is_ok_and(|&n| n == self.expected_users())
    }

    fn backup_mb(&self) -> f64 {
        self.backup_bytes as f64 / 1e6
    }

    fn backup_rate(&self) -> f64 {
        rate(self.backup_mb(), self.backup_time)
    }
}

fn rate(amount: f64, took: Duration) -> f64 {
    let secs = took.as_secs_f64();
    if secs > 0.0 { amount / secs } else { 0.0 }
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backup/restore with {} Operators ({} users with the admin and the Backup user)",
            self.users,
            self.expected_users()
        )?;
        writeln!(
            f,
            "  create     {} users in {:.1} s ({:.1} users/s, {CREATE_TASKS} tasks, PUT /users/{{id}} as admin)",
            self.users,
            self.create.as_secs_f64(),
            rate(self.users as f64, self.create)
        )?;
        if let Some(m) = self.after_create {
            writeln!(
                f,
                "             server VmRSS {} after; VmHWM {} (lifetime peak, creation included)",
                Mib(m.rss_kib),
                Mib(m.hwm_kib)
            )?;
        }
        writeln!(
            f,
            "  backup     {:.2} s, {} bytes ({:.2} MB), {:.2} MB/s; response headers after {:.3} s",
            self.backup_time.as_secs_f64(),
            self.backup_bytes,
            self.backup_mb(),
            self.backup_rate(),
            self.backup_headers.as_secs_f64()
        )?;
        writeln!(f, "             {}", self.backup_memory)?;
        writeln!(
            f,
            "  restore    {:.2} s (a second fresh server, Unprovisioned, ends Locked)",
            self.restore_time.as_secs_f64()
        )?;
        writeln!(f, "             {}", self.restore_memory)?;
        match &self.check {
            Ok(n) if *n == self.expected_users() => write!(
                f,
                "  check      restored server unlocked, GET /users lists {n} users: as expected"
            ),
            Ok(n) => write!(
                f,
                "  check      FAILED: restored server lists {n} users, expected {}",
                self.expected_users()
            ),
            Err(e) => write!(f, "  check      FAILED: {e}"),
        }
    }
}

/// Runs the whole section for `users` Operators.
pub async fn run_size(binary: &Path, users: u64) -> anyhow::Result<SizeReport> {
    let what = format!("backup/restore with {users} users");
    progress(format!("{what}: starting a fresh server"));
    let source = Server::start(binary).await?;
    let client = tls::pinned_client(&source.fingerprint, CREATE_TASKS)?;
    let api = Api {
        client: &client,
        server: &source,
    };
    api.provision().await?;
    progress(format!("{what}: setting the backup passphrase"));
    api.expect(
        api.put("/config/backup-passphrase")
            .basic_auth("admin", Some(ADMIN_PASSPHRASE))
            .json(&json!({
                "newPassphrase": BACKUP_PASSPHRASE,
                "currentPassphrase": "",
            })),
        StatusCode::NO_CONTENT,
        "PUT /config/backup-passphrase",
    )
    .await?;
    progress(format!("{what}: creating the Backup user"));
    api.expect(
        api.put(&format!("/users/{BACKUP_USER}"))
            .basic_auth("admin", Some(ADMIN_PASSPHRASE))
            .json(&json!({
                "realName": "Bench Backup",
                "role": "Backup",
                "passphrase": BACKUP_USER_PASSPHRASE,
            })),
        StatusCode::CREATED,
        "PUT /users/{id} (create the Backup user)",
    )
    .await?;

    progress(format!(
        "{what}: creating {users} Operators with {CREATE_TASKS} tasks"
    ));
    let started = Instant::now();
    create_users(&client, &source, users)
        .await
        .with_context(|| format!("{what}: creating users"))?;
    let create = started.elapsed();
    let after_create = memory::try_read(source.pid());
    progress(format!(
        "{what}: created {users} users in {:.1} s",
        create.as_secs_f64()
    ));

    progress(format!("{what}: POST /system/backup"));
    let backup_memory = StepMemory::before(source.pid());
    let started = Instant::now();
    let mut response = api
        .expect_status(
            api.post("/system/backup")
                .basic_auth(BACKUP_USER, Some(BACKUP_USER_PASSPHRASE))
                .header(ACCEPT, "application/octet-stream")
                .timeout(TRANSFER_TIMEOUT),
            StatusCode::OK,
            "POST /system/backup",
        )
        .await?;
    let backup_headers = started.elapsed();
    let mut file = Vec::new();
    while let Some(chunk) = response.chunk().await.with_context(|| {
        format!(
            "POST /system/backup: reading the body\n{}",
            log_tail(&source)
        )
    })? {
        file.extend_from_slice(&chunk);
    }
    let backup_time = started.elapsed();
    let backup_memory = backup_memory.finish(source.pid());
    let backup_bytes = file.len() as u64;
    progress(format!(
        "{what}: backup of {backup_bytes} bytes in {:.2} s",
        backup_time.as_secs_f64()
    ));
    // Server 1 is done: stop it, so that it does not share the machine with server 2.
    drop(client);
    drop(source);

    progress(format!(
        "{what}: starting a second fresh server for the restore"
    ));
    let target = Server::start(binary).await?;
    let client = tls::pinned_client(&target.fingerprint, 1)?;
    let api = Api {
        client: &client,
        server: &target,
    };
    api.expect_state("Unprovisioned").await?;
    let form = Form::new()
        .part(
            "arguments",
            Part::text(
                json!({
                    "backupPassphrase": BACKUP_PASSPHRASE,
                    "systemTime": SYSTEM_TIME,
                })
                .to_string(),
            )
            .mime_str("application/json")?,
        )
        .part(
            "backup_file",
            Part::bytes(file).mime_str("application/octet-stream")?,
        );
    progress(format!("{what}: POST /system/restore"));
    let restore_memory = StepMemory::before(target.pid());
    let started = Instant::now();
    api.expect(
        api.post("/system/restore")
            .multipart(form)
            .timeout(TRANSFER_TIMEOUT),
        StatusCode::NO_CONTENT,
        "POST /system/restore",
    )
    .await?;
    let restore_time = started.elapsed();
    let restore_memory = restore_memory.finish(target.pid());
    progress(format!(
        "{what}: restore in {:.2} s; checking the restored server",
        restore_time.as_secs_f64()
    ));
    let check = check_restored(&api).await.map_err(|e| format!("{e:#}"));

    Ok(SizeReport {
        users,
        create,
        after_create,
        backup_bytes,
        backup_time,
        backup_headers,
        backup_memory,
        restore_time,
        restore_memory,
        check,
    })
}

/// The restored server must be Locked, unlock with the original unlock passphrase and list
/// the users of the backup. Returns how many it lists.
async fn check_restored(api: &Api<'_>) -> anyhow::Result<u64> {
    api.expect_state("Locked").await?;
    api.unlock("POST /unlock (restored server)").await?;
    let body = api
        .expect(
            api.get("/users")
                .basic_auth("admin", Some(ADMIN_PASSPHRASE)),
            StatusCode::OK,
            "GET /users (restored server)",
        )
        .await?;
    let list: Value = serde_json::from_slice(&body).context("GET /users (restored server)")?;
    let n = list
        .as_array()
        .context("GET /users (restored server): not a JSON array")?
        .len();
    Ok(n as u64)
}

/// The id of the `i`-th Operator.
fn user_id(i: u64) -> String {
    format!("benchop{i:06}")
}

/// Creates `n` Operators with [`CREATE_TASKS`] concurrent `PUT /users/{id}` as admin. Stops
/// at the first failure (the other tasks are cancelled).
async fn create_users(client: &Client, server: &Server, n: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let step = (n / 10).max(1);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..(CREATE_TASKS as u64).min(n) {
        let client = client.clone();
        let base = server.url("/users/");
        let (next, done) = (next.clone(), done.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let id = user_id(i);
                let response = client
                    .put(format!("{base}{id}"))
                    .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                    .json(&json!({
                        "realName": format!("Bench Operator {i}"),
                        "role": "Operator",
                        "passphrase": OPERATOR_PASSPHRASE,
                    }))
                    .send()
                    .await
                    .with_context(|| format!("PUT /users/{id}"))?;
                let status = response.status();
                let body = response
                    .bytes()
                    .await
                    .with_context(|| format!("PUT /users/{id}"))?;
                if status != StatusCode::CREATED {
                    anyhow::bail!(
                        "PUT /users/{id}: expected 201 Created, got {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % step == 0 || finished == n {
                    let secs = started.elapsed().as_secs_f64();
                    let per_sec = finished as f64 / secs.max(1e-9);
                    progress(format!(
                        "  created {finished}/{n} users in {secs:.1} s ({per_sec:.1}/s, about {:.0} s to go)",
                        (n - finished) as f64 / per_sec.max(1e-9)
                    ));
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        // On an error, returning drops `tasks`, which cancels the others.
        joined
            .context("a user-creation task failed")?
            .with_context(|| format!("last lines of the server log:\n{}", log_tail(server)))?;
    }
    Ok(())
}

/// How the figures grow from the first size to the last: a table with a column per size and
/// the ratio last/first.
pub fn print_growth(reports: &[SizeReport]) {
    let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
        return;
    };
    let ratio_col = reports.len() > 1;
    let mut header = format!("  {:<26}", "users");
    for r in reports {
        header.push_str(&format!("{:>12}", r.users));
    }
    if ratio_col {
        header.push_str(&format!(
            "{:>14}",
            format!("{}/{}", last.users, first.users)
        ));
    }
    println!("backup/restore growth");
    println!("{header}");
    type Figure = fn(&SizeReport) -> Option<f64>;
    let rows: [(&str, Figure, usize); 8] = [
        ("create users s", |r| Some(r.create.as_secs_f64()), 1),
        ("backup s", |r| Some(r.backup_time.as_secs_f64()), 2),
        ("backup file MB", |r| Some(r.backup_mb()), 2),
        ("backup MB/s", |r| Some(r.backup_rate()), 2),
        ("restore s", |r| Some(r.restore_time.as_secs_f64()), 2),
        (
            "server VmHWM backup MiB",
            |r| r.backup_memory.peak_kib().map(|k| k as f64 / 1024.0),
            1,
        ),
        (
            "server VmHWM restore MiB",
            |r| r.restore_memory.peak_kib().map(|k| k as f64 / 1024.0),
            1,
        ),
        (
            "bytes per user",
            |r| Some(r.backup_bytes as f64 / r.expected_users() as f64),
            0,
        ),
    ];
    for (label, figure, decimals) in rows {
        let mut line = format!("  {label:<26}");
        for r in reports {
            let cell = figure(r).map_or("-".to_owned(), |v| format!("{v:.decimals$}"));
            line.push_str(&format!("{cell:>12}"));
        }
        if ratio_col {
            let cell = match (figure(first), figure(last)) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
                _ => "n/a".to_owned(),
            };
            line.push_str(&format!("{cell:>14}"));
        }
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_valid_nethsm_ids() {
        for id in [user_id(0), user_id(999_999), BACKUP_USER.to_owned()] {
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
            assert!((1..=128).contains(&id.len()));
        }
        assert_ne!(user_id(1), user_id(10));
    }
}
