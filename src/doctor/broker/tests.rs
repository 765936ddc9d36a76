use super::*;
use crate::config::Config;
use crate::doctor::Status;

fn mqtt(over: &[&str]) -> MqttConfig {
    let over: Vec<String> = over.iter().map(|s| s.to_string()).collect();
    Config::from_text("", None, &over).unwrap().mqtt
}

#[test]
fn verdicts_name_the_cause() {
    let t = Duration::from_secs(3);
    let cfg = mqtt(&["mqtt.host=\"broker.lan\"", "mqtt.username=\"ohmpi\""]);
    let c = verdict(&cfg, Outcome::Accepted, t);
    assert_eq!(c.status, Status::Ok);
    assert_eq!(
        c.detail,
        "broker.lan:1883 accepted the connection as user ohmpi"
    );

    let c = verdict(
        &cfg,
        Outcome::Refused(ConnectReturnCode::BadUserNamePassword),
        t,
    );
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.detail.contains("refused the credentials (as user ohmpi)"),
        "{c:?}"
    );
    assert!(c.fix.unwrap().contains("mqtt.password"));

    let c = verdict(&cfg, Outcome::TimedOut, t);
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.detail, "no answer from broker.lan:1883 within 3 s");

    let default = mqtt(&[]);
    let c = verdict(&default, Outcome::Failed("refused".into()), t);
    assert_eq!(c.status, Status::Warn, "no broker configured: {c:?}");
    assert!(c.detail.contains("127.0.0.1:1883") && c.detail.contains("the default"));
}

#[test]
fn a_closed_port_fails_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = mqtt(&[&format!("mqtt.port={port}")]);
    let start = std::time::Instant::now();
    let c = check_broker(&cfg, Duration::from_secs(3));
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail
            .starts_with(&format!("cannot reach 127.0.0.1:{port}")),
        "{c:?}"
    );
}

#[test]
fn a_silent_listener_times_out_in_the_bounded_time() {
    // Accepts TCP connections but never answers CONNECT.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cfg = mqtt(&[&format!("mqtt.port={port}")]);
    let start = std::time::Instant::now();
    let c = check_broker(&cfg, Duration::from_millis(300));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("no answer"), "{c:?}");
    drop(listener);
}

#[test]
fn an_unreadable_password_file_is_named() {
    let cfg = mqtt(&[
        "mqtt.port=1",
        "mqtt.username=\"u\"",
        "mqtt.password_file=\"/nonexistent/ohmpi-password\"",
    ]);
    let c = check_broker(&cfg, Duration::from_secs(1));
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("/nonexistent/ohmpi-password"), "{c:?}");
}
