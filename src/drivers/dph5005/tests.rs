use super::*;
use crate::drivers::modbus::encode_request;
use crate::drivers::modbus::tests::{framed, FakeSerial};

fn supply(replies: Vec<Option<Vec<u8>>>) -> Dph5005<FakeSerial> {
    Dph5005::new(FakeSerial::replying(replies), 1, Duration::from_millis(10))
}

fn echo(reg: u16, value: u16) -> Option<Vec<u8>> {
    Some(encode_request(1, 0x06, reg, value).to_vec())
}

fn one_register(value: u16) -> Option<Vec<u8>> {
    let [hi, lo] = value.to_be_bytes();
    Some(framed(&[1, 0x03, 2, hi, lo]))
}

#[test]
fn out_of_range_values_send_nothing() {
    let mut s = supply(vec![]);
    for v in [-0.01, 51.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                s.set_voltage(v),
                Err(Error::OutOfRange {
                    field: "voltage",
                    ..
                })
            ),
            "{v}"
        );
    }
    assert!(s.set_current_limit(5.2).is_err());
    let bad = Settings {
        preset_volts: 12.0,
        preset_amps: 0.05,
        ovp_volts: 60.0,
        ocp_amps: 0.06,
        opp_watts: 2.5,
    };
    assert!(s.apply_settings(&bad).is_err());
    assert!(s.destroy().written.is_empty());
}

#[test]
fn values_are_scaled_to_register_units() {
    let mut s = supply(vec![echo(U_SET, 5099), echo(I_SET, 50), echo(ONOFF, 1)]);
    s.set_voltage(50.99).unwrap();
    s.set_current_limit(0.05).unwrap();
    s.output(true).unwrap();
    let written = s.destroy().written;
    assert_eq!(written[0], encode_request(1, 0x06, U_SET, 5099));
    assert_eq!(written[1], encode_request(1, 0x06, I_SET, 50));
    assert_eq!(written[2], encode_request(1, 0x06, ONOFF, 1));
}

#[test]
fn readings_are_scaled_to_units() {
    let mut s = supply(vec![
        one_register(1203),
        one_register(48),
        one_register(1250),
    ]);
    assert_eq!(s.read_output_voltage().unwrap(), 12.03);
    assert_eq!(s.read_output_current().unwrap(), 0.048);
    assert_eq!(s.read_input_voltage().unwrap(), 12.5);
    let written = s.destroy().written;
    assert_eq!(written[0], encode_request(1, 0x03, UOUT, 1));
    assert_eq!(written[1], encode_request(1, 0x03, IOUT, 1));
    assert_eq!(written[2], encode_request(1, 0x03, UIN, 1));
}

#[test]
fn apply_settings_writes_preset_and_protections() {
    let mut s = supply(vec![
        echo(M0_U_SET, 1200),
        echo(M0_I_SET, 50),
        echo(S_OVP, 5099),
        echo(S_OCP, 60),
        echo(S_OPP, 25),
    ]);
    let settings = Settings {
        preset_volts: 12.0,
        preset_amps: 0.05,
        ovp_volts: 50.99,
        ocp_amps: 0.06,
        opp_watts: 2.5,
    };
    s.apply_settings(&settings).unwrap();
    assert_eq!(s.destroy().written.len(), 5);
}

#[test]
fn settling_gives_up_after_max_wait() {
    let mut s = supply(vec![echo(U_SET, 2000), one_register(0)]);
    let err = s.set_voltage_settled(20.0, Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, Error::NotSettled { last_volts, .. } if last_volts == 0.0),
        "{err}"
    );
    assert_eq!(s.destroy().written.len(), 2);
}
