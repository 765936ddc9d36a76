//! The Node-RED flows of examples/node-red, loaded by a real Node-RED (tests/node_red, installed
//! by .ci/run) against a real Mosquitto and the daemon on the simulator: the flow's "Start
//! survey" button starts a survey, every record lands as one JSON line in the file the flow
//! appends to, and its "Stop" button interrupts the survey.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker, Client_, Daemon};
use serde_json::{json, Value};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Electrodes of the test daemon's system (4 mux boards with 4 roles).
const NELEC: u64 = 32;
/// Quadrupoles of the survey the test starts: enough that Stop comes before its end.
const QUADS: usize = 2 * (NELEC as usize - 3);
/// Records awaited before pressing Stop.
const BEFORE_STOP: usize = 3;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Node-RED's entry point, installed by .ci/run; its absence fails the test.
fn red_js() -> PathBuf {
    let red = manifest_dir().join("tests/node_red/node_modules/node-red/red.js");
    assert!(
        red.is_file(),
        "Node-RED is not installed ({} is missing): run .ci/run, or \
         `cd tests/node_red && npm ci` (needs node >= 18 and npm)",
        red.display()
    );
    red
}

/// Dipole-dipole then Wenner, spacing 1.
fn sequence() -> Vec<[u64; 4]> {
    let dd = (1..=NELEC - 3).map(|i| [i, i + 1, i + 2, i + 3]);
    let wenner = (1..=NELEC - 3).map(|i| [i, i + 3, i + 1, i + 2]);
    dd.chain(wenner).collect()
}

/// A Node-RED with one flow file, killed on drop.
struct NodeRed {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    flows: Vec<Value>,
}

impl NodeRed {
    /// Starts Node-RED on `flow` (a file of examples/node-red) with the environment the
    /// README asks for, and waits (bounded) until its flows run and it is connected to the
    /// broker.
    fn start(dir: &Path, flow: &str, broker_port: u16, records: &Path) -> NodeRed {
        let red = red_js();
        let user_dir = dir.join("node-red");
        fs::create_dir_all(&user_dir).unwrap();
        let source = manifest_dir().join("examples/node-red").join(flow);
        let text = fs::read_to_string(&source).unwrap();
        let flows: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a flow export ({e})", source.display()));
        fs::write(user_dir.join("flows.json"), &text).unwrap();
        let port = free_port();
        // Admin API and the flows' HTTP endpoints on loopback only (POST /inject/<id>, the chart
        // page), no editor, no credentials file
        // encryption prompt, nothing fetched from outside.
        let settings = user_dir.join("settings.js");
        fs::write(
            &settings,
            format!(
                "module.exports = {{\n\
                 uiHost: \"127.0.0.1\",\n\
                 uiPort: {port},\n\
                 flowFile: \"flows.json\",\n\
                 credentialSecret: false,\n\
                 httpAdminRoot: \"/\",\n\
                 httpNodeRoot: \"/\",\n\
                 disableEditor: true,\n\
                 telemetry: {{ enabled: false }},\n\
                 externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }}, \
                 modules: {{ allowInstall: false }} }},\n\
                 editorTheme: {{ projects: {{ enabled: false }} }},\n\
                 logging: {{ console: {{ level: \"info\", metrics: false, audit: false }} }},\n\
                 }};\n"
            ),
        )
        .unwrap();
        let log = dir.join("node-red.log");
        let out = fs::File::create(&log).unwrap();
        let child = Command::new("node")
            .arg(&red)
            .arg("--userDir")
            .arg(&user_dir)
            .arg("--settings")
            .arg(&settings)
            .env("MQTT_HOST", "127.0.0.1")
            .env("MQTT_PORT", broker_port.to_string())
            .env("OHMPI_ID", "t1")
            .env("OHMPI_RECORDS_FILE", records)
            .env("NODE_RED_ENABLE_PROJECTS", "false")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("node (Node-RED 4 needs node >= 18)");
        let mut nr = NodeRed {
            child: Some(child),
            port,
            log,
            flows,
        };
        nr.wait_log("flows started", SECS(60), "Started flows");
        nr.wait_log("connection to the broker", SECS(20), "Connected to broker");
        nr
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&mut self, what: &str, timeout: Duration, needle: &str) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("Node-RED exited ({status}) before {what}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "Node-RED: no {what} in {timeout:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The id of the inject node called `name`.
    fn inject_id(&self, name: &str) -> String {
        let found: Vec<&Value> = self
            .flows
            .iter()
            .filter(|n| n["type"] == "inject" && n["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "one inject node called {name:?}");
        found[0]["id"].as_str().unwrap().to_string()
    }

    /// Presses the inject button `name` through the admin API, as the editor does; `payload`
    /// replaces the node's own (as the editor's "inject now" with edited properties).
    fn inject(&self, name: &str, payload: Option<&Value>) {
        let id = self.inject_id(name);
        let body = match payload {
            Some(p) => json!({"__user_inject_props__": [
                {"p": "payload", "v": p.to_string(), "vt": "json"}
            ]})
            .to_string(),
            None => "{}".to_string(),
        };
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(SECS(10))).unwrap();
        write!(
            s,
            "POST /inject/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "inject {name:?} ({id}): {reply}\n{}",
            self.log()
        );
    }
}

impl NodeRed {
    /// GET `path` from the flows' HTTP endpoints: (status line, body).
    fn get(&self, path: &str) -> (String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(SECS(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        let status = reply.lines().next().unwrap_or_default().to_string();
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        (status, body.to_string())
    }
}

impl Drop for NodeRed {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The JSON lines of the records file (none while it does not exist); a line that is not
/// JSON fails the test.
fn records(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    // A line still being written has no newline yet.
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// Waits (bounded) until the file holds at least `n` records.
fn wait_records(path: &Path, n: usize, timeout: Duration, nr: &NodeRed, d: &Daemon) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = records(path);
        if r.len() >= n {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{} records in {} after {timeout:?}, wanted {n}\nNode-RED:\n{}\ndaemon:\n{}",
            r.len(),
            path.display(),
            nr.log(),
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn quad(r: &Value) -> [u64; 4] {
    ["a", "b", "m", "n"].map(|k| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("no electrode {k} in {r}"))
    })
}

/// Every record is a quadrupole of the survey started, each at most once.
fn check_quads(records: &[Value]) {
    let sequence = sequence();
    let mut seen = std::collections::HashSet::new();
    for r in records {
        let q = quad(r);
        assert!(sequence.contains(&q), "not a quadrupole of the survey: {r}");
        assert!(seen.insert(q), "quadrupole {q:?} twice");
    }
}

/// The interrupted survey wrote fewer records than it has quadrupoles, and no more come.
fn check_stopped(path: &Path) -> Vec<Value> {
    std::thread::sleep(SECS(1));
    let after = records(path);
    std::thread::sleep(SECS(1));
    let later = records(path);
    assert_eq!(after.len(), later.len(), "records still come after Stop");
    assert!(
        later.len() >= BEFORE_STOP && later.len() < QUADS,
        "Stop did not stop the survey: {} records of {QUADS}",
        later.len()
    );
    later
}

#[test]
fn the_native_flow_starts_a_survey_and_writes_every_record() {
    red_js();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(
        broker.port,
        "watcher",
        &["ohmpi/t1/status", "ohmpi/t1/control/response/node-red"],
    );
    c.wait_for("online", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    let file = dir.path().join("out/records.jsonl");
    let nr = NodeRed::start(dir.path(), "ohmpi-flows.json", broker.port, &file);

    // The Start button, its kwargs edited to carry an inline sequence and a setting.
    nr.inject(
        "Start survey",
        Some(&json!({ "sequence": sequence(), "nb_stack": 2 })),
    );
    let reply = c.wait_for("run_sequence accepted", SECS(10), |m| {
        m.topic.ends_with("/node-red") && m.json()["cmd"] == "run_sequence"
    });
    assert_eq!(reply.json()["status"], "accepted", "{}", reply.payload);
    wait_records(&file, BEFORE_STOP, SECS(60), &nr, &daemon);

    nr.inject("Stop", None);
    let reply = c.wait_for("interrupt done", SECS(10), |m| {
        m.topic.ends_with("/node-red") && m.json()["cmd"] == "interrupt"
    });
    assert_eq!(reply.json()["status"], "done", "{}", reply.payload);
    let end = c.wait_for("end of the survey", SECS(20), |m| {
        let j = m.json();
        j["cmd"] == "run_sequence" && j["status"] == "done"
    });
    assert_eq!(end.json()["result"]["interrupted"], true, "{}", end.payload);

    let records = check_stopped(&file);
    check_quads(&records);
    let mut last_seq = 0;
    for r in &records {
        let seq = r["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {r}"));
        assert!(seq > last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
        let rhoa = r["rhoa_ohmm"].as_f64().unwrap_or_else(|| panic!("{r}"));
        assert!(rhoa > 0.0, "{r}");
        assert!(r["survey"].is_string() && r["time"].is_string(), "{r}");
        assert_eq!(r["n_stacks"], 2, "the Start button's kwargs: {r}");
    }

    // The live chart page draws one point per record of the instrument.
    let (status, page) = nr.get("/ohmpi/chart");
    assert!(status.contains("200"), "{status}\n{page}");
    let needle = "data-series=\"t1 rhoa [Ohm.m]\" data-points=\"";
    let at = page
        .find(needle)
        .unwrap_or_else(|| panic!("no rhoa line for t1 on the chart page:\n{page}"));
    let drawn: usize = page[at + needle.len()..]
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(drawn, records.len(), "points drawn vs records written");
    assert!(page.contains("<polyline"), "{page}");
}

#[test]
fn the_compat_flow_speaks_the_ohmpi_dialect_and_writes_every_record() {
    red_js();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let daemon = Daemon::start(dir.path(), broker.port, "ohmpi_compat = true\n");
    let mut c = Client_::connect(
        broker.port,
        "watcher",
        &["ohmpi/t1/status", "ohmpi_t1/data"],
    );
    c.wait_for("online", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    let file = dir.path().join("records.jsonl");
    let nr = NodeRed::start(dir.path(), "ohmpi-compat-flows.json", broker.port, &file);

    nr.inject(
        "Start survey",
        Some(&json!({ "sequence": sequence(), "nb_stack": 2 })),
    );
    wait_records(&file, BEFORE_STOP, SECS(60), &nr, &daemon);
    // Nothing said idle yet: the survey runs.
    c.seen.clear();
    nr.inject("Stop", None);
    // OhmPi's end of an interrupt: {"cmd_id": ..., "status": "idle"} on the data topic.
    c.wait_for("idle after Stop", SECS(20), |m| {
        m.topic == "ohmpi_t1/data" && m.payload.contains(r#""status":"idle""#)
    });

    let records = check_stopped(&file);
    check_quads(&records);
    for r in &records {
        for key in [
            "time",
            "injection_duration_[ms]",
            "vmn_[mV]",
            "iab_[mA]",
            "r_[Ohm]",
            "n_stacks",
            "vab_[V]",
            "injection_id",
            "strategy",
            "cmd_id",
        ] {
            assert!(r.get(key).is_some(), "no {key} in {r}");
        }
        assert_eq!(r["n_stacks"], 2, "the Start button's kwargs: {r}");
        // (Negative for the dipole-dipole quadrupoles: the sign of their geometric factor.)
        assert!(r["r_[Ohm]"].as_f64().is_some_and(|x| x != 0.0), "{r}");
        assert!(
            r["cmd_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("node-red-")),
            "the record of another command: {r}"
        );
    }
}
