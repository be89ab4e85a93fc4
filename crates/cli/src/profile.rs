//! Profiles: named servers in a TOML file at the platform's config path
//! (`$XDG_CONFIG_HOME/strongroom/profiles.toml` on Linux), so a command needs no connection
//! flags. Nothing secret is stored: a server, a user and how to trust the server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::fail::Failure;

/// The file of every profile.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The certificate's SHA-256, `sha256:<hex>` (what `profile add` stores) or `AA:BB:...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A PEM file of CA certificates to verify the server against instead of a pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// Where the profiles are kept.
pub fn path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "strongroom")
        .context("no home directory to keep profiles in (set HOME or XDG_CONFIG_HOME)")?;
    Ok(dirs.config_dir().join("profiles.toml"))
}

impl Profiles {
    /// The profiles in the file; none if there is no file yet.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(&path()?)
    }

    fn load_from(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("reading the profiles in {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file whole (a temporary file renamed over it, so a crash leaves the old one).
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        let path = path()?;
        let dir = path.parent().expect("the file is in a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let next = path.with_extension("toml.next");
        std::fs::write(&next, toml::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", next.display()))?;
        std::fs::rename(&next, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The profile `name`; a usage failure naming the ones there are if it does not exist.
    pub fn get(&self, name: &str) -> Result<&Profile, Failure> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Failure::usage(format!("there is no profile {name:?}")).hint(if known.is_empty() {
                "there are no profiles yet: add one with `strongroom profile add NAME --server URL`"
                    .to_owned()
            } else {
                format!(
                    "the profiles are: {}; add one with `strongroom profile add`",
                    known.join(", ")
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_unknown_fields_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[profiles.lab]\nserver = \"https://h:8443\"\nfingerprint = \"sha256:00\"\n",
        )
        .unwrap();
        let p = Profiles::load_from(&file).unwrap();
        assert_eq!(p.profiles["lab"].server, "https://h:8443");
        assert_eq!(p.profiles["lab"].user, None);
        let f = p.get("nope").unwrap_err();
        assert!(f.hint.unwrap().contains("lab"));
        std::fs::write(&file, "[profiles.lab]\nserver = \"s\"\npassword = \"x\"\n").unwrap();
        assert!(Profiles::load_from(&file).is_err());
        assert!(
            Profiles::load_from(&dir.path().join("missing"))
                .unwrap()
                .profiles
                .is_empty()
        );
    }
}
