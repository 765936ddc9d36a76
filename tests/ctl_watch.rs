//! `ohmpi ctl ... --watch` ends, with a clear error and a non-zero exit, when the instrument
//! goes offline (the real daemon SIGKILLed mid-run, its last will on a real Mosquitto), when it
//! is stopped with SIGTERM, and at --timeout.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Client_, Daemon};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const P: &str = "ohmpi/t1";

/// A running `ohmpi ctl run_sequence ... --watch` and where its end is reported.
struct Ctl {
    pid: u32,
    done: mpsc::Receiver<Output>,
}

impl Ctl {
    fn start(daemon: &Daemon, more: &[&str]) -> Ctl {
        let sequence: Vec<[u16; 4]> = (1..=29)
            .flat_map(|e| [[e, e + 3, e + 1, e + 2], [e + 3, e, e + 2, e + 1]])
            .collect();
        let child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
            .arg("--config")
            .arg(&daemon.config)
            .args(["ctl", "run_sequence", "nb_stack=1", "--watch"])
            .arg(format!(
                "sequence={}",
                serde_json::to_string(&sequence).unwrap()
            ))
            .args(more)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output().unwrap());
        });
        Ctl { pid, done }
    }

    /// Its output once it exits, within `within` of now; fails the test otherwise.
    fn ended(&self, within: Duration, what: &str) -> (Output, Duration) {
        let from = Instant::now();
        match self.done.recv_timeout(within) {
            Ok(o) => (o, from.elapsed()),
            Err(_) => {
                // SAFETY: our own child's pid.
                unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
                panic!("ctl --watch did not exit within {within:?} {what}");
            }
        }
    }
}

/// A daemon measuring a long run that `ctl --watch` follows (its first record is out).
fn running(dir: &std::path::Path, more: &[&str]) -> (Broker, Daemon, Client_, Ctl) {
    let broker = Broker::start(dir);
    let daemon = Daemon::start(dir, broker.port, "");
    let mut c = Client_::connect(broker.port, "test-watch", &[&format!("{P}/#")]);
    c.wait_for("online status", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    let ctl = Ctl::start(&daemon, more);
    c.wait_for("the first record", SECS(30), |m| {
        m.topic == format!("{P}/data")
    });
    (broker, daemon, c, ctl)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn watch_ends_when_the_instrument_goes_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, mut daemon, mut c, ctl) = running(dir.path(), &[]);
    daemon.kill();
    let (out, took) = ctl.ended(SECS(10), "after the daemon was killed");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("went offline"), "{err}");
    assert!(
        took < SECS(5),
        "exited {took:?} after the daemon was killed"
    );
    // It was the broker's will that told it, and the run was not over.
    let will = c.wait_for("the will", SECS(5), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == false
    });
    assert_eq!(will.json()["state"], "offline");
    assert!(
        !c.seen.iter().any(|m| m.json()["status"] == "done"),
        "the run ended before the daemon was killed"
    );
    eprintln!("ctl exited {took:?} after SIGKILL: {}", err.trim());
}

#[test]
fn watch_ends_on_sigterm_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, _daemon, mut c, ctl) = running(dir.path(), &[]);
    // SAFETY: our own child's pid.
    unsafe { libc::kill(ctl.pid as libc::pid_t, libc::SIGTERM) };
    let (out, took) = ctl.ended(SECS(5), "after SIGTERM");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    assert!(took < SECS(2), "exited {took:?} after SIGTERM");
    // The instrument measures on.
    let n = c.on(&format!("{P}/data")).len();
    c.wait_for("a later record", SECS(10), |m| {
        m.topic == format!("{P}/data")
    });
    c.drain(Duration::from_millis(300));
    assert!(c.on(&format!("{P}/data")).len() > n);
}

#[test]
fn watch_ends_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (_broker, _daemon, _c, ctl) = running(dir.path(), &["--timeout", "3"]);
    let (out, _) = ctl.ended(SECS(10), "after --timeout 3");
    let took = started.elapsed();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("did not end within 3 s"), "{err}");
    assert!(took < SECS(8), "{took:?}");
}

#[test]
fn the_help_gives_watch_a_default_timeout() {
    let o = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .args(["ctl", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("default 3600"), "{help}");
    assert!(help.contains("offline"), "{help}");
}
