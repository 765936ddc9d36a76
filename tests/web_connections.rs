//! Connections that cannot hurt the instrument: a flood of idle connections to the dashboard of
//! the real daemon (simulator, real Mosquitto) while it measures. The daemon runs with the usual
//! open-file limit (soft 1024): the connections' bound (web.max_connections) is what keeps its
//! descriptors for the survey, and connections that send no token are closed after a few
//! seconds.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker, Client_, Msg};
use common::ws::{add_token, connect, wait};
use serde_json::json;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const P: &str = "ohmpi/t1";
/// Idle connections opened while the survey runs.
const IDLE: usize = 2000;
/// The daemon's soft open-file limit, as on a system's default.
const DAEMON_NOFILE: libc::rlim_t = 1024;

struct Daemon(Child, std::path::PathBuf);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!(
                "daemon log:\n{}",
                std::fs::read_to_string(&self.1).unwrap_or_default()
            );
        }
    }
}

/// The daemon with its dashboard on `web_port` and a soft open-file limit of
/// [`DAEMON_NOFILE`] (never more than the test's own).
fn start_daemon(dir: &std::path::Path, mqtt_port: u16, web_port: u16) -> Daemon {
    let config = dir.join("ohmpi.toml");
    std::fs::write(
        &config,
        format!(
            "[instrument]\nid = \"t1\"\ndata_dir = \"{}\"\n\
             [hardware]\nsystem = \"mb_2024_1_X__4_mux_2024_batt\"\n\
             [acquisition]\ninjection_duration = 0.05\nrt_priority = 0\n\
             [sim]\nnoise = false\n\
             [mqtt]\nport = {mqtt_port}\nsoh_interval_s = 1\n\
             [web]\nlisten = \"127.0.0.1:{web_port}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log = dir.join("daemon.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ohmpi"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            l.rlim_cur = l.rlim_cur.min(DAEMON_NOFILE);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Daemon(cmd.spawn().unwrap(), log)
}

/// The soft open-file limit of process `pid`, from /proc.
fn soft_nofile(pid: u32) -> libc::rlim_t {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// This process may hold the idle connections: its soft limit raised to its hard limit.
fn raise_own_nofile(needed: libc::rlim_t) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a struct of ours.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        if l.rlim_cur < needed {
            l.rlim_cur = l.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
        }
    }
    assert!(
        l.rlim_cur >= needed,
        "this test needs {needed} open files; the hard limit is {}",
        l.rlim_max
    );
}

fn reply_for<'a>(id: &'a str, status: &'a str) -> impl Fn(&Msg) -> bool + 'a {
    move |m: &Msg| {
        m.topic.starts_with(&format!("{P}/control/response/"))
            && m.json()["cmd_id"] == id
            && m.json()["status"] == status
    }
}

/// `GET /health`'s status line, or the error.
fn health(port: u16) -> Result<String, std::io::Error> {
    use std::io::Write;
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(SECS(5)))?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

#[test]
fn idle_connections_neither_stop_a_survey_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let web_port = free_port();
    let mut daemon = start_daemon(dir.path(), broker.port, web_port);
    common::mqtt::wait_for_port(web_port);
    let pid = daemon.0.id();
    assert!(soft_nofile(pid) <= DAEMON_NOFILE);
    raise_own_nofile(IDLE as libc::rlim_t + 512);

    let mut c = Client_::connect(broker.port, "test-flood", &[&format!("{P}/#")]);
    c.wait_for("online status", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    let sequence: Vec<[u16; 4]> = (1..=29)
        .flat_map(|e| [[e, e + 3, e + 1, e + 2], [e + 3, e, e + 2, e + 1]])
        .collect();
    let total = sequence.len();
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "s1", "cmd": "run_sequence", "reply_to": "tester",
               "kwargs": {"sequence": sequence, "nb_stack": 1}})
        .to_string(),
    );
    c.wait_for("accepted", SECS(10), reply_for("s1", "accepted"));
    c.wait_for("the first record", SECS(30), |m| {
        m.topic == format!("{P}/data")
    });

    // The flood, while the survey runs.
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        match TcpStream::connect(("127.0.0.1", web_port)) {
            Ok(s) => idle.push((s, Instant::now())),
            Err(e) => panic!("connection {i} to the dashboard: {e}"),
        }
    }
    let opened = started.elapsed();
    c.drain(Duration::from_millis(50));
    let running = c
        .on(&format!("{P}/status"))
        .last()
        .map(|m| m.json()["state"].clone());
    assert!(
        c.seen.iter().all(|m| !reply_for("s1", "done")(m)),
        "the survey ended before the flood was over ({opened:?}); it proves nothing"
    );
    eprintln!("{IDLE} idle connections opened in {opened:?}; the instrument is {running:?}");

    // Every idle connection is closed by the daemon (EOF or reset), within the time to
    // authenticate and a margin.
    let deadline = started + opened + SECS(15);
    let mut still_open = 0;
    let mut latest = Duration::ZERO;
    for (s, at) in &mut idle {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => latest = latest.max(at.elapsed()),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => latest = latest.max(at.elapsed()),
            Ok(n) => panic!("an idle connection was sent {n} bytes"),
            Err(_) => still_open += 1,
        }
    }
    assert_eq!(
        still_open, 0,
        "{still_open} of {IDLE} idle connections still open 15 s after the flood"
    );
    eprintln!("all closed by the daemon; the last {latest:?} after it opened");
    drop(idle);

    // The survey went on to its end and stored every record.
    let done = c.wait_for("done", SECS(120), reply_for("s1", "done"));
    let result = &done.json()["result"];
    assert_eq!(result["records"], total, "{result}");
    assert_eq!(result["interrupted"], false, "{result}");
    let survey = result["survey"].as_str().unwrap();
    let csv = dir
        .path()
        .join("data")
        .join(format!("measurements_{survey}.csv"));
    let table = ohmpi::storage::read_survey(&csv).unwrap();
    assert_eq!(table.rows.len(), total, "rows in {}", csv.display());

    // The daemon is still there, its dashboard serving again.
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon exited");
    assert_eq!(health(web_port).unwrap(), "HTTP/1.1 200 OK");
    let config = dir.path().join("ohmpi.toml");
    let token = add_token(&config, "viewer", &[]);
    let mut ws = connect(web_port, &token);
    wait(&mut ws, "hello", SECS(5), |m| m["type"] == "hello");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(
        !log.contains("Too many open files"),
        "the daemon ran out of file descriptors:\n{log}"
    );
    drop(ws);
    let _ = daemon.0.kill();
}

#[test]
fn a_websocket_with_a_token_outlives_the_time_to_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let web_port = free_port();
    let _daemon = start_daemon(dir.path(), broker.port, web_port);
    common::mqtt::wait_for_port(web_port);
    let token = add_token(&dir.path().join("ohmpi.toml"), "viewer", &[]);
    let mut idle = TcpStream::connect(("127.0.0.1", web_port)).unwrap();
    let mut ws = connect(web_port, &token);
    wait(&mut ws, "hello", SECS(5), |m| m["type"] == "hello");
    // The idle connection, opened first, is closed after the time to authenticate...
    let opened = Instant::now();
    idle.set_read_timeout(Some(SECS(15))).unwrap();
    let mut buf = [0u8; 16];
    match idle.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the idle connection is still open 15 s later: {other:?}"),
    }
    assert!(opened.elapsed() >= SECS(3), "{:?}", opened.elapsed());
    // ... and the WebSocket, authenticated at its upgrade, still works.
    common::ws::send(&mut ws, json!({"cmd_id": "g1", "cmd": "get_status"}));
    common::ws::reply_frame(&mut ws, "g1", "done");
}
