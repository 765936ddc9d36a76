//! The daemon under a service manager: the unit file verifies, READY=1 and watchdog pings reach
//! $NOTIFY_SOCKET, and a hung acquisition thread stops the pings (so systemd restarts it).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::Broker;

/// Starts `ohmpi run` with a notify socket and a 1 s watchdog; `sim_extra` goes in `[sim]`.
fn start(dir: &Path, port: u16, sim_extra: &str) -> (Child, UnixDatagram) {
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = dir.join("ohmpi.toml");
    std::fs::write(
        &config,
        format!(
            "[instrument]\nid = \"sd1\"\ndata_dir = \"{}\"\n\
             [hardware]\nsystem = \"mb_2024_1_X__4_mux_2024_batt\"\n\
             [acquisition]\nrt_priority = 0\n\
             [sim]\n{sim_extra}\n\
             [mqtt]\nport = {port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, socket)
}

/// Every datagram received until `until`, with its arrival time.
fn collect(socket: &UnixDatagram, until: Instant) -> Vec<(Instant, String)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < until {
        if let Ok(n) = socket.recv(&mut buf) {
            out.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    }
    out
}

fn wait_ready(socket: &UnixDatagram) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains("READY=1") {
                return Instant::now();
            }
        }
    }
    panic!("no READY=1 from the daemon within 30 s");
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

#[test]
fn ready_then_watchdog_pings_while_the_engine_lives() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (child, socket) = start(dir.path(), broker.port, "");
    let ready = wait_ready(&socket);
    let got = collect(&socket, ready + Duration::from_secs(3));
    stop(child);
    let pings = got.iter().filter(|(_, m)| m == "WATCHDOG=1\n").count();
    // One every 0.5 s (half the 1 s watchdog): about 6 in 3 s.
    assert!(pings >= 4, "{pings} pings in 3 s: {got:?}");
}

#[test]
fn a_hung_acquisition_thread_stops_the_pings() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (child, socket) = start(dir.path(), broker.port, "hang_after_s = 2.0");
    let ready = wait_ready(&socket);
    let got = collect(&socket, ready + Duration::from_secs(10));
    stop(child);
    let pings: Vec<Instant> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1\n")
        .map(|(t, _)| *t)
        .collect();
    assert!(!pings.is_empty(), "no ping before the hang: {got:?}");
    // The boards hang at the engine's first board command 2 s after start: its health reading
    // at 5 s when idle. The last ping may come up to a period (0.5 s) after that; the rest of
    // the 10 s window must be silent.
    let last = *pings.last().unwrap();
    assert!(pings.len() >= 4, "{} pings before the hang", pings.len());
    assert!(
        last < ready + Duration::from_secs(7),
        "pings went on {:?} after READY while the engine was hung",
        last - ready
    );
}

#[test]
fn the_unit_file_verifies() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/ohmpi.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/ohmpi run"));
    // The packaged binary's path, replaced by the one just built (verify checks it exists).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ohmpi.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/ohmpi", env!("CARGO_BIN_EXE_ohmpi")),
    )
    .unwrap();
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (package systemd; .ci/run installs it)");
    assert!(
        o.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
