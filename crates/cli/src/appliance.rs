//! `strongroom appliance ...`: what the appliance face owns (`/api/rest/configure/v1`, the
//! VMware DR appliance's configuration API): a session is opened with the login user's
//! password (`POST /session`), used (`x-dr-session`), and closed. The face's errors
//! (`{"error_code", "message"}`) reach the user as its sentences, with their codes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::{Method, RequestBuilder};
use serde_json::json;
use zeroize::Zeroizing;

use crate::conn::Api;
use crate::fail::{Exit, Failure};
use crate::nethsm::{With, emit, safe, source};
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
}

pub fn run(w: With<ApplianceArgs>) -> anyhow::Result<()> {
    match &w.args.command {
        ApplianceCommand::Password { new_password_file } => {
            password(&w, new_password_file.as_deref())
        }
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
        let body = Zeroizing::new(
            json!({"username": user, "password": &*current, "new_password": &*new}).to_string(),
        );
        let req = session
            .request(Method::POST, "/appliance/settings/access/password")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.as_bytes().to_vec());
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
