//! The service manager's notification protocol (systemd `Type=notify`): `READY=1` once the
//! daemon is up, `STOPPING=1` on the way out, and `WATCHDOG=1` pings that depend on the
//! acquisition thread being alive — a hung engine stops the pings, and systemd restarts the
//! service after `WatchdogSec`.
//!
//! Datagrams go to `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket); the watchdog
//! period is `$WATCHDOG_USEC` (for this process only, when `$WATCHDOG_PID` names it). With no
//! `$NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// A connection to the service manager, or nothing when there is none.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// Ping period: half the watchdog time-out, as systemd advises.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
    /// Engine heartbeat at the last ping.
    last_beat: Option<u64>,
}

impl Notifier {
    /// From the environment systemd gives the service.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Self::new(
            socket.as_deref().and_then(|s| s.to_str()),
            usec.as_deref(),
            pid.as_deref(),
        )
    }

    fn new(socket: Option<&str>, watchdog_usec: Option<&str>, watchdog_pid: Option<&str>) -> Self {
        let target = socket.and_then(|path| {
            let addr = if let Some(name) = path.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name.as_bytes()).ok()?
            } else {
                SocketAddr::from_pathname(path).ok()?
            };
            let socket = UnixDatagram::unbound().ok()?;
            Some((socket, addr))
        });
        let ours = watchdog_pid.is_none_or(|p| p.trim() == std::process::id().to_string());
        let ping_every = watchdog_usec
            .filter(|_| ours)
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0)
            .map(|u| Duration::from_micros(u) / 2);
        Self {
            target,
            ping_every,
            last_ping: None,
            last_beat: None,
        }
    }

    /// Whether a service manager listens.
    pub fn active(&self) -> bool {
        self.target.is_some()
    }

    /// The watchdog ping period, when the service has a watchdog.
    pub fn ping_every(&self) -> Option<Duration> {
        self.ping_every
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(e) = socket.send_to_addr(message.as_bytes(), addr) {
                tracing::warn!("cannot notify the service manager: {e}");
            }
        }
    }

    /// The daemon is up: hardware open, first broker connection under way.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}\n"));
    }

    /// A line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}\n"));
    }

    /// The daemon is stopping.
    pub fn stopping(&self) {
        self.send("STOPPING=1\n");
    }

    /// Called often (every few hundred ms): pings the watchdog when a period has passed and the
    /// acquisition thread's heartbeat moved since the last ping. A stalled heartbeat means no
    /// ping, so systemd restarts the service. Returns whether it pinged.
    pub fn tick(&mut self, heartbeat: u64) -> bool {
        let Some(every) = self.ping_every else {
            return false;
        };
        if self.last_ping.is_some_and(|t| t.elapsed() < every) {
            return false;
        }
        if self.last_beat == Some(heartbeat) {
            if self.last_ping.is_some() {
                tracing::error!(
                    "the acquisition thread has not moved for {every:?}: no watchdog ping"
                );
            }
            // Checked again at the next tick.
            self.last_ping = Some(Instant::now());
            return false;
        }
        self.last_beat = Some(heartbeat);
        self.last_ping = Some(Instant::now());
        self.send("WATCHDOG=1\n");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_and_pings_follow_the_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut n = Notifier::new(Some(path.to_str().unwrap()), Some("20000"), None);
        assert!(n.active());
        assert_eq!(n.ping_every(), Some(Duration::from_millis(10)));
        n.ready("measuring");
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=measuring\n");
        assert!(n.tick(1));
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1\n");
        // Too early for the next ping.
        assert!(!n.tick(2));
        std::thread::sleep(Duration::from_millis(15));
        assert!(n.tick(2));
        std::thread::sleep(Duration::from_millis(15));
        // The heartbeat did not move: no ping.
        assert!(!n.tick(2));
        std::thread::sleep(Duration::from_millis(15));
        assert!(!n.tick(2));
    }

    #[test]
    fn without_a_service_manager_nothing_happens() {
        let n = Notifier::new(None, Some("20000"), None);
        assert!(!n.active());
        n.ready("x");
        // Another process's watchdog is not ours.
        let n = Notifier::new(Some("/nonexistent"), Some("20000"), Some("1"));
        assert_eq!(n.ping_every(), None);
        let _ = n;
    }
}
