//! The dashboard page in a real browser (Debian's headless Chromium, driven by
//! tests/browser/revoked.mjs) when its token is revoked: the real daemon closes the page's
//! WebSocket, and the page says why. Needs /usr/bin/chromium, node and
//! tests/browser/node_modules (scripts/test installs them); fails without them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::mqtt::{free_port, Broker, Daemon};
use common::ws::add_token;

#[test]
fn the_page_says_its_token_was_revoked() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser = repo.join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && browser.join("node_modules/playwright-core").exists(),
        "needs /usr/bin/chromium and tests/browser/node_modules: run scripts/test"
    );
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let port = free_port();
    let daemon = Daemon::start_with_web(
        dir.path(),
        broker.port,
        "",
        &format!("listen = \"127.0.0.1:{port}\"\n"),
    );
    common::mqtt::wait_for_port(port);
    let token = add_token(&daemon.config, "operator", &[]);
    let out = Command::new("node")
        .arg("revoked.mjs")
        .current_dir(&browser)
        .env("DASHBOARD_URL", format!("http://127.0.0.1:{port}/"))
        .env("OPERATOR_TOKEN", &token)
        .env("OHMPI", env!("CARGO_BIN_EXE_ohmpi"))
        .env("OHMPI_CONFIG", &daemon.config)
        .env("SCREENSHOT_DIR", repo.join("target/screenshots"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    println!("{stdout}");
}
