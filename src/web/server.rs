//! The HTTP side: routes, tokens, embedded assets, survey files.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::auth::{AuthError, Holder, Tokens};
use super::hub::Hub;
use crate::survey::Geometry;

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

/// Binds `addr` and serves `state` on it in a task of its own; an address that cannot be bound
/// is an error for the caller to report (the instrument goes on without its dashboard).
pub async fn spawn(addr: SocketAddr, state: AppState) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("dashboard server stopped: {e}");
        }
    });
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
fn authorize(
    s: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Holder, AuthError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = bearer.or(query.get("token").map(String::as_str));
    s.tokens.check(token).inspect_err(|e| {
        tracing::info!("dashboard request refused: {e}");
    })
}

async fn ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let holder = match authorize(&s, &headers, &query) {
        Ok(h) => h,
        Err(e) => return unauthorized(e),
    };
    // Frames over the limit are read (up to 4 times it, at least 1 MiB) so that they can be
    // answered; larger ones end the connection.
    let limit = s.hub.limits().max_frame;
    let cap = (limit * 4).max(1 << 20);
    let hub = s.hub.clone();
    upgrade
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| hub.serve_client(socket, holder.role))
}

async fn files(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(survey): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = authorize(&s, &headers, &query) {
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
    let stem = if stem.starts_with("measurements_") {
        stem.to_string()
    } else {
        format!("measurements_{stem}")
    };
    let path = files.data_dir.join(format!("{stem}.csv"));
    if !path.is_file() {
        return not_found(format!("no survey {survey}")).into_response();
    }
    let format = query.get("format").map(String::as_str).unwrap_or("csv");
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
