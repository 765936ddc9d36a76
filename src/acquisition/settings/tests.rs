use super::*;

#[test]
fn apply_validates_and_names_the_field() {
    let s = Settings::default();
    let raw: RawSettings = serde_json::from_str(r#"{"n_stacks": 3, "strategy": "vmax"}"#).unwrap();
    let t = s.apply(&raw).unwrap();
    assert_eq!(t.nb_stack, 3);
    assert_eq!(t.strategy, Strategy::Vmax);

    let bad = RawSettings {
        duty_cycle: Some(1.5),
        ..Default::default()
    };
    let e = s.apply(&bad).unwrap_err();
    assert_eq!(e.field, "duty_cycle");
    assert!(e.message.contains("between 0.01 and 1"), "{e}");

    let bad = RawSettings {
        sampling_rate: Some(2000.0),
        ..Default::default()
    };
    assert_eq!(s.apply(&bad).unwrap_err().field, "sampling_rate");

    let bad = RawSettings {
        vab_min: Some(20.0),
        vab_max: Some(10.0),
        ..Default::default()
    };
    assert_eq!(s.apply(&bad).unwrap_err().field, "vab_min");

    // Settings that would need an unreasonable buffer are refused up front.
    let huge = RawSettings {
        nb_stack: Some(1000),
        injection_duration: Some(15.0),
        ..Default::default()
    };
    let e = s.apply(&huge).unwrap_err();
    assert!(
        e.field == "nb_stack" && e.message.contains("readings"),
        "{e}"
    );
    let bad = RawSettings {
        duty_cycle: Some(1e-300),
        ..Default::default()
    };
    assert_eq!(s.apply(&bad).unwrap_err().field, "duty_cycle");

    let unknown = serde_json::from_str::<RawSettings>(r#"{"nb_stacks": 3}"#).unwrap_err();
    assert!(unknown.to_string().contains("nb_stacks"));
}

#[test]
fn off_time_follows_duty_cycle() {
    let s = Settings {
        injection_duration: 0.1,
        duty_cycle: 0.5,
        ..Default::default()
    };
    assert!((s.off_time() - 0.1).abs() < 1e-12);
    let s = Settings {
        duty_cycle: 1.0,
        ..s
    };
    assert_eq!(s.off_time(), 0.0);
}
