//! Prometheus's error text for a `match[]` value that is not just a series selector
//! (`rate(up[5m])`, `up == 1`, `up x`): its metric-selector parser stops at the first token
//! after the selector and reports it as `1:5: parse error: unexpected "("`. promql-parser
//! parses whole expressions instead, so the position and token are found here.

use super::params::go_quote;

/// Keywords Prometheus's lexer gives their own token kinds, with how its errors name them.
fn keyword(word: &str) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    let desc = match lower.as_str() {
        "and" | "or" | "unless" | "atan2" => format!("<op:{lower}>"),
        "offset" | "by" | "without" | "on" | "ignoring" | "group_left" | "group_right" | "bool"
        | "start" | "end" => format!("<{lower}>"),
        "sum" | "avg" | "count" | "min" | "max" | "group" | "stddev" | "stdvar" | "topk"
        | "bottomk" | "count_values" | "quantile" | "limitk" | "limit_ratio" => {
            format!("<aggr:{lower}>")
        }
        "inf" | "nan" => format!("number {}", go_quote(word)),
        _ => return None,
    };
    Some(desc)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of a quoted literal starting at `i` (one past the closing quote).
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if quote != b'`' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// Where the selector prefix of `s` ends: after an optional metric name and an optional
/// brace block, and the whitespace after them.
fn selector_end(b: &[u8]) -> usize {
    let mut i = skip_ws(b, 0);
    if i < b.len() && is_ident_start(b[i]) {
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        // `Inf` and `NaN` are numbers to the lexer, so nothing of the selector precedes them.
        let word = &b[start..i];
        if word.eq_ignore_ascii_case(b"inf") || word.eq_ignore_ascii_case(b"nan") {
            return start;
        }
        i = skip_ws(b, i);
    }
    if i < b.len() && b[i] == b'{' {
        while i < b.len() && b[i] != b'}' {
            i = if matches!(b[i], b'"' | b'\'' | b'`') {
                skip_string(b, i)
            } else {
                i + 1
            };
        }
        i = skip_ws(b, (i + 1).min(b.len()));
    }
    i
}

/// Names the token at `i` as Prometheus's parser errors do.
fn describe(s: &str, i: usize) -> Option<String> {
    let b = s.as_bytes();
    let rest = &s[i..];
    let c = *b.get(i)?;
    if is_ident_start(c) {
        let n = rest.bytes().take_while(|&c| is_ident(c)).count();
        let word = &rest[..n];
        return Some(keyword(word).unwrap_or_else(|| format!("identifier {}", go_quote(word))));
    }
    if c.is_ascii_digit() || c == b'.' {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'.')
            .count();
        let lit = &rest[..n];
        let is_duration = lit
            .bytes()
            .any(|c| c.is_ascii_alphabetic() && !matches!(c, b'e' | b'E' | b'x' | b'X'));
        let kind = if is_duration { "duration" } else { "number" };
        return Some(format!("{kind} {}", go_quote(lit)));
    }
    if matches!(c, b'"' | b'\'' | b'`') {
        let lit = &s[i..skip_string(b, i)];
        return Some(format!("string {}", go_quote(lit)));
    }
    for op in [
        "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<", "@",
    ] {
        if rest.starts_with(op) {
            return Some(format!("<op:{op}>"));
        }
    }
    match c {
        b'(' | b'[' | b',' | b'{' | b']' | b':' => Some(format!("\"{}\"", c as char)),
        _ => None,
    }
}

/// `line:col: parse error: unexpected <token>` for a valid expression that is not a series
/// selector, or `None` when the stopping token is not one this knows how to name.
pub(super) fn not_a_selector(s: &str) -> Option<String> {
    let i = selector_end(s.as_bytes());
    let token = describe(s, i)?;
    let before = &s[..i];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(i, |nl| i - nl - 1) + 1;
    Some(format!("{line}:{col}: parse error: unexpected {token}"))
}

/// For input that does not parse at all: when it starts with a valid selector followed by a
/// token (`up x`, `up 5m`), Prometheus names that token; otherwise `None`, and the parser's
/// own message stands.
pub(super) fn trailing_token(s: &str) -> Option<String> {
    let i = selector_end(s.as_bytes());
    if i == 0 || i >= s.len() {
        return None;
    }
    match promql_parser::parser::parse(&s[..i]) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => not_a_selector(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case's expected text is what Prometheus answers for it as `match[]`.
    #[test]
    fn matches_prometheus_messages() {
        for (input, want) in [
            ("rate(up[5m])", r#"1:5: parse error: unexpected "(""#),
            ("up[5m]", r#"1:3: parse error: unexpected "[""#),
            ("up + 1", "1:4: parse error: unexpected <op:+>"),
            ("up+1", "1:3: parse error: unexpected <op:+>"),
            ("sum(up)", r#"1:4: parse error: unexpected "(""#),
            ("1", r#"1:1: parse error: unexpected number "1""#),
            (r#""a""#, r#"1:1: parse error: unexpected string "\"a\"""#),
            ("up offset 5m", "1:4: parse error: unexpected <offset>"),
            (r#"up{a="b"}[5m]"#, r#"1:10: parse error: unexpected "[""#),
            (r#"up{a="b"} or x"#, "1:11: parse error: unexpected <op:or>"),
            ("  up  [5m]", r#"1:7: parse error: unexpected "[""#),
            ("up and x", "1:4: parse error: unexpected <op:and>"),
            ("up == 1", "1:4: parse error: unexpected <op:==>"),
            ("up > 1", "1:4: parse error: unexpected <op:>>"),
            ("-up", "1:1: parse error: unexpected <op:->"),
            ("(up)", r#"1:1: parse error: unexpected "(""#),
            ("up / x", "1:4: parse error: unexpected <op:/>"),
            ("up ^ 2", "1:4: parse error: unexpected <op:^>"),
            ("up 1.5", r#"1:4: parse error: unexpected number "1.5""#),
            ("up bool", "1:4: parse error: unexpected <bool>"),
            (r#"{a="}"} + 1"#, "1:9: parse error: unexpected <op:+>"),
            ("up\n+ 1", "2:1: parse error: unexpected <op:+>"),
        ] {
            assert_eq!(not_a_selector(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn names_tokens_after_a_valid_selector_only() {
        for (input, want) in [
            (
                "up x",
                Some(r#"1:4: parse error: unexpected identifier "x""#),
            ),
            (
                "up 5m",
                Some(r#"1:4: parse error: unexpected duration "5m""#),
            ),
            ("up,", Some(r#"1:3: parse error: unexpected ",""#)),
            ("up{a=} x", None),
            ("up{", None),
            ("up)", None),
            (")", None),
        ] {
            assert_eq!(trailing_token(input).as_deref(), want, "{input}");
        }
    }
}
