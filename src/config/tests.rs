use super::*;
use crate::acquisition::Strategy;
use crate::hardware::sim::{ClockKind, Ground};

fn load(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::from_text(text, Some("test.toml".into()), &sets)
}

#[test]
fn defaults_run_on_the_simulator() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.instrument.id, "0001");
    assert_eq!(c.instrument.data_dir, PathBuf::from("data"));
    assert_eq!(c.hardware.system, crate::hardware::DEFAULT_SYSTEM);
    assert_eq!(c.acquisition.layout, ElectrodeLayout::Line { spacing: 1.0 });
    assert_eq!(c.sim.ground, Ground::Homogeneous { rho: 100.0 });
}

#[test]
fn file_values_and_overrides() {
    let text = r#"
[instrument]
id = "field-7"
[acquisition]
n_stacks = 3
strategy = "vmax"
elec_spacing = 0.5
[sim]
model = "two_layer"
rho = 50
rho2 = 200
thickness = 5
contact_ohm = { default = 800, 5 = 20000 }
clock = "virtual"
"#;
    let c = load(text, &["sim.rho=60", "acquisition.injection_duration=0.5"]).unwrap();
    assert_eq!(c.instrument.id, "field-7");
    assert_eq!(c.acquisition.settings.nb_stack, 3);
    assert_eq!(c.acquisition.settings.strategy, Strategy::Vmax);
    assert_eq!(c.acquisition.settings.injection_duration, 0.5);
    assert_eq!(c.acquisition.layout, ElectrodeLayout::Line { spacing: 0.5 });
    assert_eq!(
        c.sim.ground,
        Ground::TwoLayer {
            rho1: 60.0,
            rho2: 200.0,
            thickness: 5.0
        }
    );
    assert_eq!(c.sim.contact_of(5), 20000.0);
    assert_eq!(c.sim.contact_of(6), 800.0);
    assert_eq!(c.sim.clock, ClockKind::Virtual);
}

#[test]
fn errors_name_the_field_and_the_range() {
    let cases: [(&str, &[&str], &str); 9] = [
        (
            "[acquisition]\nduty_cycle = 2",
            &[],
            "acquisition.duty_cycle",
        ),
        ("[acquisition]\nsampling_rate = 1000", &[], "860"),
        (
            "[acquisition]\nstrategy = \"best\"",
            &[],
            "fixed, safe, vmax, vmin, flex",
        ),
        ("[acquisition]\nnb_stak = 2", &[], "nb_stak"),
        ("[sim]\nrho = -5", &[], "sim.rho"),
        ("[sim]\nhum_hz = 55", &[], "sim.hum_hz"),
        ("[sim]\nmodel = \"three_layer\"", &[], "two_layer"),
        ("[instrument]\nid = \"a/b\"", &[], "instrument.id"),
        ("", &["sim.i2c_error_rate=2"], "sim.i2c_error_rate"),
    ];
    for (text, sets, needle) in cases {
        let e = load(text, sets).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?} {sets:?}: {e}");
        assert!(e.contains("test.toml"), "{e}");
    }
    let e = load("[hardware\n", &[]).unwrap_err().to_string();
    assert!(e.contains("test.toml") && e.contains("TOML"), "{e}");
    let e = load("[lasers]\npower = 1", &[]).unwrap_err().to_string();
    assert!(e.contains("lasers"), "{e}");
}

#[test]
fn missing_explicit_file_is_an_error() {
    let e = Config::load(Some(Path::new("/nonexistent/ohmpi.toml")), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/ohmpi.toml"), "{e}");
}

#[test]
fn web_tls_takes_a_certificate_and_a_key_together() {
    let c = load("[instrument]\nid = \"rig-2\"", &[]).unwrap();
    assert_eq!(c.web.tls, None);
    let c = load(
        "[web]\ntls_cert = \"/etc/ohmpi/cert.pem\"\ntls_key = \"/etc/ohmpi/key.pem\"",
        &[],
    )
    .unwrap();
    let tls = c.web.tls.unwrap();
    assert_eq!(tls.cert, std::path::Path::new("/etc/ohmpi/cert.pem"));
    assert_eq!(tls.key, std::path::Path::new("/etc/ohmpi/key.pem"));
    let cases: [(&str, &str); 3] = [
        ("[web]\ntls_cert = \"/c.pem\"", "web.tls_key"),
        ("[web]\ntls_key = \"/k.pem\"", "web.tls_cert"),
        (
            "[web]\ntls_cert = \"\"\ntls_key = \"/k.pem\"",
            "web.tls_cert",
        ),
    ];
    for (text, needle) in cases {
        let e = load(text, &[]).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn mqtt_defaults_and_errors() {
    let c = load("[instrument]\nid = \"rig-2\"", &[]).unwrap();
    assert_eq!(c.mqtt.host, "127.0.0.1");
    assert_eq!(c.mqtt.port, 1883);
    assert!(!c.mqtt.explicit_broker);
    assert_eq!(c.mqtt.prefix, "ohmpi/rig-2");
    assert_eq!(c.mqtt.client_id, "ohmpi-rig-2");
    assert!(!c.control.allow_shutdown);
    let c = load("[mqtt]\nport = 18830", &[]).unwrap();
    assert!(c.mqtt.explicit_broker);
    let cases: [(&str, &str); 6] = [
        ("[mqtt]\nprefix = \"ohmpi/#\"", "mqtt.prefix"),
        ("[mqtt]\ntls = true", "mqtt.ca_file"),
        (
            "[mqtt]\npassword = \"a\"\npassword_file = \"/p\"",
            "mqtt.password_file",
        ),
        ("[mqtt]\nkeepalive_s = 1", "mqtt.keepalive_s"),
        ("[mqtt]\nlog_level = \"loud\"", "mqtt.log_level"),
        (
            "[control]\nallow_everything = true",
            "control.allow_everything",
        ),
    ];
    for (text, needle) in cases {
        let e = load(text, &[]).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}
