//! Real-time set-up of the acquisition thread: SCHED_FIFO and locked memory.
//!
//! On a Raspberry Pi the daemon gets these rights from systemd (`CAP_SYS_NICE`, `CAP_IPC_LOCK`,
//! `LimitRTPRIO`, `LimitMEMLOCK`). Without them acquisition still works, with more timing jitter:
//! the refusal is reported once, with what to change, never ignored.

/// What the real-time set-up obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealtimeReport {
    /// SCHED_FIFO priority obtained, or why not.
    pub scheduling: Result<i32, String>,
    /// Memory locked, or why not.
    pub memory_locked: Result<(), String>,
}

/// Asks for SCHED_FIFO at `priority` (1–99; 0 asks for nothing) for the calling thread and locks
/// the process's memory as it is touched (`MCL_ONFAULT`, so idle reservations stay unbacked).
pub fn setup_current_thread(priority: i32) -> RealtimeReport {
    // Sleeps of an ordinary thread may end up to 50 µs late ("timer slack"); the sample
    // deadlines want them exact. Harmless if refused.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer argument.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    if priority <= 0 {
        return RealtimeReport {
            scheduling: Err("real-time scheduling disabled (acquisition.rt_priority = 0)".into()),
            memory_locked: Err("not requested".into()),
        };
    }
    let param = libc::sched_param {
        sched_priority: priority.min(99),
    };
    // SAFETY: plain syscalls on the calling thread with a valid sched_param.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    let scheduling = if rc == 0 {
        Ok(param.sched_priority)
    } else {
        Err(format!(
            "SCHED_FIFO refused ({}); grant CAP_SYS_NICE and LimitRTPRIO (the systemd unit does)",
            std::io::Error::from_raw_os_error(rc)
        ))
    };
    // SAFETY: mlockall has no memory-safety preconditions.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    let memory_locked = if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "mlockall refused ({}); grant CAP_IPC_LOCK or raise LimitMEMLOCK",
            std::io::Error::last_os_error()
        ))
    };
    RealtimeReport {
        scheduling,
        memory_locked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_reports_why() {
        let r = setup_current_thread(0);
        assert!(r.scheduling.unwrap_err().contains("rt_priority"));
    }
}
