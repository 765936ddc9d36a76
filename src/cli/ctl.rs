//! `ohmpi ctl CMD [key=value ...]`: send one command to the instrument over MQTT, print its
//! reply, exit 0 on done/accepted and non-zero on error or time-out; `--watch` follows a run to
//! its end with a progress bar.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ohmpi::config::Config;
use rumqttc::{Client, Event, Packet, QoS};
use serde_json::{Map, Value};

use super::progress::Progress;

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
    // Same broker, credentials and TLS as the instrument's own configuration.
    let mut o = ohmpi::messaging::link::options_as(&config.mqtt, &me, None)?;
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(o, 16);
    let body = serde_json::json!({
        "cmd_id": cmd_id, "cmd": cmd, "reply_to": me, "kwargs": kwargs(args)?,
    });
    let deadline = Instant::now() + timeout;
    let mut sent = false;
    let mut progress: Option<Progress> = None;
    let mut final_reply: Option<Value> = None;
    for event in connection.iter() {
        if Instant::now() > deadline {
            bail!(
                "no reply from the instrument within {} s",
                timeout.as_secs()
            );
        }
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) if !sent => {
                client
                    .try_subscribe(format!("{prefix}/control/response/{me}"), QoS::AtLeastOnce)?;
                if watch {
                    client.try_subscribe(format!("{prefix}/status"), QoS::AtLeastOnce)?;
                }
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
                    final_reply = Some(v);
                    break;
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
    if let Some(p) = &mut progress {
        p.finish();
    }
    let _ = client.disconnect();
    let reply = final_reply.context("the connection ended before a reply came")?;
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
