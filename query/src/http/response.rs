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

/// Bytes that [`Json::string`] looks at: the ones it escapes and 0xE2, the lead byte of
/// U+2028 and U+2029.
const MAY_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

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
        // Runs of bytes that need no escape are copied whole: every byte that does is ASCII
        // or the lead byte of U+2028/U+2029, so each cut falls on a character boundary.
        let bytes = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Most label text needs no escape: skip it a table lookup a byte.
            while i < bytes.len() && !MAY_ESCAPE[usize::from(bytes[i])] {
                i += 1;
            }
            let Some(&b) = bytes.get(i) else { break };
            let (escape, len): (&str, usize) = match b {
                b'"' => ("\\\"", 1),
                b'\\' => ("\\\\", 1),
                b'\n' => ("\\n", 1),
                b'\r' => ("\\r", 1),
                b'\t' => ("\\t", 1),
                b'<' => ("\\u003c", 1),
                b'>' => ("\\u003e", 1),
                b'&' => ("\\u0026", 1),
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA8) => {
                    ("\\u2028", 3)
                }
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA9) => {
                    ("\\u2029", 3)
                }
                b if b < 0x20 => ("", 1),
                _ => {
                    i += 1;
                    continue;
                }
            };
            self.buf.push_str(&s[run..i]);
            if escape.is_empty() {
                self.write(format_args!("\\u{:04x}", b));
            } else {
                self.buf.push_str(escape);
            }
            i += len;
            run = i;
        }
        self.buf.push_str(&s[run..]);
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
        self.buf.push_str(itoa::Buffer::new().format(i));
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
        // double, so shortest-digit printing matches Go's. Seconds from i64 milliseconds
        // lie below 1e16 and are 0 or at least 0.001, where Go writes no exponent.
        push_shortest(&mut self.buf, t_ms as f64 / 1000.0, false);
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
            push_shortest(&mut self.buf, v, false);
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

/// Decimal digits of `n`. A range answer writes two or three numbers per point: `itoa`
/// writes two digits a step and hands back a `str` without a UTF-8 check, where `write!`
/// through `core::fmt`, or a digit at a time and a check, cost more than the digits.
fn push_u64(buf: &mut String, n: u64) {
    buf.push_str(itoa::Buffer::new().format(n));
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
    push_shortest(buf, v, true);
}

/// Finite `v` in Go's `strconv.FormatFloat(v, 'f', -1, 64)`, or with `exponent` in `'e'`
/// below 1e-6 and from 1e21 up (Prometheus's `jsonutil.MarshalFloat`).
///
/// The digits are zmij's: the shortest that parse back to `v` and, of those, the closest
/// to `v`, with a tie going to the even digit, which is what Go's shortest formatting
/// picks. Rust's `Display` breaks such ties upwards (`730048651755878.25` prints as
/// `…878.3`, Prometheus as `…878.2`), and through `core::fmt` it cost four times as many
/// instructions, the largest part of writing a range answer.
fn push_shortest(buf: &mut String, v: f64, exponent: bool) {
    let mut digits = zmij::Buffer::new();
    let s = digits.format_finite(v);
    // zmij writes `[-]d.ddd` from 1e-5 up to 1e16 and `[-]d[.ddd]e[+-]x` outside; a value
    // without a fraction keeps a `.0` that Go does not write. An exponent has at most
    // three digits, so its `e` is among the last five bytes: looking only there costs
    // less than a search of the whole text, which took as long as the digits.
    let tail = s.len().saturating_sub(5);
    let Some(e) = s.as_bytes()[tail..].iter().position(|&b| b == b'e') else {
        buf.push_str(s.strip_suffix(".0").unwrap_or(s));
        return;
    };
    let (mantissa, exp) = (&s[..tail + e], &s[tail + e + 1..]);
    let Ok(exp) = exp.parse::<i32>() else {
        // zmij always writes a decimal exponent; keep its text rather than lose the value.
        buf.push_str(s);
        return;
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if negative {
        buf.push('-');
    }
    let abs = v.abs();
    if exponent && !(1e-6..1e21).contains(&abs) {
        // Go's 'e': the digits after the first behind a point, and a signed exponent of
        // at least two digits.
        buf.push_str(first);
        if !rest.is_empty() {
            buf.push('.');
            buf.push_str(rest);
        }
        buf.push('e');
        buf.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            buf.push('0');
        }
        push_u64(buf, u64::from(e));
        return;
    }
    // Go's 'f': the digits `first rest` are the value times 10^-exp, with the point
    // after `first`; pad with zeros on whichever side it moves past the digits.
    if exp < 0 {
        buf.push_str("0.");
        for _ in 1..exp.unsigned_abs() {
            buf.push('0');
        }
        buf.push_str(first);
        buf.push_str(rest);
        return;
    }
    let int_digits = exp.unsigned_abs() as usize;
    buf.push_str(first);
    if rest.len() <= int_digits {
        buf.push_str(rest);
        for _ in rest.len()..int_digits {
            buf.push('0');
        }
    } else {
        let (int, frac) = rest.split_at(int_digits);
        buf.push_str(int);
        buf.push('.');
        buf.push_str(frac);
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

    /// Values exactly halfway between two shortest candidates: Go (and so Prometheus)
    /// takes the even last digit, Rust's `Display` the higher one. Each expected text is
    /// what Prometheus 2.42 answered for `vector(<value>)`.
    // The literals are the exact binary values, halfway between two shortest texts,
    // which is what the test is about.
    #[allow(clippy::excessive_precision)]
    #[test]
    fn ties_between_shortest_digits_go_to_even_as_in_go() {
        let cases: &[(f64, &str)] = &[
            (730048651755878.25, "730048651755878.2"),
            (867524107955253.25, "867524107955253.2"),
            (-138618947709768.125, "-138618947709768.12"),
            (29600752423974.8125, "29600752423974.812"),
            (908710408715.78125, "908710408715.7812"),
            (1.2345678901234567e19, "12345678901234567000"),
            (1.5e-7, "1.5e-07"),
            (1.5e-6, "0.0000015"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(*v), *want, "formatting {v:?}");
        }
        assert_eq!(format!("{}", 730048651755878.25), "730048651755878.3");
    }

    /// Against `Display`, which printed sample values before: the same text wherever
    /// `Display` is right, that is everywhere but at ties, where the digits differ only
    /// in the last, ours even and one below. Every text parses back to its value.
    #[test]
    fn shortest_digits_agree_with_display_but_at_ties() {
        let display = |v: f64| -> String {
            let abs = v.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                let s = format!("{v:e}");
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                format!("{m}e{sign}{digits:0>2}")
            } else {
                format!("{v}")
            }
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut ties = 0;
        for k in 0..400_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = match k % 4 {
                0 => f64::from_bits(x),
                1 => (x % 100_000_000) as f64 / 1e6 + 0.001,
                2 => unit * 10f64.powi((k % 60) as i32 - 30),
                _ => unit * 2f64.powi((k % 2000) as i32 - 1000),
            };
            if !v.is_finite() {
                continue;
            }
            let (got, old) = (format_float(v), display(v));
            assert_eq!(
                got.parse::<f64>().map(f64::to_bits),
                Ok(v.to_bits()),
                "{got}"
            );
            if got == old {
                continue;
            }
            ties += 1;
            let (g, ge) = got.split_once('e').unwrap_or((&got, ""));
            let (o, oe) = old.split_once('e').unwrap_or((&old, ""));
            let (g, o) = (g.as_bytes(), o.as_bytes());
            let last = g.len() - 1;
            assert_eq!((g.len(), ge), (o.len(), oe), "{v:?}: {got} vs {old}");
            assert_eq!(g[..last], o[..last], "{v:?}: {got} vs {old}");
            assert!(
                g[last] % 2 == 0 && o[last] == g[last] + 1,
                "{v:?}: {got} vs {old}"
            );
        }
        // Ties are rare but this many random values meet some.
        assert!(ties > 0);
    }

    /// The integer fast path prints what `Display` prints: an integer below 2^53 has no
    /// shorter digits, so no tie.
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

    /// The escaper copies unescaped runs whole; a character-at-a-time escaper is the
    /// reference. The alphabet holds the neighbours of U+2028/U+2029 that share their lead
    /// byte (`\u{2027}`, `€`, `\u{202a}`), other multi-byte characters and every kind of
    /// escape, in every order a small generator reaches.
    #[test]
    fn strings_escape_as_one_character_at_a_time() {
        fn reference(s: &str) -> String {
            let mut out = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        let alphabet: Vec<char> =
            "a\"\\\n\r\t<>&\u{0}\u{1f}\u{7f}é€\u{2027}\u{2028}\u{2029}\u{202a}😀 "
                .chars()
                .collect();
        let mut state: u64 = 1;
        for len in 0..200 {
            let text: String = (0..len % 23)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            let mut j = Json::new();
            j.string(&text);
            assert_eq!(j.into_string(), reference(&text), "{text:?}");
        }
    }
}
