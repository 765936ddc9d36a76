//! `[mqtt]` and `[control]`: the broker link and what remote control may do.

use std::path::PathBuf;

use serde::Deserialize;

use super::FieldError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub tls: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub keepalive_s: Option<u64>,
    pub prefix: Option<String>,
    pub ohmpi_compat: Option<bool>,
    pub soh_interval_s: Option<f64>,
    pub log_level: Option<String>,
    pub log_rate_per_s: Option<u32>,
    pub max_payload_kib: Option<u32>,
    pub outbox_max_mb: Option<u64>,
    pub waveform: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    pub allow_set_time: Option<bool>,
    pub allow_restart: Option<bool>,
    pub allow_shutdown: Option<bool>,
    pub sequences_dir: Option<PathBuf>,
}

/// TLS to the broker (rustls).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// CA certificates (PEM) the broker's certificate must chain to.
    pub ca_file: PathBuf,
    /// Client certificate and key (PEM), for brokers that ask for one.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Password {
    Inline(String),
    File(PathBuf),
}

/// The broker link.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// Whether `host` or `port` was given (else `ohmpi demo` runs its own broker).
    pub explicit_broker: bool,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub tls: Option<TlsConfig>,
    pub keepalive_s: u64,
    /// Topic prefix of the native topics (`ohmpi/<id>`).
    pub prefix: String,
    /// Also speak the OhmPi Python controller's dialect (`ohmpi_<id>/...`).
    pub ohmpi_compat: bool,
    pub soh_interval_s: f64,
    /// Lowest level of log events published on `log`.
    pub log_level: tracing::Level,
    /// Log events published per second at most (the rest are counted and reported).
    pub log_rate_per_s: u32,
    pub max_payload_bytes: usize,
    /// Disk the unacknowledged records may take before the oldest are given up.
    pub outbox_max_bytes: u64,
    /// Publish every quadrupole's full waveform on `data/waveform` (and keep `_fw.csv` files).
    pub waveform: bool,
}

/// What remote control may do.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlConfig {
    pub allow_set_time: bool,
    pub allow_restart: bool,
    pub allow_shutdown: bool,
    /// `load_sequence` reads only inside this folder.
    pub sequences_dir: PathBuf,
}

fn topic_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains(['+', '#', '\0'])
        && !s.contains("//")
}

pub fn validate_mqtt(raw: &RawMqtt, instrument_id: &str) -> Result<MqttConfig, FieldError> {
    let host = raw.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    if host.trim().is_empty() {
        return Err(FieldError::new("mqtt.host", "must name the broker's host"));
    }
    let port = raw.port.unwrap_or(1883);
    if port == 0 {
        return Err(FieldError::new(
            "mqtt.port",
            "must be between 1 and 65535, got 0",
        ));
    }
    let password = match (&raw.password, &raw.password_file) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "mqtt.password_file",
                "give either password or password_file, not both",
            ))
        }
        (Some(p), None) => Some(Password::Inline(p.clone())),
        (None, Some(f)) => Some(Password::File(f.clone())),
        (None, None) => None,
    };
    let tls = match (raw.tls.unwrap_or(false), &raw.ca_file) {
        (false, _) => None,
        (true, None) => {
            return Err(FieldError::new(
                "mqtt.ca_file",
                "is required with tls = true (the CA certificate file, PEM)",
            ))
        }
        (true, Some(ca)) => Some(TlsConfig {
            ca_file: ca.clone(),
            client_auth: match (&raw.client_cert, &raw.client_key) {
                (Some(c), Some(k)) => Some((c.clone(), k.clone())),
                (None, None) => None,
                _ => {
                    return Err(FieldError::new(
                        "mqtt.client_key",
                        "client_cert and client_key go together",
                    ))
                }
            },
        }),
    };
    let keepalive_s = raw.keepalive_s.unwrap_or(30);
    if !(5..=3600).contains(&keepalive_s) {
        return Err(FieldError::new(
            "mqtt.keepalive_s",
            format!("must be between 5 and 3600 s, got {keepalive_s}"),
        ));
    }
    let prefix = raw
        .prefix
        .clone()
        .unwrap_or_else(|| format!("ohmpi/{instrument_id}"));
    if !topic_ok(&prefix) {
        return Err(FieldError::new(
            "mqtt.prefix",
            format!("must be a topic without wildcards (+, #) or empty levels, got \"{prefix}\""),
        ));
    }
    let soh_interval_s = raw.soh_interval_s.unwrap_or(10.0);
    if !(soh_interval_s.is_finite() && (1.0..=3600.0).contains(&soh_interval_s)) {
        return Err(FieldError::new(
            "mqtt.soh_interval_s",
            format!("must be between 1 and 3600 s, got {soh_interval_s}"),
        ));
    }
    let level = raw.log_level.clone().unwrap_or_else(|| "info".into());
    let log_level = level.parse::<tracing::Level>().map_err(|_| {
        FieldError::new(
            "mqtt.log_level",
            format!("must be one of error, warn, info, debug, trace, got \"{level}\""),
        )
    })?;
    let client_id = raw
        .client_id
        .clone()
        .unwrap_or_else(|| format!("ohmpi-{instrument_id}"));
    if client_id.is_empty() || client_id.len() > 64 {
        return Err(FieldError::new(
            "mqtt.client_id",
            "must be 1 to 64 characters",
        ));
    }
    let max_payload_kib = raw.max_payload_kib.unwrap_or(256);
    if !(1..=65_536).contains(&max_payload_kib) {
        return Err(FieldError::new(
            "mqtt.max_payload_kib",
            format!("must be between 1 and 65536 KiB, got {max_payload_kib}"),
        ));
    }
    let outbox_max_mb = raw.outbox_max_mb.unwrap_or(512);
    if outbox_max_mb == 0 {
        return Err(FieldError::new(
            "mqtt.outbox_max_mb",
            "must be at least 1 MB, got 0",
        ));
    }
    Ok(MqttConfig {
        explicit_broker: raw.host.is_some() || raw.port.is_some(),
        host,
        port,
        client_id,
        username: raw.username.clone(),
        password,
        tls,
        keepalive_s,
        prefix,
        ohmpi_compat: raw.ohmpi_compat.unwrap_or(false),
        soh_interval_s,
        log_level,
        log_rate_per_s: raw.log_rate_per_s.unwrap_or(20).max(1),
        max_payload_bytes: max_payload_kib as usize * 1024,
        outbox_max_bytes: outbox_max_mb * 1_000_000,
        waveform: raw.waveform.unwrap_or(false),
    })
}

pub fn validate_control(raw: &RawControl) -> ControlConfig {
    ControlConfig {
        allow_set_time: raw.allow_set_time.unwrap_or(false),
        allow_restart: raw.allow_restart.unwrap_or(false),
        allow_shutdown: raw.allow_shutdown.unwrap_or(false),
        sequences_dir: raw
            .sequences_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("sequences")),
    }
}
