use super::*;
use crate::hardware::preset::Preset;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

fn mux2024() -> Vec<MuxSpec> {
    Preset::load("mb_2024_1_X__4_mux_2024_dph5005", &[])
        .unwrap()
        .mux
}

fn mux2023() -> Vec<MuxSpec> {
    Preset::load("mb_2023__4_mux_2023_batt", &[]).unwrap().mux
}

fn find(boards: &[MuxSpec], electrode: Electrode, role: Role) -> Option<Relay> {
    boards.iter().find_map(|s| relay_for(s, electrode, role))
}

fn relay(mcp: u8, pin: u8) -> Relay {
    Relay {
        mcp,
        pin,
        tca: None,
    }
}

#[test]
fn addresses_from_jumpers() {
    use Jumper::{Down, Up};
    assert_eq!(mux2024_addresses(Up, Up), (0x20, 0x21));
    assert_eq!(mux2024_addresses(Down, Up), (0x22, 0x23));
    assert_eq!(mux2024_addresses(Up, Down), (0x24, 0x25));
    assert_eq!(mux2024_addresses(Down, Down), (0x26, 0x27));
}

#[test]
fn mux2024_four_roles() {
    let b = mux2024();
    assert_eq!(find(&b, 1, Role::A), Some(relay(0x20, 0)));
    assert_eq!(find(&b, 8, Role::A), Some(relay(0x20, 7)));
    assert_eq!(find(&b, 4, Role::B), Some(relay(0x20, 11)));
    assert_eq!(find(&b, 2, Role::M), Some(relay(0x21, 6)));
    assert_eq!(find(&b, 1, Role::M), Some(relay(0x21, 7)));
    assert_eq!(find(&b, 8, Role::M), Some(relay(0x21, 0)));
    assert_eq!(find(&b, 3, Role::N), Some(relay(0x21, 13)));
    assert_eq!(find(&b, 8, Role::N), Some(relay(0x21, 8)));
    assert_eq!(find(&b, 9, Role::A), Some(relay(0x22, 0)));
    assert_eq!(find(&b, 17, Role::B), Some(relay(0x24, 8)));
    assert_eq!(find(&b, 32, Role::N), Some(relay(0x27, 8)));
    assert_eq!(find(&b, 33, Role::A), None);
    assert_eq!(find(&b, 0, Role::A), None);
    // One board alone serves only its own electrodes.
    assert_eq!(relay_for(&b[0], 9, Role::A), None);
}

#[test]
fn mux2024_two_roles() {
    let mut spec = mux2024().remove(1); // down/up: 0x22/0x23
    spec.roles = vec![Role::M, Role::N];
    spec.electrodes = [17, 32];
    assert_eq!(relay_for(&spec, 17, Role::M), Some(relay(0x22, 0)));
    assert_eq!(relay_for(&spec, 24, Role::M), Some(relay(0x22, 7)));
    assert_eq!(relay_for(&spec, 25, Role::M), Some(relay(0x23, 0)));
    assert_eq!(relay_for(&spec, 32, Role::M), Some(relay(0x23, 7)));
    assert_eq!(relay_for(&spec, 17, Role::N), Some(relay(0x22, 8)));
    assert_eq!(relay_for(&spec, 25, Role::N), Some(relay(0x23, 8)));
    assert_eq!(relay_for(&spec, 32, Role::N), Some(relay(0x23, 15)));
    assert_eq!(relay_for(&spec, 17, Role::A), None);
    assert_eq!(relay_for(&spec, 33, Role::M), None);
}

#[test]
fn mux2024_behind_tca() {
    let mut spec = mux2024().remove(0);
    spec.tca_address = Some(0x70);
    spec.tca_channel = Some(3);
    assert_eq!(
        relay_for(&spec, 1, Role::A),
        Some(Relay {
            mcp: 0x20,
            pin: 0,
            tca: Some((0x70, 3))
        })
    );
}

#[test]
fn mux2023_mapping() {
    let b = mux2023();
    let r = |tca, ch, pin| {
        Some(Relay {
            mcp: 0x20,
            pin,
            tca: Some((tca, ch)),
        })
    };
    assert_eq!(find(&b, 1, Role::A), r(0x70, 7, 0));
    assert_eq!(find(&b, 16, Role::A), r(0x70, 7, 15));
    assert_eq!(find(&b, 17, Role::B), r(0x71, 6, 0));
    assert_eq!(find(&b, 40, Role::M), r(0x72, 5, 7));
    assert_eq!(find(&b, 64, Role::N), r(0x73, 4, 15));
    assert_eq!(find(&b, 65, Role::N), None);
    assert_eq!(relay_for(&b[0], 1, Role::B), None);
}

#[test]
fn switch_writes_whole_ports_once() {
    // A=1 → 0x20 pin 0, B=4 → 0x20 pin 11: word 0x0801 → OLATA 0x01, OLATB 0x08.
    // M=2 → 0x21 pin 6, N=3 → 0x21 pin 13: word 0x2040 → OLATA 0x40, OLATB 0x20.
    let expected = [
        T::write(0x20, vec![0x14, 0x01, 0x08]),
        T::write(0x21, vec![0x14, 0x40, 0x20]),
    ];
    let mut i2c = Mock::new(&expected);
    let mut bank = MuxBank::new(&mut i2c, mux2024());
    bank.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    assert_eq!(bank.latches().len(), 2);
    i2c.done();
}

#[test]
fn next_switch_clears_previous_boards() {
    let expected = [
        T::write(0x20, vec![0x14, 0x01, 0x08]),
        T::write(0x21, vec![0x14, 0x40, 0x20]),
        // A=9 → 0x22 pin 0, B=10 → 0x22 pin 9; M=11 → 0x23 pin 5, N=12 → 0x23 pin 12.
        T::write(0x20, vec![0x14, 0x00, 0x00]),
        T::write(0x21, vec![0x14, 0x00, 0x00]),
        T::write(0x22, vec![0x14, 0x01, 0x02]),
        T::write(0x23, vec![0x14, 0x20, 0x10]),
    ];
    let mut i2c = Mock::new(&expected);
    let mut bank = MuxBank::new(&mut i2c, mux2024());
    bank.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    bank.switch(Quadrupole::new(9, 10, 11, 12)).unwrap();
    i2c.done();
}

#[test]
fn mux2023_switch_selects_channel_first() {
    // A=17 → TCA 0x70 ch 6 pin 0; B=1 → 0x71 ch 7 pin 0; M=2 → 0x72 ch 7 pin 1;
    // N=3 → 0x73 ch 7 pin 2. Each TCA is disconnected again after its write.
    let mut expected = Vec::new();
    for (tca, ch, low) in [
        (0x70, 6, 0x01),
        (0x71, 7, 0x01),
        (0x72, 7, 0x02),
        (0x73, 7, 0x04),
    ] {
        expected.push(T::write(tca, vec![1 << ch]));
        expected.push(T::write(0x20, vec![0x14, low, 0x00]));
        expected.push(T::write(tca, vec![0x00]));
    }
    let mut i2c = Mock::new(&expected);
    let mut bank = MuxBank::new(&mut i2c, mux2023());
    bank.switch(Quadrupole::new(17, 1, 2, 3)).unwrap();
    i2c.done();
}

#[test]
fn release_all_writes_zeros() {
    let expected: Vec<T> = (0x20..=0x27)
        .map(|a| T::write(a, vec![0x14, 0x00, 0x00]))
        .collect();
    let mut i2c = Mock::new(&expected);
    let mut bank = MuxBank::new(&mut i2c, mux2024());
    bank.release_all().unwrap();
    assert!(bank.latches().values().all(|&w| w == 0));
    i2c.done();
}

#[test]
fn init_configures_every_expander() {
    // Expanders go in (TCA, channel) order: channels 4, 5, 6, 7.
    let mut expected = Vec::new();
    for ch in [4, 5, 6, 7] {
        expected.push(T::write(0x70, vec![1 << ch]));
        expected.push(T::write(0x20, vec![0x00, 0x00, 0x00]));
        expected.push(T::write(0x20, vec![0x14, 0x00, 0x00]));
        expected.push(T::write(0x70, vec![0x00]));
    }
    let mut i2c = Mock::new(&expected);
    let mut bank = MuxBank::new(&mut i2c, mux2023()[..1].to_vec());
    bank.init().unwrap();
    i2c.done();
}

#[test]
fn uncabled_or_unsafe_writes_nothing() {
    let mut i2c = Mock::new(&[]);
    let mut bank = MuxBank::new(&mut i2c, mux2024());
    assert!(matches!(
        bank.switch(Quadrupole::new(1, 33, 2, 3)),
        Err(MuxError::NotCabled {
            electrode: 33,
            role: Role::B
        })
    ));
    assert!(matches!(
        bank.switch(Quadrupole::new(1, 1, 2, 3)),
        Err(MuxError::Unsafe(_))
    ));
    assert!(bank.latches().is_empty());
    i2c.done();
}
