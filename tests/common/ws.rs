//! The dashboard from a test's side: tokens made with `ohmpi token add`, and a WebSocket client
//! on loopback with bounded waits.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, stream::MaybeTlsStream, Message};

pub type Ws = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// `ohmpi token ...` with the configuration `config`; fails the test if it fails.
pub fn token_cmd(config: &Path, args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .arg("--config")
        .arg(config)
        .arg("token")
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ohmpi token {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A new token with `role` (the last line `ohmpi token add` prints); `more` are extra options.
pub fn add_token(config: &Path, role: &str, more: &[&str]) -> String {
    let mut args = vec!["add", "--role", role];
    args.extend_from_slice(more);
    let o = token_cmd(config, &args);
    let out = String::from_utf8(o.stdout).unwrap();
    let last = out.lines().last().unwrap().trim().to_string();
    assert!(last.starts_with("ohmpi_"), "{out}");
    last
}

/// A WebSocket to the dashboard on `port` with `token`; reads time out every 200 ms.
pub fn connect(port: u16, token: &str) -> Ws {
    let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws?token={token}")).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    ws
}

/// Waits (bounded) for a frame matching `f`; every frame before it is passed to `f` too.
pub fn wait(
    ws: &mut Ws,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if f(&v) {
                    return v;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Sends one JSON text frame.
pub fn send(ws: &mut Ws, body: Value) {
    ws.send(Message::Text(body.to_string().into())).unwrap();
}

/// The `reply` frame with `status` to the command `cmd_id` (30 s at most).
pub fn reply_frame(ws: &mut Ws, cmd_id: &str, status: &str) -> Value {
    wait(
        ws,
        &format!("{cmd_id} {status}"),
        Duration::from_secs(30),
        |v| {
            v["type"] == "reply"
                && v["payload"]["cmd_id"] == cmd_id
                && v["payload"]["status"] == status
        },
    )
}
