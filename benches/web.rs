//! Dashboard benchmark (`cargo bench --bench web`), on loopback: a real Mosquitto on a free
//! port, the real daemon binary on the simulator (real clock) with its dashboard on a free port,
//! an MQTT subscriber and N WebSocket clients (one tokio runtime, one task per client).
//!
//! The same 60-quadrupole survey is run twice, once with no WebSocket client and once with
//! `CLIENTS`, and the bench reports:
//! - record → WebSocket client latency, against the MQTT subscriber's arrival of the same `seq`
//!   and against the record's completion (the next record's start time, as the messaging bench);
//! - records received per client (min / max), `skipped` frames;
//! - the daemon's CPU (utime + stime from /proc over the survey's wall time) and peak RSS (VmHWM);
//! - acquisition timing with and without clients: median wall time per quadrupole (consecutive
//!   record times) and the engine's dropped samples.

#[path = "../tests/common/mqtt.rs"]
mod mqtt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use mqtt::{free_port, Broker, Client_, Daemon};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

const P: &str = "ohmpi/t1";
const CLIENTS: usize = 200;
const QUADS: usize = 60;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

/// Seconds since the epoch of an RFC 3339 UTC time written by the instrument.
fn epoch(t: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    let (h, mi) = (n(11..13), n(14..16));
    let s: f64 = t[17..t.len() - 1].parse().unwrap();
    // Days from civil (H. Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + h * 3600 + mi * 60) as f64 + s
}

/// (utime + stime in seconds, VmHWM in MiB) of `pid`.
fn cpu_and_hwm(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based) of /proc/pid/stat: 12 and 13 here.
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks / hz, hwm_kb / 1024.0)
}

/// A new operator token (the last line `ohmpi token add` prints).
fn operator_token(config: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .arg("--config")
        .arg(config)
        .args(["token", "add", "--role", "operator"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    out.lines().last().unwrap().trim().to_string()
}

/// 60 Wenner quadrupoles on the 32 electrodes: spacing 1 (29), 2 (26), 3 (the first 5).
fn sequence() -> Vec<[u16; 4]> {
    let mut q = Vec::new();
    for s in 1..=3u16 {
        for a in 1..=(32 - 3 * s) {
            q.push([a, a + 3 * s, a + s, a + 2 * s]);
        }
    }
    q.truncate(QUADS);
    assert_eq!(q.len(), QUADS);
    q
}

/// What one WebSocket client saw.
#[derive(Default)]
struct Seen {
    /// (seq, arrival [s since the epoch]) of every `data` message.
    records: Vec<(u64, f64)>,
    /// Sum of the `skipped` frames' counts, and how many such frames.
    skipped: u64,
    skipped_frames: u64,
    error: Option<String>,
}

async fn client(
    url: String,
    ready: mpsc::UnboundedSender<()>,
    mut command: Option<oneshot::Receiver<String>>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut ws = None;
    for _ in 0..5 {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((s, _)) => {
                ws = Some(s);
                break;
            }
            Err(e) => {
                seen.error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let Some(mut ws) = ws else { return seen };
    seen.error = None;
    let mut hello = false;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            c = async { command.as_mut().unwrap().await }, if command.is_some() => {
                command = None;
                if let Ok(c) = c {
                    ws.send(Message::Text(c.into())).await.unwrap();
                }
            }
            m = ws.next() => {
                let at = now();
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => { seen.error = Some(e.to_string()); break }
                    None => { seen.error = Some("closed".into()); break }
                };
                let v: Value = serde_json::from_str(&text).unwrap();
                match v["type"].as_str() {
                    Some("hello") if !hello => {
                        hello = true;
                        let _ = ready.send(());
                    }
                    Some("message") if v["topic"] == "data" => {
                        seen.records.push((v["payload"]["seq"].as_u64().unwrap(), at));
                    }
                    Some("skipped") => {
                        seen.skipped += v["count"].as_u64().unwrap_or(0);
                        seen.skipped_frames += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = ws.close(None).await;
    seen
}

/// One survey's figures.
struct Run {
    clients: usize,
    /// seq → (record time, MQTT arrival, dropped_samples, samples), from the MQTT subscriber.
    mqtt: BTreeMap<u64, (f64, f64, u64, u64)>,
    seen: Vec<Seen>,
    wall: f64,
    cpu_pct: f64,
    hwm_mib: f64,
    soh_dropped: u64,
}

fn dropped_in_soh(c: &Client_) -> u64 {
    c.on(&format!("{P}/soh"))
        .last()
        .and_then(|m| m.json()["dropped_samples"].as_u64())
        .unwrap_or(0)
}

fn survey(rt: &tokio::runtime::Runtime, clients: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let port = free_port();
    let daemon = Daemon::start_with_web(
        dir.path(),
        broker.port,
        "",
        &format!("listen = \"127.0.0.1:{port}\"\n"),
    );
    let mut sub = Client_::connect(broker.port, "bench-web", &[&format!("{P}/#")]);
    sub.wait_for("online", Duration::from_secs(30), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    mqtt::wait_for_port(port);
    let token = operator_token(&daemon.config);
    let pid = daemon.pid().expect("daemon running");

    let body = json!({"cmd_id": "bench", "cmd": "run_sequence",
                      "kwargs": {"sequence": sequence(), "nb_stack": 1}})
    .to_string();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut go = None;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let command = if i == 0 {
            let (tx, rx) = oneshot::channel();
            go = Some(tx);
            Some(rx)
        } else {
            None
        };
        let url = format!("ws://127.0.0.1:{port}/ws?token={token}");
        tasks.push(rt.spawn(client(url, ready_tx.clone(), command, stop_rx.clone())));
    }
    drop(ready_tx);
    let connected = rt.block_on(async {
        let mut n = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while n < clients {
            match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
                Ok(Some(())) => n += 1,
                _ => break,
            }
        }
        n
    });
    assert_eq!(connected, clients, "clients connected: {}", daemon.log());
    // Let the newcomers' status and soh go by, and take the last soh before the survey.
    sub.drain(Duration::from_millis(1500));
    let dropped0 = dropped_in_soh(&sub);

    let (cpu0, _) = cpu_and_hwm(pid);
    let t0 = Instant::now();
    match go {
        Some(tx) => tx.send(body).unwrap(),
        None => sub.publish(&format!("{P}/control"), body),
    }
    sub.wait_for("the survey's done", Duration::from_secs(120), |m| {
        m.topic.starts_with(&format!("{P}/control/response"))
            && m.json()["cmd_id"] == "bench"
            && m.json()["status"] == "done"
    });
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, hwm_mib) = cpu_and_hwm(pid);
    // The last records to the clients, and a soh after the survey.
    sub.drain(Duration::from_millis(2000));
    let soh_dropped = dropped_in_soh(&sub).saturating_sub(dropped0);
    stop_tx.send(true).unwrap();
    let seen: Vec<Seen> = rt.block_on(async {
        let mut v = Vec::new();
        for t in tasks {
            v.push(t.await.unwrap());
        }
        v
    });

    let mut mqtt = BTreeMap::new();
    for m in sub.on(&format!("{P}/data")) {
        let j = m.json();
        mqtt.insert(
            j["seq"].as_u64().unwrap(),
            (
                epoch(j["time"].as_str().unwrap()),
                m.at,
                j["dropped_samples"].as_u64().unwrap_or(0),
                j["samples"].as_u64().unwrap_or(0),
            ),
        );
    }
    drop(daemon);
    drop(broker);
    Run {
        clients,
        mqtt,
        seen,
        wall,
        cpu_pct: 100.0 * (cpu1 - cpu0) / wall,
        hwm_mib,
        soh_dropped,
    }
}

fn per_quad_median(r: &Run) -> f64 {
    let times: Vec<f64> = r.mqtt.values().map(|v| v.0).collect();
    let mut d: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    percentile(&mut d, 0.5)
}

fn dropped_in_records(r: &Run) -> u64 {
    r.mqtt.values().map(|v| v.2).sum()
}

fn samples_in_records(r: &Run) -> u64 {
    r.mqtt.values().map(|v| v.3).sum()
}

/// seq → the next record's start time: when the record was complete.
fn completions(r: &Run) -> BTreeMap<u64, f64> {
    let seqs: Vec<u64> = r.mqtt.keys().copied().collect();
    seqs.windows(2).map(|w| (w[0], r.mqtt[&w[1]].0)).collect()
}

/// Record complete → MQTT subscriber [ms].
fn mqtt_latency(r: &Run) -> Vec<f64> {
    completions(r)
        .iter()
        .map(|(seq, c)| (r.mqtt[seq].1 - c) * 1e3)
        .collect()
}

fn report(without: &Run, with: &Run) {
    let complete = completions(with);
    let mut vs_mqtt = Vec::new();
    let mut vs_complete = Vec::new();
    let mut vs_time = Vec::new();
    let mut per_client = Vec::new();
    let mut errors = 0;
    for s in &with.seen {
        if s.error.is_some() {
            errors += 1;
        }
        let distinct: BTreeSet<u64> = s.records.iter().map(|r| r.0).collect();
        per_client.push(distinct.len());
        for (seq, at) in &s.records {
            if let Some((time, mqtt_at, ..)) = with.mqtt.get(seq) {
                vs_mqtt.push((at - mqtt_at) * 1e3);
                vs_time.push((at - time) * 1e3);
            }
            if let Some(c) = complete.get(seq) {
                vs_complete.push((at - c) * 1e3);
            }
        }
    }
    let mut mqtt_vs_complete = mqtt_latency(with);
    let mut mqtt_alone = mqtt_latency(without);
    let skipped: u64 = with.seen.iter().map(|s| s.skipped).sum();
    let skipped_frames: u64 = with.seen.iter().map(|s| s.skipped_frames).sum();
    let skipping = with.seen.iter().filter(|s| s.skipped > 0).count();
    let n = vs_mqtt.len();

    println!();
    println!(
        "dashboard: {} WebSocket clients, survey of {QUADS} quadrupoles (0.05 s pulses, 1 stack), \
         {} records on MQTT",
        with.clients,
        with.mqtt.len()
    );
    println!("| what | median | p99 |");
    println!("|---|---|---|");
    println!(
        "| record -> WS client, minus the MQTT subscriber's arrival of the same seq ({n} deliveries) | {:.2} ms | {:.2} ms |",
        percentile(&mut vs_mqtt.clone(), 0.5),
        percentile(&mut vs_mqtt, 0.99)
    );
    println!(
        "| record complete (next record's time) -> WS client ({} deliveries) | {:.1} ms | {:.1} ms |",
        vs_complete.len(),
        percentile(&mut vs_complete.clone(), 0.5),
        percentile(&mut vs_complete, 0.99)
    );
    println!(
        "| record complete -> MQTT subscriber, same run ({} records) | {:.1} ms | {:.1} ms |",
        mqtt_vs_complete.len(),
        percentile(&mut mqtt_vs_complete.clone(), 0.5),
        percentile(&mut mqtt_vs_complete, 0.99)
    );
    println!(
        "| record complete -> MQTT subscriber, survey without WS clients ({} records) | {:.1} ms | {:.1} ms |",
        mqtt_alone.len(),
        percentile(&mut mqtt_alone.clone(), 0.5),
        percentile(&mut mqtt_alone, 0.99)
    );
    println!(
        "| record's `time` (its start) -> WS client | {:.1} ms | {:.1} ms |",
        percentile(&mut vs_time.clone(), 0.5),
        percentile(&mut vs_time, 0.99)
    );
    println!();
    println!(
        "records per client: min {} max {} (of {}); clients with errors: {errors}; \
         skipped: {skipped} messages in {skipped_frames} frames, {skipping} clients",
        per_client.iter().min().unwrap_or(&0),
        per_client.iter().max().unwrap_or(&0),
        with.mqtt.len()
    );
    println!();
    println!("| survey | 0 clients | {} clients | ratio |", with.clients);
    println!("|---|---|---|---|");
    let (q0, q1) = (per_quad_median(without), per_quad_median(with));
    println!(
        "| wall time per quadrupole (median of consecutive record times) | {:.4} s | {:.4} s | {:.3} |",
        q0,
        q1,
        q1 / q0
    );
    println!(
        "| survey wall time (command -> done) | {:.2} s | {:.2} s | {:.3} |",
        without.wall,
        with.wall,
        with.wall / without.wall
    );
    let (d0, d1) = (dropped_in_records(without), dropped_in_records(with));
    let (s0, s1) = (samples_in_records(without), samples_in_records(with));
    let pct = |d: u64, s: u64| 100.0 * d as f64 / (d + s).max(1) as f64;
    println!(
        "| dropped samples: records' sum / soh increase (% of samples due) | {d0} / {} ({:.1} %) | {d1} / {} ({:.1} %) | {:.2} |",
        without.soh_dropped,
        pct(d0, s0),
        with.soh_dropped,
        pct(d1, s1),
        d1 as f64 / d0.max(1) as f64
    );
    println!(
        "| samples kept (records' `samples`) | {s0} | {s1} | {:.3} |",
        s1 as f64 / s0.max(1) as f64
    );
    println!(
        "| daemon CPU (utime + stime over the survey) | {:.1} % | {:.1} % | {:.2} |",
        without.cpu_pct,
        with.cpu_pct,
        with.cpu_pct / without.cpu_pct
    );
    println!(
        "| daemon peak RSS (VmHWM) | {:.1} MiB | {:.1} MiB | {:.2} |",
        without.hwm_mib,
        with.hwm_mib,
        with.hwm_mib / without.hwm_mib
    );
    println!(
        "| records on MQTT | {} | {} | |",
        without.mqtt.len(),
        with.mqtt.len()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("dashboard benchmark: run with `cargo bench --bench web`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let without = survey(&rt, 0);
    let with = survey(&rt, CLIENTS);
    report(&without, &with);
    println!(
        "\n(bench wall time {:.0} s)",
        started.elapsed().as_secs_f64()
    );
}
