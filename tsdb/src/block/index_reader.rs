//! Reads a block's `index` file through a memory map (layout in `index_writer.rs`).
//!
//! Opening checks the header, the table of contents and the CRC of every section, and the
//! bounds of the fixed-width tables, so later lookups can only fail on data a writer bug
//! produced; they still return [`crate::Error::Corruption`] rather than panic.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use roaring::RoaringBitmap;

use super::chunks_reader::map_file;
use super::codec::{corruption, crc32c, Cursor};
use super::index_writer::{
    ChunkMeta, INDEX_HEADER_LEN, INDEX_MAGIC, INDEX_VERSION, NAME_ENTRY_LEN, TOC_LEN,
    VALUE_ENTRY_LEN,
};
use crate::error::Result;
use crate::labels::{Label, Labels};

/// One label name of the label index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameEntry {
    pub(crate) name: u32,
    pub(crate) count: u32,
    /// Offset of the value table within the label index payload.
    values_at: u32,
    all: (u32, u32),
}

pub(crate) struct IndexReader {
    path: PathBuf,
    map: Mmap,
    symbols: Range<usize>,
    num_symbols: u32,
    series: Range<usize>,
    num_series: u32,
    label_index: Range<usize>,
    postings: Range<usize>,
    /// The name table, sorted by name symbol (hence by name).
    names: Vec<NameEntry>,
}

/// Strings resolved during one query, so series sharing `job="node"` share its `Arc`.
#[derive(Default)]
pub(crate) struct SymbolCache {
    map: std::collections::HashMap<u32, Arc<str>>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

impl IndexReader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let map = map_file(path)?;
        let mut c = Cursor::new(path, &map, 0);
        let magic = c.u32()?;
        if magic != INDEX_MAGIC {
            return Err(corruption(path, 0, format!("bad magic {magic:#010x}")));
        }
        let version = c.u8()?;
        if version != INDEX_VERSION {
            return Err(corruption(
                path,
                4,
                format!("unsupported version {version}"),
            ));
        }
        if c.bytes(3)? != [0, 0, 0] {
            return Err(corruption(path, 5, "non-zero header padding"));
        }
        let toc_at = map
            .len()
            .checked_sub(TOC_LEN)
            .filter(|&t| t >= INDEX_HEADER_LEN)
            .ok_or_else(|| corruption(path, 0, "file too short for a table of contents"))?;
        let mut t = Cursor::new(path, &map[toc_at..], toc_at as u64);
        let toc_bytes = t.bytes(32)?;
        if crc32c(toc_bytes) != t.u32()? {
            return Err(corruption(
                path,
                toc_at as u64,
                "table of contents checksum mismatch",
            ));
        }
        let mut t = Cursor::new(path, toc_bytes, toc_at as u64);
        let mut sections = [0..0, 0..0, 0..0, 0..0];
        for s in sections.iter_mut() {
            let off = t.u64()?;
            *s = section(path, &map[..toc_at], off)?;
        }
        let [symbols, series, label_index, postings] = sections;
        let num_symbols = table_count(path, &map, &symbols, 4)?;
        let num_series = table_count(path, &map, &series, 4)?;
        let num_names = table_count(path, &map, &label_index, NAME_ENTRY_LEN)?;
        let li = &map[label_index.clone()];
        let mut names = Vec::with_capacity(num_names as usize);
        for i in 0..num_names as usize {
            let at = 4 + NAME_ENTRY_LEN * i;
            let e = NameEntry {
                name: be32(li, at),
                count: be32(li, at + 4),
                values_at: be32(li, at + 8),
                all: (be32(li, at + 12), be32(li, at + 16)),
            };
            let table_end = (e.values_at as usize)
                .checked_add(VALUE_ENTRY_LEN * e.count as usize)
                .filter(|&end| end <= li.len());
            let ordered = names.last().is_none_or(|p: &NameEntry| p.name < e.name);
            if table_end.is_none() || !ordered || e.name >= num_symbols {
                return Err(corruption(
                    path,
                    (label_index.start + at) as u64,
                    "label index entry out of bounds or order",
                ));
            }
            names.push(e);
        }
        Ok(IndexReader {
            path: path.to_path_buf(),
            map,
            symbols,
            num_symbols,
            series,
            num_series,
            label_index,
            postings,
            names,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    pub(crate) fn num_series(&self) -> u32 {
        self.num_series
    }

    /// Payload bytes of the symbols, series, label index and postings sections.
    pub(crate) fn section_sizes(&self) -> [u64; 4] {
        [
            &self.symbols,
            &self.series,
            &self.label_index,
            &self.postings,
        ]
        .map(|r| r.len() as u64)
    }

    fn err(&self, at: usize, reason: impl Into<String>) -> crate::Error {
        corruption(&self.path, at as u64, reason)
    }

    /// The string of symbol `i`.
    pub(crate) fn symbol(&self, i: u32) -> Result<&str> {
        let p = &self.map[self.symbols.clone()];
        if i >= self.num_symbols {
            return Err(self.err(self.symbols.start, format!("symbol {i} out of range")));
        }
        let off = be32(p, 4 + 4 * i as usize) as usize;
        let base = self.symbols.start + off;
        let entry = p
            .get(off..)
            .ok_or_else(|| self.err(base, "symbol offset out of range"))?;
        let mut c = Cursor::new(&self.path, entry, base as u64);
        let len = c.uvarint_len(entry.len(), "symbol length")?;
        let bytes = c.bytes(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.err(base, "symbol is not UTF-8"))
    }

    fn symbol_arc(&self, i: u32, cache: &mut SymbolCache) -> Result<Arc<str>> {
        if let Some(s) = cache.map.get(&i) {
            return Ok(s.clone());
        }
        let s: Arc<str> = Arc::from(self.symbol(i)?);
        cache.map.insert(i, s.clone());
        Ok(s)
    }

    /// The labels and chunk metas of series `id`.
    pub(crate) fn series(
        &self,
        id: u32,
        cache: &mut SymbolCache,
    ) -> Result<(Labels, Vec<ChunkMeta>)> {
        let p = &self.map[self.series.clone()];
        if id >= self.num_series {
            return Err(self.err(self.series.start, format!("series {id} out of range")));
        }
        let off = be32(p, 4 + 4 * id as usize) as usize;
        let base = self.series.start + off;
        let entry = p
            .get(off..)
            .ok_or_else(|| self.err(base, "series offset out of range"))?;
        let mut c = Cursor::new(&self.path, entry, base as u64);
        let n = c.uvarint_len(entry.len() / 2, "label count")?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let at = c.offset();
            let name = u32::try_from(c.uvarint()?).unwrap_or(u32::MAX);
            let value = u32::try_from(c.uvarint()?).unwrap_or(u32::MAX);
            let l = Label {
                name: self.symbol_arc(name, cache)?,
                value: self.symbol_arc(value, cache)?,
            };
            if labels.last().is_some_and(|p: &Label| p.name >= l.name) {
                return Err(corruption(
                    &self.path,
                    at,
                    "labels of a series out of order",
                ));
            }
            labels.push(l);
        }
        let k = c.uvarint_len(entry.len() / 3, "chunk count")?;
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(k);
        for _ in 0..k {
            let m = match chunks.last() {
                None => {
                    let min_t = c.varint()?;
                    let max_t = min_t.wrapping_add(c.uvarint()? as i64);
                    ChunkMeta {
                        min_t,
                        max_t,
                        chunk_ref: c.uvarint()?,
                    }
                }
                Some(p) => {
                    let min_t = p.max_t.wrapping_add(c.varint()?);
                    let max_t = min_t.wrapping_add(c.uvarint()? as i64);
                    ChunkMeta {
                        min_t,
                        max_t,
                        chunk_ref: p.chunk_ref.wrapping_add(c.varint()? as u64),
                    }
                }
            };
            chunks.push(m);
        }
        Ok((Labels::from_sorted_unchecked(labels), chunks))
    }

    /// The label names, sorted.
    pub(crate) fn names(&self) -> &[NameEntry] {
        &self.names
    }

    /// The entry of label `name`, if any series has it.
    pub(crate) fn name(&self, name: &str) -> Result<Option<&NameEntry>> {
        let (mut lo, mut hi) = (0, self.names.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.symbol(self.names[mid].name)?.cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(&self.names[mid])),
            }
        }
        Ok(None)
    }

    /// Value `i` of `e`: its symbol and postings location.
    fn value_entry(&self, e: &NameEntry, i: u32) -> (u32, (u32, u32)) {
        let li = &self.map[self.label_index.clone()];
        let at = e.values_at as usize + VALUE_ENTRY_LEN * i as usize;
        (be32(li, at), (be32(li, at + 4), be32(li, at + 8)))
    }

    /// The string of value `i` of `e`.
    pub(crate) fn value(&self, e: &NameEntry, i: u32) -> Result<&str> {
        self.symbol(self.value_entry(e, i).0)
    }

    /// The first value index of `e` whose value is `>= s` (values are sorted).
    pub(crate) fn lower_bound(&self, e: &NameEntry, s: &str) -> Result<u32> {
        let (mut lo, mut hi) = (0u32, e.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.value(e, mid)? < s {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The index of value `s` of `e`, if present.
    pub(crate) fn find_value(&self, e: &NameEntry, s: &str) -> Result<Option<u32>> {
        let i = self.lower_bound(e, s)?;
        Ok((i < e.count && self.value(e, i)? == s).then_some(i))
    }

    /// The series having value `i` of `e`.
    pub(crate) fn value_postings(&self, e: &NameEntry, i: u32) -> Result<RoaringBitmap> {
        self.bitmap(self.value_entry(e, i).1)
    }

    /// The series having label `e` at all.
    pub(crate) fn name_postings(&self, e: &NameEntry) -> Result<RoaringBitmap> {
        self.bitmap(e.all)
    }

    fn bitmap(&self, (off, len): (u32, u32)) -> Result<RoaringBitmap> {
        let base = self.postings.start + off as usize;
        let p = &self.map[self.postings.clone()];
        let bytes = (off as usize)
            .checked_add(len as usize)
            .and_then(|end| p.get(off as usize..end))
            .ok_or_else(|| self.err(base, "postings out of range"))?;
        let bm = RoaringBitmap::deserialize_from(bytes)
            .map_err(|e| self.err(base, format!("bad postings: {e}")))?;
        if bm.max().is_some_and(|m| m >= self.num_series) {
            return Err(self.err(base, "postings name a series that does not exist"));
        }
        Ok(bm)
    }
}

/// The payload range of the section framed at `off`, CRC checked.
fn section(path: &Path, file: &[u8], off: u64) -> Result<Range<usize>> {
    let start = usize::try_from(off)
        .ok()
        .filter(|&o| o >= INDEX_HEADER_LEN && o <= file.len())
        .ok_or_else(|| corruption(path, off, "section offset out of range"))?;
    let mut c = Cursor::new(path, &file[start..], off);
    let len = c.u64()?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= c.remaining())
        .ok_or_else(|| corruption(path, off, format!("section length {len} past the end")))?;
    let payload_at = start + 8;
    let payload = c.bytes(len)?;
    if crc32c(payload) != c.u32()? {
        return Err(corruption(path, off, "section checksum mismatch"));
    }
    Ok(payload_at..payload_at + len)
}

/// Reads the leading u32 count of a payload holding `count` fixed entries of `entry` bytes,
/// checking they fit.
fn table_count(path: &Path, file: &[u8], r: &Range<usize>, entry: usize) -> Result<u32> {
    let p = &file[r.clone()];
    let mut c = Cursor::new(path, p, r.start as u64);
    let count = c.u32()?;
    if (count as usize)
        .checked_mul(entry)
        .and_then(|n| n.checked_add(4))
        .is_none_or(|end| end > p.len())
    {
        return Err(corruption(
            path,
            r.start as u64,
            format!("table of {count} entries past the section end"),
        ));
    }
    Ok(count)
}
