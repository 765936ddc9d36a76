//! The logs on stderr: plain text (no ANSI colour codes) when stderr is not a terminal, as
//! under systemd or in a pipe; and the help that points at the protocol's document.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::mqtt::Broker;

const ESC: char = '\u{1b}';

#[test]
fn the_daemon_logs_through_a_pipe_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let config = dir.path().join("ohmpi.toml");
    std::fs::write(
        &config,
        format!(
            "[instrument]\nid = \"t1\"\ndata_dir = \"{}\"\n\
             [hardware]\nsystem = \"mb_2024_1_X__4_mux_2024_batt\"\n\
             [acquisition]\nrt_priority = 0\n\
             [mqtt]\nport = {}\n[web]\nenabled = false\n",
            dir.path().join("data").display(),
            broker.port
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .args(["run", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // Read until the daemon says it is connected (an INFO line, coloured on a terminal).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.contains("connected to the broker"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    assert!(
        text.contains("connected to the broker"),
        "the daemon did not log its connection within 20 s:\n{text}"
    );
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains(ESC),
        "ANSI escape codes in the daemon's log through a pipe:\n{text:?}"
    );
}

#[test]
fn a_command_logs_through_a_pipe_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A survey on the simulator logs at INFO on stderr (the command-line tools' logging).
    let o = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir.path())
        .args([
            "survey",
            "--set",
            "sim.clock=virtual",
            "--set",
            "sim.noise=false",
            "--log-level",
            "debug",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("INFO") || err.contains("DEBUG"),
        "the survey logged nothing: {err}"
    );
    assert!(
        !err.contains(ESC),
        "ANSI escape codes in a command's log through a pipe:\n{err:?}"
    );
}

#[test]
fn the_help_names_the_protocol_document() {
    let o = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("docs/mqtt.md"), "{help}");
    assert!(!help.contains("protocol.md"), "{help}");
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/mqtt.md")
            .is_file(),
        "the help names docs/mqtt.md, which does not exist"
    );
}
