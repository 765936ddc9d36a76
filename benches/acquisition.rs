//! Acquisition benchmarks (a bench binary: `cargo bench --bench acquisition`).
//!
//! - wall time per quadrupole on the real clock against the physical minimum;
//! - engine CPU time per quadrupole on the virtual clock;
//! - sampling lateness at 860 SPS on the real clock;
//! - interrupt → injection off latency;
//! - peak RSS of `ohmpi survey` over 1000 quadrupoles.
//!
//! Figures are medians (and p99) of one run; the machine is shared, so compare ratios.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ohmpi::acquisition::{Command, Engine, EngineOptions, Event, Outcome, Settings};
use ohmpi::clock::Clock;
use ohmpi::hardware::sim::{ClockKind, SimAction, SimConfig, SimFrontend, SimProbe};
use ohmpi::hardware::{Polarity, Preset};
use ohmpi::survey::generate::{generate, ArraySpec};
use ohmpi::survey::{Geometry, Measurement, Quadrupole};

const BATTERY: &str = "mb_2024_1_X__4_mux_2024_batt";

struct Rig {
    engine: Engine,
    events: rtrb::Consumer<Event>,
    clock: Clock,
    probe: Arc<SimProbe>,
}

fn rig(clock: Clock, settings: Settings) -> Rig {
    let preset = Preset::load(BATTERY, &[]).unwrap();
    let sim = SimConfig {
        clock: if clock.is_virtual() {
            ClockKind::Virtual
        } else {
            ClockKind::Real
        },
        ..SimConfig::default()
    };
    let geometry = Geometry::line(preset.nelec(), 1.0).unwrap();
    let fe = SimFrontend::new(&preset, geometry.clone(), sim, clock.clone());
    let probe = fe.probe();
    // Real-time scheduling as on the Pi, when this machine grants it.
    let options = EngineOptions { rt_priority: 50 };
    let (engine, events) = Engine::spawn(fe, clock.clone(), geometry, settings, options).unwrap();
    Rig {
        engine,
        events,
        clock,
        probe,
    }
}

fn wenner() -> Vec<Quadrupole> {
    generate(32, &[ArraySpec::wenner(1)], false)
        .unwrap()
        .quads()
        .to_vec()
}

/// Runs `seq` and returns the records, the samples' lateness [µs] and the wall time.
fn run(rig: &mut Rig, seq: &[Quadrupole]) -> (Vec<Measurement>, Vec<f32>, Duration) {
    let start = Instant::now();
    rig.engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(seq.to_vec()),
            settings: None,
        })
        .unwrap();
    let mut records = Vec::new();
    let mut late = Vec::new();
    loop {
        match rig.events.pop() {
            Ok(Event::Record { measurement, .. }) => records.push(measurement),
            Ok(Event::Sample { sample, .. }) => late.push(sample.late_us),
            Ok(Event::RunEnded { outcome, .. }) => {
                assert_eq!(outcome, Outcome::Completed);
                return (records, late, start.elapsed());
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_micros(500)),
        }
    }
}

fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i]
}

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn wall_per_quad() {
    let settings = Settings {
        injection_duration: 0.1,
        nb_stack: 1,
        duty_cycle: 0.5,
        ..Settings::default()
    };
    let mut rig = rig(Clock::real(), settings.clone());
    let seq: Vec<Quadrupole> = wenner().into_iter().take(20).collect();
    let (records, _, wall) = run(&mut rig, &seq);
    let preset = Preset::load(BATTERY, &[]).unwrap();
    let t = preset.info(true).timings;
    let train =
        f64::from(settings.nb_stack) * 2.0 * (settings.injection_duration + settings.off_time());
    let relays =
        t.mux_activation + t.mux_release + t.polarity_activation * 2 * u32::from(settings.nb_stack);
    let minimum = train + relays.as_secs_f64();
    let mut per_quad: Vec<f64> = records.iter().map(|m| m.duration_s).collect();
    let median = percentile(&mut per_quad, 0.5);
    let overall = wall.as_secs_f64() / seq.len() as f64;
    println!(
        "wall time per quadrupole (0.1 s, 1 stack, duty 0.5, battery, mb_2024 relays): \
         median {:.4} s, run average {:.4} s (incl. power-up), physical minimum {:.4} s, \
         ratio {:.3} (median) / {:.3} (average)",
        median,
        overall,
        minimum,
        median / minimum,
        overall / minimum
    );
}

fn cpu_per_quad() {
    let settings = Settings {
        injection_duration: 0.1,
        ..Settings::default()
    };
    let seq: Vec<Quadrupole> = wenner().into_iter().cycle().take(1000).collect();
    let mut per_quad = Vec::new();
    for _ in 0..5 {
        let mut rig = rig(Clock::virtual_clock(), settings.clone());
        let before = cpu_time();
        let (records, _, _) = run(&mut rig, &seq);
        let cpu = cpu_time() - before;
        assert_eq!(records.len(), 1000);
        per_quad.push(cpu.as_secs_f64() * 1e6 / 1000.0);
    }
    println!(
        "engine CPU per quadrupole (virtual clock, 860 SPS, 1 stack, 0.1 s; whole process): \
         median {:.1} us over 5 x 1000 quadrupoles",
        percentile(&mut per_quad, 0.5)
    );
}

fn lateness(spin: Duration) {
    let settings = Settings {
        injection_duration: 0.5,
        full_waveform: true,
        ..Settings::default()
    };
    let mut rig = rig(Clock::real_with_spin(spin), settings);
    let seq: Vec<Quadrupole> = wenner().into_iter().take(6).collect();
    let (_, late, _) = run(&mut rig, &seq);
    let dropped = rig
        .engine
        .counters()
        .dropped_samples
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut late: Vec<f64> = late.into_iter().map(f64::from).collect();
    let n = late.len();
    let median = percentile(&mut late, 0.5);
    let p99 = percentile(&mut late, 0.99);
    let max = percentile(&mut late, 1.0);
    println!(
        "sampling lateness at 860 SPS (real clock, spin {} us): median {median:.1} us, \
         p99 {p99:.1} us, max {max:.1} us over {n} samples; {dropped} samples dropped \
         (later than one period, not in these figures)",
        spin.as_micros()
    );
}

/// The bare operating-system timer on this machine: a thread with the engine's scheduling that
/// does nothing but sleep to absolute deadlines at 860 Hz. The engine cannot be more punctual.
fn timer_baseline() {
    let handle = std::thread::spawn(|| {
        let rt = ohmpi::acquisition::rt::setup_current_thread(50);
        let clock = Clock::real();
        let dt = Duration::from_secs_f64(1.0 / 860.0);
        let start = clock.now() + dt;
        let mut late = Vec::with_capacity(8600);
        for i in 0..8600 {
            let deadline = start + dt * i;
            clock.sleep_until(deadline);
            late.push((clock.now() - deadline).as_secs_f64() * 1e6);
        }
        (rt.scheduling.is_ok(), late)
    });
    let (fifo, mut late) = handle.join().unwrap();
    println!(
        "bare timer at 860 Hz (SCHED_FIFO {fifo}): median {:.1} us, p99 {:.1} us, max {:.1} us \
         over {} sleeps",
        percentile(&mut late, 0.5),
        percentile(&mut late, 0.99),
        percentile(&mut late, 1.0),
        late.len()
    );
}

fn interrupt_latency() {
    let settings = Settings {
        injection_duration: 0.2,
        ..Settings::default()
    };
    let mut latencies = Vec::new();
    for trial in 0..40u64 {
        let mut rig = rig(Clock::real(), settings.clone());
        rig.engine
            .try_send(Command::RunSequence {
                run: 1,
                sequence: Arc::from(wenner()),
                settings: None,
            })
            .unwrap();
        // Interrupt at a varying point of the first quadrupole.
        std::thread::sleep(Duration::from_millis(20 + (trial * 37) % 400));
        let asked = rig.clock.now();
        rig.engine.try_send(Command::Interrupt).unwrap();
        loop {
            match rig.events.pop() {
                Ok(Event::RunEnded { .. }) => break,
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_micros(200)),
            }
        }
        let off = rig
            .probe
            .actions()
            .into_iter()
            .find(|(t, a)| *t >= asked && *a == SimAction::Polarity(Polarity::Off))
            .map(|(t, _)| t - asked);
        if let Some(d) = off {
            latencies.push(d.as_secs_f64() * 1e3);
        }
    }
    let n = latencies.len();
    println!(
        "interrupt -> injection off: median {:.3} ms, p99 {:.3} ms over {n} interrupts",
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99)
    );
}

fn peak_rss() {
    let dir = std::env::temp_dir().join(format!("ohmpi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seq: Vec<Quadrupole> = wenner().into_iter().cycle().take(1000).collect();
    let text: String = seq.iter().map(|q| format!("{q}\n")).collect();
    std::fs::write(dir.join("seq.txt"), text).unwrap();
    // Reaped below by wait4, which also gives its peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(&dir)
        .args([
            "survey",
            "--sequence",
            "seq.txt",
            "--set",
            "sim.clock=virtual",
            "--set",
            "acquisition.injection_duration=0.1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let started = Instant::now();
    // SAFETY: valid pointers, our child's pid.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    println!(
        "peak RSS of `ohmpi survey` over 1000 quadrupoles (virtual clock): {:.1} MiB \
         (exit status {status}, {:.2} s)",
        usage.ru_maxrss as f64 / 1024.0,
        elapsed.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and only checks it runs.
    if !std::env::args().any(|a| a == "--bench") {
        println!("acquisition benchmarks: run with `cargo bench --bench acquisition`");
        return;
    }
    let rt = ohmpi::acquisition::rt::setup_current_thread(50);
    println!("real-time scheduling on this machine: {:?}", rt.scheduling);
    // Back to normal scheduling for the bench's own thread.
    // SAFETY: plain syscall with a valid sched_param.
    unsafe {
        let p = libc::sched_param { sched_priority: 0 };
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_OTHER, &p);
    }
    peak_rss();
    cpu_per_quad();
    wall_per_quad();
    timer_baseline();
    lateness(Duration::ZERO);
    lateness(Duration::from_micros(100));
    interrupt_latency();
}
