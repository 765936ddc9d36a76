use super::*;
use crate::doctor::Status;
use crate::hardware::preset::BUILTIN;

fn addresses(chips: &[ExpectedChip], bus: u8, chip: &str) -> Vec<u8> {
    chips
        .iter()
        .filter(|c| c.bus == bus && c.chip == chip)
        .map(|c| c.address)
        .collect()
}

/// The measurement board of the 2024 presets on bus 1; four mux_2024 boards on bus 4, two
/// MCP23017 each at 0b0100_{addr2}{addr1}0 and + 1: up/up 0x20/0x21, down/up 0x22/0x23,
/// up/down 0x24/0x25, down/down 0x26/0x27 (mux.rs, `mux2024_addresses`).
#[test]
fn mb_2024_with_four_mux_2024() {
    for name in [
        "mb_2024_1_X__4_mux_2024_dph5005",
        "mb_2024_1_X__4_mux_2024_batt",
    ] {
        let chips = expected_chips(&Preset::load(name, &[]).unwrap());
        assert_eq!(addresses(&chips, 1, "MCP23008"), [0x21, 0x27], "{name}");
        assert_eq!(addresses(&chips, 1, "ADS1115"), [0x48, 0x49], "{name}");
        assert_eq!(
            addresses(&chips, 4, "MCP23017"),
            [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27],
            "{name}"
        );
        assert_eq!(chips.len(), 12, "{name}");
        assert!(chips.iter().all(|c| c.behind.is_none()), "{name}");
        assert!(chips[4].role.contains("mux 1") && chips[4].role.contains("1-8"));
    }
}

/// mb_2023 (MCP23008 at 0x20, no RX MCP23008) and four mux_2023 boards on bus 1, each a
/// TCA9548A at 0x70..0x73 with an MCP23017 at 0x20 behind channels 7, 6, 5, 4.
#[test]
fn mb_2023_with_four_mux_2023() {
    let chips = expected_chips(&Preset::load("mb_2023__4_mux_2023_batt", &[]).unwrap());
    assert_eq!(addresses(&chips, 1, "MCP23008"), [0x20]);
    assert_eq!(addresses(&chips, 1, "ADS1115"), [0x48, 0x49]);
    assert_eq!(addresses(&chips, 1, "TCA9548A"), [0x70, 0x71, 0x72, 0x73]);
    let behind: Vec<_> = chips
        .iter()
        .filter(|c| c.chip == "MCP23017")
        .map(|c| (c.address, c.behind))
        .collect();
    assert_eq!(behind.len(), 16);
    assert!(behind.iter().all(|(a, _)| *a == 0x20));
    assert_eq!(behind[0].1, Some((0x70, 7)));
    assert_eq!(behind[3].1, Some((0x70, 4)));
    assert_eq!(behind[15].1, Some((0x73, 4)));
    assert!(chips.iter().all(|c| c.bus == 1));
    assert_eq!(
        buses(&Preset::load("mb_2023__4_mux_2023_batt", &[]).unwrap()).len(),
        1
    );
}

#[test]
fn every_builtin_preset_expects_its_measurement_board() {
    for (name, _) in BUILTIN {
        let preset = Preset::load(name, &[]).unwrap();
        let chips = expected_chips(&preset);
        assert_eq!(chips[0].chip, "MCP23008", "{name}");
        assert!(buses(&preset).contains(&1), "{name}");
    }
}

#[test]
fn a_scan_is_compared_with_the_expected_chips() {
    let preset = Preset::load("mb_2023__4_mux_2023_batt", &[]).unwrap();
    let expected = expected_chips(&preset);
    let all = [0x20, 0x48, 0x49, 0x70, 0x71, 0x72, 0x73];
    let c = compare_scan("chips-1", &expected, &all, &preset.name);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c
        .detail
        .starts_with("7 of 7 expected chips answer; 16 behind TCA9548A"));

    let c = compare_scan(
        "chips-1",
        &expected,
        &[0x20, 0x48, 0x70, 0x71, 0x72, 0x73, 0x68],
        "p",
    );
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail
            .contains("missing: 0x49 ADS1115 (measurement board: Vmn)"),
        "{c:?}"
    );
    assert!(c.detail.contains("not in the preset: 0x68"), "{c:?}");
    assert!(c.fix.unwrap().contains("preset p"));

    let mut extra = all.to_vec();
    extra.push(0x3c);
    let c = compare_scan("chips-1", &expected, &extra, "p");
    assert_eq!(c.status, Status::Warn, "{c:?}");

    // A chip behind a TCA9548A, seen through a channel left open, is expected, not a stranger.
    let mux_2024_behind_tca = ExpectedChip {
        bus: 4,
        address: 0x24,
        chip: "MCP23017",
        role: "mux 1".into(),
        behind: Some((0x70, 0)),
    };
    let tca = ExpectedChip {
        address: 0x70,
        chip: "TCA9548A",
        behind: None,
        ..mux_2024_behind_tca.clone()
    };
    let c = compare_scan(
        "chips-4",
        &[tca.clone(), mux_2024_behind_tca],
        &[0x24, 0x70],
        "p",
    );
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(
        c.detail
            .starts_with("1 of 1 expected chips answer; 1 behind"),
        "{c:?}"
    );

    let c = compare_scan("chips-4", &[], &[], "p");
    assert_eq!(c.status, Status::Ok, "{c:?}");
}

#[test]
fn off_the_hardware_every_bus_is_skipped_with_the_reason() {
    let preset = Preset::load("mb_2024_1_X__4_mux_2024_dph5005", &[]).unwrap();
    let checks = bus_checks(&preset, Some("simulated"));
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["i2c-1", "chips-1", "i2c-4", "chips-4"]);
    assert!(checks
        .iter()
        .all(|c| c.status == Status::Skip && c.detail == "simulated"));
}
