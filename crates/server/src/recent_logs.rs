//! The most recent log lines, kept in memory for support bundles and `/health/diagnose`: a
//! `tracing_subscriber` layer beside the one that writes the log, so it keeps exactly what
//! the log filter lets through (and, like the log, never a secret: secrets are never logged).
//! The buffer holds at most [`MAX_LINES`] lines of at most [`MAX_LINE_BYTES`] bytes each; the
//! oldest go first.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub const MAX_LINES: usize = 2000;
pub const MAX_LINE_BYTES: usize = 4096;

/// One kept log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    /// The whole line as the text log writes it: time, level, spans, target, message, fields.
    pub text: String,
    /// The event's message and fields alone.
    pub message: String,
}

/// The ring buffer.
#[derive(Debug, Default)]
pub struct RecentLogs {
    lines: Mutex<VecDeque<LogLine>>,
}

impl RecentLogs {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<LogLine>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, line: LogLine) {
        let mut lines = self.lock();
        if lines.len() >= MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Every kept line, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lock().iter().cloned().collect()
    }

    /// The kept lines at `level` or more severe (`WARN`: warnings and errors), oldest first.
    pub fn at_least(&self, level: Level) -> Vec<LogLine> {
        // In `tracing`, more severe levels compare as smaller.
        self.lock()
            .iter()
            .filter(|l| l.level <= level)
            .cloned()
            .collect()
    }

    /// A layer that feeds this buffer.
    pub fn layer(self: &Arc<Self>) -> RecentLogsLayer {
        RecentLogsLayer { logs: self.clone() }
    }
}

/// The process's buffer, the one [`crate::logging::init`] feeds.
pub fn global() -> Arc<RecentLogs> {
    static GLOBAL: OnceLock<Arc<RecentLogs>> = OnceLock::new();
    GLOBAL.get_or_init(Arc::default).clone()
}

/// Feeds a [`RecentLogs`].
pub struct RecentLogsLayer {
    logs: Arc<RecentLogs>,
}

/// A span's fields as text, kept in the span's extensions.
struct SpanFields(String);

/// Writes fields as ` name=value`, the message first and bare.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_LINE_BYTES {
        let mut at = MAX_LINE_BYTES;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push_str(" [...]");
    }
    s
}

impl<S> Layer<S> for RecentLogsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(text.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        values.record(&mut text);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(fields) => fields.0.push_str(&text.fields),
                None => ext.insert(SpanFields(text.fields)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        event.record(&mut text);
        let meta = event.metadata();
        let time = time::OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut line = format!("{time} {:>5} ", meta.level());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let ext = span.extensions();
                let fields = ext.get::<SpanFields>().map_or("", |f| f.0.trim_start());
                let _ = write!(line, "{}{{{fields}}}:", span.name());
            }
            line.push(' ');
        }
        let message = format!("{}{}", text.message, text.fields);
        let _ = write!(line, "{}: {message}", meta.target());
        self.logs.push(LogLine {
            level: *meta.level(),
            text: truncate(line),
            message: truncate(message),
        });
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn lines_are_kept_with_their_spans_and_fields_up_to_the_bound() {
        let logs = Arc::new(RecentLogs::default());
        let subscriber = tracing_subscriber::registry().with(logs.layer());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1");
            let _in = span.enter();
            tracing::warn!(user = "alice", "login refused");
            tracing::info!("fine");
            for i in 0..MAX_LINES {
                tracing::debug!(i, "filler");
            }
            tracing::error!("last");
        });
        let lines = logs.lines();
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines.last().unwrap().text.ends_with("last"));
        assert!(lines.iter().all(|l| !l.text.contains("login refused")));

        let logs = Arc::new(RecentLogs::default());
        let subscriber = tracing_subscriber::registry().with(logs.layer());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1");
            let _in = span.enter();
            tracing::warn!(user = "alice", "login refused");
            tracing::info!("fine");
        });
        let warned = logs.at_least(Level::WARN);
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].message, "login refused user=\"alice\"");
        assert!(
            warned[0]
                .text
                .contains("WARN request{request_id=\"r-1\"}: "),
            "{}",
            warned[0].text
        );
        assert_eq!(logs.lines().len(), 2);
    }

    #[test]
    fn long_lines_are_cut() {
        let cut = truncate("é".repeat(MAX_LINE_BYTES));
        assert!(cut.len() <= MAX_LINE_BYTES + 6);
        assert!(cut.ends_with(" [...]"));
    }
}
