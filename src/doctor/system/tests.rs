use super::*;

#[test]
fn free_space_thresholds() {
    assert_eq!(space_status(0), Status::Fail);
    assert_eq!(space_status(100 * 1024 * 1024 - 1), Status::Fail);
    assert_eq!(space_status(100 * 1024 * 1024), Status::Warn);
    assert_eq!(space_status((1 << 30) - 1), Status::Warn);
    assert_eq!(space_status(1 << 30), Status::Ok);
    assert_eq!(space_status(u64::MAX), Status::Ok);
}

#[test]
fn platform_verdicts() {
    let not_pi = Err(NotAPi {
        found: "x86_64".into(),
    });
    let c = platform(&not_pi, false);
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.detail
            .contains("this machine is not a Raspberry Pi (x86_64)"),
        "{c:?}"
    );
    assert!(c.fix.unwrap().contains("hardware.simulate = true"));
    let c = platform(&not_pi, true);
    assert_eq!(c.status, Status::Ok);
    assert!(c.detail.contains("simulator"), "{c:?}");
    let pi = Ok("Raspberry Pi 4 Model B Rev 1.4".to_string());
    assert_eq!(platform(&pi, false).status, Status::Ok);
    assert!(platform(&pi, false)
        .detail
        .starts_with("Raspberry Pi 4 Model B Rev 1.4"));
    assert!(platform(&pi, true).detail.contains("simulator"));
}

#[test]
fn data_dir_exists_or_will_be_created_and_nothing_stays() {
    let dir = tempfile::tempdir().unwrap();
    let c = data_dir(dir.path());
    assert_ne!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail.contains("is writable") && c.detail.contains("free of"),
        "{c:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let later = dir.path().join("a/b");
    let c = data_dir(&later);
    assert_ne!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("does not exist yet"), "{c:?}");
    assert!(!later.exists() && !dir.path().join("a").exists());

    let file = dir.path().join("f");
    std::fs::write(&file, "").unwrap();
    assert_eq!(data_dir(&file).status, Status::Fail);
}

#[test]
fn clock_verdicts() {
    assert_eq!(clock_verdict(Some(true)).status, Status::Ok);
    let c = clock_verdict(Some(false));
    assert_eq!(c.status, Status::Warn);
    assert!(c.fix.unwrap().contains("timesyncd"));
    assert_eq!(clock_verdict(None).status, Status::Skip);
    // Whatever this machine says, the check answers.
    let _ = clock();
}

#[test]
fn realtime_answers_without_changing_the_caller() {
    assert_eq!(realtime(0).status, Status::Skip);
    let c = realtime(1);
    assert!(matches!(c.status, Status::Ok | Status::Warn), "{c:?}");
    assert!(c.detail.contains("SCHED_FIFO 1"), "{c:?}");
    // SAFETY: reads the calling thread's policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    assert_eq!(policy, libc::SCHED_OTHER);
    assert_eq!(
        effective_capabilities("Name:\tx\nCapEff:\t0000000000804000\n"),
        Some((1 << 23) | (1 << 14))
    );
    assert_eq!(effective_capabilities("CapEff: zz"), None);
}
