//! The clock the engine and the simulator read time from.
//!
//! The real clock is `CLOCK_MONOTONIC` with absolute deadlines (`clock_nanosleep` with
//! `TIMER_ABSTIME`), so a sample loop never accumulates drift. The virtual clock advances
//! instantly when somebody waits, so a simulated 1000-quadrupole survey takes well under a second
//! while following exactly the same code path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A monotonic clock measured from its creation. Cheap to clone; clones share the same time.
#[derive(Debug, Clone)]
pub enum Clock {
    Real(RealClock),
    Virtual(VirtualClock),
}

/// `CLOCK_MONOTONIC` from an origin.
#[derive(Debug, Clone)]
pub struct RealClock {
    origin_ns: u64,
    /// The last stretch before a deadline is spent spinning instead of sleeping, to cut the
    /// kernel's wake-up latency out of the sampling instants.
    spin_ns: u64,
}

/// Time that only moves when somebody waits on it.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now_ns: Arc<AtomicU64>,
    wall_origin: SystemTime,
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn sleep_until_monotonic_ns(target_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (target_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (target_ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: `ts` is a valid timespec; a null remainder is allowed with TIMER_ABSTIME.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            return;
        }
    }
}

impl Clock {
    /// The real monotonic clock, sleeping right up to each deadline.
    pub fn real() -> Self {
        Self::real_with_spin(Duration::ZERO)
    }

    /// The real clock, spinning for the last `spin` before each deadline.
    pub fn real_with_spin(spin: Duration) -> Self {
        Self::Real(RealClock {
            origin_ns: monotonic_ns(),

            spin_ns: spin.as_nanos() as u64,
        })
    }

    /// A virtual clock starting at zero, with wall time starting now.
    pub fn virtual_clock() -> Self {
        Self::Virtual(VirtualClock {
            now_ns: Arc::new(AtomicU64::new(0)),
            wall_origin: SystemTime::now(),
        })
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Self::Virtual(_))
    }

    /// Time since the clock was created.
    pub fn now(&self) -> Duration {
        match self {
            Self::Real(c) => Duration::from_nanos(monotonic_ns().saturating_sub(c.origin_ns)),
            Self::Virtual(c) => Duration::from_nanos(c.now_ns.load(Ordering::Acquire)),
        }
    }

    /// Waits until `deadline` (measured like [`Clock::now`]); returns at once if it has passed.
    pub fn sleep_until(&self, deadline: Duration) {
        match self {
            Self::Real(c) => {
                let target = c.origin_ns + deadline.as_nanos() as u64;
                if c.spin_ns > 0 {
                    sleep_until_monotonic_ns(target.saturating_sub(c.spin_ns));
                    while monotonic_ns() < target {
                        std::hint::spin_loop();
                    }
                } else {
                    sleep_until_monotonic_ns(target);
                }
            }
            Self::Virtual(c) => {
                c.now_ns
                    .fetch_max(deadline.as_nanos() as u64, Ordering::AcqRel);
            }
        }
    }

    /// Waits for `d` from now.
    pub fn sleep(&self, d: Duration) {
        self.sleep_until(self.now() + d);
    }

    /// Wall-clock time now: the system clock for the real clock, the creation time plus the
    /// virtual time for the virtual one.
    pub fn wall(&self) -> SystemTime {
        match self {
            Self::Real(_) => SystemTime::now(),
            Self::Virtual(c) => c.wall_origin + self.now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_jumps_to_deadlines_and_never_back() {
        let c = Clock::virtual_clock();
        let shared = c.clone();
        assert_eq!(c.now(), Duration::ZERO);
        c.sleep_until(Duration::from_millis(250));
        assert_eq!(shared.now(), Duration::from_millis(250));
        c.sleep_until(Duration::from_millis(100));
        assert_eq!(c.now(), Duration::from_millis(250));
        c.sleep(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_millis(1250));
    }

    #[test]
    fn real_clock_reaches_its_deadline() {
        let c = Clock::real();
        let deadline = c.now() + Duration::from_millis(5);
        c.sleep_until(deadline);
        assert!(c.now() >= deadline);
    }
}
