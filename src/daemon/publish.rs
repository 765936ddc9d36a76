//! What the daemon publishes on its own: status, state of health, log events, errors, and the
//! OhmPi dialect's data lines.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rumqttc::QoS;

use super::Daemon;
use crate::acquisition::EngineState;
use crate::telemetry::LogEvent;

impl Daemon {
    pub(super) fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: String) -> bool {
        self.to_web(topic, &payload);
        self.link.publish(topic, qos, retain, payload, None).is_ok()
    }

    /// A body on the OhmPi dialect's data topic, framed as its log line (when the dialect is on).
    pub(super) fn publish_compat_data(&mut self, body: &serde_json::Value) {
        if let Some(c) = &self.compat {
            let line = crate::messaging::compat::data_payload(
                std::time::SystemTime::now(),
                std::process::id(),
                body,
            );
            let topic = c.data.clone();
            self.publish(&topic, QoS::AtLeastOnce, false, line);
        }
    }

    pub(super) fn publish_status(&mut self) {
        let json = self.status.to_json();
        let topic = self.topics.status.clone();
        if self.publish(&topic, QoS::AtLeastOnce, true, json) {
            self.status_dirty = false;
            self.last_status = Instant::now();
        }
    }

    pub(super) fn set_state(&mut self, state: EngineState) {
        self.status.state = state.as_str();
        self.status.since = crate::timestamp::rfc3339(std::time::SystemTime::now());
        self.status_dirty = true;
        // State changes go out at once.
        self.publish_status();
    }

    pub(super) fn on_log(&mut self, log: LogEvent) {
        let (start, count) = &mut self.log_window;
        if start.elapsed() >= Duration::from_secs(1) {
            *start = Instant::now();
            *count = 0;
        }
        if *count >= self.config.mqtt.log_rate_per_s {
            self.logs_dropped += 1;
            return;
        }
        *count += 1;
        let json = serde_json::to_string(&log).unwrap_or_default();
        let topic = self.topics.log.clone();
        self.publish(&topic, QoS::AtMostOnce, false, json);
        if let Some(c) = &self.compat {
            let level = log.level.parse().unwrap_or(tracing::Level::INFO);
            let line = crate::messaging::compat::frame_level(
                std::time::SystemTime::now(),
                std::process::id(),
                level,
                &log.message,
            );
            let topic = c.exec.clone();
            self.publish(&topic, QoS::AtMostOnce, false, line);
        }
    }

    pub(super) fn publish_soh(&mut self) {
        let health = self.inst.engine.counters();
        let soh = crate::soh::Soh {
            time: crate::timestamp::rfc3339(std::time::SystemTime::now()),
            system: crate::soh::collect(&self.inst.data_dir),
            state: self.status.state.to_string(),
            broker: if self.link.is_connected() {
                "connected"
            } else {
                "disconnected"
            }
            .into(),
            outbox_depth: self.outbox.depth(),
            dropped_samples: health.dropped_samples.load(Ordering::Relaxed),
            dropped_events: health.dropped_events.load(Ordering::Relaxed),
            bus_errors: health.bus_errors.load(Ordering::Relaxed),
            logs_dropped: self.logs_dropped + self.logs_queue_dropped.load(Ordering::Relaxed),
            supply_v: self.supply_v,
            battery_v: self.battery_v,
            simulated: self.config.hardware.simulate,
            version: env!("CARGO_PKG_VERSION"),
        };
        let json = serde_json::to_string(&soh).unwrap_or_default();
        let topic = self.topics.soh.clone();
        self.publish(&topic, QoS::AtLeastOnce, true, json.clone());
        if let Some(c) = &self.compat {
            let line = crate::messaging::compat::frame(
                std::time::SystemTime::now(),
                std::process::id(),
                &json,
            );
            let topic = c.soh.clone();
            self.publish(&topic, QoS::AtMostOnce, false, line);
        }
    }

    pub(super) fn publish_error(&mut self, module: &str, description: &str) {
        let body = serde_json::json!({
            "module": module,
            "datetime": crate::timestamp::rfc3339(std::time::SystemTime::now()),
            "level": "error",
            "description": description,
        });
        let topic = self.topics.events_error.clone();
        self.publish(&topic, QoS::AtLeastOnce, false, body.to_string());
    }
}
