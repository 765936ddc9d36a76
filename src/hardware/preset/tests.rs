use super::*;

#[test]
fn builtin_presets_load_and_describe_their_cabling() {
    for (name, _) in BUILTIN {
        let p = Preset::load(name, &[]).unwrap();
        assert_eq!(p.name, name);
        assert!(p.nelec() >= 4, "{name}");
    }
    let p = Preset::load(DEFAULT_SYSTEM, &[]).unwrap();
    assert_eq!(p.nelec(), 32);
    let info = p.info(true);
    assert_eq!(info.limits.vab_max_v, 50.0);
    assert_eq!(info.limits.iab_readable_max_ma, 48.0);
    assert_eq!(info.timings.mux_activation, Duration::from_millis(10));
    assert!(info.can_discharge);
    assert_eq!(info.supply, Supply::Adjustable);

    let p = Preset::load("mb_2023__4_mux_2023_batt", &[]).unwrap();
    assert_eq!(p.nelec(), 64);
    assert_eq!(p.info(false).supply, Supply::Fixed { voltage_v: 12.0 });
    assert!(!p.info(false).can_discharge);
}

#[test]
fn every_file_in_the_hardware_folder_is_built_in() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut built_in: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    built_in.sort();
    assert_eq!(files, built_in);
}

#[test]
fn a_system_with_no_multiplexer_has_the_boards_four_terminals() {
    let p = Preset::load("mb_2024_1_X__no_mux_dph5005", &[]).unwrap();
    assert_eq!(p.nelec(), 4);
    assert!(p.check_quad(Quadrupole::new(1, 2, 3, 4)).is_ok());
    assert_eq!(
        p.check_quad(Quadrupole::new(2, 1, 3, 4)),
        Err(FrontendError::NotCabled {
            electrode: 2,
            role: Role::A
        })
    );
}

#[test]
fn quadrupoles_are_checked_against_the_cabling() {
    let p = Preset::load(DEFAULT_SYSTEM, &[]).unwrap();
    assert!(p.check_quad(Quadrupole::new(1, 4, 2, 3)).is_ok());
    assert_eq!(
        p.check_quad(Quadrupole::new(1, 33, 2, 3)),
        Err(FrontendError::NotCabled {
            electrode: 33,
            role: Role::B
        })
    );
    assert!(matches!(
        p.check_quad(Quadrupole::new(1, 1, 2, 3)),
        Err(FrontendError::Unsafe(_))
    ));
}

#[test]
fn unknown_system_lists_the_available_ones() {
    let e = Preset::load("mb_9999", &[]).unwrap_err().to_string();
    assert!(e.contains("mb_9999") && e.contains(DEFAULT_SYSTEM), "{e}");
}

#[test]
fn two_chips_at_one_address_on_one_bus_are_refused() {
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == DEFAULT_SYSTEM)
        .unwrap()
        .1
        .replace("i2c_bus = 4", "i2c_bus = 1");
    let e = Preset::parse("x", &text, "x.toml").unwrap_err().to_string();
    // The first mux board's MCP23017 at 0x21 meets the measurement board's MCP23008.
    assert!(
        e.contains("0x21") && e.contains("bus 1") && e.contains("tx_mcp_address"),
        "{e}"
    );
}

#[test]
fn invalid_preset_names_the_problem() {
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == DEFAULT_SYSTEM)
        .unwrap()
        .1
        .replace("electrodes = [1, 8]", "electrodes = [8, 1]");
    let e = Preset::parse("x", &text, "x.toml").unwrap_err().to_string();
    assert!(e.contains("mux[0].electrodes"), "{e}");
}
