//! Resident memory of the server process, from `/proc/<pid>/status` (Linux).
//!
//! `VmRSS` is the resident set now; `VmHWM` its peak ("high water mark") over the life of the
//! process, not over one request. To get the peak of one step, [`reset_peak`] sets the mark
//! back to the current resident set just before it (`echo 5 > /proc/<pid>/clear_refs`, Linux
//! 4.0 and later, allowed for our own child). If that fails, the peak read afterwards is the
//! lifetime peak, and the report says so.

use std::fmt;

/// One reading of a process's memory, in KiB as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: peak resident since the process started, or since the last [`reset_peak`].
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
pub fn read(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    parse(&status).ok_or_else(|| anyhow::anyhow!("{path}: no VmRSS/VmHWM lines"))
}

/// Reads `pid`'s memory, or `None` (with a note on stderr) where `/proc` cannot tell.
pub fn try_read(pid: u32) -> Option<Memory> {
    match read(pid) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("[bench] cannot read the server's memory: {e:#}");
            None
        }
    }
}

/// Sets `pid`'s `VmHWM` back to its current `VmRSS`. Returns whether that worked.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text (`VmHWM:\t  1234 kB`).
fn parse(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let mut words = rest.split_whitespace();
            let value = words.next()?.parse::<u64>().ok()?;
            (words.next() == Some("kB")).then_some(value)
        })
    };
    Some(Memory {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
    })
}

/// KiB as MiB with one decimal.
pub struct Mib(pub u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} MiB", self.0 as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let status = "Name:\tstrongroom\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\n\
                      VmRSS:\t   40960 kB\nVmRSSx:\t1 kB\nThreads:\t5\n";
        assert_eq!(
            parse(status),
            Some(Memory {
                rss_kib: 40960,
                hwm_kib: 51234
            })
        );
        assert_eq!(parse("VmRSS:\t1 kB\n"), None);
        assert_eq!(parse("VmRSS:\tx kB\nVmHWM:\t2 kB\n"), None);
    }

    #[test]
    fn reads_our_own_process() {
        let m = read(std::process::id()).expect("/proc/self/status");
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib);
    }

    #[test]
    fn mib_format() {
        assert_eq!(Mib(1536).to_string(), "1.5 MiB");
    }
}
