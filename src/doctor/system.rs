//! The machine: platform, data directory, clock, real-time rights.

use std::path::{Path, PathBuf};

use super::{Check, Status};
use crate::rpi::NotAPi;

/// Below this much free space for the data, a warning.
pub const WARN_FREE_BYTES: u64 = 1 << 30;
/// Below this much, a failure: a few surveys' worth, and the outbox needs room too.
pub const FAIL_FREE_BYTES: u64 = 100 << 20;

/// The verdict on `free` bytes for the data.
pub fn space_status(free: u64) -> Status {
    if free < FAIL_FREE_BYTES {
        Status::Fail
    } else if free < WARN_FREE_BYTES {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// The board, and whether the configuration fits it.
pub fn platform(model: &Result<String, NotAPi>, simulate: bool) -> Check {
    const NAME: &str = "platform";
    let temperature = crate::rpi::cpu_temperature_c()
        .map(|t| format!(", CPU at {t:.1} °C"))
        .unwrap_or_default();
    match (model, simulate) {
        (Ok(model), false) => Check::ok(NAME, format!("{model}{temperature}")),
        (Ok(model), true) => Check::ok(
            NAME,
            format!("{model}{temperature}; hardware.simulate = true: running on the simulator"),
        ),
        (Err(e), true) => Check::ok(
            NAME,
            format!(
                "not a Raspberry Pi ({}); hardware.simulate = true: running on the simulator",
                e.found
            ),
        ),
        (Err(e), false) => Check::fail(
            NAME,
            format!("hardware.simulate = false asks for the real boards, but {e}"),
            "set hardware.simulate = true in the configuration (or --set \
             hardware.simulate=true) to run on the simulator, or run on the instrument's \
             Raspberry Pi",
        ),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The data directory: there or creatable, writable, with room. Creates nothing that stays.
pub fn data_dir(dir: &Path) -> Check {
    const NAME: &str = "data-dir";
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let fix_rights = format!(
        "give {} to the user running ohmpi (chown), or set instrument.data_dir to a folder it \
         may write",
        shown.display()
    );
    // Where writing happens: the directory, or the nearest existing folder above it.
    let (existing, writable) = if dir.is_dir() {
        match probe_write(dir) {
            Ok(()) => (
                dir.to_path_buf(),
                format!("{} is writable", shown.display()),
            ),
            Err(e) => {
                let detail = format!("cannot write in {}: {e}", shown.display());
                return Check::fail(NAME, detail, fix_rights);
            }
        }
    } else if dir.exists() {
        return Check::fail(
            NAME,
            format!("{} exists but is not a directory", shown.display()),
            "set instrument.data_dir to a folder",
        );
    } else {
        let Some(parent) = nearest_existing(&shown) else {
            return Check::fail(
                NAME,
                format!("{}: no existing folder above it", shown.display()),
                fix_rights,
            );
        };
        match probe_write(&parent) {
            Ok(()) => (
                parent.clone(),
                format!(
                    "{} does not exist yet; ohmpi will create it in {}",
                    shown.display(),
                    parent.display()
                ),
            ),
            Err(e) => {
                let detail = format!(
                    "{} does not exist and cannot be created in {}: {e}",
                    shown.display(),
                    parent.display()
                );
                return Check::fail(NAME, detail, fix_rights);
            }
        }
    };
    let Some((free_mb, total_mb)) = crate::soh::disk_space(&existing) else {
        return Check::warn(
            NAME,
            format!("{writable}; free space unknown (statvfs failed)"),
            "check the file system holding the data directory",
        );
    };
    let free = (free_mb * (1u64 << 20) as f64) as u64;
    let total = (total_mb * (1u64 << 20) as f64) as u64;
    let detail = format!("{writable}; {} free of {}", gib(free), gib(total));
    match space_status(free) {
        Status::Ok | Status::Skip => Check::ok(NAME, detail),
        status => {
            let fix = format!(
                "free some space (old surveys can be exported and removed), or move \
                 instrument.data_dir to a larger disk; below {} MiB surveys stop, below {} a \
                 warning",
                FAIL_FREE_BYTES >> 20,
                gib(WARN_FREE_BYTES)
            );
            if status == Status::Fail {
                Check::fail(NAME, detail, fix)
            } else {
                Check::warn(NAME, detail, fix)
            }
        }
    }
}

fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|p| p.is_dir())
        .map(Path::to_path_buf)
}

/// Creates and removes a file in `dir`.
fn probe_write(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let probe = dir.join(format!(".ohmpi-doctor-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"probe\n").and_then(|()| f.sync_all()));
    let removed = std::fs::remove_file(&probe);
    written.and(removed)
}

/// Whether the kernel holds the clock synchronised (the state of health's own reading).
pub fn clock() -> Check {
    clock_verdict(crate::soh::clock_synchronised())
}

fn clock_verdict(synchronised: Option<bool>) -> Check {
    const NAME: &str = "clock";
    match synchronised {
        Some(true) => Check::ok(NAME, "synchronised (the kernel's clock state)"),
        Some(false) => Check::warn(
            NAME,
            "not synchronised: record timestamps may be off",
            "enable time synchronisation (sudo timedatectl set-ntp true, with systemd-timesyncd \
             or chrony), or fit a real-time clock (e.g. dtoverlay=i2c-rtc,ds3231) where the \
             instrument has no network",
        ),
        None => Check::skip(NAME, "the kernel's clock state cannot be read (adjtimex)"),
    }
}

/// The real-time rights of the acquisition thread, for this process: SCHED_FIFO tried on a
/// thread of its own at `priority`, and whether memory may be locked (CAP_IPC_LOCK or no
/// RLIMIT_MEMLOCK), without locking any.
pub fn realtime(priority: i32) -> Check {
    const NAME: &str = "realtime";
    if priority <= 0 {
        return Check::skip(
            NAME,
            "acquisition.rt_priority = 0: real-time scheduling not asked for",
        );
    }
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| effective_capabilities(&s));
    let has = |bit: u32| caps.is_some_and(|c| c & (1 << bit) != 0);
    let scheduling = try_fifo(priority);
    let memlock = rlimit(libc::RLIMIT_MEMLOCK);
    let can_lock = has(CAP_IPC_LOCK) || memlock == Some(libc::RLIM_INFINITY);
    let rtprio = match rlimit(libc::RLIMIT_RTPRIO) {
        Some(v) if v == libc::RLIM_INFINITY => "unlimited".to_string(),
        Some(v) => v.to_string(),
        None => "unknown".to_string(),
    };
    let memlock_text = match memlock {
        Some(v) if v == libc::RLIM_INFINITY => "unlimited".to_string(),
        Some(v) => format!("{} KiB", v >> 10),
        None => "unknown".to_string(),
    };
    let scheduling_text = match &scheduling {
        Ok(()) => format!("SCHED_FIFO {priority} granted"),
        Err(e) => format!("SCHED_FIFO {priority} refused ({e})"),
    };
    let detail = format!(
        "{scheduling_text}; memory locking {} (RLIMIT_RTPRIO {rtprio}, RLIMIT_MEMLOCK \
         {memlock_text}, CAP_SYS_NICE {}, CAP_IPC_LOCK {}); for this process, as user {}",
        if can_lock { "allowed" } else { "limited" },
        yes_no(has(CAP_SYS_NICE)),
        yes_no(has(CAP_IPC_LOCK)),
        super::access::current_user(),
    );
    if scheduling.is_ok() && can_lock {
        Check::ok(NAME, detail)
    } else {
        Check::warn(
            NAME,
            format!("{detail}: acquisition works, with more timing jitter"),
            "run the daemon with the systemd unit (systemd/ohmpi.service: \
             AmbientCapabilities=CAP_SYS_NICE CAP_IPC_LOCK, LimitRTPRIO=99, \
             LimitMEMLOCK=infinity), or for a login session add \"USER - rtprio 99\" and \
             \"USER - memlock unlimited\" to /etc/security/limits.d/ohmpi.conf and log in again",
        )
    }
}

const CAP_SYS_NICE: u32 = 23;
const CAP_IPC_LOCK: u32 = 14;

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `CapEff` (hexadecimal) from `/proc/self/status`.
fn effective_capabilities(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

fn rlimit(resource: libc::__rlimit_resource_t) -> Option<libc::rlim_t> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into `r`.
    (unsafe { libc::getrlimit(resource, &mut r) } == 0).then_some(r.rlim_cur)
}

/// Asks for SCHED_FIFO at `priority` on a short-lived thread of its own, so the caller's
/// scheduling is untouched.
fn try_fifo(priority: i32) -> Result<(), String> {
    let trial = std::thread::Builder::new()
        .name("rt-trial".into())
        .spawn(move || {
            let param = libc::sched_param {
                sched_priority: priority.min(99),
            };
            // SAFETY: the calling thread and a valid sched_param.
            let rc = unsafe {
                libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param)
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::from_raw_os_error(rc).to_string())
            }
        })
        .map_err(|e| format!("cannot start a trial thread: {e}"))?;
    trial
        .join()
        .unwrap_or_else(|_| Err("the trial thread failed".into()))
}

#[cfg(test)]
mod tests;
