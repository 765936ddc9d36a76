//! The dashboard end to end: a real Mosquitto, the real daemon with its web server, tokens made
//! with `ohmpi token add`, and tests/browser/dashboard.mjs driving Debian's headless Chromium;
//! and `ohmpi gateway` in front of three daemons, its fleet list checked by
//! tests/browser/gateway.mjs.
//!
//! Needs /usr/bin/chromium, node and tests/browser/node_modules; `.ci/run` installs them. When
//! they are missing this test fails (it never passes without running the browser).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker, Daemon};

const CHROMIUM: &str = "/usr/bin/chromium";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require_tools() {
    let browser_dir = repo().join("tests/browser");
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install chromium)"));
    }
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        missing.push("node (apt-get install nodejs npm)".into());
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        missing.push(format!(
            "{}/node_modules (npm ci in tests/browser)",
            browser_dir.display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the dashboard browser test needs {}; run .ci/run, which installs them",
        missing.join(", ")
    );
}

/// `ohmpi token add --role <role>`: the token is the last line on stdout.
fn add_token(config: &Path, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .args(["token", "add", "--role", role, "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ohmpi token add --role {role} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout.lines().last().unwrap_or("").trim().to_string();
    assert!(!token.is_empty(), "ohmpi token add printed no token");
    token
}

/// Waits (bounded) until GET /health answers.
fn wait_for_http(port: u16, daemon: &Daemon) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).is_ok() {
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.starts_with("HTTP/1.1 200") && body.contains("\"ok\"") {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon's web server did not answer /health on {port}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_dashboard_in_a_real_browser() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let web_port = free_port();
    let tokens = dir.path().join("tokens.toml");
    // The tokens exist before the daemon starts.
    let token_config = dir.path().join("tokens-only.toml");
    std::fs::write(
        &token_config,
        format!("[web]\ntokens_file = \"{}\"\n", tokens.display()),
    )
    .unwrap();
    let operator = add_token(&token_config, "operator");
    let viewer = add_token(&token_config, "viewer");
    let web = format!(
        "enabled = true\nlisten = \"127.0.0.1:{web_port}\"\ntokens_file = \"{}\"\n",
        tokens.display()
    );
    let daemon = Daemon::start_with_web(dir.path(), broker.port, "", &web);
    wait_for_http(web_port, &daemon);

    let shots = repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(repo().join("tests/browser"))
        .env("DASHBOARD_URL", format!("http://127.0.0.1:{web_port}/"))
        .env("OPERATOR_TOKEN", &operator)
        .env("VIEWER_TOKEN", &viewer)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\n--- daemon log ---\n{}",
        out.status,
        daemon.log()
    );
    println!("{stdout}");
    for name in ["dashboard-desktop.png", "dashboard-phone.png"] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
}

#[test]
fn the_gateway_fleet_in_a_real_browser() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let ids = ["t1", "t2", "t3"];
    let _daemons: Vec<Daemon> = ids
        .iter()
        .map(|id| {
            let d = dir.path().join(id);
            std::fs::create_dir(&d).unwrap();
            Daemon::start_as(&d, broker.port, id, "", "enabled = false\n")
        })
        .collect();
    let web_port = free_port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[mqtt]\nport = {}\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n",
            broker.port
        ),
    )
    .unwrap();
    let operator = add_token(&config, "operator");
    let log_path = dir.path().join("gateway.log");
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .arg("--config")
        .arg(&config)
        .arg("gateway")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let gateway_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err() {
        if Instant::now() > deadline {
            let _ = gateway.kill();
            panic!(
                "the gateway does not listen on {web_port}\n{}",
                gateway_log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let shots = repo().join("target/screenshots");
    let out = Command::new("node")
        .arg("gateway.mjs")
        .current_dir(repo().join("tests/browser"))
        .env("GATEWAY_URL", format!("http://127.0.0.1:{web_port}/"))
        .env("OPERATOR_TOKEN", &operator)
        .env("INSTRUMENTS", ids.join(","))
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .unwrap();
    let _ = gateway.kill();
    let _ = gateway.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\n--- gateway log ---\n{}",
        out.status,
        gateway_log()
    );
    println!("{stdout}");
    assert!(shots.join("gateway-fleet.png").exists());
}
