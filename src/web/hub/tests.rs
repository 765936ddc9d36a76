use super::*;

fn hub() -> (Hub, mpsc::Receiver<Inbound>) {
    let (tx, rx) = mpsc::channel(4);
    let hub = Hub::new(
        Mode::Daemon,
        HubLimits {
            queue: 16,
            max_frame: 1024,
        },
        tx,
    );
    hub.add_instrument("0001", "ohmpi/0001");
    (hub, rx)
}

fn reply_of(frame: Option<String>) -> Value {
    let v: Value = serde_json::from_str(&frame.expect("a reply")).expect("JSON");
    assert_eq!(v["type"], "reply");
    v["payload"].clone()
}

#[test]
fn commands_are_checked_and_forwarded_with_the_client_as_reply_to() {
    let (hub, mut rx) = hub();
    let mut n = 0;
    let r = reply_of(hub.on_frame("ws-1", Role::Viewer, b"{nope", &mut n));
    assert_eq!(r["error"]["code"], "bad_json");
    let r = reply_of(hub.on_frame("ws-1", Role::Viewer, b"[1]", &mut n));
    assert_eq!(r["error"]["code"], "bad_json");
    let big = vec![b' '; 2000];
    let r = reply_of(hub.on_frame("ws-1", Role::Viewer, &big, &mut n));
    assert_eq!(r["error"]["code"], "invalid_argument");
    let r = reply_of(hub.on_frame(
        "ws-1",
        Role::Viewer,
        br#"{"cmd_id":"x","cmd":"run_sequence"}"#,
        &mut n,
    ));
    assert_eq!(r["error"]["code"], "not_permitted");
    assert_eq!(r["cmd_id"], "x");
    assert!(r["error"]["message"].as_str().unwrap().contains("viewer"));
    let r = reply_of(hub.on_frame("ws-1", Role::Operator, br#"{"cmd":"shutdown"}"#, &mut n));
    assert_eq!(r["error"]["code"], "not_permitted");
    assert!(hub
        .on_frame("ws-1", Role::Viewer, br#"{"cmd":"get_status"}"#, &mut n)
        .is_none());
    let sent = rx.try_recv().expect("forwarded");
    let v: Value = serde_json::from_slice(&sent.payload).expect("JSON");
    assert_eq!(v["reply_to"], "ws-1");
    assert_eq!(v["cmd"], "get_status");
    assert!(v["cmd_id"].as_str().unwrap().starts_with("ws-1-"));
    assert!(hub
        .on_frame("ws-2", Role::Admin, br#"{"cmd":"shutdown"}"#, &mut n)
        .is_none());
}

#[test]
fn replies_go_to_their_client_and_status_is_kept() {
    let (hub, _rx) = hub();
    hub.publish("0001", "status", r#"{"online":true}"#);
    let mut sub = hub.0.tx.subscribe();
    hub.publish("0001", "control/response/ws-3", r#"{"cmd_id":"a"}"#);
    hub.publish("0001", "control/response/anonymous", r#"{"cmd_id":"b"}"#);
    hub.publish("0001", "data/waveform", r#"{}"#);
    hub.publish("0001", "data", r#"{"seq":1}"#);
    let f = sub.try_recv().expect("reply");
    assert_eq!(f.for_client.as_deref(), Some("ws-3"));
    let f = sub.try_recv().expect("data");
    assert_eq!(f.for_client, None);
    let v: Value = serde_json::from_str(&f.text).expect("JSON");
    assert_eq!(v["topic"], "data");
    assert_eq!(v["payload"]["seq"], 1);
    assert!(sub.try_recv().is_err());
    assert_eq!(hub.0.cache.lock().unwrap().len(), 1);
}

#[test]
fn new_instruments_are_announced_and_gateway_ids_are_tagged() {
    let (tx, _rx) = mpsc::channel(4);
    let limits = HubLimits {
        queue: 16,
        max_frame: 1024,
    };
    let hub = Hub::with_client_tag(Mode::Gateway, limits, tx, "ab12");
    assert!(hub.add_instrument("a", "ohmpi/a"));
    let mut sub = hub.0.tx.subscribe();
    assert!(!hub.add_instrument("a", "ohmpi/a"));
    assert!(hub.add_instrument("b", "ohmpi/b"));
    let f = sub.try_recv().expect("announced");
    let v: Value = serde_json::from_str(&f.text).expect("JSON");
    assert_eq!(
        v,
        json!({"type": "instrument", "id": "b", "prefix": "ohmpi/b"})
    );
    assert!(
        sub.try_recv().is_err(),
        "a known one is not announced again"
    );
    // Replies for a daemon's own browsers (`ws-3`) are not this gateway's.
    hub.publish("a", "control/response/ws-3", r#"{"cmd_id":"x"}"#);
    assert!(sub.try_recv().is_err());
    hub.publish("a", "control/response/ws-ab12-3", r#"{"cmd_id":"y"}"#);
    let f = sub.try_recv().expect("reply");
    assert_eq!(f.for_client.as_deref(), Some("ws-ab12-3"));
}
