//! One browser's connection: `hello` and the cached status first, then what the hub
//! publishes and the browser's commands, until it leaves or stops reading.

use std::future::Future;
use std::sync::atomic::Ordering;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use serde_json::json;
use tokio::sync::broadcast;

use super::{Hub, SEND_TIMEOUT};
use crate::web::auth::Role;

impl Hub {
    /// Serves one browser with `role` until it leaves, stops reading, or the hub closes; or
    /// until `refused` resolves (its token revoked or expired), when the browser is sent a
    /// close frame with code 1008 (policy) and the reason `refused` gives.
    pub async fn serve_client(
        self,
        mut socket: WebSocket,
        role: Role,
        refused: impl Future<Output = String> + Send,
    ) {
        tokio::pin!(refused);
        let n = self.0.next_client.fetch_add(1, Ordering::Relaxed);
        let client = format!("{}{n}", self.0.client_prefix);
        // Subscribed before hello: nothing published from now on is missed.
        let mut rx = self.0.tx.subscribe();
        tracing::info!(client = %client, role = %role, "dashboard connected");
        let mut first = vec![self.hello(&client, role)];
        first.extend(
            self.0
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .map(|f| f.text.to_string()),
        );
        for text in first {
            if !send(&mut socket, text).await {
                return;
            }
        }
        let mut commands = 0u64;
        let why = loop {
            tokio::select! {
                reason = &mut refused => {
                    tracing::info!(client = %client, "dashboard closed: {reason}");
                    let frame = CloseFrame {
                        code: close_code::POLICY,
                        reason: truncate(&reason, 123).into(),
                    };
                    let _ = tokio::time::timeout(
                        SEND_TIMEOUT,
                        socket.send(Message::Close(Some(frame))),
                    )
                    .await;
                    break "its token is no longer accepted";
                },
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(reply) = self.on_frame(&client, role, t.as_bytes(), &mut commands) {
                            if !send(&mut socket, reply).await {
                                break "it does not read";
                            }
                        }
                    }
                    Some(Ok(Message::Binary(b))) => {
                        if let Some(reply) = self.on_frame(&client, role, &b, &mut commands) {
                            if !send(&mut socket, reply).await {
                                break "it does not read";
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break "closed",
                    Some(Ok(_)) => {}
                    Some(Err(_)) => break "connection error",
                },
                ev = rx.recv() => match ev {
                    Ok(frame) => {
                        if frame.for_client.as_deref().is_some_and(|c| c != client) {
                            continue;
                        }
                        if !send(&mut socket, frame.text.to_string()).await {
                            break "it does not read";
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(count)) => {
                        let text = json!({"type": "skipped", "count": count}).to_string();
                        if !send(&mut socket, text).await {
                            break "it does not read";
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break "the hub closed",
                },
            }
        };
        tracing::info!(client = %client, "dashboard disconnected: {why}");
    }
}

/// Sends one text frame within [`SEND_TIMEOUT`]; `false` if the browser is gone or too slow.
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

/// `s` cut to at most `max` bytes, on a character boundary (a close frame's reason holds 123).
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
