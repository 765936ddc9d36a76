//! The dashboard end to end: the real daemon on the simulator, a real broker, HTTP and a
//! WebSocket client on loopback; and the token commands.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker, Daemon};
use common::ws::{add_token, connect, reply_frame, send, token_cmd, wait, Ws};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A daemon with its dashboard on a free port; returns it and the port.
fn start(dir: &Path, web: &str) -> (Broker, Daemon, u16) {
    let broker = Broker::start(dir);
    let port = free_port();
    let daemon = Daemon::start_with_web(
        dir,
        broker.port,
        "",
        &format!("listen = \"127.0.0.1:{port}\"\n{web}"),
    );
    // The configuration is written; tokens go beside it.
    let deadline = Instant::now() + SECS(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the dashboard does not listen: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (broker, daemon, port)
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A plain HTTP/1.1 GET.
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(SECS(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn reply(ws: &mut Ws, cmd_id: &str, status: &str) -> Value {
    reply_frame(ws, cmd_id, status)["payload"].clone()
}

fn refused(port: u16, token: Option<&str>) -> String {
    let path = match token {
        Some(t) => format!("/ws?token={t}"),
        None => "/ws".into(),
    };
    let r = get(port, &path, &[]);
    assert_eq!(r.status, 401, "{}", r.body);
    r.json()["error"].as_str().unwrap().to_string()
}

#[test]
fn the_token_commands_add_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ohmpi.toml");
    std::fs::write(&config, "[instrument]\nid = \"t1\"\n").unwrap();
    let token = add_token(
        &config,
        "operator",
        &["--expires", "180d", "--name", "laptop"],
    );
    assert_eq!(token.len(), "ohmpi_".len() + 43);
    let file = dir.path().join("tokens.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&token), "the token itself is not stored");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("hash = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let list = String::from_utf8(token_cmd(&config, &["list"]).stdout).unwrap();
    assert!(
        list.contains("laptop") && list.contains("operator"),
        "{list}"
    );
    assert!(!list.contains(&hash) && !list.contains(&token), "{list}");
    token_cmd(&config, &["revoke", "1"]);
    let list = String::from_utf8(token_cmd(&config, &["list"]).stdout).unwrap();
    assert!(list.lines().nth(1).unwrap().ends_with("yes"), "{list}");
}

#[test]
fn the_page_health_and_tokens_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, daemon, port) = start(dir.path(), "");
    let health = get(port, "/health", &[]);
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["mode"], "daemon");
    assert_eq!(h["instruments"], 1);
    for (path, ty) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let r = get(port, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with(ty), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        let etag = r.header("etag").unwrap().to_string();
        let again = get(port, path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
    }

    assert!(refused(port, None).contains("no token"));
    assert!(refused(port, Some("ohmpi_wrong")).contains("unknown"));
    let viewer = add_token(&daemon.config, "viewer", &[]);
    let short = add_token(&daemon.config, "viewer", &["--expires", "1s"]);
    let mut ws = connect(port, &viewer);
    let hello = wait(&mut ws, "hello", SECS(5), |v| v["type"] == "hello");
    assert_eq!(hello["role"], "viewer");
    assert_eq!(hello["instruments"][0]["id"], "t1");
    assert_eq!(hello["instruments"][0]["prefix"], "ohmpi/t1");
    assert!(hello["client"].as_str().unwrap().starts_with("ws-"));
    std::thread::sleep(Duration::from_millis(1100));
    assert!(refused(port, Some(&short)).contains("expired"));
    token_cmd(&daemon.config, &["revoke", "1"]);
    assert!(refused(port, Some(&viewer)).contains("revoked"));
    // Files need a token too.
    let r = get(port, "/files/nothing?format=csv", &[]);
    assert_eq!(r.status, 401);
    let op = add_token(&daemon.config, "operator", &[]);
    let auth = format!("Bearer {op}");
    let r = get(port, "/files/nothing", &[("Authorization", &auth)]);
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn roles_commands_and_bad_frames_over_the_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, daemon, port) = start(dir.path(), "");
    let viewer = add_token(&daemon.config, "viewer", &[]);
    let operator = add_token(&daemon.config, "operator", &[]);

    let mut v = connect(port, &viewer);
    wait(&mut v, "hello", SECS(5), |m| m["type"] == "hello");
    // The latest status comes right after hello.
    wait(&mut v, "status", SECS(10), |m| {
        m["type"] == "message" && m["topic"] == "status" && m["payload"]["online"] == true
    });
    send(
        &mut v,
        json!({"cmd_id": "v1", "cmd": "run_sequence", "kwargs": {"nb_stack": 1}}),
    );
    let r = reply(&mut v, "v1", "error");
    assert_eq!(r["error"]["code"], "not_permitted");
    assert!(r["error"]["message"].as_str().unwrap().contains("viewer"));
    send(&mut v, json!({"cmd_id": "v2", "cmd": "get_status"}));
    let r = reply(&mut v, "v2", "done");
    assert!(r["result"].is_object(), "{r}");

    let mut o = connect(port, &operator);
    wait(&mut o, "hello", SECS(5), |m| m["type"] == "hello");
    send(&mut o, json!({"cmd_id": "o1", "cmd": "shutdown"}));
    assert_eq!(
        reply(&mut o, "o1", "error")["error"]["code"],
        "not_permitted"
    );
    o.send(Message::Text("{not json".into())).unwrap();
    let r = wait(&mut o, "bad_json", SECS(10), |m| m["type"] == "reply");
    assert_eq!(r["payload"]["error"]["code"], "bad_json");
    let big = json!({"cmd_id": "o2", "cmd": "get_status", "pad": "x".repeat(100 * 1024)});
    send(&mut o, big);
    let r = wait(&mut o, "oversize", SECS(10), |m| m["type"] == "reply");
    assert_eq!(r["payload"]["error"]["code"], "invalid_argument");
    // The connection is still there.
    send(&mut o, json!({"cmd_id": "o3", "cmd": "get_status"}));
    reply(&mut o, "o3", "done");

    // A short survey: accepted, its records, done.
    let sequence: Vec<[u16; 4]> = (1..=4).map(|e| [e, e + 3, e + 1, e + 2]).collect();
    send(
        &mut o,
        json!({"cmd_id": "s1", "cmd": "run_sequence",
               "kwargs": {"sequence": sequence, "nb_stack": 1}}),
    );
    reply(&mut o, "s1", "accepted");
    let mut records = Vec::new();
    let done = wait(&mut o, "records and done", SECS(60), |m| {
        if m["type"] == "message" && m["topic"] == "data" {
            records.push(m["payload"]["seq"].as_u64().unwrap());
        }
        m["type"] == "reply" && m["payload"]["cmd_id"] == "s1" && m["payload"]["status"] == "done"
    });
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(done["payload"]["result"]["records"], 4);
    // The viewer saw the records, not the operator's replies.
    let mut seen = 0;
    wait(&mut v, "the viewer's records", SECS(10), |m| {
        assert_ne!(m["type"], "reply", "{m}");
        if m["type"] == "message" && m["topic"] == "data" {
            seen += 1;
        }
        seen == 4
    });
}

/// A WebSocket client that completes the handshake and then never reads a byte, with a tiny
/// receive buffer so the server's writes back up quickly.
fn stalled_client(port: u16, token: &str) -> TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: a new socket, configured and connected here, then owned by the TcpStream.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 2048;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    };
    let mut s = stream;
    write!(
        s,
        "GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    s
}

#[test]
fn a_browser_that_does_not_read_slows_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let port = free_port();
    let daemon = Daemon::start_with_web(
        dir.path(),
        broker.port,
        "",
        &format!("listen = \"127.0.0.1:{port}\"\nclient_queue = 16\n"),
    );
    common::mqtt::wait_for_port(port);
    let operator = add_token(&daemon.config, "operator", &[]);
    let _stalled = stalled_client(port, &operator);
    let mut o = connect(port, &operator);
    wait(&mut o, "hello", SECS(5), |m| m["type"] == "hello");
    let sequence: Vec<[u16; 4]> = (1..=28).map(|e| [e, e + 3, e + 1, e + 2]).collect();
    send(
        &mut o,
        json!({"cmd_id": "s1", "cmd": "run_multiple_sequences",
               "kwargs": {"sequence": sequence, "nb_stack": 1, "nb_meas": 2}}),
    );
    let mut records = std::collections::BTreeSet::new();
    let done = wait(&mut o, "done", SECS(150), |m| {
        if m["type"] == "message" && m["topic"] == "data" {
            records.insert(m["payload"]["seq"].as_u64().unwrap());
        }
        m["type"] == "reply" && m["payload"]["cmd_id"] == "s1" && m["payload"]["status"] == "done"
    });
    assert_eq!(done["payload"]["result"]["records"], 56);
    assert_eq!(
        records.len(),
        56,
        "every record reached the reading browser"
    );
}

#[test]
fn a_taken_address_leaves_the_daemon_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let broker = Broker::start(dir.path());
    let daemon = Daemon::start_with_web(
        dir.path(),
        broker.port,
        "",
        &format!("listen = \"127.0.0.1:{port}\"\n"),
    );
    let mut c = common::mqtt::Client_::connect(broker.port, "web-t", &["ohmpi/t1/status"]);
    c.wait_for("online", SECS(20), |m| m.json()["online"] == true);
    let deadline = Instant::now() + SECS(10);
    while !daemon.log().contains(&format!("127.0.0.1:{port}")) {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads `ws` (bounded) until the server's close frame; its code, reason and arrival. Text
/// frames before it are passed over. `None`: the connection is still open after `timeout`.
fn close_frame(ws: &mut Ws, timeout: Duration) -> Option<(u16, String, Instant)> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Close(frame)) => {
                let at = Instant::now();
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((0, String::new()));
                return Some((code, reason, at));
            }
            Ok(_) => {}
            Err(tokio_tungstenite::tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("the connection ended without a close frame: {e}"),
        }
    }
    None
}

#[test]
fn revoked_and_expired_tokens_close_their_open_websockets() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, daemon, port) = start(dir.path(), "");
    let revoked = add_token(&daemon.config, "operator", &["--name", "revoked"]);
    let kept = add_token(&daemon.config, "operator", &["--name", "kept"]);
    let made = Instant::now();
    let expiring = add_token(&daemon.config, "operator", &["--expires", "4s"]);
    let expires = made + SECS(4);
    let hello = |ws: &mut Ws| {
        wait(ws, "hello", SECS(5), |m| m["type"] == "hello");
    };
    let mut a = connect(port, &revoked);
    hello(&mut a);
    let mut b = connect(port, &kept);
    hello(&mut b);
    let mut c = connect(port, &expiring);
    hello(&mut c);

    // Revoked: closed within a second of `ohmpi token revoke` returning, with the reason.
    token_cmd(&daemon.config, &["revoke", "1"]);
    let revoked_at = Instant::now();
    let (code, reason, at) = close_frame(&mut a, SECS(3)).unwrap_or_else(|| {
        panic!(
            "the revoked token's WebSocket is still open 3 s later: {}",
            daemon.log()
        )
    });
    let took = at - revoked_at;
    assert!(took < SECS(1), "closed {took:?} after the revoke");
    eprintln!("the revoked token's WebSocket closed {took:?} after the revoke");
    assert_eq!(code, 1008, "{reason}");
    assert_eq!(reason, "token revoked");

    // Expired: closed when the token expires (not before), within a second, with the reason.
    let (code, reason, at) = close_frame(&mut c, SECS(8)).unwrap_or_else(|| {
        panic!(
            "the expired token's WebSocket is still open: {}",
            daemon.log()
        )
    });
    assert!(
        at + Duration::from_millis(100) >= expires,
        "closed {:?} before the token expired",
        expires - at
    );
    let late = at.saturating_duration_since(expires);
    assert!(late < SECS(1), "closed {late:?} after the token expired");
    eprintln!("the expired token's WebSocket closed {late:?} after the expiry");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("token expired"), "{reason}");

    // The other token's socket was told nothing and still works.
    assert_eq!(close_frame(&mut b, Duration::from_millis(300)), None);
    send(&mut b, json!({"cmd_id": "s1", "cmd": "get_status"}));
    reply(&mut b, "s1", "done");
}
