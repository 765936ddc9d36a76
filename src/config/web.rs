//! `[web]`: the dashboard's HTTP server and WebSocket (docs/web.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::FieldError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub tokens_file: Option<PathBuf>,
    pub max_frame_kib: Option<u32>,
    pub client_queue: Option<u32>,
    pub max_connections: Option<u32>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The dashboard's server.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    pub enabled: bool,
    /// Address and port the server listens on.
    pub listen: SocketAddr,
    /// The tokens file as configured (`None`: beside the configuration file, see
    /// [`WebConfig::tokens_path`]).
    pub tokens_file: Option<PathBuf>,
    /// WebSocket frames from a browser larger than this are refused.
    pub max_frame_bytes: usize,
    /// Messages kept for a browser that falls behind, at most.
    pub client_queue: usize,
    /// Connections open at once, at most (HTTP and WebSocket); more are closed unread. Each is
    /// a file descriptor: the bound keeps them well below the process's open-file limit.
    pub max_connections: usize,
    /// HTTPS (and wss://) with this certificate and key; `None`: plain HTTP.
    pub tls: Option<WebTls>,
}

/// The server's certificate chain and private key, PEM files (read when the server starts).
#[derive(Debug, Clone, PartialEq)]
pub struct WebTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the tokens are kept when no configuration file is in use.
pub const DEFAULT_TOKENS_FILE: &str = "/etc/ohmpi/tokens.toml";

impl WebConfig {
    /// The tokens file: `tokens_file`, else `tokens.toml` beside the configuration file `source`,
    /// else [`DEFAULT_TOKENS_FILE`].
    pub fn tokens_path(&self, source: Option<&Path>) -> PathBuf {
        if let Some(p) = &self.tokens_file {
            return p.clone();
        }
        match source {
            Some(config) => config
                .parent()
                .map(|d| d.join("tokens.toml"))
                .unwrap_or_else(|| PathBuf::from("tokens.toml")),
            None => PathBuf::from(DEFAULT_TOKENS_FILE),
        }
    }
}

pub fn validate_web(raw: &RawWeb) -> Result<WebConfig, FieldError> {
    let listen_text = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        FieldError::new(
            "web.listen",
            format!(
                "must be an address and a port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\", \
                 got \"{listen_text}\""
            ),
        )
    })?;
    let max_frame_kib = raw.max_frame_kib.unwrap_or(64);
    if !(1..=16_384).contains(&max_frame_kib) {
        return Err(FieldError::new(
            "web.max_frame_kib",
            format!("must be between 1 and 16384, got {max_frame_kib}"),
        ));
    }
    let client_queue = raw.client_queue.unwrap_or(256);
    if !(16..=65_536).contains(&client_queue) {
        return Err(FieldError::new(
            "web.client_queue",
            format!("must be between 16 and 65536, got {client_queue}"),
        ));
    }
    let max_connections = raw.max_connections.unwrap_or(256);
    if !(1..=16_384).contains(&max_connections) {
        return Err(FieldError::new(
            "web.max_connections",
            format!("must be between 1 and 16384, got {max_connections}"),
        ));
    }
    if raw
        .tokens_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        return Err(FieldError::new(
            "web.tokens_file",
            "must name a file (or be left out)",
        ));
    }
    for (key, path) in [
        ("web.tls_cert", &raw.tls_cert),
        ("web.tls_key", &raw.tls_key),
    ] {
        if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(FieldError::new(key, "must name a file (or be left out)"));
        }
    }
    let tls = match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => Some(WebTls {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(FieldError::new(
                "web.tls_key",
                "is required with tls_cert (tls_cert and tls_key go together)",
            ))
        }
        (None, Some(_)) => {
            return Err(FieldError::new(
                "web.tls_cert",
                "is required with tls_key (tls_cert and tls_key go together)",
            ))
        }
    };
    Ok(WebConfig {
        enabled: raw.enabled.unwrap_or(true),
        listen,
        tokens_file: raw.tokens_file.clone(),
        max_frame_bytes: max_frame_kib as usize * 1024,
        client_queue: client_queue as usize,
        max_connections: max_connections as usize,
        tls,
    })
}
