use super::*;

#[test]
fn report_fails_only_on_a_failed_check() {
    let warned = Report::new(
        false,
        vec![
            Check::ok("a", "fine"),
            Check::warn("b", "meh", "do this"),
            Check::skip("c", "not here"),
        ],
    );
    assert!(warned.ok);
    let text = warned.to_text();
    assert!(text.contains("[warn] b  meh\n"), "{text}");
    assert!(text.contains("fix: do this"), "{text}");
    assert!(
        text.ends_with("ready: 0 failures, 1 warning, 1 skipped\n"),
        "{text}"
    );

    let failed = Report::new(true, vec![Check::fail("platform", "no", "yes")]);
    assert!(!failed.ok);
    let v = serde_json::to_value(&failed).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["raspberry_pi"], true);
    assert_eq!(v["checks"][0]["status"], "fail");
    assert_eq!(v["checks"][0]["fix"], "yes");
    assert!(failed.to_text().starts_with("[FAIL] platform  no\n"));
}

#[test]
fn the_simulator_needs_no_hardware_checks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A loopback port nothing listens on: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let over = [
        "hardware.simulate=true".to_string(),
        format!("instrument.data_dir=\"{}\"", data.display()),
        format!("mqtt.port={port}"),
    ];
    let config = Config::from_text("", None, &over).unwrap();
    let report = run(&config);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "config", "platform", "preset", "i2c-1", "chips-1", "i2c-4", "chips-4", "supply",
            "boards", "data-dir", "broker", "clock", "realtime"
        ]
    );
    let check = |name: &str| report.checks.iter().find(|c| c.name == name).unwrap();
    assert_eq!(check("platform").status, Status::Ok);
    for name in ["i2c-1", "chips-1", "i2c-4", "chips-4", "supply", "boards"] {
        assert_eq!(check(name).status, Status::Skip, "{name}");
    }
    assert_eq!(check("broker").status, Status::Fail);
    assert!(!report.ok);
    assert!(!data.exists(), "the check created the data directory");
}

#[test]
fn an_unknown_preset_fails_and_the_rest_still_runs() {
    let over = ["hardware.system=\"nope\"".to_string()];
    let report = run(&Config::from_text("", None, &over).unwrap());
    let preset = report.checks.iter().find(|c| c.name == "preset").unwrap();
    assert_eq!(preset.status, Status::Fail);
    assert!(preset.detail.contains("nope"), "{preset:?}");
    assert!(report.checks.iter().any(|c| c.name == "clock"));
}
