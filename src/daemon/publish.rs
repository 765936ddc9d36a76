//! The instrument's own reports: status (lifecycle, the engine's state as it is now, survey
//! progress) and state of health, sent through the publisher.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rumqttc::QoS;

use super::Daemon;
use crate::acquisition::EngineState;

impl Daemon {
    pub(super) fn publish_status(&mut self) {
        self.refresh_status();
        let json = self.status.to_json();
        let topic = self.out.topics.status.clone();
        if self.out.publish(&topic, QoS::AtLeastOnce, true, json) {
            self.status_dirty = false;
            self.last_status = Instant::now();
        }
    }

    /// An engine state change came through the pump: the status says the engine's state as it
    /// is now (the event may be late), and goes out at once.
    pub(super) fn set_state(&mut self, _reported: EngineState) {
        self.refresh_status();
        self.publish_status();
    }

    /// Takes the engine's state and its wait for the storage as they are now (read from the
    /// engine's counters, not from events that may be waiting behind a slow storage).
    pub(super) fn refresh_status(&mut self) {
        let c = self.inst.engine.counters();
        let live = c.state().as_str();
        if live != self.status.state {
            self.status.state = live;
            self.status.since = crate::timestamp::rfc3339(std::time::SystemTime::now());
            self.status_dirty = true;
        }
        let since_ms = c.storage_wait_since_ms.load(Ordering::Relaxed);
        let wait = (since_ms > 0).then(|| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            (now_ms.saturating_sub(since_ms) as f64 / 100.0).round() / 10.0
        });
        if wait.is_some() != self.status.storage_wait_s.is_some() {
            self.status_dirty = true;
        }
        self.status.storage_wait_s = wait;
    }

    pub(super) fn publish_soh(&mut self) {
        let health = self.inst.engine.counters();
        let soh = crate::soh::Soh {
            time: crate::timestamp::rfc3339(std::time::SystemTime::now()),
            system: crate::soh::collect(&self.inst.data_dir),
            state: self.status.state.to_string(),
            broker: if self.out.link.is_connected() {
                "connected"
            } else {
                "disconnected"
            }
            .into(),
            outbox_depth: self.out.outbox.depth(),
            dropped_samples: health.dropped_samples.load(Ordering::Relaxed),
            dropped_events: health.dropped_events.load(Ordering::Relaxed),
            bus_errors: health.bus_errors.load(Ordering::Relaxed),
            storage_wait_s: self.status.storage_wait_s,
            storage_long_waits: health.storage_long_waits.load(Ordering::Relaxed),
            logs_dropped: self.out.logs_dropped + self.logs_queue_dropped.load(Ordering::Relaxed),
            supply_v: self.supply_v,
            battery_v: self.battery_v,
            simulated: self.config.hardware.simulate,
            version: env!("CARGO_PKG_VERSION"),
        };
        let json = serde_json::to_string(&soh).unwrap_or_default();
        let topic = self.out.topics.soh.clone();
        self.out
            .publish(&topic, QoS::AtLeastOnce, true, json.clone());
        if let Some(c) = &self.out.compat {
            let line = crate::messaging::compat::frame(
                std::time::SystemTime::now(),
                std::process::id(),
                &json,
            );
            let topic = c.soh.clone();
            self.out.publish(&topic, QoS::AtMostOnce, false, line);
        }
    }
}
