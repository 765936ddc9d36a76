use super::*;
use crate::doctor::Status;

fn access(read_write: bool, group: &str, mode: u32, now: bool, db: bool) -> Access {
    Access {
        exists: true,
        read_write,
        group: group.into(),
        mode,
        user: "pi".into(),
        in_group_now: now,
        in_group_db: db,
    }
}

#[test]
fn modes_read_as_ls_shows_them() {
    assert_eq!(mode_string(0o660), "rw-rw----");
    assert_eq!(mode_string(0o755), "rwxr-xr-x");
    assert_eq!(mode_string(0), "---------");
}

#[test]
fn a_device_out_of_reach_says_which_group_and_what_to_do() {
    let p = Path::new("/dev/i2c-1");
    let v = |a: &Access| verdict("i2c-1", p, "i2c", "I2C bus 1", "enable it", a);

    let c = v(&access(true, "i2c", 0o660, true, true));
    assert_eq!(c.status, Status::Ok);
    assert!(c.detail.contains("group i2c, rw-rw----") && c.detail.contains("user pi"));

    let c = v(&access(false, "i2c", 0o660, false, false));
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("not in group i2c"), "{c:?}");
    assert!(c.fix.unwrap().contains("usermod -aG i2c pi"));

    let c = v(&access(false, "i2c", 0o660, false, true));
    assert!(c.detail.contains("after this login"), "{c:?}");
    assert!(c.fix.unwrap().contains("log out and in again"));

    let c = v(&access(false, "root", 0o600, true, true));
    assert!(c.detail.contains("group root may not"), "{c:?}");
    assert!(c.fix.unwrap().contains("group i2c"));

    let c = v(&access(false, "root", 0o600, false, false));
    assert!(c.detail.contains("not in group i2c"), "{c:?}");

    let missing = Access {
        exists: false,
        ..access(false, "", 0, false, false)
    };
    let c = v(&missing);
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.detail, "I2C bus 1: /dev/i2c-1 does not exist");
    assert_eq!(c.fix.as_deref(), Some("enable it"));
}

#[test]
fn files_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("dev");
    std::fs::write(&f, "").unwrap();
    let a = inspect(&f);
    assert!(a.exists && a.read_write, "{a:?}");
    assert!(a.in_group_now, "a file we created has our group: {a:?}");
    assert!(!a.user.is_empty());
    assert!(!inspect(&dir.path().join("none")).exists);
}

#[test]
fn supplies() {
    let preset = crate::hardware::Preset::load("mb_2024_1_X__4_mux_2024_batt", &[]).unwrap();
    let c = supply(&preset.power, None);
    assert_eq!(
        (c.status, c.detail.as_str()),
        (Status::Ok, "battery (12 V), nothing to check")
    );
    let mut power = crate::hardware::Preset::load("mb_2024_1_X__4_mux_2024_dph5005", &[])
        .unwrap()
        .power;
    let c = supply(&power, Some("simulated"));
    assert_eq!(
        (c.status, c.detail.as_str()),
        (Status::Skip, "DPH5005: simulated")
    );
    power.serial_port = Some("/dev/ttyUSB-none".into());
    let c = supply(&power, None);
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.detail.contains("/dev/ttyUSB-none does not exist"),
        "{c:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("ttyUSB0");
    std::fs::write(&port, "").unwrap();
    power.serial_port = Some(port.to_string_lossy().into_owned());
    let c = supply(&power, None);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c.detail.starts_with("DPH5005 on "), "{c:?}");
}
