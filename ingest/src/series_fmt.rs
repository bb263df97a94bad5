//! Series as error messages show them.
//!
//! Prometheus's `labels.String()` notation, `{__name__="up", job="node"}`, with every
//! string cut short: a message must not echo a 10 MB label value back to the client or
//! into a log line.

use std::fmt::Write;

/// Longest piece of a client-supplied string quoted in a message.
const MAX_QUOTED: usize = 200;
/// Longest series rendering in a message.
const MAX_SERIES: usize = 1024;

/// `s` cut to at most [`MAX_QUOTED`] bytes on a character boundary, marked when cut.
pub(crate) fn truncated(s: &str) -> String {
    cut(s, MAX_QUOTED)
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...(truncated)", &s[..end])
}

/// Renders label pairs (in the order given, duplicates included) in Prometheus's notation.
pub(crate) fn series_string<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.into_iter().enumerate() {
        if out.len() > MAX_SERIES {
            out.push_str(", ...");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let name = cut(name, MAX_QUOTED);
        if crate::validate::is_legacy_label_name(&name) {
            out.push_str(&name);
        } else {
            let _ = write!(out, "{name:?}");
        }
        let _ = write!(out, "={:?}", cut(value, MAX_QUOTED));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_prometheus_labels_string() {
        let s = series_string([("__name__", "up"), ("job", "a\"b"), ("a.b", "x")]);
        assert_eq!(s, r#"{__name__="up", job="a\"b", "a.b"="x"}"#);
        assert_eq!(series_string([]), "{}");
    }

    #[test]
    fn long_strings_are_cut_on_char_boundaries() {
        let long = "é".repeat(10_000);
        let s = series_string([("__name__", "x"), ("v", long.as_str())]);
        assert!(s.len() < 300, "{}", s.len());
        assert!(s.contains("(truncated)"));
        let many: Vec<(String, String)> = (0..1000)
            .map(|i| (format!("l{i}"), "v".repeat(100)))
            .collect();
        let s = series_string(many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert!(s.len() < 2 * MAX_SERIES);
        assert!(s.ends_with(", ...}"));
    }
}
