//! The engine on the composed boards: a survey over the bus model, its numbers and the relay
//! timings on the bus timeline.

use super::model::Bus;
use super::*;

/// The engine drives the composed boards through a whole survey: every command it gives in the
/// order it gives them passes the boards' interlocks, and the numbers come out of the bus codes.
#[test]
fn the_engine_measures_through_the_boards() {
    use crate::acquisition::{Command, Engine, EngineOptions, Event, Outcome, Settings};
    use crate::clock::Clock;
    use crate::survey::{Geometry, Quality};
    let name = "mb_2024_1_X__4_mux_2024_batt";
    let p = preset(name);
    let (board_bus, mux_bus) = (Bus::default(), Bus::default());
    let clock = Clock::virtual_clock();
    board_bus.state().ground = Some((5.0, 300.0));
    board_bus.state().clock = Some(clock.clone());
    mux_bus.state().clock = Some(clock.clone());
    let system: BoardSystem<Bus, Bus, NoSerial> =
        BoardSystem::open(&p, board_bus.clone(), mux_bus.clone(), None).unwrap();
    let geometry = Geometry::line(p.nelec(), 1.0).unwrap();
    let (engine, mut events) = Engine::spawn(
        system,
        clock,
        geometry,
        Settings::default(),
        EngineOptions { rt_priority: 0 },
    )
    .unwrap();
    let sequence: Vec<Quadrupole> = (1..=6)
        .map(|e| Quadrupole::new(e, e + 3, e + 1, e + 2))
        .collect();
    engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: sequence.into(),
            settings: None,
        })
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut records = Vec::new();
    let outcome = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the survey did not end"
        );
        match events.pop() {
            Ok(Event::Record { measurement, .. }) => records.push(measurement),
            Ok(Event::Fault { error, .. }) => panic!("fault: {error}"),
            Ok(Event::RunEnded { outcome, .. }) => break outcome,
            Ok(_) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    };
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(records.len(), 6);
    for m in &records {
        let r = m.r_ohm.unwrap();
        assert!((r - 60.0).abs() < 0.05, "R = {r} for {}", m.quad);
        assert!(!m.quality.contains(Quality::SIMULATED));
        assert!(!m.quality.contains(Quality::FAULT), "{:?}", m.quality);
        assert!(!m.quality.contains(Quality::SATURATED), "{:?}", m.quality);
        assert_eq!(m.vab_v, 12.0);
    }
    check_relay_delays(&p, &board_bus, &mux_bus);
    drop(engine);
    // After the run and the engine's exit: injection off, every relay open.
    assert_eq!(board_bus.state().mcp08.get(&0x21), Some(&0));
    assert!(mux_bus.state().mcp17.values().all(|&w| w == 0));
}

/// On the bus timeline of a survey: a converter is read only once the polarity relays have had
/// their activation time; the polarity relays close only once the multiplexer relays have had
/// theirs; multiplexer relays switch only once the polarity relays have had their release time
/// after the injection stopped.
fn check_relay_delays(p: &Preset, board: &Bus, mux: &Bus) {
    let info = p.info(false);
    let t = info.timings;
    let mut timeline: Vec<(std::time::Duration, &str, u8, Option<Vec<u8>>)> = Vec::new();
    for (bus, name) in [(board, "board"), (mux, "mux")] {
        for (time, address, bytes) in bus.state().timeline.iter().cloned() {
            timeline.push((time, name, address, bytes));
        }
    }
    timeline.sort_by_key(|e| e.0);
    let tx = p.measurement_board.tx_mcp_address;
    let (mut injecting_since, mut stopped_at, mut mux_switched_at) = (None, None, None);
    let (mut pulses, mut reads_checked) = (0, 0);
    for (time, bus, address, bytes) in &timeline {
        match (*bus, bytes.as_deref()) {
            ("board", Some([0x0A, v])) if *address == tx => {
                if v & 0b11 != 0 {
                    pulses += 1;
                    let since = mux_switched_at.expect("injection before any switching");
                    assert!(*time >= since + t.mux_activation, "polarity on at {time:?}");
                    injecting_since = Some(*time);
                } else if injecting_since.take().is_some() {
                    stopped_at = Some(*time);
                }
            }
            ("board", None) if injecting_since.is_some() => {
                let since = injecting_since.unwrap();
                assert!(*time >= since + t.polarity_activation, "read at {time:?}");
                reads_checked += 1;
            }
            ("mux", Some([0x14, ..])) => {
                assert!(injecting_since.is_none(), "relays switched while injecting");
                if let Some(stop) = stopped_at {
                    assert!(*time >= stop + t.polarity_release, "mux at {time:?}");
                }
                mux_switched_at = Some(*time);
            }
            _ => {}
        }
    }
    assert!(pulses >= 12, "{pulses} pulses");
    assert!(reads_checked > 100, "{reads_checked} readings");
}
