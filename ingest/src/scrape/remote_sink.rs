//! The scraper's sink when it runs apart from the store (`tianshu scrape`): each scrape
//! becomes one remote-write request in the disk-backed queue, which delivers it to the
//! ingest URL. A scrape counts as stored once it is queued on disk: the queue, not the
//! scrape loop, owns retries.

use std::collections::BTreeMap;
use std::sync::RwLock;

use tianshu_tsdb::{AppendReport, MetricMetadata, SeriesRef};

use super::sink::Sink;
use crate::proto::{self, MetricType, WriteRequest};
use crate::remote_queue::RemoteWriteQueue;

pub struct RemoteWriteSink {
    queue: RemoteWriteQueue,
    /// The configuration's external labels, sorted by name: added to every series sent
    /// that lacks a label of that name, as Prometheus's remote write does.
    external: RwLock<Vec<(String, String)>>,
}

impl RemoteWriteSink {
    pub fn new(queue: RemoteWriteQueue) -> Self {
        RemoteWriteSink {
            queue,
            external: RwLock::new(Vec::new()),
        }
    }

    pub fn queue(&self) -> &RemoteWriteQueue {
        &self.queue
    }
}

impl Sink for RemoteWriteSink {
    fn append(&self, batch: &[SeriesRef<'_>]) -> Result<AppendReport, String> {
        let req = {
            let external = self.external.read().unwrap_or_else(|p| p.into_inner());
            write_request(batch, &external)
        };
        self.queue.push(&req).map_err(|e| e.to_string())?;
        Ok(AppendReport {
            appended: batch.iter().map(|s| s.samples.len() as u64).sum(),
            ..AppendReport::default()
        })
    }

    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<(), String> {
        if md.is_empty() {
            return Ok(());
        }
        let req = WriteRequest {
            metadata: md.into_iter().map(metadata).collect(),
            ..WriteRequest::default()
        };
        self.queue.push(&req).map_err(|e| e.to_string())
    }

    fn set_external_labels(&self, labels: &BTreeMap<String, String>) {
        let sorted = labels.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        *self.external.write().unwrap_or_else(|p| p.into_inner()) = sorted;
    }
}

fn write_request(batch: &[SeriesRef<'_>], external: &[(String, String)]) -> WriteRequest {
    WriteRequest {
        timeseries: batch
            .iter()
            .filter(|s| !s.samples.is_empty())
            .map(|s| proto::TimeSeries {
                labels: with_external(s.labels.iter(), external),
                samples: s
                    .samples
                    .iter()
                    .map(|x| proto::Sample {
                        value: x.v,
                        timestamp: x.t,
                    })
                    .collect(),
                ..proto::TimeSeries::default()
            })
            .collect(),
        ..WriteRequest::default()
    }
}

/// `labels` (sorted by name) with the `external` labels (sorted by name) they lack, in
/// name order: a label of the series wins over an external one of the same name.
fn with_external<'a>(
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    external: &[(String, String)],
) -> Vec<proto::Label> {
    let mut out = Vec::with_capacity(external.len() + 8);
    let mut ext = external.iter().peekable();
    for (n, v) in labels {
        while let Some((en, ev)) = ext.next_if(|(en, _)| en.as_str() <= n) {
            if en != n {
                out.push(proto::Label::new(en, ev));
            }
        }
        out.push(proto::Label::new(n, v));
    }
    out.extend(ext.map(|(n, v)| proto::Label::new(n, v)));
    out
}

fn metadata(m: MetricMetadata) -> proto::MetricMetadata {
    proto::MetricMetadata {
        r#type: MetricType::from_name(&m.kind) as i32,
        metric_family_name: m.metric_family,
        help: m.help,
        unit: m.unit,
    }
}

#[cfg(test)]
mod tests {
    use tianshu_tsdb::{Labels, Sample, SeriesSamples};

    use super::super::sink::borrow_all;
    use super::*;

    #[test]
    fn a_scrape_becomes_one_request_with_its_series_and_samples() {
        let batch = vec![
            SeriesSamples {
                labels: Labels::from_pairs([("__name__", "up"), ("job", "node")]),
                samples: vec![Sample::new(1000, 1.0)],
            },
            SeriesSamples {
                labels: Labels::from_pairs([("__name__", "empty")]),
                samples: vec![],
            },
        ];
        let mut flats = Vec::new();
        let req = write_request(&borrow_all(&batch, &mut flats), &[]);
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        let labels: Vec<(&str, &str)> = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(labels, [("__name__", "up"), ("job", "node")]);
        assert_eq!((ts.samples[0].timestamp, ts.samples[0].value), (1000, 1.0));
    }

    #[test]
    fn external_labels_are_merged_in_order_and_the_series_own_win() {
        let names = |labels: Vec<proto::Label>| -> Vec<(String, String)> {
            labels.into_iter().map(|l| (l.name, l.value)).collect()
        };
        let ext = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let own = [("__name__", "up"), ("job", "node"), ("region", "own")];
        let got = names(with_external(
            own.iter().copied(),
            &ext(&[("a", "1"), ("job", "ext"), ("region", "eu"), ("zone", "z")]),
        ));
        let want = ext(&[
            ("__name__", "up"),
            ("a", "1"),
            ("job", "node"),
            ("region", "own"),
            ("zone", "z"),
        ]);
        assert_eq!(got, want);
        // Before every label, after every label, and none at all.
        assert_eq!(
            names(with_external(own.iter().copied(), &ext(&[("A", "1")])))[0],
            ("A".to_string(), "1".to_string())
        );
        assert_eq!(names(with_external(own.iter().copied(), &[])), ext(&own));
    }

    #[test]
    fn metadata_types_map_to_the_protocol_enum() {
        let m = metadata(MetricMetadata {
            metric_family: "http_requests".into(),
            kind: "counter".into(),
            help: "Requests.".into(),
            unit: String::new(),
        });
        assert_eq!(m.r#type, MetricType::Counter as i32);
        assert_eq!(m.metric_family_name, "http_requests");
        let unknown = metadata(MetricMetadata {
            metric_family: "x".into(),
            kind: "whatever".into(),
            help: String::new(),
            unit: String::new(),
        });
        assert_eq!(unknown.r#type, MetricType::Unknown as i32);
    }
}
