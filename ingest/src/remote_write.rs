//! Remote-write 1.0 request body → validated series, independent of HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use tianshu_tsdb::{Label, Labels, MetricMetadata, Sample, SeriesSamples};

use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::proto::{self, MetricType};
use crate::series_fmt::series_string;
use crate::validate::{validate_series, SeriesProblem};
use crate::wire::{TimeSeriesView, WriteRequestView};

/// A decoded and validated request, ready for [`tianshu_tsdb::Db::append`].
#[derive(Debug, Default)]
pub struct DecodedWrite {
    /// The valid series that carry float samples, labels sorted.
    pub series: Vec<SeriesSamples>,
    pub metadata: Vec<MetricMetadata>,
    /// Float samples in the request, valid series or not.
    pub samples_received: u64,
    pub invalid_series: u64,
    /// Float samples of the invalid series, which are not appended.
    pub invalid_samples: u64,
    /// Invalid series by [`SeriesProblem::reason`].
    pub invalid_by_reason: HashMap<&'static str, u64>,
    /// The first invalid series, for the error message.
    pub first_invalid: Option<InvalidSeries>,
    /// Exemplars are not stored yet: counted and dropped.
    pub exemplars: u64,
    /// Native histogram samples are not stored yet: counted and dropped.
    pub histograms: u64,
}

/// A series that failed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSeries {
    /// The series in Prometheus's `labels.String()` notation, shortened.
    pub series: String,
    pub problem: SeriesProblem,
}

/// Decompresses (snappy block format), decodes and validates one remote-write 1.0 body.
///
/// Errors are for the request as a whole (size, compression, protobuf, UTF-8); invalid
/// series are skipped and reported in [`DecodedWrite`] so that the rest can be stored.
pub fn decode_write_request(body: &[u8], cfg: &IngestConfig) -> Result<DecodedWrite, IngestError> {
    let raw = decompress(body, cfg.max_decompressed_bytes)?;
    let req = WriteRequestView::decode(raw)?;
    let mut out = DecodedWrite {
        series: Vec::with_capacity(req.timeseries.len()),
        ..DecodedWrite::default()
    };
    let mut strings = Interner::default();
    let mut scratch: Vec<(&str, &str)> = Vec::new();
    for ts in &req.timeseries {
        out.samples_received += ts.samples.len() as u64;
        out.exemplars += ts.exemplars.len() as u64;
        out.histograms += ts.histograms.len() as u64;
        collect_labels(ts, &mut scratch)?;
        if let Err(problem) = validate_series(&scratch, cfg) {
            out.invalid_series += 1;
            out.invalid_samples += ts.samples.len() as u64;
            *out.invalid_by_reason.entry(problem.reason()).or_default() += 1;
            if out.first_invalid.is_none() {
                out.first_invalid = Some(InvalidSeries {
                    series: series_string(scratch.iter().copied()),
                    problem,
                });
            }
            continue;
        }
        // A series with only histograms or exemplars has nothing to store yet.
        if ts.samples.is_empty() {
            continue;
        }
        let labels = scratch
            .iter()
            .map(|&(n, v)| Label {
                name: strings.intern(n),
                value: strings.intern(v),
            })
            .collect();
        out.series.push(SeriesSamples {
            labels: Labels::from_sorted_unchecked(labels),
            samples: ts
                .samples
                .iter()
                .map(|s| Sample::new(s.timestamp, s.value))
                .collect(),
        });
    }
    out.metadata = req
        .metadata
        .into_iter()
        .filter_map(convert_metadata)
        .collect();
    Ok(out)
}

/// Refuses an oversized body from the length snappy announces, before allocating for it.
fn decompress(body: &[u8], limit: usize) -> Result<Bytes, IngestError> {
    let size = match snap::raw::decompress_len(body) {
        Ok(n) => n as u64,
        Err(snap::Error::TooBig { given, .. }) => given,
        Err(e) => return Err(e.into()),
    };
    if size > limit as u64 {
        return Err(IngestError::DecompressedTooLarge { size, limit });
    }
    Ok(Bytes::from(snap::raw::Decoder::new().decompress_vec(body)?))
}

/// Fills `out` with the series' labels as strings, sorted by name, empty values dropped.
fn collect_labels<'a>(
    ts: &'a TimeSeriesView,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), IngestError> {
    out.clear();
    for l in &ts.labels {
        let name =
            std::str::from_utf8(&l.name).map_err(|_| IngestError::InvalidUtf8("Label.name"))?;
        let value =
            std::str::from_utf8(&l.value).map_err(|_| IngestError::InvalidUtf8("Label.value"))?;
        // Prometheus treats an empty value as an absent label.
        if !value.is_empty() {
            out.push((name, value));
        }
    }
    // Senders usually sort already; the stable sort is linear on sorted input.
    out.sort_by(|a, b| a.0.cmp(b.0));
    Ok(())
}

fn convert_metadata(md: proto::MetricMetadata) -> Option<MetricMetadata> {
    if md.metric_family_name.is_empty() {
        return None;
    }
    let kind = MetricType::try_from(md.r#type).unwrap_or(MetricType::Unknown);
    Some(MetricMetadata {
        metric_family: md.metric_family_name,
        kind: kind.as_str().to_owned(),
        help: md.help,
        unit: md.unit,
    })
}

/// Shares one allocation per distinct string within a request: names such as `job` and
/// values such as `job="node"` repeat across most series of a batch.
#[derive(Default)]
struct Interner<'a> {
    map: HashMap<&'a str, Arc<str>>,
}

impl<'a> Interner<'a> {
    fn intern(&mut self, s: &'a str) -> Arc<str> {
        self.map.entry(s).or_insert_with(|| Arc::from(s)).clone()
    }
}
