//! Device files (the I2C buses, the supply's serial port): are they there, and may this user
//! read and write them? When not, which group would let it, and is the user in it.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Check;
use crate::hardware::preset::{PowerModel, PowerSpec};

/// What stands between this process and a device file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub exists: bool,
    /// Readable and writable with this process's effective user and groups.
    pub read_write: bool,
    /// The file's group (name, else number) and permission bits.
    pub group: String,
    pub mode: u32,
    pub user: String,
    /// This process holds the file's group.
    pub in_group_now: bool,
    /// The group database puts the user in the file's group (maybe since this login).
    pub in_group_db: bool,
}

/// The name of this process's effective user (else its number).
pub fn current_user() -> String {
    // SAFETY: geteuid cannot fail.
    user_name().unwrap_or_else(|| format!("uid {}", unsafe { libc::geteuid() }))
}

/// Looks at `path` without opening it (opening a serial port can toggle its control lines).
pub fn inspect(path: &Path) -> Access {
    let user = current_user();
    let Ok(meta) = std::fs::metadata(path) else {
        return Access {
            exists: false,
            read_write: false,
            group: String::new(),
            mode: 0,
            user,
            in_group_now: false,
            in_group_db: false,
        };
    };
    let gid = meta.gid();
    let group = group_name(gid).unwrap_or_else(|| gid.to_string());
    Access {
        exists: true,
        read_write: read_write(path),
        in_group_now: process_groups().contains(&gid),
        in_group_db: user_in_group_db(&user, gid),
        group,
        mode: meta.mode() & 0o777,
        user,
    }
}

/// `rw-rw----` for 0o660.
pub fn mode_string(mode: u32) -> String {
    (0..9)
        .map(|i| {
            let bit = 0o400 >> i;
            match (mode & bit != 0, i % 3) {
                (false, _) => '-',
                (true, 0) => 'r',
                (true, 1) => 'w',
                (true, _) => 'x',
            }
        })
        .collect()
}

/// The check of one device file. `group` is the group that normally owns such devices (`i2c`,
/// `dialout`), `what` names the device, `missing_fix` says how to make it appear.
pub fn device(name: &str, path: &Path, group: &str, what: &str, missing_fix: &str) -> Check {
    verdict(name, path, group, what, missing_fix, &inspect(path))
}

fn verdict(
    name: &str,
    path: &Path,
    usual_group: &str,
    what: &str,
    missing_fix: &str,
    a: &Access,
) -> Check {
    let p = path.display();
    if !a.exists {
        return Check::fail(name, format!("{what}: {p} does not exist"), missing_fix);
    }
    let owner = format!("{p} (group {}, {})", a.group, mode_string(a.mode));
    if a.read_write {
        return Check::ok(
            name,
            format!("{owner} is readable and writable by user {}", a.user),
        );
    }
    let group = if a.group == "root" {
        usual_group
    } else {
        &a.group
    };
    let group_rw = a.mode & 0o060 == 0o060;
    let (detail, fix) = if a.in_group_now && !group_rw {
        (
            format!("{owner}: group {} may not read and write it", a.group),
            format!(
                "give {p} to group {usual_group} with read and write rights for the group (the \
                 udev rules of Raspberry Pi OS do)"
            ),
        )
    } else if a.in_group_db && !a.in_group_now {
        (
            format!(
                "{owner} is not writable by user {}: the user was added to group {group} after \
                 this login",
                a.user
            ),
            "log out and in again (or reboot) so that the new group applies".to_string(),
        )
    } else {
        (
            format!(
                "{owner} is not readable and writable by user {}, who is not in group {group}",
                a.user
            ),
            format!(
                "sudo usermod -aG {group} {}, then log in again (the systemd unit gives the \
                 daemon SupplementaryGroups=i2c gpio dialout)",
                a.user
            ),
        )
    };
    Check::fail(name, detail, fix)
}

/// The power supply: nothing to check on a battery; the DPH5005's serial port on real
/// hardware, unless `skipped` gives the reason not to. (The supply answers on Modbus only once
/// the board's power relays are on, so it is not asked here.)
pub fn supply(power: &PowerSpec, skipped: Option<&str>) -> Check {
    const NAME: &str = "supply";
    match power.model {
        PowerModel::Battery => Check::ok(
            NAME,
            format!(
                "battery ({} V), nothing to check",
                power.voltage_v.unwrap_or(12.0)
            ),
        ),
        PowerModel::Dph5005 => {
            if let Some(reason) = skipped {
                return Check::skip(NAME, format!("DPH5005: {reason}"));
            }
            let Some(port) = &power.serial_port else {
                return Check::fail(
                    NAME,
                    "DPH5005 without a serial port in the preset",
                    "set power.serial_port (e.g. \"/dev/ttyUSB0\") in the preset",
                );
            };
            let mut check = device(
                NAME,
                Path::new(port),
                "dialout",
                "DPH5005 serial port",
                "plug in the supply's USB-serial adapter (`ls /dev/ttyUSB*`, `dmesg` tells where \
                 it appears) or set power.serial_port in the preset",
            );
            if check.status == super::Status::Ok {
                check.detail = format!(
                    "DPH5005 on {}; the supply answers once the power relays are on, at the \
                     first measurement",
                    check.detail
                );
            }
            check
        }
    }
}

/// Whether this process may read and write `path` (effective ids, as `open` would decide).
fn read_write(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; faccessat only reads it.
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::R_OK | libc::W_OK,
            libc::AT_EACCESS,
        ) == 0
    }
}

/// The effective group and the supplementary groups of this process.
fn process_groups() -> Vec<libc::gid_t> {
    // SAFETY: getgroups with size 0 only counts; then it fills at most `n` entries of `groups`.
    let mut groups = vec![unsafe { libc::getegid() }];
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n > 0 {
        let mut buf = vec![0 as libc::gid_t; n as usize];
        let got = unsafe { libc::getgroups(n, buf.as_mut_ptr()) };
        if got > 0 {
            buf.truncate(got as usize);
            groups.extend(buf);
        }
    }
    groups
}

/// Calls a reentrant `getpw*_r`/`getgr*_r` function with a growing buffer (`ERANGE`); returns
/// what `read` takes from the entry, `None` when there is no entry.
fn with_entry<E, T>(
    mut call: impl FnMut(*mut E, *mut libc::c_char, usize, *mut *mut E) -> libc::c_int,
    read: impl FnOnce(&E) -> T,
) -> Option<T> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: an all-zero passwd/group struct is valid (null pointers, zero ids); the
        // function fills it with pointers into `buf`, which outlives `read`.
        let mut entry: E = unsafe { std::mem::zeroed() };
        let mut result: *mut E = std::ptr::null_mut();
        let rc = call(&mut entry, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return Some(read(&entry));
    }
}

/// A C string of the password or group database, as Rust text.
fn text(p: *const libc::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string in the entry's buffer, still alive.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn user_name() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    // SAFETY: getpwuid_r writes the entry and `result` only, within the given buffer.
    with_entry(
        |e, buf, len, res| unsafe { libc::getpwuid_r(uid, e, buf, len, res) },
        |e: &libc::passwd| text(e.pw_name),
    )
}

fn group_name(gid: libc::gid_t) -> Option<String> {
    // SAFETY: as for getpwuid_r.
    with_entry(
        |e, buf, len, res| unsafe { libc::getgrgid_r(gid, e, buf, len, res) },
        |e: &libc::group| text(e.gr_name),
    )
}

/// The user's primary group is `gid`, or the group's member list names the user.
fn user_in_group_db(user: &str, gid: libc::gid_t) -> bool {
    let Ok(c_user) = CString::new(user) else {
        return false;
    };
    // SAFETY: as for getpwuid_r, with a NUL-terminated name.
    let primary = with_entry(
        |e, buf, len, res| unsafe { libc::getpwnam_r(c_user.as_ptr(), e, buf, len, res) },
        |e: &libc::passwd| e.pw_gid,
    );
    if primary == Some(gid) {
        return true;
    }
    // SAFETY: as for getpwuid_r; gr_mem is a null-terminated array of strings in the buffer.
    with_entry(
        |e, buf, len, res| unsafe { libc::getgrgid_r(gid, e, buf, len, res) },
        |e: &libc::group| {
            let mut members = Vec::new();
            let mut p = e.gr_mem;
            while !p.is_null() && !unsafe { *p }.is_null() {
                members.push(text(unsafe { *p }));
                p = unsafe { p.add(1) };
            }
            members.iter().any(|m| m == user)
        },
    )
    .unwrap_or(false)
}

#[cfg(test)]
mod tests;
