//! `strongroom audit ...` and `strongroom metrics`: the audit trail through Strongroom's own
//! API (`GET /audit` pages, `GET /audit/verify`, as the root Administrator; docs/admin-api.md),
//! and the counters: raw Prometheus text from the own API's `GET /metrics`, or the NetHSM
//! face's `GET /metrics` JSON as a table (as a Metrics user).

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use strongroom_proto::audit::{AuditEvent, AuditPage, ChainReport};

use crate::conn::Api;
use crate::fail::{Exit, Failure};
use crate::nethsm::{With, emit, safe, table};

const OWN_API: &str = "/api/strongroom/v1";

/// The most events one page of `GET /audit` holds.
const PAGE: usize = 1000;

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// List events, oldest first: those after --after, at most --limit of them, that pass
    /// every filter given.
    List {
        /// Only events after this sequence number.
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: u64,
        /// At most this many events [default: 100; 0 for all].
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
        /// Only events of this user (`-` for events without one).
        #[arg(long, value_name = "USER")]
        actor: Option<String>,
        /// Only events of this face: nethsm, appliance, backup-client, strongroom.
        #[arg(long, value_name = "FACE")]
        face: Option<String>,
        /// Only events of this outcome: success, failure, denied, allowed, ...
        #[arg(long, value_name = "OUTCOME")]
        outcome: Option<String>,
        /// Only events whose action contains this text (e.g. `/keys`, `restore decision`).
        #[arg(long, value_name = "TEXT")]
        action: Option<String>,
        /// Only events at or after this time (RFC 3339, the appliance clock).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Walk the whole chain: exit 0 if it verifies, 1 (with where it breaks) if not.
    Verify,
}

struct Filters {
    actor: Option<String>,
    face: Option<String>,
    outcome: Option<String>,
    action: Option<String>,
    since: Option<time::OffsetDateTime>,
}

impl Filters {
    fn pass(&self, e: &AuditEvent) -> bool {
        let actor = e.actor.as_deref().unwrap_or("-");
        self.actor.as_deref().is_none_or(|a| a == actor)
            && self.face.as_deref().is_none_or(|f| f == e.face)
            && self.outcome.as_deref().is_none_or(|o| o == e.outcome)
            && self.action.as_deref().is_none_or(|a| e.action.contains(a))
            && self.since.is_none_or(|since| {
                time::OffsetDateTime::parse(&e.time, &Rfc3339).is_ok_and(|t| t >= since)
            })
    }
}

use time::format_description::well_known::Rfc3339;

pub fn audit(w: With<AuditArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    match &w.args.command {
        AuditCommand::List {
            after,
            limit,
            actor,
            face,
            outcome,
            action,
            since,
        } => {
            let since = match since {
                Some(t) => Some(time::OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
                    Failure::usage(format!("--since {t:?}: {e}"))
                        .hint("give a time as RFC 3339, e.g. 2026-11-30T08:00:00Z")
                })?),
                None => None,
            };
            let filters = Filters {
                actor: actor.clone(),
                face: face.clone(),
                outcome: outcome.clone(),
                action: action.clone(),
                since,
            };
            let api = opts.api()?;
            let (events, unreadable) =
                api.runtime.block_on(list(&api, *after, *limit, &filters))?;
            let value = json!({"events": events, "unreadable": unreadable});
            emit(opts, value, || {
                let mut out = if events.is_empty() {
                    "no events\n".to_owned()
                } else {
                    let rows = events.iter().map(|e| {
                        [
                            e.seq.to_string(),
                            e.time.clone(),
                            e.actor.clone().unwrap_or_default(),
                            e.face.clone(),
                            e.outcome.clone(),
                            e.status.map(|s| s.to_string()).unwrap_or_default(),
                            match e.count {
                                Some(n) => format!("{} (x{n})", e.action),
                                None => e.action.clone(),
                            },
                            e.target.clone(),
                        ]
                    });
                    table(
                        &[
                            "SEQ", "TIME", "ACTOR", "FACE", "OUTCOME", "STATUS", "ACTION", "TARGET",
                        ],
                        rows,
                    )
                };
                if !unreadable.is_empty() {
                    out.push_str(&format!(
                        "UNREADABLE (failed authentication, see `strongroom audit verify`): {}\n",
                        unreadable
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                out
            });
            Ok(())
        }
        AuditCommand::Verify => {
            let api = opts.api()?;
            let report: ChainReport = api.runtime.block_on(async {
                let req = api.authed_at_root(Method::GET, &format!("{OWN_API}/audit/verify"))?;
                let v = api.json(req, "verifying the audit trail").await?;
                anyhow::Ok(serde_json::from_value(v)?)
            })?;
            let value = serde_json::to_value(&report)?;
            emit(opts, value, || {
                let pruned = report
                    .pruned_through
                    .map(|p| format!(" (after event {p}, the last pruned)"))
                    .unwrap_or_default();
                if report.verified {
                    format!("verified: {} events{pruned}\n", report.events)
                } else {
                    format!(
                        "NOT verified: {} events verified{pruned}, then the chain breaks{}: {}\n",
                        report.events,
                        report
                            .broken_at
                            .map(|b| format!(" at event {b}"))
                            .unwrap_or_default(),
                        safe(report.reason.as_deref().unwrap_or("no reason given"))
                    )
                }
            });
            if !report.verified {
                // The report is printed; the status is for scripts.
                std::process::exit(Exit::Other as i32);
            }
            Ok(())
        }
    }
}

/// The events after `after` that pass `filters`, page by page, until `limit` of them (0: all).
async fn list(
    api: &Api,
    mut after: u64,
    limit: usize,
    filters: &Filters,
) -> anyhow::Result<(Vec<AuditEvent>, Vec<u64>)> {
    let mut events = Vec::new();
    let mut unreadable = Vec::new();
    loop {
        let path = format!("{OWN_API}/audit?after={after}&limit={PAGE}");
        let req = api.authed_at_root(Method::GET, &path)?;
        let v = api.json(req, "reading the audit trail").await?;
        let page: AuditPage = serde_json::from_value(v)?;
        unreadable.extend(page.unreadable);
        for e in page.events {
            if filters.pass(&e) {
                events.push(e);
                if limit != 0 && events.len() == limit {
                    return Ok((events, unreadable));
                }
            }
        }
        match page.next {
            Some(next) if next > after => after = next,
            _ => return Ok((events, unreadable)),
        }
    }
}

#[derive(Args)]
pub struct MetricsArgs {
    /// Print the Prometheus text format as the server serves it (the own API's
    /// `/metrics`), for a scraper or `grep`.
    #[arg(long, conflicts_with = "json")]
    prometheus: bool,
}

pub fn metrics(w: With<MetricsArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    let api = opts.api()?;
    api.runtime.block_on(async {
        if w.args.prometheus {
            let req = api
                .authed_at_root(Method::GET, &format!("{OWN_API}/metrics"))?
                .header(reqwest::header::ACCEPT, "text/plain");
            let resp = api.send(req, "reading the metrics").await?;
            let text = resp.text().await.map_err(|e| api.transport(e))?;
            print!("{text}");
            return Ok(());
        }
        let v = api
            .json(api.authed(Method::GET, "/metrics")?, "reading the metrics")
            .await?;
        let Value::Object(map) = &v else {
            anyhow::bail!("the server's metrics are not a JSON object: {v}");
        };
        emit(opts, v.clone(), || {
            let mut rows: Vec<[String; 2]> = map
                .iter()
                .map(|(k, v)| {
                    [
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    ]
                })
                .collect();
            rows.sort();
            table(&["METRIC", "VALUE"], rows.into_iter())
        });
        Ok(())
    })
}
