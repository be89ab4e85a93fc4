//! What `GET /appliance` and `GET /appliance/disks` report beyond the version: how long the
//! server process has run, the fingerprint of the stored TLS certificate, and the file system
//! that holds the data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Core;
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Appliance;

/// How long this process has run: its start time (`/proc/self/stat`, in clock ticks since
/// boot) against the host's uptime (`/proc/uptime`). `None` where `/proc` does not say.
pub fn process_uptime() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_second <= 0 {
        return None;
    }
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let started = start_ticks as f64 / ticks_per_second as f64;
    Some(Duration::from_secs_f64((host_up - started).max(0.0)))
}

/// The file system holding a directory.
#[derive(Debug, Clone)]
pub struct DiskReport {
    /// The directory asked about.
    pub path: PathBuf,
    /// Where that file system is mounted, and from what (a device, or `overlay`, `tmpfs`...).
    pub mount_point: PathBuf,
    pub source: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
}

impl DiskReport {
    /// Used over total, in whole percent, rounded up so that a nearly full disk never reads
    /// as having room.
    pub fn used_percent(&self) -> u64 {
        if self.total_bytes == 0 {
            return 0;
        }
        (self.used_bytes * 100).div_ceil(self.total_bytes)
    }
}

/// Reads the file system holding `path` (statvfs, and `/proc/self/mountinfo` for its mount).
// statvfs's counts are 32 bits wide on some targets: the conversions are not useless there.
#[allow(clippy::useless_conversion)]
pub fn disk_of(path: &Path) -> Result<DiskReport> {
    let path = path
        .canonicalize()
        .map_err(|e| Error::Internal(format!("resolving {}: {e}", path.display())))?;
    let fs = nix::sys::statvfs::statvfs(&path)
        .map_err(|e| Error::Internal(format!("statvfs {}: {e}", path.display())))?;
    let unit = u64::from(fs.fragment_size());
    let total = u64::from(fs.blocks()) * unit;
    // Used as df counts it: all blocks less the free ones (root's reserve counts as free).
    let used = u64::from(fs.blocks().saturating_sub(fs.blocks_free())) * unit;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let (mount_point, fs_type, source) = mount_of(&mountinfo, &path).unwrap_or_else(|| {
        (
            PathBuf::from("/"),
            "unknown".to_owned(),
            "unknown".to_owned(),
        )
    });
    Ok(DiskReport {
        path,
        mount_point,
        source,
        fs_type,
        total_bytes: total,
        used_bytes: used,
    })
}

/// The mount (point, type, source) whose point is the longest prefix of `path`.
fn mount_of(mountinfo: &str, path: &Path) -> Option<(PathBuf, String, String)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = unescape(left.split_whitespace().nth(4)?);
            let mut r = right.split_whitespace();
            let fs_type = r.next()?.to_owned();
            let source = unescape(r.next()?);
            path.starts_with(&point)
                .then(|| (PathBuf::from(point), fs_type, source))
        })
        // The last of equally long ones is the one on top.
        .max_by_key(|(point, _, _)| point.components().count())
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Core {
    /// The SHA-256 fingerprint of the stored TLS certificate (the one served), without
    /// making one: `None` if none is stored or it does not open.
    pub fn stored_tls_fingerprint(&self) -> Option<String> {
        Some(self.stored_tls_identity().ok()??.fingerprint())
    }
}

impl Appliance<'_> {
    /// `GET /appliance/disks` (root Administrator): the file system of `data_dir`.
    pub fn disk(&self, data_dir: &Path) -> Result<DiskReport> {
        self.require(Access::RootAdministrator)?;
        disk_of(data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_mount_holds_the_path() {
        let info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /var/lib rw - tmpfs tmpfs rw\n\
                    31 22 0:6 / /var/lib\\040x rw - xfs /dev/sdb\\0401 rw\n";
        let (point, fs, source) = mount_of(info, Path::new("/var/lib/strongroom")).unwrap();
        assert_eq!(
            (point.to_str().unwrap(), &*fs, &*source),
            ("/var/lib", "tmpfs", "tmpfs")
        );
        let (point, _, source) = mount_of(info, Path::new("/var/lib x/d")).unwrap();
        assert_eq!(
            (point.to_str().unwrap(), &*source),
            ("/var/lib x", "/dev/sdb 1")
        );
        let (point, _, _) = mount_of(info, Path::new("/etc")).unwrap();
        assert_eq!(point, Path::new("/"));
    }

    #[test]
    fn this_directory_has_a_disk_and_the_process_an_uptime() {
        let d = disk_of(Path::new(".")).unwrap();
        assert!(d.total_bytes > 0 && d.used_bytes <= d.total_bytes, "{d:?}");
        assert!(d.used_percent() <= 100);
        assert!(process_uptime().is_some());
    }
}
