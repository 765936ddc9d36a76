//! Log events for the wire: a tracing layer that turns each event at or above a level into a
//! [`LogEvent`] and hands it over a bounded channel without ever waiting (a full channel drops
//! the event and counts it), so a log storm cannot slow anything down. And the format of the
//! logs on stderr: colours only on a terminal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// One log event as published on `log` (protocol.md).
#[derive(Debug, Clone, Serialize)]
pub struct LogEvent {
    pub time: String,
    pub level: String,
    pub target: String,
    pub message: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// The layer; events go to the receiver returned by [`channel_layer`].
pub struct ChannelLayer {
    level: Level,
    tx: tokio::sync::mpsc::Sender<LogEvent>,
    dropped: Arc<AtomicU64>,
}

/// A layer passing events at `level` or more severe, the receiving end, and the drop counter.
pub fn channel_layer(
    level: Level,
    capacity: usize,
) -> (
    ChannelLayer,
    tokio::sync::mpsc::Receiver<LogEvent>,
    Arc<AtomicU64>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        ChannelLayer {
            level,
            tx,
            dropped: Arc::clone(&dropped),
        },
        rx,
        dropped,
    )
}

/// Whether the logs on stderr may hold ANSI colour codes: only when stderr is a terminal (not
/// the journal, a file or a pipe, where the escape codes would be noise).
pub fn stderr_colours() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// The human-readable log layer on stderr: no target, colours only on a terminal.
pub fn stderr_layer<S>() -> tracing_subscriber::fmt::Layer<
    S,
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format,
    fn() -> std::io::Stderr,
>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr as fn() -> std::io::Stderr)
        .with_target(false)
        .with_ansi(stderr_colours())
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().into(), text.into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.insert(field.name().into(), value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().into(), value.into());
    }
}

impl<S: Subscriber> Layer<S> for ChannelLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Level ordering in tracing: ERROR < WARN < ... < TRACE by verbosity.
        if *meta.level() > self.level {
            return;
        }
        // Events of the MQTT client itself would feed back into the link.
        if meta.target().starts_with("rumqtt") {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let log = LogEvent {
            time: crate::timestamp::rfc3339(std::time::SystemTime::now()),
            level: meta.level().as_str().to_ascii_lowercase(),
            target: meta.target().to_string(),
            message: f.message,
            fields: f.fields,
        };
        if self.tx.try_send(log).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn events_become_log_messages_and_a_full_channel_drops() {
        let (layer, mut rx, dropped) = channel_layer(Level::INFO, 2);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(quad = "1 4 2 3", rhoa = 99.5, "measured");
            tracing::debug!("too verbose");
            tracing::warn!("second");
            tracing::error!("third, dropped");
        });
        let first = rx.try_recv().unwrap();
        assert_eq!(first.level, "info");
        assert_eq!(first.message, "measured");
        assert_eq!(first.fields["quad"], "1 4 2 3");
        assert_eq!(first.fields["rhoa"], 99.5);
        assert_eq!(rx.try_recv().unwrap().message, "second");
        assert!(rx.try_recv().is_err());
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
    }
}
