//! The engine on the simulated instrument: correct numbers, interrupts, faults, timing.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ohmpi::acquisition::{Command, EngineState, Event, Outcome, Settings, Strategy};
use ohmpi::clock::Clock;
use ohmpi::hardware::sim::{ClockKind, Ground, SimAction, SimConfig, SimFrontend};
use ohmpi::hardware::{
    Frontend, FrontendError, FrontendInfo, Health, Polarity, Preset, RawSample, DEFAULT_SYSTEM,
};
use ohmpi::survey::generate::ArraySpec;
use ohmpi::survey::{Electrode, Geometry, Quadrupole, Quality};

#[test]
fn homogeneous_half_space_gives_rho_for_every_array() {
    let arrays = [
        ("wenner", ArraySpec::wenner(5)),
        ("dpdp", ArraySpec::dpdp(2, 6)),
        ("schlum", ArraySpec::schlum(2, 8)),
    ];
    for (name, spec) in arrays {
        let seq = sequence(32, spec);
        let log = run(DEFAULT_SYSTEM, quiet(), Settings::default(), &seq);
        assert_eq!(log.outcome, Some(Outcome::Completed), "{name}");
        assert_eq!(log.records.len(), seq.len(), "{name}");
        for m in &log.records {
            let rhoa = m
                .rhoa_ohmm
                .unwrap_or_else(|| panic!("{name}: no rho_a in {m:?}"));
            assert!(
                (rhoa - 100.0).abs() <= 0.1,
                "{name}: rho_a {rhoa} for {}",
                m.quad
            );
            assert!(m.quality.contains(Quality::SIMULATED));
            // Signed k and R, positive rho_a.
            assert_eq!(
                m.k_m.unwrap().signum(),
                m.r_ohm.unwrap().signum(),
                "{}",
                m.quad
            );
        }
    }
}

/// Electrodes placed for a centred Schlumberger sounding, MN/2 = 0.5 m.
fn sounding_layout(ab2: &[f64]) -> (Geometry, Vec<(f64, Quadrupole)>) {
    let mut xs: Vec<f64> = ab2
        .iter()
        .flat_map(|l| [-l, *l])
        .chain([-0.5, 0.5])
        .collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.dedup();
    let index = |x: f64| (xs.iter().position(|p| (*p - x).abs() < 1e-9).unwrap() + 1) as Electrode;
    let quads = ab2
        .iter()
        .map(|l| {
            (
                *l,
                Quadrupole::new(index(-l), index(*l), index(-0.5), index(0.5)),
            )
        })
        .collect();
    let geometry = Geometry::from_positions(xs.iter().map(|x| [*x, 0.0, 0.0]).collect()).unwrap();
    (geometry, quads)
}

#[test]
fn two_layer_earth_matches_the_reference_sounding() {
    // (rho1, rho2, h) -> [(AB/2, rho_a from pyGIMLi)]
    let mut cases: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut models = BTreeMap::new();
    for line in include_str!("data/two_layer_schlumberger.csv").lines() {
        if line.starts_with('#') || line.starts_with("rho1") {
            continue;
        }
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        let key = format!("{}/{}/{}", v[0], v[1], v[2]);
        models.insert(key.clone(), (v[0], v[1], v[2]));
        cases.entry(key).or_default().push((v[3], v[5]));
    }
    assert_eq!(cases.len(), 3);
    for (key, points) in cases {
        let (rho1, rho2, thickness) = models[&key];
        let ab2: Vec<f64> = points.iter().map(|p| p.0).collect();
        let (geometry, quads) = sounding_layout(&ab2);
        let sim = SimConfig {
            ground: Ground::TwoLayer {
                rho1,
                rho2,
                thickness,
            },
            ..quiet()
        };
        let seq: Vec<Quadrupole> = quads.iter().map(|q| q.1).collect();
        let mut rig = rig(DEFAULT_SYSTEM, sim, Some(geometry), Settings::default());
        let log = rig.run_sequence(&seq, None);
        assert_eq!(log.records.len(), points.len());
        for (m, (ab2, expected)) in log.records.iter().zip(&points) {
            let rhoa = m.rhoa_ohmm.unwrap();
            let err = (rhoa - expected).abs() / expected;
            assert!(
                err < 0.005,
                "{key} AB/2 = {ab2}: rho_a {rhoa}, expected {expected}"
            );
        }
    }
}

#[test]
fn r_spread_grows_with_the_noise_level() {
    let seq = sequence(32, ArraySpec::wenner(2));
    let mut medians = Vec::new();
    for noise_mv in [0.05, 0.5, 5.0] {
        let sim = SimConfig {
            noise: true,
            noise_mv,
            clock: ClockKind::Virtual,
            ..SimConfig::default()
        };
        let log = run(DEFAULT_SYSTEM, sim, Settings::default(), &seq);
        let stds: Vec<f64> = log.records.iter().map(|m| m.r_std_pct.unwrap()).collect();
        medians.push(median(stds));
    }
    assert!(
        medians[0] < medians[1] && medians[1] < medians[2],
        "median r_std_pct {medians:?}"
    );
    // Random noise averages out: rho_a stays close to the truth even at the highest level.
}

#[test]
fn interrupt_turns_injection_off_before_the_pulse_ends() {
    let settings = Settings {
        injection_duration: 1.0,
        ..Settings::default()
    };
    let sim = SimConfig {
        clock: ClockKind::Real,
        ..quiet()
    };
    let mut rig = rig(BATTERY_SYSTEM, sim, None, settings);
    let seq = sequence(32, ArraySpec::wenner(1));
    rig.engine
        .try_send(Command::RunSequence {
            run: 7,
            sequence: Arc::from(seq),
            settings: None,
        })
        .unwrap();
    // Wait for the first + pulse.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pulse_start = loop {
        assert!(Instant::now() < deadline, "no pulse started");
        let on = rig
            .probe
            .actions()
            .into_iter()
            .find(|(_, a)| *a == SimAction::Polarity(Polarity::Positive));
        if let Some((t, _)) = on {
            break t;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    std::thread::sleep(Duration::from_millis(100));
    let asked = rig.clock.now();
    rig.engine.try_send(Command::Interrupt).unwrap();
    let log = rig.collect();
    assert_eq!(log.outcome, Some(Outcome::Interrupted));
    assert!(
        log.records.is_empty(),
        "the partial quadrupole is discarded"
    );
    let actions = rig.probe.actions();
    let after: Vec<_> = actions.iter().filter(|(t, _)| *t >= asked).collect();
    let off = after
        .iter()
        .find(|(_, a)| *a == SimAction::Polarity(Polarity::Off))
        .expect("injection turned off");
    let released = after
        .iter()
        .find(|(_, a)| *a == SimAction::Release)
        .expect("relays opened");
    let pulse_end = pulse_start + Duration::from_secs(1);
    assert!(off.0 < pulse_end && released.0 < pulse_end, "{after:?}");
    // Nothing is switched on again after the interrupt.
    assert!(!after.iter().any(|(_, a)| matches!(
        a,
        SimAction::Polarity(Polarity::Positive | Polarity::Negative) | SimAction::Switch(_)
    )));
}

/// The final state the probe saw: injection off, relays open, power off.
fn assert_safe(actions: &[(Duration, SimAction)]) {
    let last = |f: fn(&SimAction) -> bool| actions.iter().rev().find(|(_, a)| f(a)).map(|x| x.1);
    let reset_last = matches!(actions.last(), Some((_, SimAction::Reset)));
    if reset_last {
        return;
    }
    assert_eq!(
        last(|a| matches!(a, SimAction::Polarity(_))),
        Some(SimAction::Polarity(Polarity::Off))
    );
    assert!(matches!(
        last(|a| matches!(
            a,
            SimAction::Release | SimAction::Switch(_) | SimAction::SwitchPair(..)
        )),
        Some(SimAction::Release) | None
    ));
    assert_eq!(
        last(|a| matches!(a, SimAction::Power(_))),
        Some(SimAction::Power(false))
    );
}

#[test]
fn bus_errors_flag_records_and_the_survey_goes_on() {
    let sim = SimConfig {
        i2c_error_rate: 0.02,
        seed: 7,
        ..quiet()
    };
    let seq = sequence(32, ArraySpec::wenner(3));
    let mut rig = rig(DEFAULT_SYSTEM, sim, None, Settings::default());
    let log = rig.run_sequence(&seq, None);
    assert_eq!(log.outcome, Some(Outcome::Completed));
    assert_eq!(
        log.records.len(),
        seq.len(),
        "every quadrupole has a record"
    );
    let faulty = log
        .records
        .iter()
        .filter(|m| m.quality.contains(Quality::FAULT))
        .count();
    let dropped = log.records.iter().filter(|m| m.dropped_samples > 0).count();
    assert!(
        faulty > 0 && dropped > 0,
        "faulty {faulty}, with dropped samples {dropped}"
    );
    for m in &log.records {
        if m.quality.contains(Quality::FAULT) {
            assert_eq!(m.r_ohm, None);
        } else {
            let rhoa = m.rhoa_ohmm.unwrap_or_else(|| panic!("{m:?}"));
            assert!((rhoa - 100.0).abs() < 0.1, "{m:?}");
        }
    }
    let faults = log
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Fault {
                    error: FrontendError::Bus { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(faults, faulty);
    // After each fault the hardware went safe before anything else was switched.
    let actions = rig.probe.actions();
    for (i, (_, a)) in actions.iter().enumerate() {
        if let SimAction::Switch(_) = a {
            let before = &actions[..i];
            let last_pol = before
                .iter()
                .rev()
                .find(|(_, a)| matches!(a, SimAction::Polarity(_)));
            assert!(matches!(
                last_pol,
                None | Some((_, SimAction::Polarity(Polarity::Off)))
            ));
        }
    }
    assert_safe(&actions);
}

#[test]
fn a_dead_electrode_gives_low_current_flags() {
    let sim = SimConfig {
        dead_electrodes: vec![5],
        ..quiet()
    };
    let seq = sequence(32, ArraySpec::wenner(1));
    let log = run(DEFAULT_SYSTEM, sim, Settings::default(), &seq);
    assert_eq!(log.outcome, Some(Outcome::Completed));
    assert_eq!(log.records.len(), seq.len());
    for m in &log.records {
        let injects_on_dead = m.quad.a == 5 || m.quad.b == 5;
        assert_eq!(
            m.quality.contains(Quality::LOW_CURRENT),
            injects_on_dead,
            "{m:?}"
        );
        if injects_on_dead {
            assert_eq!(m.rhoa_ohmm, None);
        }
    }
}

#[test]
fn a_silent_supply_fails_the_run_and_leaves_the_hardware_safe() {
    let sim = SimConfig {
        supply_fault: true,
        ..quiet()
    };
    let seq = sequence(32, ArraySpec::wenner(1));
    let mut rig = rig(DEFAULT_SYSTEM, sim, None, Settings::default());
    let log = rig.run_sequence(&seq, None);
    assert_eq!(log.outcome, Some(Outcome::Failed));
    assert!(log.records.len() < seq.len());
    assert!(log
        .records
        .iter()
        .all(|m| m.quality.contains(Quality::FAULT)));
    assert!(log.events.iter().any(|e| matches!(
        e,
        Event::Fault {
            error: FrontendError::SupplyNotAnswering,
            ..
        }
    )));
    assert_safe(&rig.probe.actions());
}

#[test]
fn a_thousand_quadrupoles_on_the_virtual_clock_take_well_under_a_few_seconds() {
    let base = sequence(32, ArraySpec::dpdp(3, 8));
    let seq: Vec<Quadrupole> = base.iter().cycle().take(1000).copied().collect();
    let settings = Settings {
        injection_duration: 0.1,
        ..Settings::default()
    };
    let started = Instant::now();
    let log = run(BATTERY_SYSTEM, quiet(), settings, &seq);
    let elapsed = started.elapsed();
    assert_eq!(log.records.len(), 1000);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn strategies_choose_vab_within_the_limits() {
    let seq = sequence(32, ArraySpec::wenner(2));
    let run_with = |strategy| {
        let s = Settings {
            strategy,
            ..Settings::default()
        };
        run(DEFAULT_SYSTEM, quiet(), s, &seq).records
    };
    let safe = run_with(Strategy::Safe);
    let vmax = run_with(Strategy::Vmax);
    let vmin = run_with(Strategy::Vmin);
    for ((s, x), n) in safe.iter().zip(&vmax).zip(&vmin) {
        assert!((s.vab_v - 5.0).abs() < 0.01, "safe keeps vab_req: {s:?}");
        assert!(x.vab_v > s.vab_v, "vmax goes higher: {x:?}");
        let pab = x.vab_v * x.iab_ma.unwrap() / 1000.0;
        assert!(
            pab <= 2.5 * 1.01 && x.iab_ma.unwrap() <= 48.0,
            "limits hold: {x:?}"
        );
        // vmin aims at vmn_req = 100 mV.
        assert!((n.vmn_mv.unwrap() - 100.0).abs() < 2.0, "vmin: {n:?}");
        for m in [s, x, n] {
            assert!((m.rhoa_ohmm.unwrap() - 100.0).abs() < 0.1);
        }
    }
}

#[test]
fn pause_holds_between_quadrupoles_and_resume_continues() {
    let sim = SimConfig {
        clock: ClockKind::Real,
        ..quiet()
    };
    let settings = Settings {
        injection_duration: 0.05,
        ..Settings::default()
    };
    let mut rig = rig(BATTERY_SYSTEM, sim, None, settings);
    let seq = sequence(32, ArraySpec::wenner(1));
    rig.engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(seq.clone()),
            settings: None,
        })
        .unwrap();
    rig.engine.try_send(Command::Pause).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut records = 0;
    loop {
        assert!(Instant::now() < deadline);
        match rig.events.pop() {
            Ok(Event::State(EngineState::Paused)) => break,
            Ok(Event::Record { .. }) => records += 1,
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(rig.events.pop().is_err(), "nothing happens while paused");
    rig.engine.try_send(Command::Resume).unwrap();
    let log = rig.collect();
    assert_eq!(log.outcome, Some(Outcome::Completed));
    assert_eq!(records + log.records.len(), seq.len());
}

/// A frontend that panics on its 50th sample and reports whether it was reset afterwards.
struct Panicking {
    inner: SimFrontend,
    reads: u32,
    reset_after_panic: Arc<AtomicBool>,
    panicked: bool,
}

impl Frontend for Panicking {
    fn info(&self) -> &FrontendInfo {
        self.inner.info()
    }
    fn check_quad(&self, q: Quadrupole) -> Result<(), FrontendError> {
        self.inner.check_quad(q)
    }
    fn reset(&mut self) -> Result<(), FrontendError> {
        if self.panicked {
            self.reset_after_panic.store(true, Ordering::SeqCst);
        }
        self.inner.reset()
    }
    fn switch(&mut self, q: Quadrupole) -> Result<(), FrontendError> {
        self.inner.switch(q)
    }
    fn switch_pair(&mut self, a: Electrode, b: Electrode) -> Result<(), FrontendError> {
        self.inner.switch_pair(a, b)
    }
    fn release(&mut self) -> Result<(), FrontendError> {
        self.inner.release()
    }
    fn set_power(&mut self, on: bool) -> Result<(), FrontendError> {
        self.inner.set_power(on)
    }
    fn set_vab(&mut self, v: f64) -> Result<f64, FrontendError> {
        self.inner.set_vab(v)
    }
    fn supply_output_off(&mut self) -> Result<(), FrontendError> {
        self.inner.supply_output_off()
    }
    fn read_vab(&mut self) -> Result<Option<f64>, FrontendError> {
        self.inner.read_vab()
    }
    fn set_polarity(&mut self, p: Polarity) -> Result<(), FrontendError> {
        self.inner.set_polarity(p)
    }
    fn read_sample(&mut self) -> Result<RawSample, FrontendError> {
        self.reads += 1;
        if self.reads == 50 {
            self.panicked = true;
            panic!("simulated bug in a board driver");
        }
        self.inner.read_sample()
    }
    fn set_discharge(&mut self, on: bool) -> Result<(), FrontendError> {
        self.inner.set_discharge(on)
    }
    fn health(&mut self) -> Health {
        self.inner.health()
    }
}

#[test]
fn a_panic_in_the_acquisition_thread_leaves_the_hardware_safe() {
    let preset = Preset::load(DEFAULT_SYSTEM, &[]).unwrap();
    let clock = Clock::virtual_clock();
    let geometry = Geometry::line(32, 1.0).unwrap();
    let inner = SimFrontend::new(&preset, geometry.clone(), quiet(), clock.clone());
    let probe = inner.probe();
    let flag = Arc::new(AtomicBool::new(false));
    let fe = Panicking {
        inner,
        reads: 0,
        reset_after_panic: Arc::clone(&flag),
        panicked: false,
    };
    let mut rig = rig_with(fe, clock, geometry, Settings::default(), probe);
    rig.engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(sequence(32, ArraySpec::wenner(1))),
            settings: None,
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stopped = false;
    while Instant::now() < deadline && !stopped {
        match rig.events.pop() {
            Ok(Event::State(EngineState::Stopped)) => stopped = true,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert!(stopped, "the engine reports that it stopped");
    assert!(flag.load(Ordering::SeqCst), "reset after the panic");
    // The thread ends right after reporting it.
    while rig.engine.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!rig.engine.is_running());
    assert!(matches!(
        rig.probe.actions().last(),
        Some((_, SimAction::Reset))
    ));
}

/// Times of the probe's actions that match `f`.
fn times(actions: &[(Duration, SimAction)], f: impl Fn(&SimAction) -> bool) -> Vec<Duration> {
    actions
        .iter()
        .filter(|(_, a)| f(a))
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn relays_get_their_activation_and_release_times() {
    let settings = Settings {
        duty_cycle: 1.0,
        nb_stack: 2,
        ..Settings::default()
    };
    let mut rig = rig(DEFAULT_SYSTEM, quiet(), None, settings);
    let log = rig.run_sequence(&sequence(32, ArraySpec::wenner(1))[..4], None);
    assert_eq!(log.outcome, Some(Outcome::Completed));
    let actions = rig.probe.actions();
    let ms = Duration::from_millis;
    let mut last_switch = None;
    let mut last_off = None;
    let mut pulsed = false;
    for (t, a) in &actions {
        match a {
            SimAction::Switch(_) => last_switch = Some(*t),
            SimAction::Polarity(Polarity::Off) => last_off = Some(*t),
            SimAction::Polarity(_) => {
                pulsed = true;
                // mux_2024 closes in 10 ms; the polarity relays of mb_2024 open in 5 ms.
                assert!(*t >= last_switch.unwrap() + ms(10), "{t:?} after switch");
                if let Some(off) = last_off.filter(|off| *off > last_switch.unwrap()) {
                    assert!(*t >= off + ms(5), "{t:?}: polarity {off:?} not yet open");
                }
            }
            SimAction::Release if std::mem::take(&mut pulsed) => {
                assert!(
                    *t >= last_off.unwrap() + ms(5),
                    "release at {t:?} with current flowing"
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        times(&actions, |a| matches!(a, SimAction::Switch(_))).len(),
        4
    );
}

#[test]
fn a_saturating_test_pulse_lowers_vab_instead_of_trusting_it() {
    // 50 V into 10-ohm contacts would drive far more than the 48 mA the board reads.
    let sim = SimConfig {
        contact_ohm: 10.0,
        ..quiet()
    };
    let settings = Settings {
        vab_req: 50.0,
        ..Settings::default()
    };
    let log = run(
        DEFAULT_SYSTEM,
        sim,
        settings,
        &sequence(32, ArraySpec::wenner(1)),
    );
    assert_eq!(log.outcome, Some(Outcome::Completed));
    for m in &log.records {
        let i = m.iab_ma.unwrap();
        assert!(i < 48.0, "{m:?}");
        assert!(m.vab_v * i / 1000.0 <= 2.5 * 1.01, "power limit: {m:?}");
        assert!(m.quality.contains(Quality::CURRENT_LIMITED), "{m:?}");
        assert!(!m.quality.contains(Quality::SATURATED), "{m:?}");
        assert!((m.rhoa_ohmm.unwrap() - 100.0).abs() < 0.1);
    }
}

#[test]
fn an_interrupt_during_the_discharge_still_discharges_and_opens_the_relay() {
    let sim = SimConfig {
        clock: ClockKind::Real,
        ..quiet()
    };
    // Vmax: test pulses at 5 V, then up to the 50 V limit; the next quadrupole's test pulses
    // need less than the supply holds, so it is discharged first.
    let settings = Settings {
        strategy: Strategy::Vmax,
        vab_req: 5.0,
        injection_duration: 0.05,
        ..Settings::default()
    };
    let mut rig = rig(DEFAULT_SYSTEM, sim, None, settings);
    rig.engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(sequence(32, ArraySpec::wenner(1))),
            settings: None,
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !rig
        .probe
        .actions()
        .iter()
        .any(|(_, a)| *a == SimAction::Discharge(true))
    {
        assert!(Instant::now() < deadline, "no discharge seen");
        std::thread::sleep(Duration::from_millis(1));
    }
    rig.engine.try_send(Command::Interrupt).unwrap();
    let log = rig.collect();
    assert_eq!(log.outcome, Some(Outcome::Interrupted));
    let actions = rig.probe.actions();
    let last_discharge = actions
        .iter()
        .rev()
        .find(|(_, a)| matches!(a, SimAction::Discharge(_)));
    assert_eq!(
        last_discharge.map(|x| x.1),
        Some(SimAction::Discharge(false))
    );
    assert_safe(&actions);
}

#[test]
fn the_waveform_holds_the_pulse_train_and_not_the_test_pulses() {
    let settings = Settings {
        full_waveform: true,
        ..Settings::default()
    };
    let mut rig = rig(DEFAULT_SYSTEM, quiet(), None, settings);
    let log = rig.run_sequence(&sequence(32, ArraySpec::wenner(1))[..2], None);
    let samples: Vec<_> = log
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Sample { sample, .. } => Some(*sample),
            _ => None,
        })
        .collect();
    // 0.2 s on and 0.2 s off per pulse, two pulses, at 860 SPS: 4 x 172 per quadrupole.
    assert_eq!(samples.len(), 2 * 4 * 172);
    let first = log.records[0].quad;
    let of_first: Vec<_> = samples.iter().filter(|s| s.quad == first).collect();
    assert_eq!(of_first.len(), 688);
    assert_eq!(of_first.iter().filter(|s| s.pulse == 0).count(), 344);
    assert!(of_first.windows(2).all(|w| w[1].t_s > w[0].t_s));
}

fn self_tests(system: &str, sim: SimConfig) -> Vec<ohmpi::acquisition::selftest::SelfTestResult> {
    let mut rig = rig(system, sim, None, Settings::default());
    rig.engine
        .try_send(Command::SelfTest {
            run: 7,
            names: None,
        })
        .unwrap();
    let log = rig.collect();
    assert_eq!(log.outcome, Some(Outcome::Completed));
    log.events
        .iter()
        .filter_map(|e| match e {
            Event::SelfTest { result, .. } => Some(*result),
            _ => None,
        })
        .collect()
}

#[test]
fn self_tests_pass_on_a_sound_instrument_and_fail_on_a_broken_one() {
    for system in [DEFAULT_SYSTEM, BATTERY_SYSTEM, "mb_2023__4_mux_2023_batt"] {
        let results = self_tests(system, quiet());
        let names: Vec<&str> = results.iter().map(|r| r.name).collect();
        assert_eq!(names, ["relays", "vmn_offset", "iab_offset", "supply"]);
        for r in &results {
            assert!(r.passed, "{system}: {r:?}");
        }
        // Every electrode in every role: as many quadrupoles as electrodes.
        let nelec = Preset::load(system, &[]).unwrap().nelec();
        assert_eq!(results[0].value, Some(f64::from(nelec)), "{system}");
    }
    let broken_bus = SimConfig {
        i2c_error_rate: 1.0,
        ..quiet()
    };
    let results = self_tests(DEFAULT_SYSTEM, broken_bus);
    assert!(results.iter().all(|r| !r.passed), "{results:?}");
    let dead_supply = SimConfig {
        supply_fault: true,
        ..quiet()
    };
    let results = self_tests(DEFAULT_SYSTEM, dead_supply);
    let supply = results.iter().find(|r| r.name == "supply").unwrap();
    assert!(!supply.passed, "{supply:?}");
    assert!(results
        .iter()
        .filter(|r| r.name != "supply")
        .all(|r| r.passed));
}

#[test]
fn a_current_limited_supply_gives_the_vab_it_reads_back() {
    let preset = Preset::load(DEFAULT_SYSTEM, &[]).unwrap();
    let clock = Clock::virtual_clock();
    let geometry = Geometry::line(preset.nelec(), 1.0).unwrap();
    let mut fe = SimFrontend::new(&preset, geometry.clone(), quiet(), clock.clone());
    // 30 V into about 2 kOhm (two 1 kOhm contacts) would drive 15 mA: the 10 mA limit holds
    // the output near 20 V.
    fe.set_supply_current_limit_ma(10.0);
    let probe = fe.probe();
    let settings = Settings {
        strategy: Strategy::Fixed,
        vab_req: 30.0,
        ..Settings::default()
    };
    let mut rig = rig_with(fe, clock, geometry, settings, probe);
    let log = rig.run_sequence(&sequence(32, ArraySpec::wenner(1))[..4], None);
    assert_eq!(log.outcome, Some(Outcome::Completed));
    let read_back: Vec<f64> = rig
        .probe
        .actions()
        .iter()
        .filter_map(|(_, a)| match a {
            SimAction::VabReadBack(v) => Some(*v),
            _ => None,
        })
        .collect();
    // One read per quadrupole (the fixed strategy has no test pulses).
    assert_eq!(read_back.len(), log.records.len());
    for (m, v) in log.records.iter().zip(&read_back) {
        assert_eq!(m.vab_v, *v, "{m:?}");
        assert!(*v < 29.0 && *v > 15.0, "{v} V read back");
        let i = m.iab_ma.unwrap();
        assert!((i - 10.0).abs() < 1e-6, "{m:?}");
        assert!((m.rab_kohm.unwrap() - v / i).abs() < 1e-9, "{m:?}");
        assert!(m.quality.contains(Quality::CURRENT_LIMITED), "{m:?}");
        assert!((m.rhoa_ohmm.unwrap() - 100.0).abs() < 0.1, "{m:?}");
    }
}
