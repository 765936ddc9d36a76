use super::*;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

const TX: u8 = 0x21;
const RX: u8 = 0x27;
const TX_ADC: u8 = 0x48;
const RX_ADC: u8 = 0x49;

fn board(expect: &[T]) -> Mb2024<Mock> {
    Mb2024::new(Mock::new(expect), Mb2024Addresses::default())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn init_writes_directions_then_gain_half_then_tx_off() {
    let mut mb = board(&[
        T::write(TX, vec![0x00, 0x00]), // IODIR: all outputs
        T::write(TX, vec![0x0A, 0x00]), // OLAT 0
        T::write(RX, vec![0x00, 0x00]),
        T::write(RX, vec![0x0A, 0x00]),
        T::write(RX, vec![0x0A, 0b011]), // gain 1/2: pin0=1 pin1=1 pin2=0
        T::write(TX, vec![0x0A, 0x00]),  // TX all off
    ]);
    mb.init().unwrap();
    assert_eq!(mb.gain(), Dg411Gain::Half);
    assert_eq!(mb.tx_byte(), 0);
    mb.destroy().done();
}

#[test]
fn polarity_sequence_power_off() {
    // + : pin0 (0x01) + stack LED pin6 (0x40) = 0x41; − : pin1 (0x02) + pin6 = 0x42; 0: 0x00.
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x41]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(TX, vec![0x0A, 0x42]),
        T::write(TX, vec![0x0A, 0x00]),
    ]);
    for p in [
        Polarity::Positive,
        Polarity::Off,
        Polarity::Negative,
        Polarity::Off,
    ] {
        mb.set_polarity(p).unwrap();
        assert_eq!(mb.polarity(), p);
    }
    mb.destroy().done();
}

#[test]
fn polarity_sequence_keeps_power_bits() {
    // Power: pins 2, 3 and run LED 4 = 0x04 | 0x08 | 0x10 = 0x1C.
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x1C]),
        T::write(TX, vec![0x0A, 0x1C | 0x41]), // 0x5D
        T::write(TX, vec![0x0A, 0x1C]),
        T::write(TX, vec![0x0A, 0x1C | 0x42]), // 0x5E
        T::write(TX, vec![0x0A, 0x1C]),
        T::write(TX, vec![0x0A, 0x00]), // power off
    ]);
    mb.set_power(true).unwrap();
    for p in [
        Polarity::Positive,
        Polarity::Off,
        Polarity::Negative,
        Polarity::Off,
    ] {
        mb.set_polarity(p).unwrap();
    }
    mb.set_power(false).unwrap();
    assert!(!mb.power());
    mb.destroy().done();
}

#[test]
fn direct_reversal_refused_without_write() {
    let mut mb = board(&[T::write(TX, vec![0x0A, 0x41])]);
    mb.set_polarity(Polarity::Positive).unwrap();
    // + to − directly: no transaction expected beyond the first.
    let err = mb.set_polarity(Polarity::Negative).unwrap_err();
    assert!(matches!(
        err,
        BoardError::Interlock(Interlock::PolarityReversal)
    ));
    assert_eq!(mb.polarity(), Polarity::Positive);
    mb.destroy().done();
}

#[test]
fn direct_reversal_from_negative_refused() {
    let mut mb = board(&[T::write(TX, vec![0x0A, 0x42])]);
    mb.set_polarity(Polarity::Negative).unwrap();
    assert!(mb.set_polarity(Polarity::Positive).is_err());
    mb.destroy().done();
}

#[test]
fn dg411_gain_bytes() {
    // Gain 1: pin0=1 pin1=0 pin2=1 = 0b101; gain 1/2: pin0=1 pin1=1 pin2=0 = 0b011.
    let mut mb = board(&[
        T::write(RX, vec![0x0A, 0b101]),
        T::write(RX, vec![0x0A, 0b011]),
    ]);
    mb.set_gain(Dg411Gain::One).unwrap();
    assert_eq!(mb.gain(), Dg411Gain::One);
    mb.set_gain(Dg411Gain::Half).unwrap();
    assert_eq!(mb.gain(), Dg411Gain::Half);
    mb.destroy().done();
}

#[test]
fn discharge_refused_while_injecting() {
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x41]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(TX, vec![0x0A, 0x20]), // pin 5
        T::write(TX, vec![0x0A, 0x00]),
    ]);
    mb.set_polarity(Polarity::Positive).unwrap();
    let err = mb.set_discharge(true).unwrap_err();
    assert!(matches!(
        err,
        BoardError::Interlock(Interlock::DischargeWhileInjecting)
    ));
    mb.set_polarity(Polarity::Off).unwrap();
    mb.set_discharge(true).unwrap();
    assert!(mb.discharge());
    // Injecting while discharging is refused too, without a write.
    assert!(matches!(
        mb.set_polarity(Polarity::Negative).unwrap_err(),
        BoardError::Interlock(Interlock::InjectWhileDischarging)
    ));
    mb.set_discharge(false).unwrap();
    mb.destroy().done();
}

#[test]
fn start_converters_config_words() {
    // A0 single-ended, ±6.144 V, 860 SPS, continuous: 0x40E3 (see the ADS1115 driver tests).
    let mut mb = board(&[
        T::write(TX_ADC, vec![0x01, 0x40, 0xE3]),
        T::write(RX_ADC, vec![0x01, 0x40, 0xE3]),
    ]);
    mb.start_converters().unwrap();
    mb.destroy().done();
}

#[test]
fn read_iab_from_known_code() {
    // 16000 = 0x3E80; V = 16000 × 6.144 / 32768 = 3.0 V;
    // I = 3.0 × 1000 / (50 × 2 Ω) = 30 mA.
    let mut mb = board(&[T::write_read(TX_ADC, vec![0x00], vec![0x3E, 0x80])]);
    let ma = mb.read_iab_ma(2.0).unwrap();
    assert!(close(ma, 30.0), "{ma}");
    mb.destroy().done();
}

#[test]
fn read_vmn_from_known_codes() {
    // Gain 1/2 (default): 16000 → 3.0 V → (3000 − 2500) / 0.5 − 10 = 990 mV.
    // Gain 1: 8000 = 0x1F40 → 1.5 V → (1500 − 2500) / 1 − 0 = −1000 mV.
    let mut mb = board(&[
        T::write_read(RX_ADC, vec![0x00], vec![0x3E, 0x80]),
        T::write(RX, vec![0x0A, 0b101]),
        T::write_read(RX_ADC, vec![0x00], vec![0x1F, 0x40]),
    ]);
    let mv = mb.read_vmn_mv(10.0).unwrap();
    assert!(close(mv, 990.0), "{mv}");
    mb.set_gain(Dg411Gain::One).unwrap();
    let mv = mb.read_vmn_mv(0.0).unwrap();
    assert!(close(mv, -1000.0), "{mv}");
    mb.destroy().done();
}

#[test]
fn reset_turns_everything_off() {
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x1C]),
        T::write(TX, vec![0x0A, 0x5D]),
        T::write(RX, vec![0x0A, 0b101]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(RX, vec![0x0A, 0b011]),
    ]);
    mb.set_power(true).unwrap();
    mb.set_polarity(Polarity::Positive).unwrap();
    mb.set_gain(Dg411Gain::One).unwrap();
    mb.reset().unwrap();
    assert_eq!(mb.polarity(), Polarity::Off);
    assert!(!mb.power() && !mb.discharge());
    assert_eq!(mb.gain(), Dg411Gain::Half);
    mb.destroy().done();
}
