//! The decode ceiling: how fast one core turns the benchmark's own bodies into samples
//! (snappy + protobuf + validation, `tianshu_ingest::decode_write_request`) with nothing
//! else running. No receiver can ingest faster per core than it decodes.

use std::time::{Duration, Instant};

use tianshu_ingest::{decode_write_request, IngestConfig};

use crate::encode::ConnectionPayload;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Ceiling {
    pub samples_per_sec: f64,
    pub bytes_per_sec: f64,
    pub passes: u32,
}

/// Decodes every body, repeating whole passes until at least `min_time` has passed.
pub fn measure(payloads: &[ConnectionPayload], min_time: Duration) -> Result<Ceiling, String> {
    let cfg = IngestConfig::default();
    let bodies: Vec<&Vec<u8>> = payloads.iter().flat_map(|p| &p.bodies).collect();
    let t0 = Instant::now();
    let (mut samples, mut bytes, mut passes) = (0u64, 0u64, 0u32);
    while passes == 0 || t0.elapsed() < min_time {
        for body in &bodies {
            let d = decode_write_request(body, &cfg).map_err(|e| format!("decode: {e}"))?;
            samples += d.samples_received;
            bytes += body.len() as u64;
            // Keep the decoded form alive until here so its construction is not optimized
            // away, then drop it as a receiver would after appending.
            std::hint::black_box(&d);
        }
        passes += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(Ceiling {
        samples_per_sec: samples as f64 / secs,
        bytes_per_sec: bytes as f64 / secs,
        passes,
    })
}
