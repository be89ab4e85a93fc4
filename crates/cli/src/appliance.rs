//! `strongroom appliance ...`: what the appliance face owns (`/api/rest/configure/v1`, the
//! VMware DR appliance's configuration API): a session is opened with the login user's
//! password (`POST /session`), used (`x-dr-session`), and closed. The face's errors
//! (`{"error_code", "message"}`) reach the user as its sentences, with their codes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use clap::{Args, Subcommand};
use reqwest::{Method, RequestBuilder};
use serde_json::json;
use zeroize::Zeroizing;

use crate::conn::Api;
use crate::fail::{Exit, Failure};
use crate::nethsm::{With, emit, new_private_file, path_segment, progress, safe, source, table};
use crate::secret;

const APPLIANCE: &str = "/api/rest/configure/v1";

/// An open session of the appliance face.
pub struct Session<'a> {
    pub api: &'a Api,
    id: Zeroizing<String>,
}

impl<'a> Session<'a> {
    /// Logs the login user in (HTTP Basic, as the face asks).
    pub async fn open(api: &'a Api) -> anyhow::Result<Session<'a>> {
        let req = api.authed_at_root(Method::POST, &format!("{APPLIANCE}/session"))?;
        let v = api.json(req, "logging in on the appliance face").await?;
        let id = v["session_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the appliance login answer carries no session_id"))?;
        Ok(Session {
            api,
            id: Zeroizing::new(id.to_owned()),
        })
    }

    /// A request to `path` of the face in this session.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.api
            .at_root(method, &format!("{APPLIANCE}{path}"))
            .header("x-dr-session", &*self.id)
    }

    /// Ends the session; a failure to is not the command's (it expires anyway).
    pub async fn close(self) {
        let _ = self.request(Method::DELETE, "/session").send().await;
    }
}

#[derive(Args)]
pub struct ApplianceArgs {
    #[command(subcommand)]
    command: ApplianceCommand,
}

#[derive(Subcommand)]
enum ApplianceCommand {
    /// Change the login user's password under the appliance's password policy (its other
    /// sessions end; the new password works at once on every face).
    Password {
        /// Read the new password from this file instead of STRONGROOM_NEW_PASSWORD or a
        /// prompt.
        #[arg(long, value_name = "PATH")]
        new_password_file: Option<PathBuf>,
    },
    /// The product, its version, system information and the data disk's space.
    Info,
    /// The appliance's TLS certificate: show, csr, install.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// Where the logs go: show, set.
    Syslog {
        #[command(subcommand)]
        command: SyslogCommand,
    },
    /// The time zone and how the clock is kept: show, set.
    Time {
        #[command(subcommand)]
        command: TimeCommand,
    },
    /// The network settings (as the appliance reports them).
    Network,
    /// The appliance's services: list, start, stop, restart.
    Services {
        #[command(subcommand)]
        command: ServicesCommand,
    },
    /// Support bundles (nothing secret in them): create, list, download, delete.
    SupportBundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
}

/// The subject of a certificate the appliance makes (a CSR or a self-signed certificate).
#[derive(Args)]
struct Subject {
    #[arg(long, value_name = "CN")]
    common_name: String,
    /// The DNS name the appliance is reached by.
    #[arg(long, value_name = "NAME")]
    fqdn: Option<String>,
    /// The IP address the appliance is reached by.
    #[arg(long, value_name = "ADDRESS")]
    ip: Option<String>,
    #[arg(long, value_name = "O")]
    organization: Option<String>,
    #[arg(long, value_name = "OU")]
    organization_unit: Option<String>,
    #[arg(long, value_name = "L")]
    locality: Option<String>,
    #[arg(long, value_name = "ST")]
    state: Option<String>,
    #[arg(long, value_name = "C")]
    country: Option<String>,
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
}

impl Subject {
    fn json(&self) -> serde_json::Value {
        let mut v = json!({"common_name": self.common_name});
        for (k, value) in [
            ("fqdn", &self.fqdn),
            ("ip", &self.ip),
            ("organization", &self.organization),
            ("organization_unit", &self.organization_unit),
            ("locality", &self.locality),
            ("state", &self.state),
            ("country", &self.country),
            ("email", &self.email),
        ] {
            if let Some(value) = value {
                v[k] = json!(value);
            }
        }
        v
    }
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Show the certificate the appliance serves: subject, issuer, validity, fingerprint.
    Show,
    /// A certificate signing request for a new key of the appliance, as PEM.
    Csr {
        #[command(flatten)]
        subject: Subject,
        /// Write it to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Install a certificate: the one a CA issued for the last CSR (--cert, with its chain),
    /// or a new self-signed one (--self-signed). Clients that pinned the old certificate must
    /// pin the new one (`strongroom profile add`).
    Install {
        /// The certificate (PEM) issued for the appliance's last CSR.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present_any = ["self_signed", "pkcs12"],
            conflicts_with = "pkcs12"
        )]
        cert: Option<PathBuf>,
        /// A PKCS#12 file with the key and its certificate (and chain) instead; its password
        /// from --pkcs12-password-file, STRONGROOM_PKCS12_PASSWORD or a prompt.
        #[arg(long, value_name = "FILE", conflicts_with = "self_signed")]
        pkcs12: Option<PathBuf>,
        /// Read the PKCS#12 file's password from this file.
        #[arg(long, value_name = "PATH", requires = "pkcs12")]
        pkcs12_password_file: Option<PathBuf>,
        /// A CA certificate of its chain (PEM; repeatable).
        #[arg(long = "chain", value_name = "FILE", requires = "cert")]
        chain: Vec<PathBuf>,
        /// Make a new key and a self-signed certificate for it instead (needs --common-name).
        #[arg(long, conflicts_with = "cert", requires = "common_name")]
        self_signed: bool,
        #[arg(long, value_name = "CN")]
        common_name: Option<String>,
        #[arg(long, value_name = "NAME")]
        fqdn: Option<String>,
        #[arg(long, value_name = "ADDRESS")]
        ip: Option<String>,
    },
}

#[derive(Subcommand)]
enum SyslogCommand {
    /// The syslog servers.
    Show,
    /// Replace the syslog servers: HOST[:PORT][/udp|/tcp] each (port 514 and UDP unless
    /// given), or --none.
    Set {
        #[arg(value_name = "SERVER", required_unless_present = "none")]
        servers: Vec<String>,
        #[arg(long, conflicts_with = "servers")]
        none: bool,
    },
}

#[derive(Subcommand)]
enum TimeCommand {
    /// The appliance's time, zone and synchronization.
    Show,
    /// Set the zone (an IANA name, e.g. Europe/Berlin) and/or the synchronization (HOST: the
    /// host's clock; DISABLED: set by hand).
    Set {
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
        #[arg(long, value_name = "MODE", required_unless_present = "zone")]
        sync: Option<String>,
    },
}

#[derive(Subcommand)]
enum ServicesCommand {
    /// Every service, whether it runs.
    List,
    /// Start a service.
    Start { id: String },
    /// Stop a service.
    Stop { id: String },
    /// Restart a service.
    Restart { id: String },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Make a bundle and wait for it; prints its key.
    Create,
    /// The bundles there are.
    List,
    /// Download a bundle (a tar) to FILE, with a progress bar on a terminal.
    Download {
        key: String,
        file: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Delete a bundle.
    Delete { key: String },
}

pub fn run(w: With<ApplianceArgs>) -> anyhow::Result<()> {
    match &w.args.command {
        ApplianceCommand::Password { new_password_file } => {
            password(&w, new_password_file.as_deref())
        }
        _ => administer(&w),
    }
}

fn password(w: &With<ApplianceArgs>, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let api = w.opts.api()?;
    // Both read before anything is sent.
    let current = api.password()?;
    let new = secret::read(
        &source(
            "new password",
            "STRONGROOM_NEW_PASSWORD",
            file,
            "--new-password-file",
        ),
        true,
    )?;
    let user = api.target.user.clone();
    api.runtime.block_on(async {
        let session = Session::open(&api).await?;
        let req = secret::json_body(
            session.request(Method::POST, "/appliance/settings/access/password"),
            json!({"username": user, "password": &*current, "new_password": &*new}),
        );
        let sent = api.send(req, "changing the password").await;
        session.close().await;
        if let Err(e) = sent {
            return Err(match e.downcast::<Failure>() {
                // The current password is the login's: wrong, it is an authentication failure.
                Ok(mut f) if f.status == Some(403) => {
                    f.exit = Exit::Auth;
                    f.hint = Some(format!(
                        "check the current password of {user} (--password-file, \
                         STRONGROOM_PASSWORD or the prompt)"
                    ));
                    f.into()
                }
                Ok(mut f) if f.status == Some(400) => {
                    f.hint = Some(
                        "the password policy: at least 8 characters (at most 200 bytes) of \
                         ASCII letters, digits, punctuation and spaces, with a lower-case and an \
                         upper-case letter, a digit and a special character, and none of the \
                         last five passwords"
                            .to_owned(),
                    );
                    f.into()
                }
                Ok(f) => f.into(),
                Err(e) => e,
            });
        }
        emit(&w.opts, json!({"user": user, "passwordChanged": true}), || {
            format!(
                "changed the password of {}: its other sessions ended; use the new one from now on\n",
                safe(&user)
            )
        });
        Ok(())
    })
}

/// Every subcommand but `password`: one session, the request, the answer.
fn administer(w: &With<ApplianceArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    // Local files first, so a missing one fails before anything is sent.
    let install = match &w.args.command {
        ApplianceCommand::Tls {
            command:
                TlsCommand::Install {
                    cert: Some(cert),
                    chain,
                    ..
                },
        } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let chain: Vec<String> = chain.iter().map(read).collect::<Result<_, _>>()?;
            Some(json!({"csr_format": {"certificate": read(cert)?, "ca_chain": chain}}))
        }
        ApplianceCommand::Tls {
            command:
                TlsCommand::Install {
                    pkcs12: Some(file),
                    pkcs12_password_file,
                    ..
                },
        } => {
            let der = Zeroizing::new(
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
            );
            let password = secret::read(
                &source(
                    "password of the PKCS#12 file",
                    "STRONGROOM_PKCS12_PASSWORD",
                    pkcs12_password_file.as_deref(),
                    "--pkcs12-password-file",
                ),
                false,
            )?;
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&*der);
            Some(json!({"pkcs12_format": {"certificate": b64, "password": &*password}}))
        }
        _ => None,
    };
    if let ApplianceCommand::SupportBundle {
        command: BundleCommand::Download { file, force, .. },
    } = &w.args.command
        && file.exists()
        && !force
    {
        return Err(Failure::usage(format!("{} exists", file.display()))
            .hint("pick another file, or pass --force to replace it")
            .into());
    }
    let api = opts.api()?;
    api.runtime.block_on(async {
        let session = Session::open(&api).await?;
        let done = administer_in(w, &session, install).await;
        session.close().await;
        done
    })
}

async fn administer_in(
    w: &With<ApplianceArgs>,
    session: &Session<'_>,
    install: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let opts = &w.opts;
    let api = session.api;
    let get = |path: &str, what: &str| {
        let req = session
            .request(Method::GET, path)
            .header(reqwest::header::ACCEPT, "application/json");
        let what = what.to_owned();
        async move { api.json(req, &what).await }
    };
    let send = |method: Method, path: &str, body: Option<serde_json::Value>, what: &str| {
        let mut req = session.request(method, path);
        if let Some(body) = body {
            // The certificate install's PKCS#12 password may be in it.
            req = secret::json_body(req, body);
        }
        let what = what.to_owned();
        async move { api.send(req, &what).await }
    };
    match &w.args.command {
        ApplianceCommand::Password { .. } => unreachable!("run by `password`"),
        ApplianceCommand::Tls { command } => match command {
            TlsCommand::Show => {
                let v = get("/appliance/certificates/server", "reading the certificate").await?;
                emit(opts, v.clone(), || certificate_text(&v));
            }
            TlsCommand::Csr { subject, out } => {
                let resp = send(
                    Method::POST,
                    "/appliance/certificates/actions/generate-csr",
                    Some(subject.json()),
                    "making a CSR",
                )
                .await?;
                let v: serde_json::Value = resp.json().await.map_err(|e| api.transport(e))?;
                let pem = v["value"].as_str().unwrap_or("").to_owned();
                match out {
                    Some(path) => {
                        std::fs::write(path, &pem)
                            .with_context(|| format!("writing {}", path.display()))?;
                        emit(opts, json!({"file": path}), || {
                            format!("wrote the CSR to {}\n", path.display())
                        });
                    }
                    None => emit(opts, json!({"csr": pem}), || pem.clone()),
                }
            }
            TlsCommand::Install {
                self_signed,
                common_name,
                fqdn,
                ip,
                ..
            } => {
                let body = match install {
                    Some(body) => body,
                    None => {
                        debug_assert!(*self_signed);
                        let mut v = json!({"common_name": common_name});
                        if let Some(f) = fqdn {
                            v["fqdn"] = json!(f);
                        }
                        if let Some(ip) = ip {
                            v["ip"] = json!(ip);
                        }
                        json!({"selfsigned_format": v})
                    }
                };
                send(
                    Method::POST,
                    "/appliance/certificates/server",
                    Some(body),
                    "installing the certificate",
                )
                .await?;
                let v = get("/appliance/certificates/server", "reading the certificate").await;
                // The new certificate may already be served, so the pinned connection can
                // fail here; the install itself is done.
                let thumbprint = v
                    .ok()
                    .and_then(|v| v["thumbprint"].as_str().map(str::to_owned));
                emit(
                    opts,
                    json!({"installed": true, "thumbprint": thumbprint}),
                    || {
                        format!(
                            "installed the certificate{}; pin the new one: `strongroom profile add`\n",
                            thumbprint
                                .as_deref()
                                .map(|t| format!(" (SHA-256 {t})"))
                                .unwrap_or_default()
                        )
                    },
                );
            }
        },
        ApplianceCommand::Syslog { command } => match command {
            SyslogCommand::Show => {
                let v = get(
                    "/appliance/settings/syslog-servers",
                    "reading the syslog servers",
                )
                .await?;
                let list = v["list"].as_array().cloned().unwrap_or_default();
                emit(opts, json!(list), || {
                    if list.is_empty() {
                        return "no syslog servers\n".to_owned();
                    }
                    let rows = list.iter().map(|s| {
                        [
                            s["host"].as_str().unwrap_or("").to_owned(),
                            s["port"]
                                .as_u64()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            s["protocol"].as_str().unwrap_or("").to_owned(),
                        ]
                    });
                    table(&["HOST", "PORT", "PROTOCOL"], rows)
                });
            }
            SyslogCommand::Set { servers, .. } => {
                let list = servers
                    .iter()
                    .map(|s| syslog_server(s))
                    .collect::<Result<Vec<_>, _>>()?;
                send(
                    Method::PUT,
                    "/appliance/settings/syslog-servers",
                    Some(json!(list)),
                    "setting the syslog servers",
                )
                .await?;
                emit(opts, json!(list), || {
                    if list.is_empty() {
                        "no syslog servers now\n".to_owned()
                    } else {
                        format!("sending the logs to {}\n", servers.join(", "))
                    }
                });
            }
        },
        ApplianceCommand::Time { command } => match command {
            TimeCommand::Show => {
                let v = get("/appliance/settings/time", "reading the time settings").await?;
                emit(opts, v.clone(), || {
                    let time = (v["current_time"].as_i64())
                        .and_then(|ms| {
                            time::OffsetDateTime::from_unix_timestamp_nanos(
                                i128::from(ms) * 1_000_000,
                            )
                            .ok()
                        })
                        .and_then(|t| {
                            t.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .unwrap_or_default();
                    format!(
                        "time:            {time}\nzone:            {}\nsynchronization: {}\n",
                        safe(v["zone"].as_str().unwrap_or("-")),
                        safe(v["synchronization"]["mode"].as_str().unwrap_or("-"))
                    )
                });
            }
            TimeCommand::Set { zone, sync } => {
                let mut body = json!({});
                if let Some(z) = zone {
                    body["zone"] = json!(z);
                }
                if let Some(m) = sync {
                    body["synchronization"] = json!({"mode": m.to_ascii_uppercase()});
                }
                send(
                    Method::PUT,
                    "/appliance/settings/time",
                    Some(body.clone()),
                    "setting the time settings",
                )
                .await?;
                emit(opts, body, || "set the time settings\n".to_owned());
            }
        },
        ApplianceCommand::Info => {
            let info = get("/appliance", "reading the appliance's information").await?;
            let disks = get("/appliance/disks", "reading the disks").await?;
            let list = disks["list"].as_array().cloned().unwrap_or_default();
            emit(opts, json!({"appliance": info, "disks": list}), || {
                let mut out = format!(
                    "product: {}\nversion: {}\n",
                    safe(info["product_name"].as_str().unwrap_or("-")),
                    safe(info["appliance_version"].as_str().unwrap_or("-")),
                );
                if let Some(text) = info["system_information"].as_str() {
                    out.push_str(&format!("system:  {}\n", safe(text)));
                }
                let rows = list.iter().map(|d| {
                    [
                        d["name"].as_str().unwrap_or("").to_owned(),
                        d["total_space"]
                            .as_u64()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        d["used_space"]
                            .as_u64()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    ]
                });
                out.push_str(&table(&["DISK", "BYTES", "USED"], rows));
                out
            });
        }
        ApplianceCommand::Network => {
            let v = get(
                "/appliance/settings/network",
                "reading the network settings",
            )
            .await?;
            emit(opts, v.clone(), || {
                // Its shape is the appliance's; shown as it came, indented.
                format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
            });
        }
        ApplianceCommand::Services { command } => match command {
            ServicesCommand::List => {
                let v = get("/services", "listing the services").await?;
                let list = v["list"].as_array().cloned().unwrap_or_default();
                emit(opts, json!(list), || {
                    let rows = list.iter().map(|s| {
                        [
                            s["id"].as_str().unwrap_or("").to_owned(),
                            s["name"].as_str().unwrap_or("").to_owned(),
                            if s["is_running"].as_bool().unwrap_or(false) {
                                "running".to_owned()
                            } else {
                                "stopped".to_owned()
                            },
                            s["startup_type"].as_str().unwrap_or("").to_owned(),
                        ]
                    });
                    table(&["ID", "NAME", "STATE", "STARTUP"], rows)
                });
            }
            ServicesCommand::Start { id }
            | ServicesCommand::Stop { id }
            | ServicesCommand::Restart { id } => {
                let (action, done) = match command {
                    ServicesCommand::Start { .. } => ("start", "started"),
                    ServicesCommand::Stop { .. } => ("stop", "stopped"),
                    _ => ("restart", "restarted"),
                };
                let path = format!("/services/{}/actions/{action}", path_segment(id));
                send(Method::POST, &path, None, &format!("{action} {id}")).await?;
                emit(opts, json!({"service": id, "done": action}), || {
                    format!("{done} {}\n", safe(id))
                });
            }
        },
        ApplianceCommand::SupportBundle { command } => match command {
            BundleCommand::Create => {
                let resp = send(
                    Method::POST,
                    "/support-bundles",
                    None,
                    "making a support bundle",
                )
                .await?;
                let task: serde_json::Value = resp.json().await.map_err(|e| api.transport(e))?;
                let id = task["id"].as_str().unwrap_or("").to_owned();
                let task = wait_for_task(session, &id).await?;
                let key = task["result"]["key"].as_str().unwrap_or("").to_owned();
                emit(opts, json!({"key": key, "task": id}), || {
                    format!("made the support bundle {}\n", safe(&key))
                });
            }
            BundleCommand::List => {
                let v = get("/support-bundles", "listing the support bundles").await?;
                let list = v["list"].as_array().cloned().unwrap_or_default();
                emit(opts, json!(list), || {
                    if list.is_empty() {
                        return "no support bundles\n".to_owned();
                    }
                    let rows = list.iter().map(|b| {
                        [
                            b["key"].as_str().unwrap_or("").to_owned(),
                            b["size"]
                                .as_u64()
                                .map(|n| n.to_string())
                                .unwrap_or_default(),
                            b["md5"].as_str().unwrap_or("").to_owned(),
                        ]
                    });
                    table(&["KEY", "BYTES", "MD5"], rows)
                });
            }
            BundleCommand::Download { key, file, .. } => {
                let path = format!("/support-bundles/{}", path_segment(key));
                let mut resp =
                    send(Method::GET, &path, None, "downloading the support bundle").await?;
                let bar = progress(opts, resp.content_length(), "support bundle");
                let mut partial = file.clone().into_os_string();
                partial.push(".partial");
                let partial = PathBuf::from(partial);
                let mut out = new_private_file(&partial)?;
                let mut written = 0u64;
                let copied: anyhow::Result<()> = async {
                    while let Some(chunk) = resp.chunk().await.map_err(|e| api.transport(e))? {
                        out.write_all(&chunk)
                            .with_context(|| format!("writing {}", partial.display()))?;
                        written += chunk.len() as u64;
                        bar.inc(chunk.len() as u64);
                    }
                    out.sync_all()?;
                    Ok(())
                }
                .await;
                bar.finish();
                if let Err(e) = copied {
                    let _ = std::fs::remove_file(&partial);
                    return Err(e);
                }
                std::fs::rename(&partial, file)
                    .with_context(|| format!("writing {}", file.display()))?;
                emit(
                    opts,
                    json!({"key": key, "file": file, "bytes": written}),
                    || {
                        format!(
                            "wrote the support bundle {} to {} ({written} bytes)\n",
                            safe(key),
                            file.display()
                        )
                    },
                );
            }
            BundleCommand::Delete { key } => {
                let path = format!("/support-bundles/{}", path_segment(key));
                send(Method::DELETE, &path, None, "deleting the support bundle").await?;
                emit(opts, json!({"deleted": key}), || {
                    format!("deleted the support bundle {}\n", safe(key))
                });
            }
        },
    }
    Ok(())
}

/// Polls `GET /tasks/{id}` until the task is done; its final state, or its error.
async fn wait_for_task(session: &Session<'_>, id: &str) -> anyhow::Result<serde_json::Value> {
    let path = format!("/tasks/{}", path_segment(id));
    loop {
        let req = session
            .request(Method::GET, &path)
            .header(reqwest::header::ACCEPT, "application/json");
        let task = session.api.json(req, "following the task").await?;
        match task["status"].as_str() {
            Some("SUCCESS") => return Ok(task),
            Some("QUEUED" | "RUNNING") => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => {
                return Err(Failure::new(
                    Exit::Server,
                    format!(
                        "the task {id} ended {}: {}",
                        other.unwrap_or("without a status"),
                        task["error"]["message"]
                            .as_str()
                            .or(task["error"]["localized_message"].as_str())
                            .unwrap_or("no reason given")
                    ),
                )
                .into());
            }
        }
    }
}

/// `HOST[:PORT][/udp|/tcp]` as the face's `SyslogServerInfo`.
fn syslog_server(text: &str) -> Result<serde_json::Value, Failure> {
    let bad = || {
        Failure::usage(format!("syslog server {text:?}"))
            .hint("give HOST, HOST:PORT, or HOST:PORT/tcp (a v6 address in brackets: [::1]:514)")
    };
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((rest, p)) if p.eq_ignore_ascii_case("udp") || p.eq_ignore_ascii_case("tcp") => {
            (rest, p.to_ascii_uppercase())
        }
        Some(_) => return Err(bad()),
        None => (text, "UDP".to_owned()),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 514,
    };
    Ok(json!({"host": host, "port": port, "protocol": protocol}))
}

/// The certificate for people: the fields one checks.
fn certificate_text(v: &serde_json::Value) -> String {
    let when = |k: &str| {
        v[k].as_i64()
            .and_then(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    let sans = (v["subject_alternative_names"]
        .as_array()
        .into_iter()
        .flatten())
    .filter_map(|s| s.as_str())
    .collect::<Vec<_>>()
    .join(", ");
    [
        ("subject", v["subject_dn"].as_str().unwrap_or("").to_owned()),
        ("issuer", v["issuer_dn"].as_str().unwrap_or("").to_owned()),
        ("names", sans),
        ("not before", when("not_before")),
        ("not after", when("not_after")),
        (
            "algorithm",
            v["sig_alg_name"].as_str().unwrap_or("").to_owned(),
        ),
        ("SHA-256", v["thumbprint"].as_str().unwrap_or("").to_owned()),
    ]
    .iter()
    .map(|(k, value)| format!("{:<12}{}\n", format!("{k}:"), safe(value)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_servers_are_read_with_their_defaults() {
        assert_eq!(
            syslog_server("logs.example.org").unwrap(),
            json!({"host": "logs.example.org", "port": 514, "protocol": "UDP"})
        );
        assert_eq!(
            syslog_server("10.0.0.5:1514/tcp").unwrap(),
            json!({"host": "10.0.0.5", "port": 1514, "protocol": "TCP"})
        );
        assert_eq!(
            syslog_server("[::1]:601/TCP").unwrap(),
            json!({"host": "::1", "port": 601, "protocol": "TCP"})
        );
        for bad in [
            "",
            ":514",
            "h:port",
            "h:514/tls",
            "h:70000",
            "[::1",
            "[::1]x",
        ] {
            assert!(syslog_server(bad).is_err(), "{bad}");
        }
    }
}
