//! Access to the dashboard: tokens, each with a role, stored hashed in a TOML file.
//!
//! ```toml
//! [[token]]
//! id = "1"
//! name = "field laptop"
//! role = "operator"
//! salt = "<32 hex digits>"
//! hash = "<hex SHA-256 of salt bytes followed by the token>"
//! created = "2026-11-22T21:13:05.123Z"
//! expires = "2027-05-21T21:13:05.123Z"
//! revoked = false
//! ```
//!
//! A token is `ohmpi_` followed by 43 base64url characters (32 bytes from the OS's random
//! source). It is shown once, when made; only its salted hash is kept. Checks compare hashes in
//! constant time and read the file again whenever it changed, so a revoke takes effect at once:
//! for new requests, and for open WebSockets too, which are closed when their token is revoked,
//! removed, or expires ([`Tokens::until_refused`], in auth/watch.rs).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token's holder may do (docs/web.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may send `cmd` (a canonical command name).
    pub fn may_send(self, cmd: &str) -> bool {
        match self {
            Role::Admin => true,
            Role::Operator => !matches!(cmd, "restart" | "shutdown" | "set_time"),
            Role::Viewer => matches!(
                cmd,
                "get_status" | "get_settings" | "list_surveys" | "get_data"
            ),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role \"{s}\"; expected viewer, operator or admin"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[token]]` of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: Role,
    pub salt: String,
    pub hash: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default)]
    pub revoked: bool,
}

/// The whole tokens file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    #[serde(default)]
    pub token: Vec<TokenEntry>,
}

/// Why the tokens file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("cannot write {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("no token {0} in the tokens file")]
    NoSuchToken(String),
    #[error("{0}")]
    Invalid(String),
}

impl TokenFile {
    /// Reads `path`; a missing file holds no tokens.
    pub fn read(path: &Path) -> Result<TokenFile, TokenFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(cause) => {
                return Err(TokenFileError::Read {
                    path: path.into(),
                    cause,
                })
            }
        };
        toml::from_str(&text).map_err(|e| TokenFileError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })
    }

    /// Writes the file readable by its owner only (mode 0600), replacing it atomically.
    pub fn write(&self, path: &Path) -> Result<(), TokenFileError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |cause| TokenFileError::Write {
            path: path.into(),
            cause,
        };
        let text = toml::to_string(self)
            .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("toml.new");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(
            b"# Dashboard access tokens (ohmpi token add / list / revoke). Only hashes are kept.\n",
        )
        .and_then(|_| f.write_all(text.as_bytes()))
        .and_then(|_| f.sync_all())
        .map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// Makes a token with `role`, valid for `valid_for` (`None`: until revoked); returns the
    /// entry and the token itself, which is stored nowhere.
    pub fn add(
        &mut self,
        role: Role,
        name: Option<String>,
        valid_for: Option<Duration>,
        now: SystemTime,
    ) -> Result<(TokenEntry, String), TokenFileError> {
        let mut secret = [0u8; 32];
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut secret)
            .and_then(|_| getrandom::getrandom(&mut salt))
            .map_err(|e| TokenFileError::Invalid(format!("no random numbers from the OS: {e}")))?;
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let salt = hex(&salt);
        let next = self
            .token
            .iter()
            .filter_map(|t| t.id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let entry = TokenEntry {
            id: next.to_string(),
            name,
            role,
            hash: hex(&digest(&salt, &token)),
            salt,
            created: crate::timestamp::rfc3339(now),
            expires: valid_for.map(|d| crate::timestamp::rfc3339(now + d)),
            revoked: false,
        };
        self.token.push(entry.clone());
        Ok((entry, token))
    }

    /// Marks token `id` revoked.
    pub fn revoke(&mut self, id: &str) -> Result<&TokenEntry, TokenFileError> {
        let t = self
            .token
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| TokenFileError::NoSuchToken(id.into()))?;
        t.revoked = true;
        Ok(t)
    }

    /// Who holds `token`, or why it is refused.
    pub fn check(&self, token: &str, now: SystemTime) -> Result<&TokenEntry, AuthError> {
        let mut found = None;
        for t in &self.token {
            let Some(stored) = unhex(&t.hash) else {
                continue;
            };
            let ours = digest(&t.salt, token);
            if bool::from(ours.as_slice().ct_eq(stored.as_slice())) {
                found = Some(t);
            }
        }
        let t = found.ok_or(AuthError::Unknown)?;
        if t.revoked {
            return Err(AuthError::Revoked);
        }
        if let Some(expires) = &t.expires {
            match crate::timestamp::parse_rfc3339(expires) {
                Some(when) if when > now => {}
                _ => return Err(AuthError::Expired(expires.clone())),
            }
        }
        Ok(t)
    }
}

/// Every token starts so, to be recognised (and found by secret scanners).
pub const TOKEN_PREFIX: &str = "ohmpi_";

fn digest(salt_hex: &str, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(unhex(salt_hex).unwrap_or_else(|| salt_hex.as_bytes().to_vec()));
    h.update(token.as_bytes());
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a request is refused (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: give it as Authorization: Bearer <token> or ?token=<token>")]
    Missing,
    #[error("unknown token")]
    Unknown,
    #[error("token expired on {0}")]
    Expired(String),
    #[error("token revoked")]
    Revoked,
    #[error("the tokens file cannot be read: {0}")]
    File(String),
}

/// A validity such as `180d`, `12h`, `30m`, `2w` or `3600s`.
pub fn parse_validity(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("\"{s}\": expected a number and a unit, e.g. 180d, 12h, 30m"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("\"{s}\": the unit must be s, m, h, d or w")),
    };
    if n == 0 {
        return Err(format!("\"{s}\": must be more than zero"));
    }
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("\"{s}\": too long"))
}

/// The tokens file as the server checks it: read again whenever its modification time or size
/// changes.
pub struct Tokens {
    path: PathBuf,
    cache: Mutex<Cached>,
    /// Bumped whenever the file changes (seen through inotify), for the open WebSockets.
    changed: tokio::sync::watch::Sender<u64>,
    /// The file's watcher, started with the first WebSocket.
    watching: std::sync::Once,
}

struct Cached {
    stamp: Option<(Option<SystemTime>, u64)>,
    file: Result<TokenFile, String>,
}

/// Who holds a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub id: String,
    pub role: Role,
    /// When the token expires (`None`: it does not).
    pub expires: Option<SystemTime>,
}

impl Tokens {
    pub fn new(path: PathBuf) -> Tokens {
        Tokens {
            path,
            cache: Mutex::new(Cached {
                stamp: None,
                file: Ok(TokenFile::default()),
            }),
            changed: tokio::sync::watch::Sender::new(0),
            watching: std::sync::Once::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks `token` (`None`: none was given) against the file as it is now.
    pub fn check(&self, token: Option<&str>) -> Result<Holder, AuthError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
        let stamp = std::fs::metadata(&self.path)
            .map(|m| (m.modified().ok(), m.len()))
            .ok();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.stamp.is_none() || cache.stamp != Some(stamp.unwrap_or((None, 0))) {
            cache.file = TokenFile::read(&self.path).map_err(|e| e.to_string());
            if let Err(e) = &cache.file {
                tracing::error!("dashboard tokens: {e}");
            }
            cache.stamp = Some(stamp.unwrap_or((None, 0)));
        }
        let file = cache
            .file
            .as_ref()
            .map_err(|e| AuthError::File(e.clone()))?;
        let t = file.check(token, SystemTime::now())?;
        Ok(Holder {
            id: t.id.clone(),
            role: t.role,
            expires: t
                .expires
                .as_deref()
                .and_then(crate::timestamp::parse_rfc3339),
        })
    }
}

mod watch;

#[cfg(test)]
mod tests;
