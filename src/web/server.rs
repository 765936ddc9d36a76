//! The HTTP side: routes, tokens, embedded assets, survey files.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls;

use super::auth::{AuthError, Holder, Tokens};
use super::hub::Hub;
use super::listener::{self, Conn, ConnLimits};
use crate::survey::Geometry;

/// Read buffer of each WebSocket connection, bytes.
const READ_BUFFER: usize = 4096;

/// Where survey files are, and the electrodes' positions for exports.
#[derive(Debug, Clone)]
pub struct Files {
    pub data_dir: PathBuf,
    pub geometry: Geometry,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub hub: Hub,
    pub tokens: Arc<Tokens>,
    pub files: Option<Arc<Files>>,
}

/// The dashboard's routes (docs/web.md, "HTTP").
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/health", get(health))
        .route("/ws", get(ws))
        .route("/files/{survey}", get(files))
        .with_state(state)
}

/// Binds `addr` and serves `state` on it in a task of its own, within `limits` (see
/// [`super::listener`]); an address that cannot be bound is an error for the caller to report
/// (the instrument goes on without its dashboard).
pub async fn spawn(
    addr: SocketAddr,
    state: AppState,
    limits: ConnLimits,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(listener::serve(listener, router(state), limits, None));
    Ok(local)
}

/// Why the dashboard's certificate or key cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

/// The server side of TLS from PEM files: `cert`, the certificate then any intermediates, and
/// `key`, its private key (PKCS#8, PKCS#1 or SEC1).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let invalid = |path: &std::path::Path, what: String| TlsError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let pem = read(cert)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(cert, "holds no certificate (PEM)".into()));
    }
    let pem = read(key)?;
    let private = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| invalid(key, format!("not a PEM key file: {e}")))?
        .ok_or_else(|| invalid(key, "holds no private key (PEM)".into()))?;
    check_key_pair(cert, &certs[0], key, &private)?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| invalid(key, format!("cannot be used with {}: {e}", cert.display())))?;
    // HTTP/1.1 only: the WebSocket upgrade needs it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Checks that `private` (from `key`) is the key of `leaf` (the first certificate of `cert`):
/// a signature made with it verifies with the certificate's public key. rustls takes a pair that
/// does not match, and every handshake would then fail.
fn check_key_pair(
    cert: &std::path::Path,
    leaf: &rustls::pki_types::CertificateDer<'_>,
    key: &std::path::Path,
    private: &rustls::pki_types::PrivateKeyDer<'_>,
) -> Result<(), TlsError> {
    let invalid = |path: &std::path::Path, what: String| TlsError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let leaf = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| invalid(cert, format!("not a usable certificate: {e:?}")))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(private.clone_key())
        .map_err(|e| invalid(key, format!("not a usable private key: {e}")))?;
    let mapping = provider.signature_verification_algorithms.mapping;
    let offered: Vec<_> = mapping.iter().map(|(scheme, _)| *scheme).collect();
    let signer = signing
        .choose_scheme(&offered)
        .ok_or_else(|| invalid(key, "a key of a kind TLS cannot use".into()))?;
    const MESSAGE: &[u8] = b"ohmpi dashboard key check";
    let signature = signer
        .sign(MESSAGE)
        .map_err(|e| invalid(key, format!("cannot sign with it: {e}")))?;
    let matches = mapping
        .iter()
        .filter(|(scheme, _)| *scheme == signer.scheme())
        .flat_map(|(_, algs)| algs.iter())
        .any(|alg| leaf.verify_signature(*alg, MESSAGE, &signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("is not the key of the certificate in {}", cert.display()),
        ))
    }
}

/// As [`spawn`], over TLS with `tls`: every connection is a TLS handshake, then HTTP/1.1 (with
/// WebSocket upgrades). A failed handshake ends that connection only.
pub async fn spawn_tls(
    addr: SocketAddr,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    limits: ConnLimits,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(listener::serve(
        listener,
        router(state),
        limits,
        Some(acceptor),
    ));
    Ok(local)
}

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: LazyLock<String>,
}

macro_rules! asset {
    ($file:literal, $type:literal) => {
        Asset {
            body: include_bytes!(concat!("assets/", $file)),
            content_type: $type,
            etag: LazyLock::new(|| etag(include_bytes!(concat!("assets/", $file)))),
        }
    };
}

static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");
static APP_JS: Asset = asset!("app.js", "text/javascript; charset=utf-8");
static STYLE_CSS: Asset = asset!("style.css", "text/css; charset=utf-8");

fn etag(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn serve_asset(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let tag: &str = &asset.etag;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let common = [
        (header::CACHE_CONTROL, "no-cache"),
        (header::ETAG, tag),
        (header::CONTENT_TYPE, asset.content_type),
    ];
    if matches {
        (StatusCode::NOT_MODIFIED, common).into_response()
    } else {
        (common, asset.body).into_response()
    }
}

async fn index(headers: HeaderMap) -> Response {
    serve_asset(&INDEX, &headers)
}

async fn app_js(headers: HeaderMap) -> Response {
    serve_asset(&APP_JS, &headers)
}

async fn style_css(headers: HeaderMap) -> Response {
    serve_asset(&STYLE_CSS, &headers)
}

async fn health(State(s): State<AppState>) -> Response {
    Json(s.hub.health()).into_response()
}

fn unauthorized(e: AuthError) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": e.to_string() })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The token of `Authorization: Bearer`, else of `?token=`.
fn token_of<'a>(headers: &'a HeaderMap, query: &'a HashMap<String, String>) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer.or(query.get("token").map(String::as_str))
}

/// Who holds the request's token ([`token_of`]), or why it is refused. A valid token lets the
/// connection `conn` stay open past its first seconds.
fn authorize(
    s: &AppState,
    conn: Option<&Conn>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Holder, AuthError> {
    let holder = s.tokens.check(token_of(headers, query)).inspect_err(|e| {
        tracing::info!("dashboard request refused: {e}");
    })?;
    if let Some(c) = conn {
        c.authenticated();
    }
    Ok(holder)
}

async fn ws(
    State(s): State<AppState>,
    conn: Option<Extension<Conn>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // The token first: a request without one is told so, WebSocket or not.
    let conn = conn.map(|Extension(c)| c);
    let holder = match authorize(&s, conn.as_ref(), &headers, &query) {
        Ok(h) => h,
        Err(e) => return unauthorized(e),
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    // Frames over the limit are read (up to 4 times it, at least 1 MiB) so that they can be
    // answered; larger ones end the connection.
    let limit = s.hub.limits().max_frame;
    let cap = (limit * 4).max(1 << 20);
    let hub = s.hub.clone();
    // Closed when the token is revoked, removed or expires.
    let token = token_of(&headers, &query).unwrap_or_default().to_string();
    let refused = s.tokens.clone().until_refused(token, holder.clone());
    upgrade
        .max_message_size(cap)
        .max_frame_size(cap)
        // Browsers send little: a small read buffer keeps each connection's memory small
        // (the default is 128 KiB), which counts with many browsers on a Raspberry Pi.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            // The connection keeps its place (web.max_connections) while the socket is open.
            let _conn = conn;
            hub.serve_client(socket, holder.role, refused).await
        })
}

async fn files(
    State(s): State<AppState>,
    conn: Option<Extension<Conn>>,
    headers: HeaderMap,
    Path(survey): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = authorize(&s, conn.as_deref(), &headers, &query) {
        return unauthorized(e);
    }
    let not_found = |msg: String| (StatusCode::NOT_FOUND, Json(json!({ "error": msg })));
    let Some(files) = &s.files else {
        return not_found("this server keeps no survey files".into()).into_response();
    };
    let stem = survey.strip_suffix(".csv").unwrap_or(&survey);
    if stem.is_empty()
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || stem.starts_with('.')
    {
        return not_found(format!("no survey {survey}")).into_response();
    }
    let stem = crate::storage::survey_stem(stem);
    let format = query.get("format").cloned().unwrap_or_else(|| "csv".into());
    // Reading and converting a survey file waits on the disk: not on the async workers, which
    // serve every other connection.
    let files = Arc::clone(files);
    match tokio::task::spawn_blocking(move || survey_file(&files, &survey, &stem, &format)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!("dashboard: reading a survey file failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "reading the survey file failed" })),
            )
                .into_response()
        }
    }
}

/// The response to `GET /files/<survey>?format=<format>`, the file `<stem>.csv`: reads the disk.
fn survey_file(files: &Files, survey: &str, stem: &str, format: &str) -> Response {
    let not_found = |msg: String| (StatusCode::NOT_FOUND, Json(json!({ "error": msg })));
    let path = files.data_dir.join(format!("{stem}.csv"));
    if !path.is_file() {
        return not_found(format!("no survey {survey}")).into_response();
    }
    let body = match format {
        "csv" => std::fs::read(&path).map_err(|e| e.to_string()),
        "pygimli" | "protocol" => export(&path, format == "pygimli", &files.geometry),
        other => {
            let msg = format!("format must be csv, pygimli or protocol, got \"{other}\"");
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response();
        }
    };
    let (ext, content_type) = match format {
        "csv" => ("csv", "text/csv; charset=utf-8"),
        "pygimli" => ("pygimli.dat", "text/plain; charset=utf-8"),
        _ => ("protocol.dat", "text/plain; charset=utf-8"),
    };
    match body {
        Ok(bytes) => {
            let disposition = format!("attachment; filename=\"{stem}.{ext}\"");
            (
                [
                    (header::CONTENT_TYPE, content_type.to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": e })),
        )
            .into_response(),
    }
}

fn export(path: &std::path::Path, pygimli: bool, geometry: &Geometry) -> Result<Vec<u8>, String> {
    use crate::storage::export::{export_rows, max_electrode};
    let (rows, _) = export_rows(path).map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Err("the survey holds no measurement to export".into());
    }
    let mut out = Vec::new();
    if pygimli {
        let max = max_electrode(&rows);
        if geometry.nelec() < max {
            return Err(format!(
                "the survey uses electrode {max}; the geometry has {}",
                geometry.nelec()
            ));
        }
        crate::survey::export::write_pygimli(&rows, geometry, &mut out)
    } else {
        crate::survey::export::write_protocol(&rows, &mut out)
    }
    .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests;
