use super::*;

fn seqs(v: &[(u64, String)]) -> Vec<u64> {
    v.iter().map(|(s, _)| *s).collect()
}

fn open(dir: &Path, max: u64) -> Journal {
    Journal::open(dir, max).unwrap().0
}

fn rec(seq: u64) -> String {
    format!("{{\"seq\":{seq}}}")
}

#[test]
fn unacknowledged_records_survive_a_restart_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1 << 30);
    // Records up to 40 were stored before this outbox existed.
    j.set_watermark(40).unwrap();
    for seq in 41..=45 {
        j.append(seq, &rec(seq)).unwrap();
    }
    assert_eq!(j.depth(), 5);
    j.ack(41).unwrap();
    j.ack(43).unwrap();
    assert_eq!(j.acked(), 41);
    assert_eq!(j.depth(), 3);
    j.save_watermark().unwrap();
    drop(j);
    let j = open(dir.path(), 1 << 30);
    // 43's acknowledgement was not durable: it is sent again (at least once).
    let pending = j.unacked_after(j.acked(), 100).unwrap();
    assert_eq!(seqs(&pending), [42, 43, 44, 45]);
    assert_eq!(pending[0].1, "{\"seq\":42}");
    assert_eq!(j.depth(), 4);
}

#[test]
fn a_partial_line_from_a_crash_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1 << 30);
    j.append(1, &rec(1)).unwrap();
    j.append(2, &rec(2)).unwrap();
    drop(j);
    let seg = dir.path().join(format!("{:020}.jsonl", 1));
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(b"3\t{\"half").unwrap();
    drop(f);
    let (mut j, report) = Journal::open(dir.path(), 1 << 30).unwrap();
    assert_eq!(report.cut, 8);
    assert_eq!(j.last_seq(), 2);
    j.append(3, &rec(3)).unwrap();
    assert_eq!(seqs(&j.unacked_after(0, 10).unwrap()), [1, 2, 3]);
}

#[test]
fn garbled_lines_are_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1 << 30);
    for seq in 1..=3 {
        j.append(seq, &rec(seq)).unwrap();
    }
    drop(j);
    let seg = dir.path().join(format!("{:020}.jsonl", 1));
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    // Not JSON, a seq that disagrees with its record, a seq beyond every JSON reader, and a good
    // line after them.
    f.write_all(b"4\t{\"seq\":4,\"a\"\n5\t{\"seq\":6}\n18446744073709551615\t{\"seq\":18446744073709551615}\n7\t{\"seq\":7}\n")
        .unwrap();
    drop(f);
    let (j, report) = Journal::open(dir.path(), 1 << 30).unwrap();
    assert_eq!(report.set_aside, 3);
    assert_eq!(seqs(&j.unacked_after(0, 10).unwrap()), [1, 2, 3, 7]);
    assert_eq!(j.last_seq(), 7);
    let aside = fs::read_to_string(dir.path().join(SET_ASIDE_FILE)).unwrap();
    assert!(aside.contains("5\t{\"seq\":6}"), "{aside}");
    // Set aside once: opening again finds nothing more.
    drop(j);
    assert_eq!(Journal::open(dir.path(), 1 << 30).unwrap().1.set_aside, 0);
}

#[test]
fn acknowledged_segments_are_deleted_and_the_limit_holds() {
    let dir = tempfile::tempdir().unwrap();
    let n = SEGMENT_RECORDS as u64 * 3;
    let mut j = open(dir.path(), 1 << 30);
    for seq in 1..=n {
        j.append(seq, &rec(seq)).unwrap();
    }
    let files = || {
        fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "jsonl")
            })
            .count()
    };
    assert_eq!(files(), 3);
    for seq in 1..=2 * SEGMENT_RECORDS as u64 {
        j.ack(seq).unwrap();
    }
    assert_eq!(files(), 1, "two acknowledged segments deleted");
    assert_eq!(j.depth(), SEGMENT_RECORDS as u64);

    // A small limit gives up the oldest segment, and says which records.
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 100_000);
    let mut given_up = Vec::new();
    for seq in 1..=n {
        let line = format!("{{\"seq\":{seq},\"pad\":\"{}\"}}", "x".repeat(20));
        given_up.extend(j.append(seq, &line).unwrap());
    }
    assert_eq!(
        given_up,
        [GivenUp {
            first_seq: 1,
            last_seq: SEGMENT_RECORDS as u64
        }]
    );
    assert_eq!(j.acked(), SEGMENT_RECORDS as u64);
    assert_eq!(j.depth(), 2 * SEGMENT_RECORDS as u64);
}

#[test]
fn the_watermark_never_passes_an_unacknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1 << 30);
    for seq in 10..=12 {
        j.append(seq, &rec(seq)).unwrap();
    }
    // Raising it over held records stops before the first of them.
    j.set_watermark(100).unwrap();
    assert_eq!(j.acked(), 9);
    assert_eq!(seqs(&j.all_unacked().unwrap()), [10, 11, 12]);
    j.ack(10).unwrap();
    j.ack(12).unwrap();
    assert_eq!(j.acked(), 10);
    j.ack(11).unwrap();
    assert_eq!(j.acked(), 12);
    assert_eq!(j.depth(), 0);
}

#[test]
fn a_rewrite_puts_records_in_order_and_survives_a_crash_at_any_step() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mut j = open(&outbox, 1 << 30);
    for seq in [5, 6, 9] {
        j.append(seq, &rec(seq)).unwrap();
    }
    let mut all = j.all_unacked().unwrap();
    all.extend([(7, rec(7)), (8, rec(8))]);
    all.sort();
    let (j, _) = j.rewrite(&all).unwrap();
    assert_eq!(seqs(&j.all_unacked().unwrap()), [5, 6, 7, 8, 9]);
    drop(j);

    // A crash after the new journal was written and the old one moved away, before the swap:
    // opening finishes it.
    fs::rename(&outbox, dir.path().join("outbox.new")).unwrap();
    fs::create_dir(dir.path().join("outbox.old")).unwrap();
    let j = open(&outbox, 1 << 30);
    assert_eq!(seqs(&j.all_unacked().unwrap()), [5, 6, 7, 8, 9]);
    assert!(!dir.path().join("outbox.old").exists());
    drop(j);
    // A crash while the new journal was being written: the old one stays.
    fs::create_dir(dir.path().join("outbox.new")).unwrap();
    fs::write(
        dir.path().join("outbox.new/00000000000000000001.jsonl"),
        "1\t{\"seq\":1}\n",
    )
    .unwrap();
    let j = open(&outbox, 1 << 30);
    assert_eq!(seqs(&j.all_unacked().unwrap()), [5, 6, 7, 8, 9]);
    assert!(!dir.path().join("outbox.new").exists());
}
