use super::*;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

const ADDR: u8 = 0x48;

#[test]
fn reset_value_matches_the_datasheet_fields() {
    // OS=1, AIN0-AIN1, ±2.048 V, single-shot, 128 SPS, comparator disabled.
    let word = config::OS | config_word(Channel::Diff01, Gain::Fsr2048, DataRate::Sps128, true);
    assert_eq!(word, config::RESET);
}

#[test]
#[allow(clippy::identity_op)] // zero fields spelled out on purpose
fn continuous_a0_single_ended_6144_860sps() {
    // Fields by hand: OS=0, MUX=100, PGA=000, MODE=0, DR=111, COMP_MODE/POL/LAT=0, QUE=11
    // 0 100 000 0 | 111 0 0 0 11 = 0b0100_0000_1110_0011 = 0x40E3.
    let fields: u16 = (0b100 << 12) | (0b000 << 9) | (0 << 8) | (0b111 << 5) | 0b11;
    assert_eq!(fields, 0x40E3);
    let mut i2c = Mock::new(&[T::write(ADDR, vec![0x01, 0x40, 0xE3])]);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    adc.start_continuous(Channel::Single0, Gain::Fsr6144, DataRate::Sps860)
        .unwrap();
    i2c.done();
}

#[test]
fn continuous_differential_a0_a1() {
    // MUX=000, PGA=010 (±2.048), MODE=0, DR=100 (128 SPS), QUE=11:
    // 0 000 010 0 | 100 0 0 0 11 = 0b0000_0100_1000_0011 = 0x0483.
    let mut i2c = Mock::new(&[T::write(0x49, vec![0x01, 0x04, 0x83])]);
    let mut adc = Ads1115::new(&mut i2c, 0x49);
    adc.start_continuous(Channel::Diff01, Gain::Fsr2048, DataRate::Sps128)
        .unwrap();
    i2c.done();
}

#[test]
fn read_raw_positive_and_negative() {
    let mut i2c = Mock::new(&[
        T::write_read(ADDR, vec![0x00], vec![0x12, 0x34]),
        T::write_read(ADDR, vec![0x00], vec![0xFF, 0x38]),
        T::write_read(ADDR, vec![0x00], vec![0x80, 0x00]),
    ]);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    assert_eq!(adc.read_raw().unwrap(), 0x1234);
    assert_eq!(adc.read_raw().unwrap(), -200);
    assert_eq!(adc.read_raw().unwrap(), i16::MIN);
    i2c.done();
}

#[test]
fn read_volts_scales_by_the_configured_gain() {
    // ±1.024 V, Single0, 860 SPS: 0 100 011 0 | 111 000 11 = 0x46E3.
    let mut i2c = Mock::new(&[
        T::write(ADDR, vec![0x01, 0x46, 0xE3]),
        T::write_read(ADDR, vec![0x00], vec![0x40, 0x00]),
        T::write_read(ADDR, vec![0x00], vec![0xC0, 0x00]),
    ]);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    adc.start_continuous(Channel::Single0, Gain::Fsr1024, DataRate::Sps860)
        .unwrap();
    // 16384 / 32768 * 1.024 V
    assert_eq!(adc.read_volts().unwrap(), 0.512);
    assert_eq!(adc.read_volts().unwrap(), -0.512);
    i2c.done();
}

#[test]
fn set_gain_keeps_channel_and_rate() {
    // Single0 ±6.144 860 SPS = 0x40E3; then PGA=100 (±0.512): 0 100 100 0 | 111 000 11 = 0x48E3.
    let mut i2c = Mock::new(&[
        T::write(ADDR, vec![0x01, 0x40, 0xE3]),
        T::write(ADDR, vec![0x01, 0x48, 0xE3]),
        T::write_read(ADDR, vec![0x00], vec![0x7F, 0xFF]),
    ]);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    adc.start_continuous(Channel::Single0, Gain::Fsr6144, DataRate::Sps860)
        .unwrap();
    adc.set_gain(Gain::Fsr0512).unwrap();
    assert_eq!(adc.gain(), Gain::Fsr0512);
    let v = adc.read_volts().unwrap();
    assert!((v - 0.512 * 32767.0 / 32768.0).abs() < 1e-12);
    i2c.done();
}

#[test]
fn single_shot_waits_for_os() {
    // OS=1, MUX=011 (AIN2-AIN3), PGA=101 (±0.256), MODE=1, DR=100 (reset rate 128), QUE=11:
    // 1 011 101 1 | 100 000 11 = 0b1011_1011_1000_0011 = 0xBB83.
    let mut i2c = Mock::new(&[
        T::write(ADDR, vec![0x01, 0xBB, 0x83]),
        T::write_read(ADDR, vec![0x01], vec![0x3B, 0x83]), // converting
        T::write_read(ADDR, vec![0x01], vec![0xBB, 0x83]), // done
        T::write_read(ADDR, vec![0x00], vec![0xFC, 0x18]),
    ]);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    assert_eq!(
        adc.single_shot(Channel::Diff23, Gain::Fsr0256).unwrap(),
        -1000
    );
    i2c.done();
}

#[test]
fn single_shot_gives_up_after_the_poll_limit() {
    let mut expect = vec![T::write(ADDR, vec![0x01, 0xC1, 0x83])];
    // OS=1, Single0 (100), ±6.144 (000), MODE=1, 128 SPS, QUE=11: 1100 0001 1000 0011.
    expect.extend((0..3).map(|_| T::write_read(ADDR, vec![0x01], vec![0x41, 0x83])));
    let mut i2c = Mock::new(&expect);
    let mut adc = Ads1115::new(&mut i2c, ADDR);
    adc.set_poll_limit(3);
    assert_eq!(
        adc.single_shot(Channel::Single0, Gain::Fsr6144),
        Err(Error::NotReady)
    );
    i2c.done();
}

#[test]
fn auto_gain_picks_the_narrowest_range_with_headroom() {
    assert_eq!(auto_gain_for(0.1), Gain::Fsr0256);
    assert_eq!(auto_gain_for(-0.24), Gain::Fsr0512); // over 90 % of 0.256
    assert_eq!(auto_gain_for(0.4), Gain::Fsr0512);
    assert_eq!(auto_gain_for(1.5), Gain::Fsr2048);
    assert_eq!(auto_gain_for(3.0), Gain::Fsr4096);
    assert_eq!(auto_gain_for(4.0), Gain::Fsr6144);
    assert_eq!(auto_gain_for(9.0), Gain::Fsr6144);
    assert_eq!(auto_gain_for(f64::NAN), Gain::Fsr6144);
}

#[test]
fn error_displays() {
    let e: Error<u8> = Error::NotReady;
    assert!(e.to_string().contains("not ready"));
}
