//! Request header checks, in the order and wording of Prometheus's write handler.

use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;

use crate::error::IngestError;

const PROTOBUF: &str = "application/x-protobuf";
const PROTO_V1: &str = "prometheus.WriteRequest";
const PROTO_V2: &str = "io.prometheus.write.v2.Request";

/// Accepts `application/x-protobuf` with no `proto` parameter or with the 1.0 message;
/// an absent header is taken as 1.0, as Prometheus does for older senders.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = value
        .to_str()
        .map_err(|_| IngestError::UnsupportedContentType("content-type is not ASCII".into()))?
        .trim();
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case(PROTOBUF) {
        return Err(IngestError::UnsupportedContentType(format!(
            "expected {PROTOBUF} as the first (media) part, got {ct} content-type"
        )));
    }
    for param in parts {
        let Some((key, val)) = param.split_once('=') else {
            return Err(IngestError::UnsupportedContentType(format!(
                "as per https://www.rfc-editor.org/rfc/rfc9110#parameter expected parameters \
                 to be key-values, got {param} in {ct} content-type"
            )));
        };
        if !key.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        return match val.trim() {
            PROTO_V1 => Ok(()),
            PROTO_V2 => Err(IngestError::UnsupportedProtoMessage(PROTO_V2.into())),
            other => Err(IngestError::UnsupportedContentType(format!(
                "got {ct} content type; unknown remote write protobuf message {other}, \
                 supported: {PROTO_V1}, {PROTO_V2}"
            ))),
        };
    }
    Ok(())
}

/// Accepts `snappy`, or no Content-Encoding at all (taken as snappy, as Prometheus does).
pub(crate) fn check_content_encoding(headers: &HeaderMap) -> Result<(), IngestError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(());
    };
    let enc = String::from_utf8_lossy(value.as_bytes());
    let enc = enc.trim();
    if enc.is_empty() || enc.eq_ignore_ascii_case("snappy") {
        Ok(())
    } else {
        Err(IngestError::UnsupportedEncoding(enc.to_owned()))
    }
}

/// The announced body length; `None` when absent or unreadable (hyper has already refused
/// malformed values, and the length is enforced again while reading).
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_type_rules() {
        assert!(check_content_type(&headers(&[])).is_ok());
        assert!(
            check_content_type(&headers(&[("content-type", "application/x-protobuf")])).is_ok()
        );
        assert!(check_content_type(&headers(&[(
            "content-type",
            "application/x-protobuf;proto=prometheus.WriteRequest"
        )]))
        .is_ok());
        let v2 = check_content_type(&headers(&[(
            "content-type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        )]))
        .unwrap_err();
        assert_eq!(v2.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(v2.to_string().contains("remote-write 2.0 is not supported"));
        for bad in [
            "application/json",
            "application/x-protobuf;proto",
            "application/x-protobuf;proto=foo.Bar",
        ] {
            let e = check_content_type(&headers(&[("content-type", bad)])).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
    }

    #[test]
    fn content_encoding_rules() {
        assert!(check_content_encoding(&headers(&[])).is_ok());
        assert!(check_content_encoding(&headers(&[("content-encoding", "snappy")])).is_ok());
        let e = check_content_encoding(&headers(&[("content-encoding", "gzip")])).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn content_length_is_parsed() {
        assert_eq!(
            content_length(&headers(&[("content-length", "42")])),
            Some(42)
        );
        assert_eq!(content_length(&headers(&[])), None);
    }
}
