//! Writes a block's `index` file: symbols, series with their chunk metas, and the
//! inverted index from label name and value to roaring postings.
//!
//! File layout:
//!
//! | offset   | size     | field                                                   |
//! |----------|----------|---------------------------------------------------------|
//! | 0        | 4        | magic `0x54534958` ("TSIX"), u32 big-endian             |
//! | 4        | 1        | format version, 1                                       |
//! | 5        | 3        | zero padding                                            |
//! | 8        | variable | sections: symbols, series, label index, postings        |
//! | end − 36 | 36       | table of contents                                       |
//!
//! Every section is framed the same way, and readers check the CRC when opening:
//!
//! | size  | field                                          |
//! |-------|------------------------------------------------|
//! | 8     | `len`: payload length, u64 big-endian          |
//! | `len` | payload                                        |
//! | 4     | CRC-32C of the payload, u32 big-endian         |
//!
//! Table of contents: the file offsets (u64 big-endian) of the symbols, series, label
//! index and postings sections, in that order (32 bytes), then the CRC-32C of those 32
//! bytes.
//!
//! Symbols payload — every label name and value once, sorted by bytes, so that comparing
//! symbol numbers compares strings:
//!
//! | size      | field                                                          |
//! |-----------|----------------------------------------------------------------|
//! | 4         | `count`, u32                                                   |
//! | 4 × count | offset of each symbol's entry from the payload start, u32      |
//! | variable  | entries: uvarint byte length, UTF-8 bytes                      |
//!
//! Series payload — series sorted by label set; a series' number (its position) is its id
//! in the postings:
//!
//! | size      | field                                                          |
//! |-----------|----------------------------------------------------------------|
//! | 4         | `count`, u32                                                   |
//! | 4 × count | offset of each series entry from the payload start, u32        |
//! | variable  | entries                                                        |
//!
//! Series entry:
//!
//! | encoding                 | field                                                   |
//! |--------------------------|---------------------------------------------------------|
//! | uvarint                  | number of labels                                        |
//! | uvarint, uvarint         | per label: name symbol, value symbol (sorted by name)   |
//! | uvarint                  | number of chunks                                        |
//! | varint, uvarint, uvarint | chunk 0: `min_t`, `max_t − min_t`, chunk reference      |
//! | varint, uvarint, varint  | chunk i > 0: `min_t − previous max_t`, `max_t − min_t`, |
//! |                          | reference − previous reference (wrapping, as i64)       |
//!
//! Label index payload — label names sorted, each with its values sorted:
//!
//! | size           | field                                                        |
//! |----------------|--------------------------------------------------------------|
//! | 4              | `names`, u32                                                 |
//! | 20 × names     | per name: name symbol, value count, offset of its value      |
//! |                | table from the payload start, offset and length of the       |
//! |                | postings of every series having the name (all u32)           |
//! | 12 × values    | value tables: per value: value symbol, postings offset,      |
//! |                | postings length (all u32)                                    |
//!
//! Postings payload: bitmaps of series ids in the portable roaring format, back to back;
//! offsets above are relative to this payload.
//!
//! Labels with an empty value are not written: Prometheus treats them as absent.
//! Offsets are u32, so each payload is limited to 4 GiB; the writer fails beyond that.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use roaring::RoaringBitmap;

use super::codec::{crc32c, put_u32, put_u64, put_uvarint, put_varint};
use crate::error::{Error, Result};
use crate::labels::Labels;

pub(crate) const INDEX_MAGIC: u32 = 0x5453_4958;
pub(crate) const INDEX_VERSION: u8 = 1;
pub(crate) const INDEX_HEADER_LEN: usize = 8;
pub(crate) const TOC_LEN: usize = 36;
pub(crate) const NAME_ENTRY_LEN: usize = 20;
pub(crate) const VALUE_ENTRY_LEN: usize = 12;

/// Where one chunk of a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_t: i64,
    pub max_t: i64,
    pub chunk_ref: u64,
}

fn u32_of(v: usize, what: &str, path: &Path) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::io(
            path,
            std::io::Error::other(format!("{what} exceeds the index's 4 GiB offsets")),
        )
    })
}

/// Writes the index of `series` (sorted by labels, unique) to `path` and fsyncs it.
pub(crate) fn write_index(path: &Path, series: &[(Labels, Vec<ChunkMeta>)]) -> Result<u64> {
    let mut names = BTreeSet::new();
    for (labels, _) in series {
        for l in labels.iter().filter(|l| !l.value.is_empty()) {
            names.insert(&*l.name);
            names.insert(&*l.value);
        }
    }
    let symbols: Vec<&str> = names.into_iter().collect();
    let sym_of: HashMap<&str, u32> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let sym = |s: &str| sym_of.get(s).copied().unwrap_or(0);

    // Symbols.
    let mut sym_payload = Vec::new();
    put_u32(
        &mut sym_payload,
        u32_of(symbols.len(), "symbol count", path)?,
    );
    let table_at = sym_payload.len();
    sym_payload.resize(table_at + 4 * symbols.len(), 0);
    for (i, s) in symbols.iter().enumerate() {
        let off = u32_of(sym_payload.len(), "symbol table", path)?;
        sym_payload[table_at + 4 * i..table_at + 4 * i + 4].copy_from_slice(&off.to_be_bytes());
        put_uvarint(&mut sym_payload, s.len() as u64);
        sym_payload.extend_from_slice(s.as_bytes());
    }

    // Series and, alongside, the postings.
    let mut postings: BTreeMap<u32, BTreeMap<u32, RoaringBitmap>> = BTreeMap::new();
    let mut ser_payload = Vec::new();
    put_u32(
        &mut ser_payload,
        u32_of(series.len(), "series count", path)?,
    );
    let table_at = ser_payload.len();
    ser_payload.resize(table_at + 4 * series.len(), 0);
    for (id, (labels, chunks)) in series.iter().enumerate() {
        let id = u32_of(id, "series count", path)?;
        let off = u32_of(ser_payload.len(), "series table", path)?;
        let at = table_at + 4 * id as usize;
        ser_payload[at..at + 4].copy_from_slice(&off.to_be_bytes());
        let present: Vec<_> = labels.iter().filter(|l| !l.value.is_empty()).collect();
        put_uvarint(&mut ser_payload, present.len() as u64);
        for l in present {
            let (n, v) = (sym(&l.name), sym(&l.value));
            put_uvarint(&mut ser_payload, u64::from(n));
            put_uvarint(&mut ser_payload, u64::from(v));
            postings
                .entry(n)
                .or_default()
                .entry(v)
                .or_default()
                .insert(id);
        }
        put_uvarint(&mut ser_payload, chunks.len() as u64);
        let mut prev: Option<&ChunkMeta> = None;
        for c in chunks {
            match prev {
                None => {
                    put_varint(&mut ser_payload, c.min_t);
                    put_uvarint(&mut ser_payload, c.max_t.wrapping_sub(c.min_t) as u64);
                    put_uvarint(&mut ser_payload, c.chunk_ref);
                }
                Some(p) => {
                    put_varint(&mut ser_payload, c.min_t.wrapping_sub(p.max_t));
                    put_uvarint(&mut ser_payload, c.max_t.wrapping_sub(c.min_t) as u64);
                    put_varint(
                        &mut ser_payload,
                        c.chunk_ref.wrapping_sub(p.chunk_ref) as i64,
                    );
                }
            }
            prev = Some(c);
        }
    }

    // Label index and postings.
    let mut post_payload = Vec::new();
    let mut put_bitmap = |bm: &RoaringBitmap| -> Result<(u32, u32)> {
        let off = u32_of(post_payload.len(), "postings", path)?;
        bm.serialize_into(&mut post_payload)
            .map_err(|e| Error::io(path, e))?;
        let len = u32_of(post_payload.len() - off as usize, "postings", path)?;
        Ok((off, len))
    };
    let mut li_payload = Vec::new();
    put_u32(
        &mut li_payload,
        u32_of(postings.len(), "label names", path)?,
    );
    let mut values_at = 4 + NAME_ENTRY_LEN * postings.len();
    let mut value_tables = Vec::new();
    for (name, values) in &postings {
        let all = values.values().fold(RoaringBitmap::new(), |acc, b| acc | b);
        let (all_off, all_len) = put_bitmap(&all)?;
        put_u32(&mut li_payload, *name);
        put_u32(&mut li_payload, u32_of(values.len(), "label values", path)?);
        put_u32(&mut li_payload, u32_of(values_at, "label index", path)?);
        put_u32(&mut li_payload, all_off);
        put_u32(&mut li_payload, all_len);
        for (value, bm) in values {
            let (off, len) = put_bitmap(bm)?;
            put_u32(&mut value_tables, *value);
            put_u32(&mut value_tables, off);
            put_u32(&mut value_tables, len);
        }
        values_at += VALUE_ENTRY_LEN * values.len();
    }
    li_payload.extend_from_slice(&value_tables);
    u32_of(li_payload.len(), "label index", path)?;

    let f = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut head = Vec::with_capacity(INDEX_HEADER_LEN);
    put_u32(&mut head, INDEX_MAGIC);
    head.extend_from_slice(&[INDEX_VERSION, 0, 0, 0]);
    let io = |e| Error::io(path, e);
    w.write_all(&head).map_err(io)?;
    let mut pos = head.len() as u64;
    let mut toc = Vec::with_capacity(TOC_LEN);
    for payload in [&sym_payload, &ser_payload, &li_payload, &post_payload] {
        put_u64(&mut toc, pos);
        let mut frame = Vec::with_capacity(8);
        put_u64(&mut frame, payload.len() as u64);
        w.write_all(&frame).map_err(io)?;
        w.write_all(payload).map_err(io)?;
        w.write_all(&crc32c(payload).to_be_bytes()).map_err(io)?;
        pos += 8 + payload.len() as u64 + 4;
    }
    let crc = crc32c(&toc);
    put_u32(&mut toc, crc);
    w.write_all(&toc).map_err(io)?;
    pos += toc.len() as u64;
    let f = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(io)?;
    Ok(pos)
}
