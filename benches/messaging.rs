//! Messaging benchmarks (`cargo bench --bench messaging`), against a real Mosquitto on a free
//! loopback port and the real daemon binary on the simulator:
//! - record → subscriber latency;
//! - sustained publishing with full waveforms;
//! - `interrupt` over MQTT → the run's final reply;
//! - RSS and CPU of `ohmpi run` while monitoring; start-up time to `online`.

#[path = "../tests/common/mqtt.rs"]
mod mqtt;

use std::time::{Duration, Instant};

use mqtt::{Broker, Client_, Daemon};
use serde_json::json;

const P: &str = "ohmpi/t1";

fn percentile(xs: &mut [f64], p: f64) -> f64 {
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

fn online(c: &mut Client_) {
    c.wait_for("online", Duration::from_secs(30), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
}

fn rss_and_cpu(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
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
    (rss_kb / 1024.0, ticks / hz)
}

fn latency_and_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let started = Instant::now();
    let daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "bench-1", &[&format!("{P}/#")]);
    online(&mut c);
    let startup = started.elapsed();
    let pid = daemon_pid(&daemon);
    let (_, cpu0) = rss_and_cpu(pid);
    let t0 = Instant::now();
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "mon", "cmd": "run_multiple_sequences", "kwargs": {"nb_meas": 1000}})
            .to_string(),
    );
    // Arrival times of each record.
    let mut arrivals: Vec<(f64, f64)> = Vec::new();
    let mut peak_rss: f64 = 0.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while Instant::now() < deadline {
        c.drain(Duration::from_millis(50));
        let data = c.on(&format!("{P}/data"));
        for m in &data[seen..] {
            let t = epoch(m.json()["time"].as_str().unwrap());
            arrivals.push((t, m.at));
        }
        seen = data.len();
        peak_rss = peak_rss.max(rss_and_cpu(pid).0);
    }
    let (_, cpu1) = rss_and_cpu(pid);
    let wall = t0.elapsed().as_secs_f64();
    // A record is complete when the next quadrupole starts: latency = arrival - next start.
    let mut lat: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[0].1 - w[1].0) * 1e3)
        .collect();
    let n = lat.len();
    println!(
        "record -> subscriber latency (loopback, QoS 1, disk first): median {:.1} ms, p99 {:.1} ms over {n} records \
         (record time has 1 ms resolution)",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
    println!(
        "ohmpi run while monitoring (0.05 s pulses, ~4 quadrupoles/s): CPU {:.1} % of one core, peak RSS {:.1} MiB over {:.0} s",
        100.0 * (cpu1 - cpu0) / wall,
        peak_rss,
        wall
    );
    println!(
        "start-up to retained online status: {:.0} ms",
        startup.as_secs_f64() * 1e3
    );
    drop(daemon);
}

fn daemon_pid(d: &Daemon) -> u32 {
    d.pid().expect("daemon running")
}

fn waveform_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "waveform = true\n");
    let mut c = Client_::connect(broker.port, "bench-2", &[&format!("{P}/#")]);
    online(&mut c);
    let start = Instant::now();
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "wf", "cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["wenner", 2]]}}).to_string(),
    );
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "run", "cmd": "run_sequence", "kwargs": {"injection_duration": 0.2}})
            .to_string(),
    );
    c.wait_for("done", Duration::from_secs(120), |m| {
        m.topic.contains("/control/response/")
            && m.json()["cmd_id"] == "run"
            && m.json()["status"] == "done"
    });
    c.drain(Duration::from_secs(1));
    let elapsed = start.elapsed().as_secs_f64();
    let records = c.on(&format!("{P}/data")).len();
    let waves = c.on(&format!("{P}/data/waveform"));
    let samples: usize = waves
        .iter()
        .map(|m| m.json()["t_s"].as_array().unwrap().len())
        .sum();
    // What the engine sampled, as the pump wrote it to the survey's _fw.csv.
    let stored: usize = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_fw.csv"))
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count() - 1)
        .sum();
    println!(
        "sustained waveform publishing: {samples} of the {stored} samples taken delivered, in {} \
         messages for {records} records; {:.0} samples/s over {elapsed:.1} s",
        waves.len(),
        samples as f64 / elapsed
    );
}

fn interrupt_latency() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(
        broker.port,
        "bench-3",
        &[&format!("{P}/control/response/#")],
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut lat = Vec::new();
    for i in 0..20 {
        let run = format!("r{i}");
        c.publish(
            &format!("{P}/control"),
            json!({"cmd_id": run, "cmd": "run_sequence"}).to_string(),
        );
        let r = run.clone();
        c.wait_for("accepted", Duration::from_secs(10), move |m| {
            m.json()["cmd_id"] == r.as_str()
        });
        std::thread::sleep(Duration::from_millis(100 + (i * 37) % 300));
        let t = Instant::now();
        c.publish(
            &format!("{P}/control"),
            json!({"cmd_id": format!("i{i}"), "cmd": "interrupt"}).to_string(),
        );
        let r = run.clone();
        c.wait_for("run ended", Duration::from_secs(10), move |m| {
            m.json()["cmd_id"] == r.as_str() && m.json()["status"] == "done"
        });
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "interrupt over MQTT -> the run's final reply (after injection off and relays open): \
         median {:.1} ms, p99 {:.1} ms over {} interrupts",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99),
        lat.len()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("messaging benchmarks: run with `cargo bench --bench messaging`");
        return;
    }
    latency_and_footprint();
    waveform_throughput();
    interrupt_latency();
}
