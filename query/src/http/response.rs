//! JSON output in the exact text Prometheus produces, and the response envelope.
//!
//! Written by hand rather than through serde: clients and golden tests compare bytes, and
//! Prometheus's encoding has quirks (sample values as strings with Go's float formatting,
//! timestamps as seconds with exactly three fraction digits, HTML-escaped strings) that a
//! generic serializer would need as many special cases to reproduce.

use std::fmt::Write;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tianshu_tsdb::Labels;

use crate::error::QueryError;

/// A JSON document being written.
#[derive(Default)]
pub(crate) struct Json {
    buf: String,
}

impl Json {
    pub(crate) fn new() -> Self {
        Json::default()
    }

    pub(crate) fn into_string(self) -> String {
        self.buf
    }

    /// Formats straight into the buffer; writing to a `String` cannot fail.
    fn write(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = self.buf.write_fmt(args);
    }

    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// A string, escaped as Go's `encoding/json` does (including `<`, `>`, `&`, U+2028 and
    /// U+2029), so that label values come out byte-identical to Prometheus.
    pub(crate) fn string(&mut self, s: &str) -> &mut Self {
        self.buf.push('"');
        for c in s.chars() {
            match c {
                '"' => self.buf.push_str("\\\""),
                '\\' => self.buf.push_str("\\\\"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                '\t' => self.buf.push_str("\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    self.write(format_args!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => self.write(format_args!("\\u{:04x}", c as u32)),
                c => self.buf.push(c),
            }
        }
        self.buf.push('"');
        self
    }

    /// An object key followed by its colon.
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.string(k);
        self.buf.push(':');
        self
    }

    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub(crate) fn int(&mut self, i: i64) -> &mut Self {
        self.write(format_args!("{i}"));
        self
    }

    /// A millisecond timestamp as JSON seconds.
    pub(crate) fn timestamp(&mut self, t_ms: i64) -> &mut Self {
        push_timestamp(&mut self.buf, t_ms);
        self
    }

    /// A sample value as a quoted string.
    pub(crate) fn sample_value(&mut self, v: f64) -> &mut Self {
        self.buf.push('"');
        push_float(&mut self.buf, v);
        self.buf.push('"');
        self
    }

    /// A millisecond timestamp as Go's `encoding/json` writes `float64(t)/1000`: shortest
    /// digits, no padding (`1435781451.78`).
    pub(crate) fn float_seconds(&mut self, t_ms: i64) -> &mut Self {
        // Milliseconds as f64 are exact up to 2^53 and the quotient is then the closest
        // double, so shortest-digit printing matches Go's.
        self.write(format_args!("{}", t_ms as f64 / 1000.0));
        self
    }

    /// A scalar result's value: Go's `FormatFloat(v, 'f', -1, 64)` without the exponent
    /// switch of sample values, as `promql.Scalar` marshals itself.
    pub(crate) fn scalar_value(&mut self, v: f64) -> &mut Self {
        self.buf.push('"');
        if v.is_nan() {
            self.buf.push_str("NaN");
        } else if v.is_infinite() {
            self.buf.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            self.write(format_args!("{v}"));
        }
        self.buf.push('"');
        self
    }

    /// A `[t,"v"]` pair.
    pub(crate) fn point(&mut self, t_ms: i64, v: f64) -> &mut Self {
        self.buf.push('[');
        self.timestamp(t_ms);
        self.buf.push(',');
        self.sample_value(v);
        self.buf.push(']');
        self
    }

    /// Labels as an object; `Labels` keeps them sorted by name, the order Prometheus prints.
    pub(crate) fn labels(&mut self, labels: &Labels) -> &mut Self {
        self.buf.push('{');
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.key(&l.name);
            self.string(&l.value);
        }
        self.buf.push('}');
        self
    }

    pub(crate) fn string_array<S: AsRef<str>>(&mut self, items: &[S]) -> &mut Self {
        self.buf.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.string(s.as_ref());
        }
        self.buf.push(']');
        self
    }

    /// An object of string values, in the map's order.
    pub(crate) fn string_map<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        self.buf.push('{');
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.key(k);
            self.string(v);
        }
        self.buf.push('}');
        self
    }
}

/// Writes seconds with exactly three fraction digits when there is a fraction and none
/// otherwise, as Prometheus's `jsonutil.MarshalTimestamp` does (`1435781451.780`, not `.78`).
fn push_timestamp(buf: &mut String, t_ms: i64) {
    if t_ms < 0 {
        buf.push('-');
    }
    let abs = t_ms.unsigned_abs();
    push_u64(buf, abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        buf.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            buf.push(char::from(b'0' + d as u8));
        }
    }
}

/// Decimal digits of `n`. A range answer writes two or three numbers per point, and
/// `write!` through `core::fmt` cost more than the digits.
fn push_u64(buf: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits: always UTF-8, and one copy instead of a push per digit.
    if let Ok(s) = std::str::from_utf8(&digits[i..]) {
        buf.push_str(s);
    }
}

/// Integral values below 2^53 in magnitude, which print as their integer digits (every
/// such integer is a double, so its shortest round-trip digits are all of its digits).
/// Counts, byte sizes and most sums are integral.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, switching to `'e'` below 1e-6 and from 1e21 up
/// as Prometheus's `jsonutil.MarshalFloat` does.
#[cfg(test)]
pub(crate) fn format_float(v: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

fn push_float(buf: &mut String, v: f64) {
    if v.is_nan() {
        buf.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        buf.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let abs = v.abs();
    if abs < EXACT_INTEGER && abs.fract() == 0.0 && !(v == 0.0 && v.is_sign_negative()) {
        if v < 0.0 {
            buf.push('-');
        }
        push_u64(buf, abs as u64);
        return;
    }
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the same shortest digits as Go but writes the exponent as
        // `e21`/`e-7`; Go always signs it and pads it to two digits.
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                buf.push_str(mantissa);
                buf.push('e');
                buf.push(sign);
                if digits.len() < 2 {
                    buf.push('0');
                }
                buf.push_str(digits);
            }
            None => buf.push_str(&s),
        }
    } else {
        // Rust's `Display` for f64 is the shortest round-trip digits without an exponent,
        // which is what Go's 'f' with precision -1 prints (including "-0").
        let _ = write!(buf, "{v}");
    }
}

/// What a successful endpoint returns: the `data` JSON text and the annotations.
#[derive(Debug, Default)]
pub(crate) struct Success {
    /// `None` answers 204 No Content, as Prometheus does when there is nothing to say.
    pub data: Option<String>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Success {
    pub(crate) fn data(data: String) -> Self {
        Success {
            data: Some(data),
            ..Success::default()
        }
    }
}

pub(crate) type ApiResult = Result<Success, QueryError>;

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The `{"status":"success","data":...}` envelope, with `warnings` and `infos` only when
/// there are some.
pub(crate) fn success_response(s: Success) -> Response {
    let Some(data) = s.data else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut j = Json::new();
    j.raw("{\"status\":\"success\",\"data\":").raw(&data);
    if !s.warnings.is_empty() {
        j.raw(",").key("warnings").string_array(&s.warnings);
    }
    if !s.infos.is_empty() {
        j.raw(",").key("infos").string_array(&s.infos);
    }
    j.raw("}");
    json_response(StatusCode::OK, j.into_string())
}

pub(crate) fn error_response(e: &QueryError) -> Response {
    let mut j = Json::new();
    j.raw("{\"status\":\"error\",")
        .key("errorType")
        .string(e.error_type())
        .raw(",")
        .key("error")
        .string(&e.to_string())
        .raw("}");
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, j.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_as_prometheus_does() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.5, "1.5"),
            (2.0, "2"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-1e21, "-1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-07"),
            (5e-324, "5e-324"),
            (123456789.125, "123456789.125"),
            (3.0, "3"),
            (-42.0, "-42"),
            (1e15, "1000000000000000"),
            (9007199254740991.0, "9007199254740991"),
            (-9007199254740992.0, "-9007199254740992"),
            (18446744073709551616.0, "18446744073709552000"),
            (0.5, "0.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(*v), *want, "formatting {v:?}");
        }
    }

    /// The integer fast path prints what `Display` prints, which the general path uses.
    #[test]
    fn integral_values_format_as_display_does() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for k in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x >> (k % 64)) as f64;
            for v in [n, -n, k as f64, (k as f64) * 1e6, n.trunc() + 0.5] {
                assert_eq!(format_float(v), format!("{v}"), "{v:?}");
            }
        }
        let mut j = Json::new();
        j.timestamp(1_000)
            .raw(" ")
            .timestamp(-7)
            .raw(" ")
            .timestamp(10_010);
        assert_eq!(j.into_string(), "1 -0.007 10.010");
    }

    #[test]
    fn scalar_parts_format_as_go_json() {
        let mut j = Json::new();
        j.float_seconds(1_435_781_451_780)
            .raw(" ")
            .float_seconds(5_000)
            .raw(" ")
            .float_seconds(-1)
            .raw(" ")
            .scalar_value(1e21)
            .raw(" ")
            .scalar_value(1e-7)
            .raw(" ")
            .scalar_value(-0.0)
            .raw(" ")
            .scalar_value(f64::INFINITY);
        assert_eq!(
            j.into_string(),
            r#"1435781451.78 5 -0.001 "1000000000000000000000" "0.0000001" "-0" "+Inf""#
        );
    }

    #[test]
    fn timestamps_keep_three_fraction_digits() {
        let mut j = Json::new();
        j.timestamp(1435781451781)
            .raw(" ")
            .timestamp(1435781451780)
            .raw(" ")
            .timestamp(1435781451000)
            .raw(" ")
            .timestamp(5)
            .raw(" ")
            .timestamp(-1500)
            .raw(" ")
            .timestamp(i64::MIN);
        assert_eq!(
            j.into_string(),
            "1435781451.781 1435781451.780 1435781451 0.005 -1.500 -9223372036854775.808"
        );
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut j = Json::new();
        j.string("a\"b\\c\n<&>\u{1}\u{2028}é");
        assert_eq!(
            j.into_string(),
            r#""a\"b\\c\n\u003c\u0026\u003e\u0001\u2028é""#
        );
    }
}
