use std::fs::OpenOptions;
use std::io::Write;

use super::*;
use crate::messaging::compat::tests::record;
use crate::storage::columns::survey_row;
use crate::storage::journal::Journal;

const SURVEY: &str = "measurements_20261122T211305.csv";

fn rec(seq: u64) -> Record {
    let mut r = record(seq, [1, 4, 2, 3], Some(3.0 + seq as f64 / 7.0));
    r.dropped_samples = seq as u32 % 3;
    r
}

fn json(r: &Record) -> String {
    serde_json::to_string(r).unwrap()
}

fn write_rows(dir: &Path, name: &str, records: &[Record], torn: Option<&Record>) {
    let mut text = crate::storage::columns::header(&SURVEY_COLUMNS);
    for r in records {
        text.push_str(&survey_row(r));
    }
    if let Some(r) = torn {
        let row = survey_row(r);
        text.push_str(&row[..row.len() / 2]);
    }
    fs::write(dir.join(name), text).unwrap();
}

fn journal_with(dir: &Path, acked: u64, records: &[Record]) {
    let (mut j, _) = Journal::open(dir.join(OUTBOX_DIR), 1 << 30).unwrap();
    for r in records {
        j.append(r.seq, &json(r)).unwrap();
    }
    j.set_watermark(acked).unwrap();
}

fn unacked(j: &Journal) -> Vec<(u64, String)> {
    j.all_unacked().unwrap()
}

#[test]
fn a_record_in_the_outbox_only_gets_its_survey_row_back_and_the_torn_row_goes() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Record> = (1..=3).map(rec).collect();
    // The crash came after record 3 was in the outbox and while its row was half written.
    write_rows(dir.path(), SURVEY, &all[..2], Some(&all[2]));
    journal_with(dir.path(), 0, &all);
    let mut store = Store::open(dir.path()).unwrap();
    let (j, report) = reconcile(&mut store, 1 << 30).unwrap();
    assert_eq!(report.tails_cut, 1);
    assert_eq!(report.rows_restored, 1);
    assert_eq!(report.records_queued, 0);
    let table = read_survey(&dir.path().join(SURVEY)).unwrap();
    assert!(!table.partial_tail);
    let back: Vec<Record> = table
        .rows
        .iter()
        .map(|r| record_from_row(r, Some("20261122T211305")).unwrap())
        .collect();
    assert_eq!(back, all, "every row, each the record that was published");
    assert_eq!(unacked(&j).len(), 3);
    assert_eq!(store.last_seq(), 3);
}

#[test]
fn survey_rows_never_published_are_queued_in_seq_order_with_their_exact_payload() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Record> = (1..=6).map(rec).collect();
    write_rows(dir.path(), SURVEY, &all, None);
    // The outbox knew 1 and 2 (acknowledged) and 5; 3, 4 and 6 reached only the survey file.
    journal_with(
        dir.path(),
        0,
        &[all[0].clone(), all[1].clone(), all[4].clone()],
    );
    {
        let (mut j, _) = Journal::open(dir.path().join(OUTBOX_DIR), 1 << 30).unwrap();
        j.ack(1).unwrap();
        j.ack(2).unwrap();
        j.save_watermark().unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    let (j, report) = reconcile(&mut store, 1 << 30).unwrap();
    assert_eq!(report.records_queued, 3);
    let pending = unacked(&j);
    let expected: Vec<(u64, String)> = all[2..].iter().map(|r| (r.seq, json(r))).collect();
    assert_eq!(pending, expected);
    // A second start finds nothing to do.
    drop(j);
    let (_, again) = reconcile(&mut store, 1 << 30).unwrap();
    assert_eq!(again.findings(), Vec::<String>::new());
}

#[test]
fn a_watermark_ahead_of_every_record_is_reported_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Record> = (1..=4).map(rec).collect();
    write_rows(dir.path(), SURVEY, &all, None);
    journal_with(dir.path(), 0, &all[2..]);
    fs::write(dir.path().join(OUTBOX_DIR).join("acked"), "1000000\n").unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (j, report) = reconcile(&mut store, 1 << 30).unwrap();
    assert_eq!(report.watermark_reset, Some((1_000_000, 2)));
    assert_eq!(report.findings().len(), 1);
    assert_eq!(j.acked(), 2);
    assert_eq!(unacked(&j).iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4]);
    // New records continue after the largest seq and are unacknowledged.
    assert_eq!(store.peek_next_seq().unwrap(), 5);
}

#[test]
fn a_crafted_huge_seq_in_a_survey_file_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = rec(2);
    bad.seq = u64::MAX;
    write_rows(dir.path(), SURVEY, &[rec(1), bad], None);
    let mut store = Store::open(dir.path()).unwrap();
    let (_, report) = reconcile(&mut store, 1 << 30).unwrap();
    assert_eq!(
        store.peek_next_seq().unwrap(),
        2,
        "seq neither wraps nor jumps"
    );
    assert!(report.records_queued == 0);
}

#[test]
fn a_new_outbox_does_not_republish_older_records_and_empty_files_get_their_header() {
    let dir = tempfile::tempdir().unwrap();
    write_rows(dir.path(), SURVEY, &[rec(1), rec(2)], None);
    fs::write(dir.path().join("measurements_20261122T211400.csv"), "").unwrap();
    fs::write(dir.path().join("measurements_20261122T211400_rs.csv"), "").unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (j, report) = reconcile(&mut store, 1 << 30).unwrap();
    assert!(report.journal.created);
    assert_eq!(j.acked(), 2);
    assert!(unacked(&j).is_empty());
    assert_eq!(report.headers_written, 2);
    let text = fs::read_to_string(dir.path().join("measurements_20261122T211400_rs.csv")).unwrap();
    assert_eq!(text, crate::storage::columns::header(&CONTACT_COLUMNS));
}

#[test]
fn a_second_process_on_the_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("in use by another ohmpi process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
}

#[test]
fn a_row_torn_by_a_full_disk_is_cut_before_the_next_row() {
    let dir = tempfile::tempdir().unwrap();
    write_rows(dir.path(), SURVEY, &[rec(1)], Some(&rec(2)));
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.path().join(SURVEY))
        .unwrap();
    f.flush().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    reconcile(&mut store, 1 << 30).unwrap();
    crate::storage::file::append_row(&dir.path().join(SURVEY), &survey_row(&rec(2))).unwrap();
    let table = read_survey(&dir.path().join(SURVEY)).unwrap();
    assert_eq!(table.rows.len(), 2);
}
