//! `ohmpi gateway` end to end: a real broker, three real daemons on the simulator, the real
//! gateway binary, and WebSocket clients on loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker, Daemon};
use common::ws::{add_token, connect, reply_frame as reply, send, wait};
use serde_json::{json, Value};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The gateway binary, killed on drop.
struct Gateway {
    child: Child,
    log: PathBuf,
}

impl Gateway {
    fn start(config: &Path, broker: u16, port: u16) -> Gateway {
        let log = config.with_file_name("gateway.log");
        let child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
            .arg("--config")
            .arg(config)
            .args(["gateway", "--broker", &format!("127.0.0.1:{broker}")])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let g = Gateway { child, log };
        let deadline = Instant::now() + SECS(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "no gateway: {}", g.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        g
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_gateway_serves_every_instrument_of_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut daemons: Vec<Daemon> = ["t1", "t2", "t3"]
        .iter()
        .map(|id| {
            let d = dir.path().join(id);
            std::fs::create_dir(&d).unwrap();
            Daemon::start_as(&d, broker.port, id, "", "enabled = false\n")
        })
        .collect();
    // The configuration's broker and address are not those used: --broker and --listen win.
    let gw_dir = dir.path().join("gw");
    std::fs::create_dir(&gw_dir).unwrap();
    let config = gw_dir.join("ohmpi.toml");
    std::fs::write(
        &config,
        "[instrument]\nid = \"gw\"\n[mqtt]\nport = 9\n[web]\nlisten = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    let operator = add_token(&config, "operator", &[]);
    let viewer = add_token(&config, "viewer", &[]);
    let port = free_port();
    let gw = Gateway::start(&config, broker.port, port);

    // Every instrument, listed (in hello or announced later), with its live status.
    let mut o = connect(port, &operator);
    let hello = wait(&mut o, "hello", SECS(5), |v| v["type"] == "hello");
    assert_eq!(hello["mode"], "gateway");
    assert_eq!(hello["role"], "operator");
    let client = hello["client"].as_str().unwrap().to_string();
    assert!(client.starts_with("ws-"), "{client}");
    let mut listed: BTreeSet<String> = hello["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let mut status: BTreeMap<String, Value> = BTreeMap::new();
    let ids = ["t1", "t2", "t3"];
    wait(
        &mut o,
        "three instruments, idle and online",
        SECS(60),
        |v| {
            if v["type"] == "instrument" {
                assert_eq!(v["prefix"], format!("ohmpi/{}", v["id"].as_str().unwrap()));
                listed.insert(v["id"].as_str().unwrap().to_string());
            }
            if v["type"] == "message" && v["topic"] == "status" {
                let id = v["instrument"].as_str().unwrap().to_string();
                assert!(
                    listed.contains(&id),
                    "{id} has a status before it is listed"
                );
                status.insert(id, v["payload"].clone());
            }
            ids.iter().all(|id| {
                listed.contains(*id)
                    && status
                        .get(*id)
                        .is_some_and(|s| s["online"] == true && s["state"] == "idle")
            })
        },
    );
    // A browser connecting now has them in its hello, and their latest status after it.
    let mut v = connect(port, &viewer);
    let hello = wait(&mut v, "hello", SECS(5), |m| m["type"] == "hello");
    assert_eq!(hello["role"], "viewer");
    assert_eq!(hello["instruments"].as_array().unwrap().len(), 3, "{hello}");
    let mut fresh = BTreeSet::new();
    wait(&mut v, "every status", SECS(10), |m| {
        if m["type"] == "message" && m["topic"] == "status" {
            fresh.insert(m["instrument"].as_str().unwrap().to_string());
        }
        fresh.len() == 3
    });

    // A command to one instrument: its reply, to this browser only.
    send(
        &mut o,
        json!({"cmd_id": "g1", "cmd": "get_status", "instrument": "t1"}),
    );
    let r = reply(&mut o, "g1", "done");
    assert_eq!(r["instrument"], "t1");
    assert!(r["payload"]["result"].is_object(), "{r}");
    // Which instrument must be said when there are several, and be one that is known.
    send(&mut o, json!({"cmd_id": "g2", "cmd": "get_status"}));
    let r = reply(&mut o, "g2", "error");
    assert_eq!(r["payload"]["error"]["code"], "invalid_argument");
    send(
        &mut o,
        json!({"cmd_id": "g3", "cmd": "get_status", "instrument": "t9"}),
    );
    let r = reply(&mut o, "g3", "error");
    assert_eq!(r["payload"]["error"]["field"], "instrument");
    // The role check is the gateway's.
    send(
        &mut v,
        json!({"cmd_id": "v1", "cmd": "run_sequence", "instrument": "t2"}),
    );
    let r = reply(&mut v, "v1", "error");
    assert_eq!(r["payload"]["error"]["code"], "not_permitted");

    // A short survey on t2: accepted, its records, done.
    let sequence: Vec<[u16; 4]> = (1..=4).map(|e| [e, e + 3, e + 1, e + 2]).collect();
    send(
        &mut o,
        json!({"cmd_id": "s1", "cmd": "run_sequence", "instrument": "t2",
               "kwargs": {"sequence": sequence, "nb_stack": 1}}),
    );
    let r = reply(&mut o, "s1", "accepted");
    assert_eq!(r["instrument"], "t2");
    let mut records = BTreeSet::new();
    let done = wait(&mut o, "t2's records and done", SECS(60), |m| {
        if m["type"] == "message" && m["topic"] == "data" {
            assert_eq!(m["instrument"], "t2", "{m}");
            records.insert(m["payload"]["seq"].as_u64().unwrap());
        }
        m["type"] == "reply" && m["payload"]["cmd_id"] == "s1" && m["payload"]["status"] == "done"
    });
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(done["instrument"], "t2");
    assert_eq!(done["payload"]["result"]["records"], 4);
    // The viewer saw the records, and none of the operator's replies.
    let mut seen = 0;
    wait(&mut v, "the viewer's records", SECS(10), |m| {
        assert!(
            m["type"] != "reply" || m["payload"]["cmd_id"] == "v1",
            "another browser's reply: {m}"
        );
        if m["type"] == "message" && m["topic"] == "data" && m["instrument"] == "t2" {
            seen += 1;
        }
        seen == 4
    });

    // t3 vanishes: its last will shows it offline, still listed.
    daemons[2].kill();
    let off = wait(&mut o, "t3 offline", SECS(30), |m| {
        m["type"] == "message"
            && m["topic"] == "status"
            && m["instrument"] == "t3"
            && m["payload"]["online"] == false
    });
    assert_eq!(off["payload"]["state"], "offline");
    let mut late = connect(port, &viewer);
    let hello = wait(&mut late, "hello", SECS(5), |m| m["type"] == "hello");
    assert_eq!(hello["instruments"].as_array().unwrap().len(), 3, "{hello}");
    assert!(gw.log().contains("instrument t3 found"), "{}", gw.log());
}
