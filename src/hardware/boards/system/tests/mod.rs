//! The composed system against a model of its buses: TCA9548A channel state, MCP23017 and
//! MCP23008 output latches and ADS1115 conversion results, keyed by the physical chip. Every
//! write is logged, so the tests see exactly what reached each chip.

mod engine;
mod model;
mod ranges;
mod supply;

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::hardware::boards::mux::{relay_for, Relay};
use crate::hardware::preset::BUILTIN;
use crate::hardware::Role;
use model::{Bus, Supply};

fn preset(name: &str) -> Preset {
    Preset::load(name, &[]).unwrap()
}

fn tcas(p: &Preset) -> Vec<u8> {
    p.mux.iter().filter_map(|m| m.tca_address).collect()
}

/// The system of `name` on model buses, its start-up writes cleared from the logs.
fn open(name: &str) -> (BoardSystem<Bus, Bus, Supply>, Bus, Bus, Supply) {
    let p = preset(name);
    let board_bus = Bus::default();
    let mux_bus = Bus::with_tcas(tcas(&p));
    let supply = Supply::default();
    let system =
        BoardSystem::open(&p, board_bus.clone(), mux_bus.clone(), Some(supply.clone())).unwrap();
    board_bus.take_log();
    mux_bus.take_log();
    (system, board_bus, mux_bus, supply)
}

/// (electrode, role) of every relay of the system; no relay may serve two.
fn relay_map(p: &Preset) -> BTreeMap<Relay, (u16, Role)> {
    let mut by_relay: BTreeMap<Relay, (u16, Role)> = BTreeMap::new();
    for spec in &p.mux {
        for e in 1..=p.nelec() {
            for role in [Role::A, Role::B, Role::M, Role::N] {
                if let Some(r) = relay_for(spec, e, role) {
                    let previous = by_relay.insert(r, (e, role));
                    assert!(previous.is_none(), "{}: relay {r:?} serves two", p.name);
                }
            }
        }
    }
    by_relay
}

/// (electrode, role) of every closed relay, from the MCP23017 latches of the bus model.
fn closed(p: &Preset, by_relay: &BTreeMap<Relay, (u16, Role)>, bus: &Bus) -> BTreeSet<(u16, Role)> {
    let mut out = BTreeSet::new();
    for (&(tca, mcp), &word) in &bus.state().mcp17 {
        for pin in 0..16u8 {
            if word & (1 << pin) != 0 {
                let relay = Relay { mcp, pin, tca };
                out.insert(*by_relay.get(&relay).unwrap_or_else(|| {
                    panic!("{}: a relay no electrode uses is closed: {relay:?}", p.name)
                }));
            }
        }
    }
    out
}

const DEFAULT: &str = "mb_2024_1_X__4_mux_2024_dph5005";

#[test]
fn a_quadrupole_on_four_4_role_mux_2024_writes_two_expanders_and_nothing_else() {
    let (mut s, board, mux, _) = open(DEFAULT);
    s.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    // A=1: X e1 → 0x20 pin 0; B=4: Y e4 → 0x20 pin 11; M=2: XX e2 → 0x21 pin 6 (reversed);
    // N=3: YY e3 → 0x21 pin 13 (reversed).
    assert_eq!(
        mux.take_log(),
        vec![
            (0x20, vec![0x14, 0x01, 0x08]),
            (0x21, vec![0x14, 0x40, 0x20])
        ]
    );
    assert!(board.take_log().is_empty());
    // The next quadrupole opens what it does not reuse, one write per expander.
    s.switch(Quadrupole::new(9, 12, 10, 11)).unwrap();
    assert_eq!(
        mux.take_log(),
        vec![
            (0x20, vec![0x14, 0, 0]),
            (0x21, vec![0x14, 0, 0]),
            (0x22, vec![0x14, 0x01, 0x08]),
            (0x23, vec![0x14, 0x40, 0x20])
        ]
    );
    s.release().unwrap();
    assert_eq!(
        mux.take_log(),
        vec![(0x22, vec![0x14, 0, 0]), (0x23, vec![0x14, 0, 0])]
    );
}

#[test]
fn unsafe_or_uncabled_quadrupoles_are_refused_with_zero_bus_writes() {
    for name in [DEFAULT, "mb_2023__4_mux_2023_batt"] {
        let (mut s, board, mux, supply) = open(name);
        for q in [
            Quadrupole::new(1, 1, 2, 3),
            Quadrupole::new(1, 4, 1, 3),
            Quadrupole::new(1, 4, 2, 4),
            Quadrupole::new(1, 4, 3, 3),
            Quadrupole::new(0, 4, 2, 3),
            Quadrupole::new(1, 99, 2, 3),
        ] {
            assert!(s.switch(q).is_err(), "{name} {q}");
        }
        assert!(s.switch_pair(5, 5).is_err());
        assert!(s.set_vab(s.info().limits.vab_max_v + 0.1).is_err());
        assert!(s.set_vab(f64::NAN).is_err());
        assert!(board.take_log().is_empty(), "{name}");
        assert!(mux.take_log().is_empty(), "{name}");
        assert!(supply.state().writes.is_empty(), "{name}");
    }
}

#[test]
fn mux_2023_selects_the_tca_channel_before_its_expander_and_closes_it_after() {
    let (mut s, _, mux, _) = open("mb_2023__4_mux_2023_batt");
    // A = 17: MCP index 1 → channel 6 of the A board's TCA (0x70): mask 0x40, pin 0.
    s.switch(Quadrupole::new(17, 2, 3, 4)).unwrap();
    let log = mux.take_log();
    assert_eq!(log[0], (0x70, vec![0x40]));
    assert_eq!(log[1], (0x20, vec![0x14, 0x01, 0x00]));
    assert_eq!(log[2], (0x70, vec![0x00]));
    assert_eq!(log.len(), 12, "four boards, three writes each: {log:?}");
}

#[test]
fn polarity_cycle_writes_the_tx_byte_and_switches_gain_only_between_pulses() {
    let (mut s, board, _, _) = open(DEFAULT);
    s.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    s.set_power(true).unwrap();
    assert_eq!(board.take_log(), vec![(0x21, vec![0x0A, 0x1C])]);
    // Vmn = +300 mV at gain 1/2: V_A0 = 2.5 + 0.15 V = 2.65 V → code 2.65 / 6.144 × 32768.
    board.set_adc(0x49, (2.65 / 6.144 * 32768.0) as i16);
    board.set_adc(0x48, (0.5 / 6.144 * 32768.0) as i16); // 5 mA over 2 Ω × 50
    s.set_polarity(Polarity::Positive).unwrap();
    let sample = s.read_sample().unwrap();
    assert!((sample.vmn_mv - 300.0).abs() < 1.0, "{sample:?}");
    assert!((sample.iab_ma - 5.0).abs() < 0.01, "{sample:?}");
    s.set_polarity(Polarity::Off).unwrap();
    // The off time reads the self-potential (0 mV here): the − pulse will see about −300 mV,
    // under 2000 mV: it uses gain 1 (RX byte 0b101), written before the polarity relay closes.
    // (Without an off-time reading the − pulse could not be bounded and would keep gain 1/2.)
    board.set_adc(0x49, (2.5 / 6.144 * 32768.0) as i16);
    board.set_adc(0x48, 0);
    s.read_sample().unwrap();
    s.set_polarity(Polarity::Negative).unwrap();
    assert!(matches!(
        s.set_polarity(Polarity::Positive),
        Err(FrontendError::Interlock(_))
    ));
    s.set_polarity(Polarity::Off).unwrap();
    let log = board.take_log();
    let writes: Vec<(u8, Vec<u8>)> = log.into_iter().filter(|(_, b)| b[0] == 0x0A).collect();
    assert_eq!(
        writes,
        vec![
            (0x21, vec![0x0A, 0x1C | 0x41]),
            (0x21, vec![0x0A, 0x1C]),
            (0x27, vec![0x0A, 0b101]),
            (0x21, vec![0x0A, 0x1C | 0x42]),
            (0x21, vec![0x0A, 0x1C]),
        ]
    );
}

#[test]
fn the_supply_gets_its_limits_at_power_up_and_goes_off_at_reset() {
    let (mut s, board, mux, supply) = open(DEFAULT);
    s.set_power(true).unwrap();
    assert_eq!(s.set_vab(12.345).unwrap(), 12.35);
    let writes = supply.state().writes.clone();
    // M0 U-SET 0.5 V, M0 I-SET 57.6 mA → 58, OVP 51 V → 50.99, OCP 60 mA, OPP 3.0 W, I-SET
    // 58 mA, then U-SET and output on.
    assert_eq!(
        writes,
        vec![
            (0x50, 50),
            (0x51, 58),
            (0x52, 5099),
            (0x53, 60),
            (0x54, 30),
            (0x01, 58),
            (0x00, 1235),
            (0x09, 1)
        ]
    );
    supply.state().writes.clear();
    s.set_vab(20.0).unwrap();
    assert_eq!(supply.state().writes, vec![(0x00, 2000)]);
    // A reading above the current limit × 1.2 cuts the injection at once.
    s.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    s.set_polarity(Polarity::Positive).unwrap();
    board.take_log();
    board.set_adc(0x48, (6.0 / 6.144 * 32768.0) as i16); // 60 mA
    let e = s.read_sample().unwrap_err();
    assert!(
        matches!(
            e,
            FrontendError::Limit {
                what: "Iab [mA]",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(board.take_log().last(), Some(&(0x21, vec![0x0A, 0x1C])));
    s.reset().unwrap();
    assert_eq!(supply.state().writes.last(), Some(&(0x09, 0)));
    assert_eq!(board.state().mcp08.get(&0x21), Some(&0));
    assert!(mux.state().mcp17.values().all(|&w| w == 0));
}

#[test]
fn dropping_the_system_opens_every_relay_and_stops_the_injection() {
    let (mut s, board, mux, _) = open(DEFAULT);
    s.switch(Quadrupole::new(1, 4, 2, 3)).unwrap();
    s.set_power(true).unwrap();
    s.set_polarity(Polarity::Positive).unwrap();
    drop(s);
    assert_eq!(board.state().mcp08.get(&0x21), Some(&0));
    assert!(!mux.state().mcp17.is_empty());
    assert!(mux.state().mcp17.values().all(|&w| w == 0));
}

#[test]
fn a_failing_bus_is_named_and_counted() {
    let (mut s, _, mux, _) = open(DEFAULT);
    mux.state().fail = true;
    let e = s.switch(Quadrupole::new(1, 4, 2, 3)).unwrap_err();
    assert_eq!(
        e,
        FrontendError::Bus {
            device: "MCP23017",
            address: 0x20
        }
    );
    assert_eq!(s.health().bus_errors, 1);
    mux.state().fail = false;
    // The expander whose write failed is opened by the next release.
    s.release().unwrap();
    assert_eq!(mux.take_log(), vec![(0x20, vec![0x14, 0, 0])]);
}

#[test]
fn a_supply_that_does_not_answer_is_reported() {
    let (mut s, _, _, supply) = open(DEFAULT);
    supply.state().silent = true;
    s.set_power(true).unwrap();
    assert_eq!(s.set_vab(5.0), Err(FrontendError::SupplyNotAnswering));
}

#[test]
fn mb_2024_0_2_has_no_discharge_and_mb_2023_no_power_relays() {
    let (mut s, board, _, _) = open("mb_2024_0_2__4_mux_2024_dph5005");
    assert!(!s.info().can_discharge);
    assert!(matches!(
        s.set_discharge(true),
        Err(FrontendError::Interlock(_))
    ));
    assert!(board.take_log().is_empty());
    let (mut s, board, _, _) = open("mb_2023__4_mux_2023_batt");
    s.set_power(true).unwrap();
    assert!(board.take_log().is_empty());
    assert_eq!(s.set_vab(12.0).unwrap(), 12.0);
}

/// The simulator and the real boards agree on every preset: the same description (cabling,
/// timings, limits), the same quadrupoles accepted and refused, and for every accepted one the
/// real boards close exactly the relays of A, B, M and N on the electrodes asked for.
#[test]
fn simulator_and_real_boards_agree_on_every_preset() {
    use crate::clock::Clock;
    use crate::hardware::sim::{SimConfig, SimFrontend};
    use crate::survey::Geometry;
    for (name, _) in BUILTIN {
        let p = preset(name);
        let (mut real, _, mux, _) = open(name);
        let geometry = Geometry::line(p.nelec(), 1.0).unwrap();
        let mut sim = SimFrontend::new(&p, geometry, SimConfig::default(), Clock::virtual_clock());
        let mut sim_info = sim.info().clone();
        sim_info.simulated = false;
        assert_eq!(&sim_info, real.info(), "{name}");
        let n = p.nelec();
        let relays = relay_map(&p);
        let mut picks: Vec<u16> = [1, 2, 3, 4, 8, 9, 16, 17, 32, 33, 64, 65]
            .into_iter()
            .filter(|&e| e <= n + 1)
            .collect();
        picks.dedup();
        let mut accepted = 0;
        for &a in &picks {
            for &b in &picks {
                for &m in &picks {
                    for &nn in &picks {
                        let q = Quadrupole::new(a, b, m, nn);
                        let r = real.switch(q);
                        assert_eq!(r, sim.switch(q), "{name} {q}");
                        if r.is_ok() {
                            accepted += 1;
                            let want: BTreeSet<(u16, Role)> =
                                [(a, Role::A), (b, Role::B), (m, Role::M), (nn, Role::N)]
                                    .into_iter()
                                    .collect();
                            if !p.mux.is_empty() {
                                assert_eq!(closed(&p, &relays, &mux), want, "{name} {q}");
                            }
                        }
                    }
                }
            }
        }
        assert!(accepted > 0, "{name}");
        real.release().unwrap();
        assert!(closed(&p, &relays, &mux).is_empty(), "{name}");
        // Contact checks: pairs of neighbours.
        for a in 1..n {
            assert_eq!(
                real.switch_pair(a, a + 1),
                sim.switch_pair(a, a + 1),
                "{name}"
            );
        }
    }
}
