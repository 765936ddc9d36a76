use super::*;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

const TX: u8 = 0x20;
const TX_ADC: u8 = 0x48;
const RX_ADC: u8 = 0x49;
/// Config words, continuous, 860 SPS, comparator off: A0 at ±6.144 V, A0−A1 at ±6.144 V,
/// A0−A1 at ±0.512 V, A0 at ±2.048 V.
const A0_6144: [u8; 3] = [0x01, 0x40, 0xE3];
const DIFF_6144: [u8; 3] = [0x01, 0x00, 0xE3];
const DIFF_0512: [u8; 3] = [0x01, 0x08, 0xE3];
const A0_2048: [u8; 3] = [0x01, 0x44, 0xE3];

fn board(expect: &[T]) -> Mb2023<Mock> {
    Mb2023::new(Mock::new(expect), Mb2023Addresses::default())
}

#[test]
fn init_sets_outputs_off_and_starts_both_converters_on_their_widest_range() {
    let mut mb = board(&[
        T::write(TX, vec![0x00, 0x00]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(TX_ADC, A0_6144.to_vec()),
        T::write(RX_ADC, DIFF_6144.to_vec()),
    ]);
    mb.init().unwrap();
    assert_eq!(mb.gains(), (Gain::Fsr6144, Gain::Fsr6144));
    mb.destroy().done();
}

#[test]
fn polarity_sequence_writes_pin0_then_pin1_and_refuses_a_direct_reversal() {
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x01]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(TX, vec![0x0A, 0x02]),
        T::write(TX, vec![0x0A, 0x00]),
        T::write(TX, vec![0x0A, 0x02]),
    ]);
    for p in [
        Polarity::Positive,
        Polarity::Off,
        Polarity::Negative,
        Polarity::Off,
        Polarity::Negative,
    ] {
        mb.set_polarity(p).unwrap();
    }
    // − to + without Off: refused, no write.
    assert!(matches!(
        mb.set_polarity(Polarity::Positive),
        Err(BoardError::Interlock(Interlock::PolarityReversal))
    ));
    assert_eq!(mb.polarity(), Polarity::Negative);
    mb.destroy().done();
}

#[test]
fn gains_change_only_the_converters_whose_range_changes_and_never_while_injecting() {
    let mut mb = board(&[
        T::write(RX_ADC, DIFF_0512.to_vec()),
        T::write(TX_ADC, A0_2048.to_vec()),
        T::write(TX, vec![0x0A, 0x01]),
    ]);
    mb.set_gains(Gain::Fsr6144, Gain::Fsr0512).unwrap();
    mb.set_gains(Gain::Fsr2048, Gain::Fsr0512).unwrap();
    mb.set_polarity(Polarity::Positive).unwrap();
    assert!(matches!(
        mb.set_gains(Gain::Fsr6144, Gain::Fsr0512),
        Err(BoardError::Interlock(Interlock::GainWhileInjecting))
    ));
    // Same ranges while injecting: nothing to write, not an error.
    mb.set_gains(Gain::Fsr2048, Gain::Fsr0512).unwrap();
    assert_eq!(mb.gains(), (Gain::Fsr2048, Gain::Fsr0512));
    mb.destroy().done();
}

#[test]
fn readings_follow_the_board_formulas_at_the_present_range() {
    // TX at ±2.048 V: 0x4000 = 16384 → 1.024 V → 1024 / (50 × 2) = 10.24 mA.
    // RX at ±0.512 V: 0xC000 = −16384 → −0.256 V → +0.256 × 2.5 × 1000 = 640 mV, minus bias 5.
    let mut mb = board(&[
        T::write(TX_ADC, A0_2048.to_vec()),
        T::write(RX_ADC, DIFF_0512.to_vec()),
        T::write_read(TX_ADC, vec![0x00], vec![0x40, 0x00]),
        T::write_read(RX_ADC, vec![0x00], vec![0xC0, 0x00]),
        T::write_read(RX_ADC, vec![0x00], vec![0x7F, 0xFF]),
    ]);
    mb.set_gains(Gain::Fsr2048, Gain::Fsr0512).unwrap();
    let (i, sat) = mb.read_iab(2.0).unwrap();
    assert!((i - 10.24).abs() < 1e-9 && !sat, "{i}");
    let (v, sat) = mb.read_vmn(5.0).unwrap();
    assert!((v - 635.0).abs() < 1e-9 && !sat, "{v}");
    let (_, sat) = mb.read_vmn(0.0).unwrap();
    assert!(sat, "a code at full scale is reported as such");
    mb.destroy().done();
}

#[test]
fn gains_for_picks_the_narrowest_range_with_headroom() {
    // 10 mA over 2 Ω × 50 = 1.0 V → ±1.024 V holds it at 98 %, beyond the 90 % headroom → ±2.048 V.
    // 500 mV / 2.5 = 0.2 V → ±0.256 V (78 %).
    assert_eq!(gains_for(10.0, 500.0, 2.0), (Gain::Fsr2048, Gain::Fsr0256));
    assert_eq!(gains_for(0.0, 0.0, 2.0), (Gain::Fsr0256, Gain::Fsr0256));
    assert_eq!(
        gains_for(f64::INFINITY, f64::NAN, 2.0),
        (Gain::Fsr6144, Gain::Fsr6144)
    );
}

#[test]
fn reset_turns_the_polarity_relays_off() {
    let mut mb = board(&[
        T::write(TX, vec![0x0A, 0x01]),
        T::write(TX, vec![0x0A, 0x00]),
    ]);
    mb.set_polarity(Polarity::Positive).unwrap();
    mb.reset().unwrap();
    assert_eq!(mb.polarity(), Polarity::Off);
    mb.destroy().done();
}
