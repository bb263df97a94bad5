//! Response compression as Prometheus's `httputil.CompressionHandler` does it: gzip when the
//! client accepts it, else zlib-wrapped deflate. Range-query answers are large and repetitive
//! JSON; Grafana and client_golang always ask for gzip.

use std::cell::RefCell;
use std::io::Write;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use flate2::write::ZlibEncoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Bodies larger than this are compressed on a blocking thread rather than the async one.
const INLINE_LIMIT: usize = 64 << 10;

/// Deflate level 1. Measured with zlib on a 1.4 MB range-query answer (100 series × 600
/// points): level 1 compresses it 3.1× in 13 ms, the default level 6 3.7× in 81 ms, which was more
/// than the query's evaluation at step 1 s. Dashboards on loopback or a LAN gain nothing
/// from the last 15% of size and lose every millisecond spent compressing.
const LEVEL: Compression = Compression::fast();

#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    fn encode(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Gzip => {
                let pieces = pieces_for(data.len());
                if pieces > 1 {
                    return gzip_in_pieces(data, pieces);
                }
                gzip_reused(data)
            }
            Encoding::Deflate => {
                let mut e = ZlibEncoder::new(Vec::new(), LEVEL);
                e.write_all(data)?;
                e.finish()
            }
        }
    }
}

/// Gzip bodies at least this large are compressed in pieces on several threads. A range
/// answer at a 1 s step is megabytes of JSON and compressing it took longer than
/// evaluating the query; below this the threads' start costs more than they save.
const PIECE_MIN: usize = 256 << 10;

/// Deflate's window: a piece starts with the end of the one before as its dictionary, so
/// matches reach back across the cut as they would in one stream.
const WINDOW: usize = 32 << 10;

fn pieces_for(len: usize) -> usize {
    if len < PIECE_MIN {
        return 1;
    }
    // As many pieces as the engine takes threads for a node, each at least half the minimum.
    crate::engine::par::most_threads()
        .min(len / (PIECE_MIN / 2))
        .max(1)
}

/// One gzip member whose deflate stream is `pieces` streams compressed on their own
/// threads and joined, as pigz does: each piece but the last ends with a sync flush (an
/// empty stored block, so the next piece starts on a byte boundary) and each but the
/// first is primed with the 32 KiB before it. Any gzip reader reads it as one stream.
fn gzip_in_pieces(data: &[u8], pieces: usize) -> std::io::Result<Vec<u8>> {
    let size = data.len().div_ceil(pieces);
    let cuts: Vec<usize> = (0..pieces).map(|i| (i * size).min(data.len())).collect();
    let piece = |i: usize| -> std::io::Result<Vec<u8>> {
        let start = cuts[i];
        let end = cuts.get(i + 1).copied().unwrap_or(data.len());
        let dictionary = &data[start.saturating_sub(WINDOW)..start];
        deflate_piece(&data[start..end], dictionary, i + 1 == pieces)
    };
    let (first, rest, crc) = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..pieces).map(|i| scope.spawn(move || piece(i))).collect();
        let first = piece(0);
        let mut crc = Crc::new();
        crc.update(data);
        let rest: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("compression thread panicked")))
            })
            .collect();
        (first, rest, crc)
    });
    // The header flate2's GzEncoder writes at level 1: no name or time, "fastest"
    // compression, operating system unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
    out.extend_from_slice(&first?);
    for p in rest {
        out.extend_from_slice(&p?);
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(out)
}

thread_local! {
    /// This thread's gzip compressor. Making one allocates and zeroes about 200 KiB of
    /// deflate state, which was a tenth of the instructions of a small query's whole request
    /// (a 24 KB answer); resetting one clears only its hash table.
    static GZIP: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// `data` as one gzip member, from this thread's compressor.
fn gzip_reused(data: &[u8]) -> std::io::Result<Vec<u8>> {
    GZIP.with(|cell| {
        // Nothing compresses while compressing, so the cell is never borrowed twice; if it
        // were, a compressor of its own is as correct.
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return deflate_into(&mut Compress::new_gzip(LEVEL, 15), data, true);
        };
        let c = slot.get_or_insert_with(|| Compress::new_gzip(LEVEL, 15));
        c.reset();
        let out = deflate_into(c, data, true);
        if out.is_err() {
            // A compressor that failed midway is not reused.
            *slot = None;
        }
        out
    })
}

/// Raw deflate of `data` after `dictionary`, ending the stream when `last`, else at a
/// byte boundary with the stream left open.
fn deflate_piece(data: &[u8], dictionary: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
    let mut c = Compress::new(LEVEL, false);
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary)?;
    }
    deflate_into(&mut c, data, last)
}

/// Compresses `data` with `c` (fresh or just reset), finishing the stream when `last`, else
/// flushing it to a byte boundary.
fn deflate_into(c: &mut Compress, data: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    // Level 1 shrinks JSON about threefold; the loop grows the buffer if it does not.
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let done = usize::try_from(c.total_in())
            .unwrap_or(data.len())
            .min(data.len());
        let status = c.compress_vec(&data[done..], &mut out, flush)?;
        let consumed = usize::try_from(c.total_in()).is_ok_and(|n| n >= data.len());
        // Deflate is through once it has taken all input and had output space to spare
        // (a full buffer may hold back the flush's last bytes); finishing also says so.
        if status == Status::StreamEnd || (!last && consumed && out.len() < out.capacity()) {
            return Ok(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// The first of `gzip` or `deflate` in the client's list, compared whole as Prometheus does
/// (so `gzip;q=0.5` is not taken).
fn chosen(accept: &str) -> Option<Encoding> {
    accept.split(',').find_map(|e| match e.trim() {
        "gzip" => Some(Encoding::Gzip),
        "deflate" => Some(Encoding::Deflate),
        _ => None,
    })
}

pub(super) async fn compress(req: Request, next: Next) -> Response {
    let encoding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(chosen);
    let resp = next.run(req).await;
    let Some(encoding) = encoding else {
        return resp;
    };
    if resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Handlers build their bodies in memory, so this only moves bytes already held.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let encoded = if bytes.len() > INLINE_LIMIT {
        let raw = bytes.clone();
        tokio::task::spawn_blocking(move || encoding.encode(&raw))
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        encoding.encode(&bytes).ok()
    };
    let h = &mut parts.headers;
    h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    match encoded {
        Some(enc) => {
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.name()),
            );
            h.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(Bytes::from(enc)))
        }
        // Compression into memory cannot really fail; if it did, the plain body is correct.
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    /// JSON-like text of `len` bytes: repetitive, as answers are, with varying digits.
    fn answer_like(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(
                format!("[{},\"{}\"],", 1_700_000_000 + x % 600, x % 99_991).as_bytes(),
            );
        }
        out.truncate(len);
        out
    }

    /// Pieces compressed apart read back as one gzip stream, with a single-member reader,
    /// whatever the cut, and cost little size over one stream.
    #[test]
    fn gzip_in_pieces_reads_back_as_one_stream() {
        use std::io::Read;
        for (len, pieces) in [
            (0, 2),
            (1, 2),
            (5, 4),
            (40_000, 2),
            (300_000, 2),
            (1_000_003, 3),
            (2_000_000, 4),
        ] {
            let data = answer_like(len);
            let gz = match gzip_in_pieces(&data, pieces) {
                Ok(gz) => gz,
                Err(e) => panic!("{len} bytes in {pieces}: {e}"),
            };
            let mut back = Vec::new();
            let read = flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back);
            assert!(read.is_ok(), "{len} bytes in {pieces}: {read:?}");
            assert!(
                back == data,
                "{len} bytes in {pieces} read back differently"
            );
            let mut whole = GzEncoder::new(Vec::new(), LEVEL);
            assert!(whole.write_all(&data).is_ok());
            let whole = whole.finish().unwrap_or_default();
            assert!(
                gz.len() <= whole.len() + whole.len() / 100 + 64,
                "{len} bytes in {pieces}: {} against {} in one stream",
                gz.len(),
                whole.len()
            );
        }
        assert_eq!(pieces_for(PIECE_MIN - 1), 1);
    }

    /// The reused compressor gives a whole gzip stream each time, whatever came before it on
    /// the thread, no larger than a fresh encoder's.
    #[test]
    fn reused_gzip_reads_back_each_time() {
        use std::io::Read;
        for len in [40_000, 0, 1, 24_004, 300, 65_536, 7] {
            let data = answer_like(len);
            let gz = match Encoding::Gzip.encode(&data) {
                Ok(gz) => gz,
                Err(e) => panic!("{len} bytes: {e}"),
            };
            let mut back = Vec::new();
            let read = flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back);
            assert!(read.is_ok(), "{len} bytes: {read:?}");
            assert!(back == data, "{len} bytes read back differently");
            let mut fresh = GzEncoder::new(Vec::new(), LEVEL);
            assert!(fresh.write_all(&data).is_ok());
            let fresh = fresh.finish().unwrap_or_default();
            assert!(
                gz.len() <= fresh.len(),
                "{len} bytes: {} against {} fresh",
                gz.len(),
                fresh.len()
            );
        }
    }

    #[test]
    fn picks_the_encoding_prometheus_picks() {
        assert_eq!(chosen("gzip, deflate, br"), Some(Encoding::Gzip));
        assert_eq!(chosen("br, deflate, gzip"), Some(Encoding::Deflate));
        assert_eq!(chosen("gzip;q=0.5"), None);
        assert_eq!(chosen("br"), None);
        assert_eq!(chosen(""), None);
    }
}
