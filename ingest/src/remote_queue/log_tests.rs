use std::fs::OpenOptions;
use std::io::Write;

use super::*;

fn payload(i: usize) -> Vec<u8> {
    format!("request number {i}").into_bytes()
}

fn drain(log: &mut QueueLog) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let b = log.next_batch(1 << 20).unwrap();
        if b.payloads.is_empty() {
            return out;
        }
        out.extend(b.payloads);
        log.ack(b.end).unwrap();
    }
}

#[test]
fn records_come_back_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments: a handful of records each.
    let mut log = QueueLog::open(dir.path(), 100, false).unwrap();
    for i in 0..40 {
        log.append(&payload(i)).unwrap();
    }
    assert!(list_segments(dir.path()).unwrap().len() > 5);
    let got = drain(&mut log);
    assert_eq!(got, (0..40).map(payload).collect::<Vec<_>>());
    assert!(log.is_empty());
    assert_eq!(log.pending_bytes(), 0);
    // Acknowledged segments are gone; only the head remains.
    assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
}

#[test]
fn a_batch_stops_at_its_byte_budget_and_is_not_acknowledged_until_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = QueueLog::open(dir.path(), 1 << 20, false).unwrap();
    for i in 0..10 {
        log.append(&payload(i)).unwrap();
    }
    let one = payload(0).len();
    let b = log.next_batch(one * 3).unwrap();
    assert_eq!(b.payloads.len(), 3);
    // Not acknowledged: the same records again.
    let again = log.next_batch(one * 3).unwrap();
    assert_eq!(again.payloads, b.payloads);
    log.ack(b.end).unwrap();
    let next = log.next_batch(one).unwrap();
    assert_eq!(next.payloads, vec![payload(3)]);
}

#[test]
fn reopening_resumes_after_the_last_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = QueueLog::open(dir.path(), 120, true).unwrap();
        for i in 0..20 {
            log.append(&payload(i)).unwrap();
        }
        let b = log.next_batch(payload(0).len() * 7).unwrap();
        assert_eq!(b.payloads.len(), 7);
        log.ack(b.end).unwrap();
        // Dropped without any shutdown, as a kill would leave it.
    }
    let mut log = QueueLog::open(dir.path(), 120, true).unwrap();
    // Appends after a reopen go after what was there.
    log.append(&payload(20)).unwrap();
    assert_eq!(drain(&mut log), (7..21).map(payload).collect::<Vec<_>>());
}

#[test]
fn a_torn_tail_is_cut_and_appends_continue_after_the_last_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
        for i in 0..5 {
            log.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_path(dir.path(), 0);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    // A record header promising more bytes than follow.
    f.write_all(&100u32.to_le_bytes()).unwrap();
    f.write_all(&[1, 2, 3, 4, 5, 6]).unwrap();
    drop(f);
    let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
    log.append(&payload(5)).unwrap();
    assert_eq!(drain(&mut log), (0..6).map(payload).collect::<Vec<_>>());
}

#[test]
fn a_flipped_byte_in_the_tail_loses_only_the_records_from_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
        for i in 0..5 {
            log.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let rec = RECORD_HEADER_BYTES as usize + payload(0).len();
    // Inside the payload of the fourth record.
    bytes[SEGMENT_HEADER_BYTES as usize + 3 * rec + 10] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
    assert_eq!(drain(&mut log), (0..3).map(payload).collect::<Vec<_>>());
}

#[test]
fn a_corrupt_record_in_an_older_segment_skips_the_rest_of_that_segment_only() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RECORD_HEADER_BYTES + payload(0).len() as u64;
    // Three records per segment.
    let seg_bytes = SEGMENT_HEADER_BYTES + 3 * rec;
    {
        let mut log = QueueLog::open(dir.path(), seg_bytes, true).unwrap();
        for i in 0..9 {
            log.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_path(dir.path(), 1);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[SEGMENT_HEADER_BYTES as usize + rec as usize + 9] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let mut log = QueueLog::open(dir.path(), seg_bytes, true).unwrap();
    let want: Vec<Vec<u8>> = [0, 1, 2, 3, 6, 7, 8].into_iter().map(payload).collect();
    assert_eq!(drain(&mut log), want);
    assert_eq!(log.corrupt_records(), 1);
}

#[test]
fn a_corrupt_cursor_means_everything_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
        for i in 0..4 {
            log.append(&payload(i)).unwrap();
        }
        let b = log.next_batch(payload(0).len() * 2).unwrap();
        log.ack(b.end).unwrap();
    }
    std::fs::write(dir.path().join(CURSOR_FILE), b"garbage").unwrap();
    let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
    assert_eq!(drain(&mut log), (0..4).map(payload).collect::<Vec<_>>());
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = QueueLog::open(dir.path(), 1 << 20, false).unwrap();
    let err = log.append(&vec![0u8; MAX_RECORD_BYTES + 1]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(log.is_empty());
}

#[test]
fn a_head_segment_with_a_bad_header_starts_over_and_takes_appends() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
        log.append(&payload(0)).unwrap();
    }
    let seg = segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[0] = b'X';
    std::fs::write(&seg, &bytes).unwrap();
    let mut log = QueueLog::open(dir.path(), 1 << 20, true).unwrap();
    assert!(log.is_empty());
    log.append(&payload(1)).unwrap();
    assert_eq!(drain(&mut log), vec![payload(1)]);
}
