//! State of health: what the daemon publishes on the `soh` topic (protocol.md).
//!
//! This module owns the part read from the operating system ([`SystemHealth`], [`collect`]) and
//! the shape of the whole message ([`Soh`]), which the daemon fills with the engine's and the
//! broker's figures. It only reads: `/proc/uptime`, `/proc/loadavg`, `/proc/meminfo`, the CPU
//! temperature (`/sys/class/thermal/thermal_zone0/temp`, milli-degrees C), `statvfs` of the data
//! directory and the kernel's clock state (`adjtimex`). Whatever cannot be read is `None`
//! (JSON `null`); odd file contents never panic. Sizes are in MiB (2^20 bytes), named `_mb`.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

/// Longest system file read (these are a few hundred bytes to a few kB).
const MAX_FILE_BYTES: u64 = 64 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

/// What the system says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SystemHealth {
    /// Seconds since boot.
    pub uptime_s: Option<f64>,
    /// Load averages over 1, 5 and 15 minutes (runnable tasks).
    pub load_1m: Option<f64>,
    pub load_5m: Option<f64>,
    pub load_15m: Option<f64>,
    /// Physical memory, and memory available for new work without swapping \[MiB\].
    pub mem_total_mb: Option<f64>,
    pub mem_available_mb: Option<f64>,
    /// CPU temperature \[°C\]; `None` when the board has no thermal zone.
    pub cpu_temp_c: Option<f64>,
    /// Space free for the daemon (not counting blocks reserved for root), and the size of the
    /// file system holding the data directory \[MiB\].
    pub disk_free_mb: Option<f64>,
    pub disk_total_mb: Option<f64>,
    /// Whether the kernel holds the clock synchronised (by NTP, chrony, systemd-timesyncd or
    /// GPS); `None` when it cannot be asked.
    pub clock_synchronised: Option<bool>,
}

/// Reads the system's state, `data_dir` giving the file system whose space is reported.
pub fn collect(data_dir: &Path) -> SystemHealth {
    let read = |path: &str| read_small(Path::new(path));
    let (load_1m, load_5m, load_15m) = match read("/proc/loadavg").and_then(|t| parse_loadavg(&t)) {
        Some([a, b, c]) => (Some(a), Some(b), Some(c)),
        None => (None, None, None),
    };
    let meminfo = read("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    let (disk_free_mb, disk_total_mb) = match disk_space(data_dir) {
        Some((free, total)) => (Some(free), Some(total)),
        None => (None, None),
    };
    SystemHealth {
        uptime_s: read("/proc/uptime").and_then(|t| parse_uptime(&t)),
        load_1m,
        load_5m,
        load_15m,
        mem_total_mb: meminfo.total_mb,
        mem_available_mb: meminfo.available_mb,
        cpu_temp_c: crate::rpi::cpu_temperature_c(),
        disk_free_mb,
        disk_total_mb,
        clock_synchronised: clock_synchronised(),
    }
}

/// The text of a small system file, `None` when it cannot be read.
fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// A finite number that is not negative.
fn quantity(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0)
}

/// Seconds since boot from `/proc/uptime` (`"12345.67 23456.78"`: uptime, then idle time).
pub fn parse_uptime(text: &str) -> Option<f64> {
    quantity(text.split_whitespace().next()?)
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`
/// (`"0.52 0.58 0.59 1/467 12345"`).
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace();
    Some([
        quantity(fields.next()?)?,
        quantity(fields.next()?)?,
        quantity(fields.next()?)?,
    ])
}

/// Memory figures from `/proc/meminfo`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemInfo {
    /// `MemTotal` \[MiB\].
    pub total_mb: Option<f64>,
    /// `MemAvailable` \[MiB\] (kernels since 3.14).
    pub available_mb: Option<f64>,
}

/// `MemTotal` and `MemAvailable` from `/proc/meminfo` (lines such as `MemTotal: 3882056 kB`).
pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut info = MemInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key.trim() {
            "MemTotal" => &mut info.total_mb,
            "MemAvailable" => &mut info.available_mb,
            _ => continue,
        };
        let mut words = value.split_whitespace();
        let kib = words.next().and_then(quantity);
        let unit_ok = matches!(words.next(), Some("kB") | None);
        if let (Some(kib), true) = (kib, unit_ok) {
            *slot = Some(kib * 1024.0 / MIB);
        }
    }
    info
}

/// Free (for unprivileged users) and total space of the file system holding `path` \[MiB\].
#[cfg(unix)]
pub fn disk_space(path: &Path) -> Option<(f64, f64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` is plain old data, so all-zero is a valid value; the call reads the
    // NUL-terminated path and writes only into `st`.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let fragment = st.f_frsize as f64;
    Some((
        st.f_bavail as f64 * fragment / MIB,
        st.f_blocks as f64 * fragment / MIB,
    ))
}

#[cfg(not(unix))]
pub fn disk_space(_path: &Path) -> Option<(f64, f64)> {
    None
}

/// Whether the kernel considers the clock synchronised, asked with a read-only `adjtimex`
/// (`modes = 0`, no privilege needed). adjtimex(2): the call returns the clock state, and
/// `TIME_ERROR` whenever `STA_UNSYNC` (no synchronisation daemon has disciplined the clock
/// lately) or `STA_CLOCKERR` is set; the time daemons clear `STA_UNSYNC` once synchronised.
/// So: synchronised when the call succeeds, does not return `TIME_ERROR` and `STA_UNSYNC` is
/// clear (what `timedatectl` reports as "System clock synchronized"). `None` when the call
/// fails.
#[cfg(target_os = "linux")]
pub fn clock_synchronised() -> Option<bool> {
    // SAFETY: `timex` is plain old data, so all-zero is valid and means `modes = 0` (read
    // only); the kernel writes only into `tx`.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    synchronised(state, tx.status)
}

#[cfg(not(target_os = "linux"))]
pub fn clock_synchronised() -> Option<bool> {
    None
}

/// The synchronisation verdict from `adjtimex`'s return value and `status` word.
#[cfg(target_os = "linux")]
fn synchronised(state: libc::c_int, status: libc::c_int) -> Option<bool> {
    if state < 0 {
        return None;
    }
    Some(state != libc::TIME_ERROR && status & libc::STA_UNSYNC == 0)
}

/// A state-of-health message (`soh` topic): the system's figures, flattened, and those the
/// daemon adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Soh {
    /// RFC 3339 UTC.
    pub time: String,
    #[serde(flatten)]
    pub system: SystemHealth,
    /// The engine's state (`idle`, `running`, ...).
    pub state: String,
    /// `connected` or `disconnected`.
    pub broker: String,
    /// Messages waiting to be published.
    pub outbox_depth: u64,
    /// Samples that missed their deadline or could not be read, since start.
    pub dropped_samples: u64,
    /// Engine events lost for want of room, since start.
    pub dropped_events: u64,
    /// Failed bus transactions (I2C, Modbus), since start.
    pub bus_errors: u64,
    /// How long the engine has been waiting for the storage \[s\]; null when not.
    pub storage_wait_s: Option<f64>,
    /// Waits for the storage longer than a second, since start.
    pub storage_long_waits: u64,
    /// Log events not published (over the rate limit or a full queue), since start.
    pub logs_dropped: u64,
    /// Voltage of the injection supply \[V\], when it can be read.
    pub supply_v: Option<f64>,
    /// Battery voltage \[V\], when it can be read.
    pub battery_v: Option<f64>,
    /// Whether the hardware is the simulator.
    pub simulated: bool,
    /// The daemon's version.
    pub version: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:        3882056 kB\n\
                           MemFree:          151620 kB\n\
                           MemAvailable:    2301440 kB\n\
                           Buffers:          123456 kB\n";

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime("12345.67 23456.78\n"), Some(12345.67));
        assert_eq!(parse_uptime("350735.47"), Some(350735.47));
        for odd in ["", "\n", "abc 1", "-3 1", "NaN 1", "inf"] {
            assert_eq!(parse_uptime(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn loadavg() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 1/467 12345\n"),
            Some([0.52, 0.58, 0.59])
        );
        assert_eq!(parse_loadavg("0.00 0.01 0.05"), Some([0.0, 0.01, 0.05]));
        for odd in ["", "0.5 0.6", "0.5 x 0.7 1/2 3", "ü"] {
            assert_eq!(parse_loadavg(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn meminfo() {
        let m = parse_meminfo(MEMINFO);
        assert_eq!(m.total_mb, Some(3882056.0 / 1024.0));
        assert_eq!(m.available_mb, Some(2247.5));
        // An old kernel without MemAvailable, and lines that make no sense.
        let m = parse_meminfo("MemTotal: 1024 kB\nMemAvailable: lots kB\nnonsense\n:\n");
        assert_eq!(
            m,
            MemInfo {
                total_mb: Some(1.0),
                available_mb: None
            }
        );
        assert_eq!(parse_meminfo("MemTotal: 1024 MB\n").total_mb, None);
        assert_eq!(parse_meminfo(""), MemInfo::default());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn clock_verdict() {
        assert_eq!(synchronised(libc::TIME_OK, 0), Some(true));
        assert_eq!(synchronised(libc::TIME_INS, 0), Some(true));
        assert_eq!(synchronised(libc::TIME_OK, libc::STA_UNSYNC), Some(false));
        assert_eq!(synchronised(libc::TIME_ERROR, 0), Some(false));
        assert_eq!(synchronised(-1, 0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn collect_on_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let h = collect(dir.path());
        assert!(h.uptime_s.is_some_and(|x| x > 0.0), "{h:?}");
        for load in [h.load_1m, h.load_5m, h.load_15m] {
            assert!(load.is_some_and(|x| x >= 0.0), "{h:?}");
        }
        let total = h.mem_total_mb.expect("MemTotal");
        assert!(total > 0.0);
        assert!(
            h.mem_available_mb.is_some_and(|x| x > 0.0 && x <= total),
            "{h:?}"
        );
        let disk = h.disk_total_mb.expect("statvfs");
        assert!(disk > 0.0);
        assert!(
            h.disk_free_mb.is_some_and(|x| x >= 0.0 && x <= disk),
            "{h:?}"
        );
        assert!(h.clock_synchronised.is_some(), "{h:?}");
        // A path that does not exist has no file system.
        assert_eq!(collect(&dir.path().join("none")).disk_total_mb, None);
    }

    #[test]
    fn soh_json_is_flat() {
        let soh = Soh {
            time: "2026-11-22T21:13:05.123Z".into(),
            system: SystemHealth {
                uptime_s: Some(12.5),
                cpu_temp_c: None,
                clock_synchronised: Some(true),
                ..SystemHealth::default()
            },
            state: "idle".into(),
            broker: "connected".into(),
            outbox_depth: 3,
            dropped_samples: 0,
            dropped_events: 1,
            bus_errors: 2,
            storage_wait_s: None,
            storage_long_waits: 0,
            logs_dropped: 0,
            supply_v: Some(12.1),
            battery_v: None,
            simulated: true,
            version: "0.1.0",
        };
        let v = serde_json::to_value(&soh).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 24);
        assert!(o.values().all(|x| !x.is_object() && !x.is_array()));
        assert_eq!(v["uptime_s"], 12.5);
        assert_eq!(v["cpu_temp_c"], serde_json::Value::Null);
        assert_eq!(v["clock_synchronised"], true);
        assert_eq!(v["state"], "idle");
        assert_eq!(v["version"], "0.1.0");
    }
}
