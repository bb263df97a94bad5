//! [`Block`]: an opened, immutable block, queried like the head.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringBitmap;

use super::chunks_reader::ChunksReader;
use super::index_reader::{IndexReader, SymbolCache};
use super::index_writer::ChunkMeta;
use super::meta::{BlockMeta, META_FILENAME};
use super::select;
use super::{CHUNKS_DIR, INDEX_FILENAME};
use crate::chunked::{ChunkedSeries, SeriesChunk};
use crate::db::Series;
use crate::error::{Error, Result};
use crate::index::Matcher;
use crate::labels::Labels;
use crate::sample::Sample;
use crate::tombstones::{self, Intervals, Tombstones};

/// One chunk as Gorilla XOR bytes, e.g. for streaming to a remote-read client.
#[derive(Clone, Debug, PartialEq)]
pub struct RawChunk<'a> {
    pub min_t: i64,
    pub max_t: i64,
    /// Borrowed from the map when the block stores the chunk as XOR.
    pub data: Cow<'a, [u8]>,
}

/// A series with the raw chunks overlapping a query range.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRawChunks<'a> {
    pub labels: Labels,
    pub chunks: Vec<RawChunk<'a>>,
}

/// An opened block. Reads go through memory maps; nothing is cached but the label-name
/// table, so an open block costs little memory.
pub struct Block {
    pub(super) dir: PathBuf,
    pub(super) meta: BlockMeta,
    pub(super) index: IndexReader,
    pub(super) chunks: ChunksReader,
    meta_bytes: u64,
    /// Deleted intervals by series id, as in the block's `tombstones` file. Replaced
    /// whole (never mutated in place) by a delete, after the file is durable, so a reader
    /// holding the old `Arc` sees one consistent set. Empty in the common case, which
    /// every read checks first so that it costs nothing then.
    pub(super) tombstones: RwLock<Arc<Tombstones>>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("dir", &self.dir)
            .field("meta", &self.meta)
            .finish()
    }
}

impl Block {
    /// Opens the block in `dir`, checking `meta.json`, the index's checksums and the chunk
    /// segments' headers. Chunk checksums are checked as chunks are read, or all at once
    /// by [`Block::verify`]. Corruption is [`Error::Corruption`] naming the file and offset.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        let meta_path = dir.join(META_FILENAME);
        let meta_bytes = std::fs::metadata(&meta_path)
            .map_err(|e| Error::io(&meta_path, e))?
            .len();
        let index = IndexReader::open(&dir.join(INDEX_FILENAME))?;
        let chunks = ChunksReader::open(&dir.join(CHUNKS_DIR))?;
        let tombstones = tombstones::read(dir)?;
        if u64::from(index.num_series()) != meta.stats.num_series {
            return Err(Error::Corruption {
                path: meta_path,
                offset: 0,
                reason: format!(
                    "meta.json says {} series, the index has {}",
                    meta.stats.num_series,
                    index.num_series()
                ),
            });
        }
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            meta_bytes,
            tombstones: RwLock::new(Arc::new(tombstones)),
        })
    }

    /// The block's deleted intervals at this moment.
    pub fn tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(&self.tombstones.read())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Bytes on disk: index, chunk segments and meta.json.
    pub fn size_bytes(&self) -> u64 {
        self.index.size_bytes() + self.chunks.size_bytes() + self.meta_bytes
    }

    /// Number of chunk segment files.
    pub fn num_segments(&self) -> usize {
        self.chunks.num_segments()
    }

    /// Reads and checks every chunk (CRC and decoding): a full scan of the block.
    pub fn verify(&self) -> Result<()> {
        self.chunks.verify()?;
        let mut cache = SymbolCache::default();
        for id in 0..self.index.num_series() {
            let (_, metas) = self.index.series(id, &mut cache)?;
            for m in metas {
                self.chunks.record(m.chunk_ref, self.index.path())?;
            }
        }
        Ok(())
    }

    /// Series matching `matchers` with their samples in `[mint, maxt]`, sorted by labels;
    /// series without samples in the range are left out.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = select::select(&self.index, matchers)?;
        let stones = self.tombstones();
        let mut cache = SymbolCache::default();
        let mut out = Vec::new();
        // Ids follow label order (the writer requires sorted series), so the output is
        // sorted without a sort.
        for id in &ids {
            let (labels, metas) = self.index.series(id, &mut cache)?;
            let deleted = stones.get(id);
            let mut samples: Vec<Sample> = Vec::new();
            let mut ordered = true;
            for m in metas
                .iter()
                .filter(|m| chunk_wanted(m, mint, maxt, deleted))
            {
                if samples.last().is_some_and(|s| s.t >= m.min_t) {
                    ordered = false;
                }
                self.chunks
                    .samples_in(m.chunk_ref, self.index.path(), mint, maxt, &mut samples)?;
            }
            if !ordered {
                samples.sort_by_key(|s| s.t);
                samples.dedup_by_key(|s| s.t);
            }
            if let Some(d) = deleted {
                d.remove_from(&mut samples);
            }
            if !samples.is_empty() {
                out.push(Series { labels, samples });
            }
        }
        Ok(out)
    }

    /// As [`Block::select`], with handles to each series' chunks overlapping
    /// `[mint, maxt]` (see [`crate::ChunkedSeries`]) instead of decoded samples. Chunks
    /// whose whole range its tombstones delete are left out, and so are series left
    /// without chunks; the rest of the tombstones apply as the chunks are decoded.
    pub(crate) fn select_chunks(
        self: &Arc<Self>,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = select::select(&self.index, matchers)?;
        let stones = self.tombstones();
        let mut cache = SymbolCache::default();
        let mut out = Vec::new();
        // Ids follow label order, as in `select`.
        for id in &ids {
            let (labels, metas) = self.index.series(id, &mut cache)?;
            let deleted = stones.get(id).map(|d| Arc::new(d.clone()));
            let chunks: Vec<SeriesChunk> = metas
                .iter()
                .filter(|m| chunk_wanted(m, mint, maxt, deleted.as_deref()))
                .map(|m| {
                    SeriesChunk::block(
                        m.min_t,
                        m.max_t,
                        Arc::clone(self),
                        m.chunk_ref,
                        deleted.clone(),
                    )
                })
                .collect();
            if !chunks.is_empty() {
                out.push(ChunkedSeries::new(labels, chunks));
            }
        }
        Ok(out)
    }

    /// Appends the samples within `[mint, maxt]` of the chunk at `chunk_ref` to `out`.
    pub(crate) fn decode_chunk(
        &self,
        chunk_ref: u64,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        self.chunks
            .samples_in(chunk_ref, self.index.path(), mint, maxt, out)
    }

    /// Label sets of the series matching `matchers` with a chunk overlapping
    /// `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = select::select(&self.index, matchers)?;
        let stones = self.tombstones();
        let mut cache = SymbolCache::default();
        let mut out = Vec::new();
        for id in &ids {
            let (labels, metas) = self.index.series(id, &mut cache)?;
            let live = match stones.get(id) {
                None => metas.iter().any(|m| m.min_t <= maxt && m.max_t >= mint),
                Some(d) => self.survives(&metas, d, mint, maxt)?,
            };
            if live {
                out.push(labels);
            }
        }
        Ok(out)
    }

    /// Ids for label lookups: `None` (all series) without matchers. As in the head and in
    /// Prometheus, label lookups filter by time only at the level of the whole block.
    /// Series whose samples are all deleted are left out, as they are from `select`.
    fn ids_for_labels(&self, matchers: &[Matcher]) -> Result<Option<RoaringBitmap>> {
        let stones = self.tombstones();
        let ids = if matchers.is_empty() {
            if stones.is_empty() {
                return Ok(None);
            }
            let mut all = RoaringBitmap::new();
            all.insert_range(0..self.index.num_series());
            all
        } else {
            select::select(&self.index, matchers)?
        };
        if stones.is_empty() {
            return Ok(Some(ids));
        }
        Ok(Some(ids - self.fully_deleted(&stones)?))
    }

    /// Sorted label names of the series matching `matchers` (all when empty).
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = self.ids_for_labels(matchers)?;
        select::label_names(&self.index, ids.as_ref())
    }

    /// Sorted values of label `name` among the series matching `matchers` (all when empty).
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = self.ids_for_labels(matchers)?;
        select::label_values(&self.index, name, ids.as_ref())
    }

    /// Series matching `matchers` with their chunks overlapping `[mint, maxt]` as XOR
    /// bytes (whole chunks: samples outside the range are included, as remote read
    /// expects), sorted by labels. Chunks with deleted samples come re-encoded without
    /// them; chunks and series left empty are left out.
    pub fn chunks_for(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesRawChunks<'_>>> {
        if !self.meta.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ids = select::select(&self.index, matchers)?;
        let stones = self.tombstones();
        let mut cache = SymbolCache::default();
        let mut out = Vec::new();
        for id in &ids {
            let (labels, metas) = self.index.series(id, &mut cache)?;
            let chunks = self.raw_chunks(&metas, stones.get(id), mint, maxt)?;
            if !chunks.is_empty() {
                out.push(SeriesRawChunks { labels, chunks });
            }
        }
        Ok(out)
    }

    /// Every series of the block with all its chunks, as [`Block::chunks_for`] gives
    /// them, in label order, read one series at a time as the iterator advances: what
    /// compaction and tombstone cleaning stream into a new block, so that rewriting a
    /// block of any size holds one series' chunks in memory, not the block's.
    pub(crate) fn all_series(&self) -> AllSeries<'_> {
        AllSeries {
            block: self,
            next_id: 0,
            stones: self.tombstones(),
            cache: SymbolCache::default(),
        }
    }

    /// The chunks among `metas` overlapping `[mint, maxt]` as XOR bytes, without what
    /// `deleted` removes.
    fn raw_chunks(
        &self,
        metas: &[ChunkMeta],
        deleted: Option<&Intervals>,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<RawChunk<'_>>> {
        let mut chunks = Vec::new();
        for m in metas.iter().filter(|m| m.min_t <= maxt && m.max_t >= mint) {
            if let Some(d) = deleted.filter(|d| d.overlaps(m.min_t, m.max_t)) {
                chunks.extend(self.chunk_without_deleted(m.chunk_ref, d)?);
                continue;
            }
            let rec = self.chunks.record(m.chunk_ref, self.index.path())?;
            chunks.push(RawChunk {
                min_t: m.min_t,
                max_t: m.max_t,
                data: rec.to_xor()?,
            });
        }
        Ok(chunks)
    }
}

/// The iterator of [`Block::all_series`]. Series left without chunks by tombstones are
/// skipped; after an error it ends.
pub(crate) struct AllSeries<'a> {
    block: &'a Block,
    /// The next series to read; ids follow label order (the writer requires sorted
    /// series), so reading them in turn yields sorted labels.
    next_id: u32,
    /// The block's tombstones when the iteration began.
    stones: Arc<Tombstones>,
    cache: SymbolCache,
}

impl<'a> Iterator for AllSeries<'a> {
    type Item = Result<SeriesRawChunks<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let block = self.block;
        while self.next_id < block.index.num_series() {
            let id = self.next_id;
            self.next_id += 1;
            let read = block
                .index
                .series(id, &mut self.cache)
                .and_then(|(labels, metas)| {
                    let chunks =
                        block.raw_chunks(&metas, self.stones.get(id), i64::MIN, i64::MAX)?;
                    Ok(SeriesRawChunks { labels, chunks })
                });
            match read {
                Ok(s) if s.chunks.is_empty() => continue,
                Ok(s) => return Some(Ok(s)),
                Err(e) => {
                    self.next_id = u32::MAX;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Whether a query of `[mint, maxt]` reads the chunk `m`: it overlaps the range and the
/// series' tombstones do not delete all of it.
fn chunk_wanted(m: &ChunkMeta, mint: i64, maxt: i64, deleted: Option<&Intervals>) -> bool {
    m.min_t <= maxt && m.max_t >= mint && !deleted.is_some_and(|d| d.covers(m.min_t, m.max_t))
}
