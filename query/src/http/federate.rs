//! `GET /federate`: the latest sample of every series matching any `match[]` selector, in
//! the Prometheus text exposition format 0.0.4, as Prometheus's federation handler writes
//! it. Another Prometheus scrapes this to pull aggregated series from Tianshu.
//!
//! What Prometheus does and Tianshu repeats: a series' sample is its newest one within the
//! lookback delta before now; a series whose newest sample is a stale marker is left out
//! (the format cannot carry one); families are sorted by metric name, each announced by a
//! `# TYPE <name> untyped` line; labels follow in sorted order without `__name__`, and an
//! `instance=""` label is appended to series without one (Prometheus always treats
//! `instance` as an external label); nameless series are skipped. No `match[]` at all is an
//! empty answer, not an error. Answers are always text: no client asks for protobuf unless
//! it federates native histograms, which Tianshu does not store.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

use axum::extract::State as AxumState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tianshu_tsdb::{is_stale_nan, Labels, Sample, METRIC_NAME};

use super::params::{now_ms, parse_metric_selectors, parse_prometheus_duration, Params};
use super::remote_read::text_error;
use super::{blocking, State};
use crate::error::QueryError;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus's default `--query.lookback-delta`, used when the flag map lacks it.
const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

pub(super) async fn federate(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = federate_inner(&st, &p).await;
    let error_type = res.as_ref().err().map(QueryError::error_type);
    st.metrics
        .observe("federate", started.elapsed(), error_type);
    match res {
        Ok(text) => {
            let mut resp = text.into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            resp
        }
        Err(e) => text_error(&e),
    }
}

async fn federate_inner(st: &State, p: &Params) -> Result<String, QueryError> {
    let sets = parse_metric_selectors(&p.all("match[]")).map_err(QueryError::BadData)?;
    let lookback = st
        .flags
        .get("query.lookback-delta")
        .and_then(|d| parse_prometheus_duration(d))
        .map(|ns| ns / 1_000_000)
        .filter(|&ms| ms > 0)
        .unwrap_or(DEFAULT_LOOKBACK_MS);
    let maxt = now_ms();
    let mint = maxt.saturating_sub(lookback);
    let db = st.db.clone();
    blocking(move || {
        // Several selectors may match one series: keep it once, sorted by labels.
        let mut latest: BTreeMap<Labels, Sample> = BTreeMap::new();
        for set in &sets {
            for s in db.try_select(set, mint, maxt)? {
                if let Some(&last) = s.samples.last() {
                    latest.insert(s.labels, last);
                }
            }
        }
        let mut vec: Vec<(Labels, Sample)> = latest
            .into_iter()
            .filter(|(_, s)| !is_stale_nan(s.v))
            .collect();
        // Stable, so series of one name stay in label order.
        vec.sort_by(|a, b| a.0.metric_name().cmp(&b.0.metric_name()));
        Ok(write_text(&vec))
    })
    .await
}

/// The series in text format 0.0.4, one family per run of equal metric names.
pub(crate) fn write_text(series: &[(Labels, Sample)]) -> String {
    let mut out = String::new();
    let mut family: Option<&str> = None;
    for (labels, s) in series {
        let Some(name) = labels.metric_name().filter(|n| !n.is_empty()) else {
            tracing::warn!(series = %labels, "ignoring nameless series during federation");
            continue;
        };
        if family != Some(name) {
            let _ = writeln!(out, "# TYPE {name} untyped");
            family = Some(name);
        }
        out.push_str(name);
        out.push('{');
        let mut first = true;
        let mut has_instance = false;
        for l in labels.iter() {
            if &*l.name == METRIC_NAME || l.value.is_empty() {
                continue;
            }
            has_instance |= &*l.name == "instance";
            push_label(&mut out, &mut first, &l.name, &l.value);
        }
        if !has_instance {
            push_label(&mut out, &mut first, "instance", "");
        }
        out.push_str("} ");
        push_value(&mut out, s.v);
        let _ = writeln!(out, " {}", s.t);
    }
    out
}

fn push_label(out: &mut String, first: &mut bool, name: &str, value: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A sample value as expfmt writes it: Go's `strconv.FormatFloat(v, 'g', -1, 64)` (shortest
/// digits; exponent form when the decimal exponent is below -4 or at least 6, e.g.
/// `1e+06`, `5.8138e-05`), with `+Inf`, `-Inf`, `NaN`, and zero of either sign as `0`.
pub(crate) fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push('0');
    } else {
        // Rust's `{:e}` has Go's shortest digits; its exponent decides between the forms.
        let sci = format!("{v:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if (-4..6).contains(&exp) {
            let _ = write!(out, "{v}");
        } else {
            out.push_str(mantissa);
            out.push('e');
            out.push(if exp < 0 { '-' } else { '+' });
            let _ = write!(out, "{:02}", exp.unsigned_abs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut s = String::new();
        push_value(&mut s, v);
        s
    }

    #[test]
    fn values_format_as_go_g_shortest() {
        // Texts seen in a real Prometheus 2.42 federation answer, and the edges.
        assert_eq!(value(8.292232e6), "8.292232e+06");
        assert_eq!(value(1.79532361634e9), "1.79532361634e+09");
        assert_eq!(value(1.8446744073709552e19), "1.8446744073709552e+19");
        assert_eq!(value(5.8138e-5), "5.8138e-05");
        assert_eq!(value(0.000287015), "0.000287015");
        assert_eq!(value(20000.0), "20000");
        assert_eq!(value(123456.0), "123456");
        assert_eq!(value(1e6), "1e+06");
        assert_eq!(value(-2.5), "-2.5");
        assert_eq!(value(1e-300), "1e-300");
        assert_eq!(value(-0.0), "0");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn text_groups_by_name_and_appends_an_empty_instance() {
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
        let text = write_text(&[
            (
                l(&[("__name__", "a"), ("job", "x\\\"q\n")]),
                Sample::new(5, 1.0),
            ),
            (
                l(&[("__name__", "a"), ("instance", "i"), ("job", "y")]),
                Sample::new(6, 2.0),
            ),
            (l(&[("job", "nameless")]), Sample::new(7, 3.0)),
            (l(&[("__name__", "b"), ("zone", "z")]), Sample::new(8, 1e9)),
        ]);
        assert_eq!(
            text,
            "# TYPE a untyped\n\
             a{job=\"x\\\\\\\"q\\n\",instance=\"\"} 1 5\n\
             a{instance=\"i\",job=\"y\"} 2 6\n\
             # TYPE b untyped\n\
             b{zone=\"z\",instance=\"\"} 1e+09 8\n"
        );
    }
}
