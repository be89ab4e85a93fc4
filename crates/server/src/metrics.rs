//! The server's counters, rendered as NetHSM's flat JSON (`GET /api/v1/metrics`) and as
//! Prometheus text (`GET /api/strongroom/v1/metrics`). See `docs/metrics.md`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::face::Face;

/// A counter's name and labels, e.g. `http_requests_total{face="nethsm",status_class="2xx"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
}

pub struct Metrics {
    started: Instant,
    counters: Mutex<BTreeMap<Series, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            counters: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Which face a path belongs to, for labels: the face's name, or `other`.
pub fn face_of(path: &str) -> &'static str {
    Face::of_path(path).map_or("other", Face::name)
}

impl Metrics {
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    fn add(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        let series = Series {
            name,
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        };
        *self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(series)
            .or_insert(0) += n;
    }

    pub fn record_request(&self, path: &str, status: u16, took: Duration) {
        self.record_request_of(face_of(path), status, took);
    }

    /// [`Self::record_request`] for a request whose face ([`face_of`]) is known.
    pub fn record_request_of(&self, face: &'static str, status: u16, took: Duration) {
        const CLASSES: [&str; 6] = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];
        let class = match CLASSES.get(usize::from(status / 100)) {
            Some(class) => std::borrow::Cow::Borrowed(*class),
            None => std::borrow::Cow::Owned(format!("{}xx", status / 100)),
        };
        self.inc(
            "http_requests_total",
            &[("face", face), ("status_class", &class)],
        );
        // A sum, not a histogram: with the request counts it gives the mean latency over any
        // interval between two readings, which is what the console's chart draws.
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.add(
            "http_request_duration_microseconds_total",
            &[("face", face)],
            micros,
        );
    }

    fn snapshot(&self) -> Vec<(Series, u64)> {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(s, v)| (s.clone(), *v))
            .collect()
    }

    /// NetHSM's shape: one flat object of string values; labels join the name with dots.
    pub fn to_flat_json(&self, state: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        out.insert(
            "uptime_seconds".into(),
            self.started.elapsed().as_secs().to_string().into(),
        );
        out.insert("state".into(), state.into());
        for (outcome, value) in crate::syslog::forwarder().counters.totals() {
            out.insert(
                format!("syslog_messages_total.{outcome}"),
                value.to_string().into(),
            );
        }
        for (series, value) in self.snapshot() {
            let mut key = series.name.to_owned();
            for (_, v) in &series.labels {
                key.push('.');
                key.push_str(v);
            }
            out.insert(key, value.to_string().into());
        }
        out
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn to_prometheus(&self, state: &str) -> String {
        let mut out = String::new();
        out.push_str("# TYPE strongroom_uptime_seconds gauge\n");
        out.push_str(&format!(
            "strongroom_uptime_seconds {}\n",
            self.started.elapsed().as_secs()
        ));
        out.push_str("# TYPE strongroom_state gauge\n");
        for s in ["Unprovisioned", "Locked", "Operational", "Failed"] {
            out.push_str(&format!(
                "strongroom_state{{state=\"{s}\"}} {}\n",
                u8::from(s == state)
            ));
        }
        out.push_str("# TYPE strongroom_syslog_messages_total counter\n");
        for (outcome, value) in crate::syslog::forwarder().counters.totals() {
            out.push_str(&format!(
                "strongroom_syslog_messages_total{{outcome=\"{outcome}\"}} {value}\n"
            ));
        }
        let mut last_name = "";
        for (series, value) in self.snapshot() {
            if series.name != last_name {
                out.push_str(&format!("# TYPE strongroom_{} counter\n", series.name));
                last_name = series.name;
            }
            let labels: Vec<String> = series
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            if labels.is_empty() {
                out.push_str(&format!("strongroom_{} {value}\n", series.name));
            } else {
                out.push_str(&format!(
                    "strongroom_{}{{{}}} {value}\n",
                    series.name,
                    labels.join(",")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_renderings_show_the_same_counters() {
        let m = Metrics::default();
        let ms = Duration::from_millis;
        m.record_request("/api/v1/health/state", 200, ms(2));
        m.record_request("/api/v1/health/state", 200, ms(3));
        m.record_request("/api/v1/lock", 401, ms(1));
        let json = m.to_flat_json("Operational");
        assert_eq!(json["http_requests_total.nethsm.2xx"], "2");
        assert_eq!(json["http_requests_total.nethsm.4xx"], "1");
        assert_eq!(
            json["http_request_duration_microseconds_total.nethsm"],
            "6000"
        );
        assert_eq!(json["state"], "Operational");
        assert!(json.values().all(|v| v.is_string()));
        let text = m.to_prometheus("Operational");
        assert!(
            text.contains(
                "strongroom_http_requests_total{face=\"nethsm\",status_class=\"2xx\"} 2\n"
            )
        );
        assert!(text.contains("strongroom_state{state=\"Operational\"} 1\n"));
        assert!(text.contains(
            "strongroom_http_request_duration_microseconds_total{face=\"nethsm\"} 6000\n"
        ));
        assert_eq!(
            text.matches("# TYPE strongroom_http_requests_total counter")
                .count(),
            1
        );
    }
}
