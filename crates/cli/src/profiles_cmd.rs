//! `strongroom profile ...`: add (connecting once and pinning the certificate, as ssh does on
//! first contact), list and remove profiles.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use strongroom_client::pin;

use crate::conn::{Trust, check_server, error_chain, tls_config};
use crate::fail::{Exit, Failure};
use crate::nethsm::table;
use crate::profile::{Profile, Profiles};

#[derive(Args)]
pub struct ProfileArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true, help_heading = "Output")]
    json: bool,
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Add (or replace) a profile: connects once, shows the server's certificate fingerprint
    /// and asks whether to trust it.
    Add {
        name: String,
        /// The server, https://HOST:PORT.
        #[arg(long, value_name = "URL")]
        server: String,
        /// The user to log in as.
        #[arg(long)]
        user: Option<String>,
        /// The fingerprint expected (from the server's start-up output): checked against the
        /// certificate, then stored without asking.
        #[arg(long, value_name = "FP", conflicts_with = "ca_file")]
        fingerprint: Option<String>,
        /// Trust the CA certificates in this PEM file instead of pinning.
        #[arg(long, value_name = "PATH")]
        ca_file: Option<PathBuf>,
        /// Trust the certificate shown without asking.
        #[arg(long)]
        yes: bool,
    },
    /// List the profiles.
    List,
    /// Remove a profile.
    Remove { name: String },
}

pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let mut profiles = Profiles::load()?;
    match args.command {
        ProfileCommand::List => {
            if args.json {
                println!("{}", json!(profiles.profiles));
            } else if profiles.profiles.is_empty() {
                println!("no profiles: add one with `strongroom profile add NAME --server URL`");
            } else {
                let rows = profiles.profiles.iter().map(|(name, p)| {
                    let trust = match (&p.fingerprint, &p.ca_file) {
                        (Some(fp), _) => fp.clone(),
                        (None, Some(ca)) => format!("CA {}", ca.display()),
                        (None, None) => String::new(),
                    };
                    let user = p.user.clone().unwrap_or_default();
                    [name.clone(), p.server.clone(), user, trust]
                });
                print!("{}", table(&["PROFILE", "SERVER", "USER", "TRUST"], rows));
            }
        }
        ProfileCommand::Remove { name } => {
            profiles.get(&name)?;
            profiles.profiles.remove(&name);
            profiles.save()?;
            if args.json {
                println!("{}", json!({"removed": name}));
            } else {
                println!("removed profile {name}");
            }
        }
        ProfileCommand::Add {
            name,
            server,
            user,
            fingerprint,
            ca_file,
            yes,
        } => {
            let server = check_server(&server)?;
            let (fingerprint, ca_file) = match ca_file {
                Some(ca) => {
                    let ca = std::path::absolute(&ca)?;
                    // Connect once through the CA, so a wrong file fails now, not later.
                    contact(&server, &Trust::CaFile(ca.clone()))?;
                    (None, Some(ca))
                }
                None => {
                    let der = certificate_of(&server)?;
                    let digest = pin::parse_fingerprint(&pin::fingerprint_of(&der))
                        .expect("a fingerprint just formatted");
                    let seen = pin::signstar_form(&digest);
                    eprintln!(
                        "{server} presents the certificate\n  SHA-256 {}\n  ({seen})",
                        pin::format_fingerprint(&digest)
                    );
                    match fingerprint {
                        Some(expected) => {
                            let want = pin::parse_fingerprint(&expected)
                                .map_err(|e| Failure::usage(e.to_string()))?;
                            if want != digest {
                                return Err(Failure::new(
                                    Exit::Connect,
                                    format!(
                                        "the certificate of {server} is not the one expected ({expected}); \
                                         nothing was stored"
                                    ),
                                )
                                .hint("someone may be in between, or the certificate was replaced: \
                                       compare with the fingerprint the server printed at start")
                                .into());
                            }
                        }
                        None if yes => {}
                        None if std::io::stdin().is_terminal() => {
                            eprint!(
                                "Compare it with the fingerprint the server printed at start.\nTrust it? [y/N] "
                            );
                            let mut line = String::new();
                            std::io::stdin().read_line(&mut line)?;
                            if !matches!(line.trim(), "y" | "Y" | "yes") {
                                return Err(
                                    Failure::usage("not trusted; nothing was stored").into()
                                );
                            }
                        }
                        None => {
                            return Err(Failure::usage(
                                "cannot ask whether to trust the certificate: not a terminal",
                            )
                            .hint("pass --fingerprint FP (checked) or --yes (trust what is shown)")
                            .into());
                        }
                    }
                    (Some(seen), None)
                }
            };
            let profile = Profile {
                server,
                user,
                fingerprint,
                ca_file,
            };
            profiles.profiles.insert(name.clone(), profile.clone());
            let path = profiles.save()?;
            if args.json {
                println!("{}", json!({"name": name, "profile": profile}));
            } else {
                println!("added profile {name} to {}", path.display());
            }
        }
    }
    Ok(())
}

/// The certificate `server` presents, read on a connection that sends only a public request
/// (`GET /api/v1/health/state`, no credentials).
fn certificate_of(server: &str) -> anyhow::Result<Vec<u8>> {
    let seen = Arc::new(Mutex::new(None));
    let tls = tls_config(&Trust::Insecure, Some(seen.clone()))?;
    request_state(server, tls)?;
    let der = seen.lock().expect("not poisoned").take();
    der.ok_or_else(|| {
        Failure::new(Exit::Connect, format!("{server} presented no certificate")).into()
    })
}

fn contact(server: &str, trust: &Trust) -> anyhow::Result<()> {
    request_state(server, tls_config(trust, None)?)
}

fn request_state(server: &str, tls: rustls::ClientConfig) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        http.get(format!("{server}/api/v1/health/state"))
            .send()
            .await
            .map_err(|e| {
                Failure::new(
                    Exit::Connect,
                    format!("cannot reach {server}: {}", error_chain(&e)),
                )
                .hint("check the address and port, and that the server is running")
            })?;
        anyhow::Ok(())
    })
}
