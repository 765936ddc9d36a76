//! The dashboard on TLS (`[web] tls_cert`, `tls_key`): HTTPS and wss:// with a certificate from a
//! test CA, no plain HTTP on the port; a certificate that cannot be used leaves the daemon
//! measuring without its dashboard.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::{make_certificates, run};
use common::mqtt::{free_port, Broker, Client_, Daemon};
use serde_json::Value;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::{self, Message};

const SECS: fn(u64) -> Duration = Duration::from_secs;

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to 127.0.0.1:`port` that trusts the CA in `ca` only.
fn tls_connect(ca: &Path, port: u16) -> Tls {
    let pem = std::fs::read(ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
        .unwrap()
        .to_owned();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(SECS(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Everything `s` sends until it closes (an unclean close ends it too).
fn read_all(s: &mut impl Read) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

fn wait_for_listener(port: u16, daemon: &Daemon) {
    let deadline = Instant::now() + SECS(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the dashboard does not listen: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_dashboard_speaks_https_and_wss_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certificates(d);
    let broker = Broker::start(d);
    let port = free_port();
    let daemon = Daemon::start_with_web(
        d,
        broker.port,
        "",
        &format!(
            "listen = \"127.0.0.1:{port}\"\ntls_cert = \"{d}/server.pem\"\n\
             tls_key = \"{d}/server.key\"\n",
            d = d.display()
        ),
    );
    wait_for_listener(port, &daemon);

    // Plain HTTP gets no HTTP answer, and the failed handshake does not stop the server.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(SECS(10))).unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let raw = read_all(&mut plain);
    assert!(
        !String::from_utf8_lossy(&raw).contains("HTTP/1."),
        "plain HTTP answered: {}",
        String::from_utf8_lossy(&raw)
    );

    // HTTPS, trusting the test CA.
    let mut s = tls_connect(&d.join("ca.pem"), port);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_all(&mut s)).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    let health: Value = serde_json::from_str(body).expect(&text);
    assert!(health.is_object(), "{text}");

    // wss:// with a token: hello.
    let config = d.join("ohmpi.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .arg("--config")
        .arg(&config)
        .args(["token", "add", "--role", "viewer"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let stream = tls_connect(&d.join("ca.pem"), port);
    let (mut ws, resp) =
        tungstenite::client(format!("wss://127.0.0.1:{port}/ws?token={token}"), stream)
            .unwrap_or_else(|e| panic!("wss:// handshake: {e}; {}", daemon.log()));
    assert_eq!(resp.status(), 101);
    let deadline = Instant::now() + SECS(10);
    let hello = loop {
        assert!(Instant::now() < deadline, "no hello");
        if let Message::Text(t) = ws.read().unwrap() {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "hello" {
                break v;
            }
        }
    };
    assert_eq!(hello["role"], "viewer");
    assert_eq!(hello["instruments"][0]["id"], "t1");
    assert!(daemon.log().contains(&format!("https://127.0.0.1:{port}/")));
}

#[test]
fn an_unusable_certificate_leaves_the_daemon_measuring_without_its_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("cert.pem"), "not a certificate\n").unwrap();
    let broker = Broker::start(d);
    let mut c = Client_::connect(broker.port, "watcher", &["ohmpi/t1/#"]);
    let port = free_port();
    let daemon = Daemon::start_with_web(
        d,
        broker.port,
        "",
        &format!(
            "listen = \"127.0.0.1:{port}\"\ntls_cert = \"{d}/cert.pem\"\n\
             tls_key = \"{d}/missing.key\"\n",
            d = d.display()
        ),
    );
    c.wait_for("online", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    let log = daemon.log();
    assert!(
        log.contains(&format!("{}/cert.pem: holds no certificate", d.display())),
        "{log}"
    );
    assert!(log.contains("measuring goes on without it"), "{log}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certificates(d);
    let (cert, key, other) = (d.join("server.pem"), d.join("server.key"), d.join("ca.key"));
    ohmpi::web::server::tls_config(&cert, &key).unwrap();
    let e = ohmpi::web::server::tls_config(&cert, &other)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: is not the key of the certificate in {}",
            other.display(),
            cert.display()
        )
    );
    // An EC key (P-256) is used too.
    run(
        d,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ec.key",
            "-out",
            "ec.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    ohmpi::web::server::tls_config(&d.join("ec.pem"), &d.join("ec.key")).unwrap();
}
