use super::*;

type Got = Vec<(ChunkRef, SeriesId, i64, i64, Vec<u8>)>;

fn collect(dir: &Path, size: u64) -> (HeadChunks, Got) {
    let mut refs = Vec::new();
    let hc = HeadChunks::open(dir, size, |r, e| refs.push((r, e))).unwrap();
    let got = refs
        .into_iter()
        .filter_map(|(r, e)| {
            let c = hc.read(r)?;
            assert_eq!((c.min_t, c.max_t), (e.min_t, e.max_t));
            Some((r, e.id, e.min_t, e.max_t, c.data().to_vec()))
        })
        .collect();
    (hc, got)
}

/// The entries `open` passes, without reading any chunk.
fn entries(dir: &Path) -> Vec<(ChunkRef, IndexEntry)> {
    let mut out = Vec::new();
    HeadChunks::open(dir, 1 << 20, |r, e| out.push((r, e))).unwrap();
    out
}

/// Cuts a finished segment back to its records, as a segment written before indexes
/// existed (or never finished) looks.
fn strip_index(path: &Path, records_end: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(records_end).unwrap();
}

fn segment_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
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
    hc.for_each_record(|r, e| {
        let c = hc.read(r).unwrap();
        again.push((r, e.id, e.min_t, e.max_t, c.data().to_vec()))
    });
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
fn a_flipped_byte_in_an_indexed_segment_loses_only_its_chunk_when_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, _) = collect(tmp.path(), 1 << 20);
    let refs = write_n(&hc, 0, 100);
    drop(hc);
    let path = tmp.path().join(format::segment_name(refs[0].seq));
    let len = segment_len(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = refs[60].offset as usize + format::RECORD_HEADER_LEN + 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    // Opening reads the index only: every record is listed and the file is left alone.
    assert_eq!(entries(tmp.path()).len(), 100);
    let (hc, got) = collect(tmp.path(), 1 << 20);
    assert_eq!(segment_len(&path), len);
    // The damaged chunk fails its CRC when read; its neighbours read.
    assert_eq!(got.len(), 99);
    assert!(hc.read(refs[60]).is_none());
    assert_eq!(hc.read(refs[59]).unwrap().data(), &chunk(59)[..]);
    assert_eq!(hc.read(refs[61]).unwrap().data(), &chunk(61)[..]);
}

#[test]
fn a_torn_tail_and_a_flipped_byte_cut_an_unindexed_segment_and_start_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let (hc, _) = collect(tmp.path(), 1 << 20);
    let refs = write_n(&hc, 0, 100);
    drop(hc);
    let path = tmp.path().join(format::segment_name(refs[0].seq));
    let end = u64::from(refs[99].offset) + format::record_len(chunk(99).len()) as u64;
    strip_index(&path, end);
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip a byte inside record 60's data: the scan keeps records 0..60.
    let at = refs[60].offset as usize + format::RECORD_HEADER_LEN + 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let (hc, got) = collect(tmp.path(), 1 << 20);
    assert_eq!(got.len(), 60);
    assert!(hc.read(refs[61]).is_none());
    assert_eq!(hc.read(refs[59]).unwrap().data(), &chunk(59)[..]);
    drop(hc);
    // The cut segment got an index of its 60 records, found by the next open.
    let cut = u64::from(refs[60].offset);
    assert_eq!(segment_len(&path), cut + index::index_len(60) as u64);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(index::find_index(&bytes), Ok((cut as usize, 60)));
    // A torn write: half a record at the end of a segment without index.
    strip_index(&path, cut);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(refs[59].offset as usize + 10);
    std::fs::write(&path, &bytes).unwrap();
    let (_, got) = collect(tmp.path(), 1 << 20);
    assert_eq!(got.len(), 59);
}

/// Real XOR chunks of `n` samples each, with distinct last values.
fn xor_chunks(count: u32, n: i64) -> Vec<(u32, i64, i64, Vec<u8>, f64)> {
    (0..count)
        .map(|i| {
            let mut c = crate::chunk::XorChunk::new();
            let t0 = i64::from(i) * 1000;
            for k in 0..n {
                c.append(t0 + k, f64::from(i) * 10.0 + k as f64 * 0.5);
            }
            let last = f64::from(i) * 10.0 + (n - 1) as f64 * 0.5;
            (i % 7, t0, t0 + n - 1, c.into_bytes(), last)
        })
        .collect()
}

fn write_chunks(hc: &HeadChunks, chunks: &[(u32, i64, i64, Vec<u8>, f64)]) -> Vec<ChunkRef> {
    let batch: Vec<ChunkToWrite<'_>> = chunks
        .iter()
        .map(|(id, lo, hi, data, _)| ChunkToWrite {
            id: *id,
            min_t: *lo,
            max_t: *hi,
            data,
        })
        .collect();
    hc.write(&batch).unwrap()
}

#[test]
fn segments_without_an_index_open_by_a_scan_which_writes_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let chunks = xor_chunks(300, 50);
    let (hc, _) = collect(tmp.path(), 8192);
    let refs = write_chunks(&hc, &chunks);
    drop(hc);
    let indexed = entries(tmp.path());
    assert_eq!(indexed.len(), chunks.len());
    for ((r, e), (c, want)) in indexed.iter().zip(chunks.iter().zip(&refs)) {
        assert_eq!(r, want);
        assert_eq!((e.id, e.min_t, e.max_t), (c.0, c.1, c.2));
        assert_eq!(e.last_v_bits, c.4.to_bits(), "last value from the index");
    }
    // Segments as written before indexes: cut to their records. They open as before
    // (every record, same refs and values) and carry an index afterwards.
    let mut seqs: Vec<u32> = refs.iter().map(|r| r.seq).collect();
    seqs.dedup();
    assert!(seqs.len() > 3, "{seqs:?}");
    for &seq in &seqs {
        let path = tmp.path().join(format::segment_name(seq));
        let bytes = std::fs::read(&path).unwrap();
        let (end, _) = index::find_index(&bytes).unwrap();
        strip_index(&path, end as u64);
    }
    // A damaged index is rebuilt too.
    let last = tmp.path().join(format::segment_name(*seqs.last().unwrap()));
    let n = entries(tmp.path()).len();
    assert_eq!(n, chunks.len());
    let mut bytes = std::fs::read(&last).unwrap();
    let at = bytes.len() - index::FOOTER_LEN - 5;
    bytes[at] ^= 1;
    std::fs::write(&last, &bytes).unwrap();
    assert_eq!(entries(tmp.path()), indexed);
    for &seq in &seqs {
        let bytes = std::fs::read(tmp.path().join(format::segment_name(seq))).unwrap();
        assert!(index::find_index(&bytes).is_ok(), "segment {seq} indexed");
    }
    let (hc, got) = collect(tmp.path(), 8192);
    assert_eq!(got.len(), chunks.len());
    for (r, e) in &indexed {
        assert_eq!(hc.entry_at(*r), Some(*e));
    }
    assert_eq!(
        hc.entry_at(ChunkRef {
            seq: seqs[0],
            offset: refs[0].offset + 1
        }),
        None
    );
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
    // A segment finished without records is removed.
    let (hc, _) = collect(tmp.path(), 1 << 20);
    hc.room_for(&mut hc.writer.lock(), 100).unwrap();
    drop(hc);
    let (hc, got) = collect(tmp.path(), 1 << 20);
    assert!(got.is_empty());
    assert_eq!(hc.stats(), (0, 0));
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
