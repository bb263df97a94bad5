use super::*;

type Got = Vec<(ChunkRef, SeriesId, i64, i64, Vec<u8>)>;

fn collect(dir: &Path, size: u64) -> (HeadChunks, Got) {
    let mut got = Vec::new();
    let hc = HeadChunks::open(dir, size, |r, v| {
        got.push((r, v.id, v.min_t, v.max_t, v.data.to_vec()))
    })
    .unwrap();
    (hc, got)
}

fn chunk(i: u32) -> Vec<u8> {
    (0..(50 + i % 40)).map(|b| (b ^ i) as u8).collect()
}

fn write_n(hc: &HeadChunks, from: u32, to: u32) -> Vec<ChunkRef> {
    let data: Vec<Vec<u8>> = (from..to).map(chunk).collect();
    let batch: Vec<ChunkToWrite<'_>> = (from..to)
        .zip(&data)
        .map(|(i, d)| ChunkToWrite {
            id: i,
            min_t: i64::from(i) * 10,
            max_t: i64::from(i) * 10 + 9,
            data: d,
        })
        .collect();
    hc.write(&batch).unwrap()
}

#[test]
fn chunks_are_read_back_through_the_map_across_rotations_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, got) = collect(tmp.path(), 4096);
    assert!(got.is_empty());
    let refs = write_n(&hc, 0, 200);
    assert!(refs.last().unwrap().seq > 1, "rotated: {:?}", refs.last());
    for (i, r) in refs.iter().enumerate() {
        let c = hc.read(*r).unwrap();
        assert_eq!(c.data(), &chunk(i as u32)[..]);
        assert_eq!((c.min_t, c.max_t), (i as i64 * 10, i as i64 * 10 + 9));
    }
    hc.sync().unwrap();
    drop(hc);
    let (hc, got) = collect(tmp.path(), 4096);
    assert_eq!(got.len(), 200);
    let mut again = Vec::new();
    hc.for_each_record(|r, v| again.push((r, v.id, v.min_t, v.max_t, v.data.to_vec())));
    assert_eq!(again, got);
    for (i, (r, id, lo, _, data)) in got.iter().enumerate() {
        assert_eq!((*r, *id, *lo), (refs[i], i as u32, i as i64 * 10));
        assert_eq!(data, &chunk(i as u32));
    }
    // Writing continues in a new segment; old refs still read.
    let more = write_n(&hc, 200, 210);
    assert!(more[0].seq > refs.last().unwrap().seq);
    assert_eq!(hc.read(refs[5]).unwrap().data(), &chunk(5)[..]);
}

#[test]
fn a_torn_tail_and_a_flipped_byte_cut_their_segment_and_start_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, _) = collect(tmp.path(), 1 << 20);
    let refs = write_n(&hc, 0, 100);
    drop(hc);
    let path = tmp.path().join(format::segment_name(refs[0].seq));
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip a byte inside record 60's data: records 0..60 survive.
    let at = refs[60].offset as usize + format::RECORD_HEADER_LEN + 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let (hc, got) = collect(tmp.path(), 1 << 20);
    assert_eq!(got.len(), 60);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        u64::from(refs[60].offset)
    );
    assert!(hc.read(refs[61]).is_none());
    assert_eq!(hc.read(refs[59]).unwrap().data(), &chunk(59)[..]);
    drop(hc);
    // A torn write: half a record at the end.
    let mut bytes = std::fs::read(&path).unwrap();
    let cut = refs[59].offset as usize + 10;
    bytes.truncate(cut);
    std::fs::write(&path, &bytes).unwrap();
    let (_, got) = collect(tmp.path(), 1 << 20);
    assert_eq!(got.len(), 59);
}

#[test]
fn a_segment_with_a_bad_header_is_moved_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, _) = collect(tmp.path(), 1 << 20);
    let refs = write_n(&hc, 0, 10);
    drop(hc);
    let path = tmp.path().join(format::segment_name(refs[0].seq));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (_, got) = collect(tmp.path(), 1 << 20);
    assert!(got.is_empty());
    assert!(path.with_extension("corrupt").exists());
}

#[test]
fn truncation_deletes_only_finished_segments_wholly_older_than_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, _) = collect(tmp.path(), 2048);
    let refs = write_n(&hc, 0, 100);
    let (segments, _) = hc.stats();
    assert!(segments > 3);
    let cut_at = refs[50];
    // Chunk 50 ends at 509: its segment stays, all before it that end before 500 go.
    let deleted = hc.truncate_before(500, &|_| Ok(())).unwrap();
    assert!(deleted > 0);
    assert!(hc.read(cut_at).is_some());
    assert!(hc.read(refs[0]).is_none());
    // The active segment stays even when everything in it is older.
    hc.truncate_before(i64::MAX, &|_| Ok(())).unwrap();
    assert_eq!(hc.stats().0, 1);
    assert!(hc.read(*refs.last().unwrap()).is_some());
}
