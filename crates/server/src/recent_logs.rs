//! The most recent log lines, kept in memory for support bundles and `/health/diagnose`,
//! exactly as the text log writes them, so they hold what the log filter lets through (and,
//! like the log, never a secret: secrets are never logged). The buffer holds at most
//! [`MAX_LINES`] lines of at most [`MAX_LINE_BYTES`] bytes each; the oldest go first.
//!
//! The text log's own formatter fills it: where the log is plain text on stderr, the line it
//! formats is written to stderr and copied here ([`RecentLogs::stderr_and_buffer`]), so each
//! line is formatted once (a profile of `GET /health/state` showed a second formatting of the
//! same line, by a layer of its own, as a tenth of the server's work). Where the log is JSON or
//! coloured, a second, plain text formatter feeds the buffer alone ([`RecentLogs::layer`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

pub const MAX_LINES: usize = 2000;
pub const MAX_LINE_BYTES: usize = 4096;

/// One kept log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    /// The whole line as the text log writes it: time, level, spans, target, message, fields.
    pub text: String,
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

    /// The writer for a plain text `fmt` layer whose lines go to stderr and into this buffer.
    pub fn stderr_and_buffer(self: &Arc<Self>) -> LineSink {
        LineSink {
            logs: self.clone(),
            stderr: true,
        }
    }

    /// A plain text `fmt` layer that feeds this buffer alone, beside a log written in
    /// another form (JSON, or coloured for a terminal).
    pub fn layer<S>(self: &Arc<Self>) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(PlainFields::default())
            .with_writer(LineSink {
                logs: self.clone(),
                stderr: false,
            })
    }
}

/// The process's buffer, the one [`crate::logging::init`] feeds.
pub fn global() -> Arc<RecentLogs> {
    static GLOBAL: OnceLock<Arc<RecentLogs>> = OnceLock::new();
    GLOBAL.get_or_init(Arc::default).clone()
}

/// The default field formatting under a type of its own: `fmt` layers keep a span's
/// formatted fields in its extensions by formatter type, so the buffer's plain layer must not
/// share (and append its fields to) those of a coloured or JSON layer beside it.
#[derive(Default)]
pub struct PlainFields(DefaultFields);

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

/// Where a `fmt` layer writes: stderr (or not) and the buffer.
pub struct LineSink {
    logs: Arc<RecentLogs>,
    stderr: bool,
}

impl<'a> MakeWriter<'a> for LineSink {
    type Writer = LineWriter<'a>;

    /// `fmt` always says which event it writes ([`Self::make_writer_for`]); a line written
    /// without saying is kept as `INFO`.
    fn make_writer(&'a self) -> LineWriter<'a> {
        self.writer(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter<'a> {
        self.writer(*meta.level())
    }
}

impl LineSink {
    fn writer(&self, level: Level) -> LineWriter<'_> {
        LineWriter {
            sink: self,
            level,
            line: Vec::new(),
        }
    }
}

/// One event's line: written through to stderr as it comes (the line reaches the log before
/// the response completes), kept when the event is done.
pub struct LineWriter<'a> {
    sink: &'a LineSink,
    level: Level,
    line: Vec<u8>,
}

impl std::io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.sink.stderr {
            std::io::stderr().write_all(buf)?;
        }
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        let mut line = std::mem::take(&mut self.line);
        while line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.is_empty() {
            return;
        }
        let text = match String::from_utf8(line) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        self.sink.logs.push(LogLine {
            level: self.level,
            text: truncate(text),
        });
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

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
        assert!(
            warned[0]
                .text
                .contains("WARN request{request_id=\"r-1\"}: "),
            "{}",
            warned[0].text
        );
        assert!(
            warned[0].text.ends_with(": login refused user=\"alice\""),
            "{}",
            warned[0].text
        );
        assert_eq!(logs.lines().len(), 2);
    }

    #[test]
    fn a_span_field_recorded_later_is_kept_once_beside_a_log_of_another_form() {
        // The coloured stderr layer and the buffer's plain one each keep their own span
        // fields: a field recorded after the span opened is in each once.
        let logs = Arc::new(RecentLogs::default());
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(true)
                    .with_writer(std::io::sink),
            )
            .with(logs.layer());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", id = 1, path = tracing::field::Empty);
            span.record("path", "/x");
            span.in_scope(|| tracing::info!("done"));
        });
        let lines = logs.lines();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].text.contains(" INFO request{id=1 path=\"/x\"}: "),
            "{}",
            lines[0].text
        );
        assert!(!lines[0].text.contains('\u{1b}'), "{}", lines[0].text);
    }

    #[test]
    fn the_stderr_writer_keeps_each_line_without_its_newline() {
        let logs = Arc::new(RecentLogs::default());
        let sink = LineSink {
            logs: logs.clone(),
            stderr: false,
        };
        {
            let mut w = sink.writer(Level::WARN);
            w.write_all(b"part one, ").unwrap();
            w.write_all(b"part two\n").unwrap();
        }
        drop(sink.writer(Level::INFO));
        assert_eq!(
            logs.lines(),
            [LogLine {
                level: Level::WARN,
                text: "part one, part two".into()
            }]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let cut = truncate("é".repeat(MAX_LINE_BYTES));
        assert!(cut.len() <= MAX_LINE_BYTES + 6);
        assert!(cut.ends_with(" [...]"));
    }
}
