//! `ohmpi ctl CMD [key=value ...]`: send one command to the instrument over MQTT, print its
//! reply, exit 0 on done/accepted and non-zero on error or time-out; `--watch` follows a run to
//! its end with a progress bar.
//!
//! It waits on one channel for whatever comes first: a message from the broker, SIGINT/SIGTERM
//! (taken by a thread of its own with sigwait), or the deadline. An instrument that goes offline
//! (its retained status, or its last will, says `"online": false`) ends the wait with an error.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ohmpi::config::Config;
use rumqttc::{Client, ConnectionError, Event, Packet, QoS};
use serde_json::{Map, Value};

use super::progress::Progress;

/// `--timeout` without `--watch`: the reply to one command.
pub const DEFAULT_TIMEOUT_S: u64 = 10;
/// `--timeout` with `--watch`: the end of a run (whose length ctl cannot know).
pub const DEFAULT_WATCH_TIMEOUT_S: u64 = 3600;

/// `key=value` → JSON: numbers, booleans, arrays and objects as JSON, anything else a string.
fn kwargs(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("argument \"{pair}\": expected key=value"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        map.insert(k.trim().to_string(), value);
    }
    Ok(map)
}

/// What the waiting loop is told.
enum Ev {
    Mqtt(Result<Event, ConnectionError>),
    Signal(libc::c_int),
}

/// SIGINT and SIGTERM to `tx`: blocked in this thread (and so in every thread started after
/// it), taken by a thread of their own.
fn forward_signals(tx: mpsc::Sender<Ev>) -> Result<()> {
    // SAFETY: a signal set of ours, then the calling thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            bail!(
                "cannot block SIGINT and SIGTERM: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        set
    };
    std::thread::spawn(move || loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: waits for one of the blocked signals of `set`.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        if tx.send(Ev::Signal(sig)).is_err() {
            return;
        }
    });
    Ok(())
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT (Ctrl-C)",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

pub fn run(
    config: &Config,
    cmd: &str,
    args: &[String],
    watch: bool,
    timeout: Duration,
) -> Result<()> {
    let me = format!("ctl-{}", std::process::id());
    let cmd_id = format!("{me}-1");
    let prefix = &config.mqtt.prefix;
    let instrument = &config.instrument.id;
    // Same broker, credentials and TLS as the instrument's own configuration.
    let mut o = ohmpi::messaging::link::options_as(&config.mqtt, &me, None)?;
    o.set_keep_alive(Duration::from_secs(5));
    let body = serde_json::json!({
        "cmd_id": cmd_id, "cmd": cmd, "reply_to": me, "kwargs": kwargs(args)?,
    });
    let (tx, rx) = mpsc::channel();
    forward_signals(tx.clone())?;
    let (client, mut connection) = Client::new(o, 16);
    std::thread::spawn(move || {
        for event in connection.iter() {
            let failed = event.is_err();
            if tx.send(Ev::Mqtt(event)).is_err() || failed {
                return;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut sent = false;
    let mut progress: Option<Progress> = None;
    let outcome = (|| -> Result<Value> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match rx.recv_timeout(left) {
                Ok(Ev::Mqtt(e)) => e,
                Ok(Ev::Signal(sig)) if sent && watch => bail!(
                    "stopped watching on {}; the run goes on on the instrument \
                     (`ohmpi ctl interrupt` stops it)",
                    signal_name(sig)
                ),
                Ok(Ev::Signal(sig)) => bail!("stopped on {}", signal_name(sig)),
                Err(_) if sent && watch => bail!(
                    "the run did not end within {} s (--timeout); it goes on on the instrument",
                    timeout.as_secs()
                ),
                Err(_) => bail!(
                    "no reply from the instrument within {} s (--timeout)",
                    timeout.as_secs()
                ),
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) if !sent => {
                    client.try_subscribe(
                        format!("{prefix}/control/response/{me}"),
                        QoS::AtLeastOnce,
                    )?;
                    // Its retained status first: offline, or its progress.
                    client.try_subscribe(format!("{prefix}/status"), QoS::AtLeastOnce)?;
                    client.try_publish(
                        format!("{prefix}/control"),
                        QoS::AtLeastOnce,
                        false,
                        body.to_string(),
                    )?;
                    sent = true;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                    if p.topic.ends_with("/status") {
                        if v["online"] == false {
                            bail!(
                                "the instrument {instrument} went offline (its status on \
                                 {prefix}/status says \"online\": false){}",
                                if watch {
                                    "; the run's end is unknown"
                                } else {
                                    ""
                                }
                            );
                        }
                        if !watch {
                            continue;
                        }
                        if let Some(s) = v.get("survey").filter(|s| !s.is_null()) {
                            let total = s["total"].as_u64().unwrap_or(0) as u32;
                            let bar = progress.get_or_insert_with(|| Progress::new(total));
                            bar.update(
                                s["done"].as_u64().unwrap_or(0) as u32,
                                s["eta_s"].as_f64().unwrap_or(0.0),
                            );
                        }
                        continue;
                    }
                    if v["cmd_id"] != cmd_id.as_str() {
                        continue;
                    }
                    let status = v["status"].as_str().unwrap_or("").to_string();
                    if !(watch && status == "accepted") {
                        return Ok(v);
                    }
                    println!("{v}");
                }
                Ok(_) => {}
                Err(e) => bail!(
                    "cannot reach the broker at {}:{}: {e}",
                    config.mqtt.host,
                    config.mqtt.port
                ),
            }
        }
    })();
    if let Some(p) = &mut progress {
        p.finish();
    }
    let _ = client.try_disconnect();
    let reply = outcome?;
    println!("{reply}");
    match reply["status"].as_str() {
        Some("done") | Some("accepted") => Ok(()),
        _ => bail!(
            "{}",
            reply["error"]["message"]
                .as_str()
                .unwrap_or("the instrument refused the command")
        ),
    }
}
