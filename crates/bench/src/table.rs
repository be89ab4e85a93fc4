//! The one table of a run: every phase's req/s, p50 and p99, and its ratio to the phase it is
//! compared with (its baseline), measured in the same run.

use crate::phase::{Report, micros};

/// A phase and the phase it is compared with, by [`Report::name`].
pub struct Baseline {
    pub phase: String,
    pub baseline: String,
}

impl Baseline {
    pub fn new(phase: impl Into<String>, baseline: impl Into<String>) -> Self {
        Self {
            phase: phase.into(),
            baseline: baseline.into(),
        }
    }
}

/// Prints one Markdown table of `reports`, in their order; a phase without an entry in
/// `baselines` is a baseline itself (or compared with nothing) and shows `-`.
pub fn print(reports: &[Report], baselines: &[Baseline]) {
    println!();
    println!(
        "summary: every phase of this run (ratio: req/s over its baseline's req/s; CPU: \
         microseconds of CPU time per request, the server's and the bench's own as the client)"
    );
    println!();
    println!(
        "| phase | req/s | p50 ms | p99 ms | ratio | baseline | server CPU us | bench CPU us |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for report in reports {
        let base = baselines
            .iter()
            .find(|b| b.phase == report.name)
            .and_then(|b| reports.iter().find(|r| r.name == b.baseline));
        let (ratio, base_name) = match base {
            Some(base) if base.rate() > 0.0 => (
                format!("{:.2}", report.rate() / base.rate()),
                short(&base.name),
            ),
            Some(base) => ("n/a".to_owned(), short(&base.name)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let cpu = report.cpu_per_request();
        println!(
            "| {} | {:.0} | {} | {} | {ratio} | {base_name} | {} | {} |",
            report.name,
            report.rate(),
            ms(report.percentile(0.50)),
            ms(report.percentile(0.99)),
            micros(cpu.and_then(|(_, server)| server)),
            micros(cpu.map(|(bench, _)| bench)),
        );
    }
}

/// A phase's tag, e.g. `C` for `C (Operational)`.
fn short(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_owned()
}

fn ms(d: Option<std::time::Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.2}", d.as_secs_f64() * 1000.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(short("C (Operational)"), "C");
        assert_eq!(short("N"), "N");
    }
}
