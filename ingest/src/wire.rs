//! Zero-copy decoding view of a `prometheus.WriteRequest`.
//!
//! Same field numbers as [`crate::proto`], but label strings are declared `bytes` so that
//! decoding from a [`Bytes`] buffer slices it instead of allocating a `String` per label:
//! labels are most of a remote-write request. `string` and `bytes` share one wire type;
//! the UTF-8 check that `string` implies is done by the caller
//! ([`crate::remote_write`]), which rejects the request as prost would.

use bytes::Bytes;

use crate::proto;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequestView {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeriesView>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<proto::MetricMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeriesView {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelView>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<proto::Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<proto::Exemplar>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<proto::Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LabelView {
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn view_decodes_what_the_public_messages_encode() {
        let req = proto::WriteRequest {
            timeseries: vec![proto::TimeSeries {
                labels: vec![
                    proto::Label::new("__name__", "up"),
                    proto::Label::new("job", "node"),
                ],
                samples: vec![proto::Sample {
                    value: 1.5,
                    timestamp: 1000,
                }],
                exemplars: vec![proto::Exemplar::default()],
                histograms: vec![proto::Histogram::default(), proto::Histogram::default()],
            }],
            metadata: vec![proto::MetricMetadata {
                r#type: proto::MetricType::Gauge as i32,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        };
        let buf = Bytes::from(req.encode_to_vec());
        let view = WriteRequestView::decode(buf).unwrap();
        let ts = &view.timeseries[0];
        assert_eq!(&ts.labels[0].name[..], b"__name__");
        assert_eq!(&ts.labels[1].value[..], b"node");
        assert_eq!(ts.samples, req.timeseries[0].samples);
        assert_eq!(ts.exemplars.len(), 1);
        assert_eq!(ts.histograms.len(), 2);
        assert_eq!(view.metadata, req.metadata);
    }
}
