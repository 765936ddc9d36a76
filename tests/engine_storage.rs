//! The engine when its consumer (the storage) stalls: it waits without losing anything, keeps
//! obeying its commands, and says that it waits.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use ohmpi::acquisition::{Command, Event, Outcome, Settings};
use ohmpi::hardware::sim::SimAction;
use ohmpi::survey::generate::ArraySpec;

#[test]
fn a_stalled_consumer_loses_nothing_and_an_interrupt_is_answered_at_once() {
    // Full waveforms: about 690 events per quadrupole, so the ring (8192) is full after a dozen.
    let settings = Settings {
        full_waveform: true,
        nb_meas: 50,
        ..Settings::default()
    };
    let mut rig = rig(BATTERY_SYSTEM, quiet(), None, settings);
    let counters = Arc::clone(rig.engine.counters());
    rig.engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(sequence(32, ArraySpec::wenner(1))),
            settings: None,
        })
        .unwrap();
    // Nothing is popped: the engine comes to wait for room, and says since when.
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters.storage_wait_since_ms.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the engine never waited");
        std::thread::sleep(Duration::from_millis(1));
    }
    let since = counters.storage_wait_since_ms.load(Ordering::Relaxed);
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        since <= now_ms && since + 10_000 > now_ms,
        "{since} vs {now_ms}"
    );
    // A long wait is counted, and the hardware is made safe meanwhile.
    while counters.storage_long_waits.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no long wait counted");
        std::thread::sleep(Duration::from_millis(5));
    }
    let measured_before = counters.quadrupoles.load(Ordering::Relaxed);
    assert!(measured_before > 5, "{measured_before} quadrupoles");
    let actions = rig.probe.actions();
    let last = |f: fn(&SimAction) -> bool| actions.iter().rev().find(|(_, a)| f(a)).map(|x| x.1);
    assert_eq!(
        last(|a| matches!(a, SimAction::Power(_))),
        Some(SimAction::Power(false))
    );
    assert_eq!(
        last(|a| matches!(a, SimAction::Release | SimAction::Switch(_))),
        Some(SimAction::Release)
    );

    // The interrupt is answered at once, ring full or not: hardware safe (again) and the run's
    // end reached, no longer waiting.
    let seen = actions.len();
    let asked = Instant::now();
    rig.engine.try_send(Command::Interrupt).unwrap();
    let answered = loop {
        let safe = rig.probe.actions()[seen..]
            .iter()
            .any(|(_, a)| *a == SimAction::Power(false));
        let waiting = counters.storage_wait_since_ms.load(Ordering::Relaxed) != 0;
        if (safe && !waiting) || asked.elapsed() > Duration::from_secs(10) {
            break asked.elapsed();
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    eprintln!("interrupt answered in {answered:?} with the ring full");

    // The consumer resumes (before judging, so that a failure does not leave the engine
    // waiting): every record of every quadrupole measured is there.
    let log = rig.collect();
    assert!(
        answered < Duration::from_millis(100),
        "answered in {answered:?}"
    );
    assert_eq!(log.outcome, Some(Outcome::Interrupted));
    let measured = counters.quadrupoles.load(Ordering::Relaxed);
    assert_eq!(
        measured, measured_before,
        "nothing measured after the interrupt"
    );
    assert_eq!(log.records.len() as u64, measured);
    let switched = rig
        .probe
        .actions()
        .iter()
        .filter(|(_, a)| matches!(a, SimAction::Switch(_)))
        .count();
    assert_eq!(switched as u64, measured);
    // 0.2 s on and 0.2 s off per pulse, two pulses, at 860 SPS: 688 samples per quadrupole.
    let samples = log
        .events
        .iter()
        .filter(|e| matches!(e, Event::Sample { .. }))
        .count();
    assert_eq!(samples as u64, 688 * measured);
    let started = log
        .events
        .iter()
        .filter(|e| matches!(e, Event::SurveyStarted { .. }))
        .count();
    let ended: Vec<Outcome> = log
        .events
        .iter()
        .filter_map(|e| match e {
            Event::SurveyEnded { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), started);
    assert_eq!(ended.last(), Some(&Outcome::Interrupted));
    assert_eq!(counters.dropped_events.load(Ordering::Relaxed), 0);
    assert_eq!(counters.dropped_samples.load(Ordering::Relaxed), 0);
    assert_eq!(counters.storage_wait_since_ms.load(Ordering::Relaxed), 0);
}
