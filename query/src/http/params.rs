//! Prometheus's parsers for request parameters (times, durations, limits, label names and
//! `match[]` selectors), with its error texts. Public so that the binary reads its duration
//! flags with the same syntax the API accepts.

use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::label::MatchOp as PromMatchOp;
use promql_parser::parser::Expr;
use tianshu_tsdb::{MatchOp, Matcher};

pub use super::form::Params;
use super::rfc3339;
use super::selector_error::{not_a_selector, trailing_token};
use crate::error::QueryError;
use crate::parse::lex::Kind;

/// Prometheus's `MinTime`/`MaxTime` in milliseconds: the default `start`/`end` of the
/// metadata endpoints, chosen so that they survive a round trip through Go's `time.Time`.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// `MinTime`/`MaxTime` as Go formats them; clients (client_golang, Grafana) send these
/// literally, and Go's RFC 3339 parser cannot read years beyond four digits.
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// `invalid parameter "name": cause`, Prometheus's wrapping of every parameter error.
pub fn invalid_param(name: &str, cause: impl std::fmt::Display) -> QueryError {
    QueryError::BadData(format!("invalid parameter {}: {cause}", go_quote(name)))
}

/// A query's own error as the query API reports it: bad data in the expression (a parse
/// or type error, a range vector where a range query needs an instant one) is an invalid
/// `query` parameter, as in Prometheus's handlers; the rest is unchanged. Everything that
/// shows a query's error (the API, the live dashboards' ticks) words it through here, so
/// one query's error reads the same wherever it shows.
pub fn query_error(e: QueryError) -> QueryError {
    match e {
        QueryError::BadData(msg) => invalid_param("query", msg),
        other => other,
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Prometheus's `parseTime`: Unix seconds as a float (rounded to milliseconds), RFC 3339, or
/// the formatted min/max time sentinels. Returns milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let fail = || format!("cannot parse {} to a valid timestamp", go_quote(s));
    if let Some(f) = parse_go_float(s) {
        if !f.is_finite() {
            return Err(fail());
        }
        // Mirrors Go's `time.Unix(int64(sec), int64(round(frac*1000)/1000*1e9))` followed
        // by `timestamp.FromTime`, so that float inputs land on the same millisecond.
        let sec = f.trunc();
        let frac_ms = ((f - sec) * 1000.0).round() / 1000.0;
        let nanos = (sec as i128)
            .saturating_mul(1_000_000_000)
            .saturating_add(i128::from((frac_ms * 1e9) as i64));
        return Ok(clamp_ms(nanos.div_euclid(1_000_000)));
    }
    if let Some(nanos) = rfc3339::parse_nanos(s) {
        return Ok(clamp_ms(nanos.div_euclid(1_000_000)));
    }
    match s {
        MIN_TIME_FORMATTED => Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => Ok(MAX_TIME_MS),
        _ => Err(fail()),
    }
}

fn clamp_ms(ms: i128) -> i64 {
    ms.clamp(i128::from(MIN_TIME_MS), i128::from(MAX_TIME_MS)) as i64
}

/// Prometheus's `parseTimeParam`: the default when absent, else `parseTime` with the
/// parameter named in the message.
pub fn parse_time_param(p: &Params, name: &str, default: i64) -> Result<i64, QueryError> {
    let v = p.get(name);
    if v.is_empty() {
        return Ok(default);
    }
    parse_time(v).map_err(|e| invalid_param(name, format!("Invalid time value for '{name}': {e}")))
}

/// Go's `strconv.ParseFloat` accepts the same decimal forms as Rust, but reports overflow
/// ("1e400") as an error rather than infinity.
fn parse_go_float(s: &str) -> Option<f64> {
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        let lower = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lower != "inf" && lower != "infinity" {
            return None;
        }
    }
    Some(f)
}

/// Prometheus's `parseDuration`: float seconds or a Prometheus duration (`1h30m`), in
/// nanoseconds (negative values pass; callers reject them where Prometheus does).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(f) = parse_go_float(s) {
        let ns = f * 1e9;
        if ns.is_nan() {
            // Go converts NaN to the most negative Duration on the platforms Prometheus
            // ships for, so `step=NaN` is rejected as a non-positive step.
            return Ok(i64::MIN);
        }
        if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        return Ok(ns as i64);
    }
    parse_prometheus_duration(s)
        .ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// `model.ParseDuration`: unit-suffixed integers from the largest unit to the smallest,
/// each unit at most once.
pub fn parse_prometheus_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 24 * 3600 * 1_000_000_000),
        ("w", 7 * 24 * 3600 * 1_000_000_000),
        ("d", 24 * 3600 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    let mut rest = s;
    let mut total: u128 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let value: u128 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)?;
        total = total.checked_add(value.checked_mul(UNITS[next_unit + pos].1)?)?;
        next_unit += pos + 1;
    }
    i64::try_from(total).ok()
}

/// Prometheus's `parseLimitParam`: absent is 0 (no limit), negative is an error.
pub fn parse_limit(p: &Params) -> Result<usize, QueryError> {
    let s = p.get("limit");
    if s.is_empty() {
        return Ok(0);
    }
    let n = parse_go_int(s).map_err(|e| invalid_param("limit", e))?;
    if n < 0 {
        return Err(invalid_param("limit", "limit must be non-negative"));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Go's `strconv.Atoi` with its error texts.
pub fn parse_go_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

const EMPTY_MATCHERS: &str = "match[] must contain at least one non-empty matcher";

/// Parses `match[]` selectors into matcher sets (one per selector, more for `or` inside
/// braces), each required to contain a matcher that does not match the empty string, as
/// Prometheus's `parseMatchersParam` requires. The error is the bare cause: Prometheus wraps
/// it as an invalid parameter for `series` only.
pub fn parse_match_params(selectors: &[&str]) -> Result<Vec<Vec<Matcher>>, String> {
    parse_selectors(selectors, true)
}

/// Parses selectors as Prometheus's `ParseMetricSelectors` does for `/federate` and
/// `delete_series`: a selector whose matchers all match the empty string (`{foo=""}`,
/// every series without `foo`) is allowed there.
pub fn parse_metric_selectors(selectors: &[&str]) -> Result<Vec<Vec<Matcher>>, String> {
    parse_selectors(selectors, false)
}

fn parse_selectors(
    selectors: &[&str],
    require_non_empty: bool,
) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::new();
    for sel in selectors {
        // Prometheus's wording and position for selectors it refuses to parse.
        crate::parse::check_selector(sel)?;
        let vs = match promql_parser::parser::parse(sel) {
            // Offsets and `@` are query syntax: Prometheus's selector parser stops at them.
            Ok(Expr::VectorSelector(vs)) if vs.offset.is_none() && vs.at.is_none() => vs,
            Ok(_) => {
                return Err(not_a_selector(sel)
                    .unwrap_or_else(|| format!("{} is not a series selector", go_quote(sel))))
            }
            // promql-parser applies the query rule to selectors; Prometheus parses `match[]`
            // without it and then reports the API's own wording.
            Err(e) if e.contains("at least one non-empty matcher") => {
                if require_non_empty {
                    return Err(EMPTY_MATCHERS.to_string());
                }
                sets.push(all_empty_selector(sel)?);
                continue;
            }
            Err(e) => return Err(trailing_token(sel).unwrap_or(e)),
        };
        let name = vs.name.as_deref();
        let groups: Vec<Vec<&promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty()
        {
            vec![vs.matchers.matchers.iter().collect()]
        } else {
            vs.matchers
                .or_matchers
                .iter()
                .map(|g| vs.matchers.matchers.iter().chain(g.iter()).collect())
                .collect()
        };
        for group in groups {
            let mut set = Vec::with_capacity(group.len() + 1);
            let mut non_empty = false;
            if let Some(n) = name {
                set.push(new_matcher(MatchOp::Equal, "__name__", n)?);
                non_empty |= !n.is_empty();
            }
            for m in group {
                non_empty |= !m.is_match("");
                let op = match m.op {
                    PromMatchOp::Equal => MatchOp::Equal,
                    PromMatchOp::NotEqual => MatchOp::NotEqual,
                    PromMatchOp::Re(_) => MatchOp::RegexMatch,
                    PromMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
                };
                set.push(new_matcher(op, &m.name, &m.value)?);
            }
            if require_non_empty && !non_empty {
                return Err(EMPTY_MATCHERS.into());
            }
            sets.push(set);
        }
    }
    Ok(sets)
}

/// The matchers of a selector promql-parser refuses because they all match the empty
/// string; read by Tianshu's own parser, which accepts it as Prometheus's selector parser
/// does.
fn all_empty_selector(sel: &str) -> Result<Vec<Matcher>, String> {
    let (name, matchers) =
        crate::parse::selector_matchers(sel).ok_or_else(|| EMPTY_MATCHERS.to_string())?;
    let mut set = Vec::with_capacity(matchers.len() + 1);
    if let Some(n) = name {
        set.push(new_matcher(MatchOp::Equal, "__name__", &n)?);
    }
    for m in matchers {
        let op = match m.op {
            Kind::Eql => MatchOp::Equal,
            Kind::Neq => MatchOp::NotEqual,
            Kind::EqlRegex => MatchOp::RegexMatch,
            _ => MatchOp::RegexNoMatch,
        };
        set.push(new_matcher(op, &m.name, &m.value)?);
    }
    Ok(set)
}

fn new_matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, String> {
    Matcher::new(op, name, value).map_err(|e| e.to_string())
}

/// The label name of `/api/v1/label/<name>/values`: `U__`-escaped names (how clients send
/// names outside the legacy character set) are unescaped; unescaped names must be legacy
/// names. Error text as Prometheus's.
pub fn label_name_param(raw: &str) -> Result<String, QueryError> {
    if let Some(name) = unescape_value_encoding(raw) {
        if !name.is_empty() {
            return Ok(name);
        }
    }
    if is_legacy_label_name(raw) {
        return Ok(raw.to_owned());
    }
    Err(QueryError::BadData(format!(
        "invalid label name: {}",
        go_quote(raw)
    )))
}

pub fn is_legacy_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Prometheus's value-encoding escape: `U__` prefix, `__` for `_`, `_<hex>_` for any code
/// point. `None` when `s` is not (validly) escaped.
fn unescape_value_encoding(s: &str) -> Option<String> {
    let rest = s.strip_prefix("U__")?;
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        let mut code: u32 = 0;
        let mut n = 0;
        loop {
            let d = chars.next()?;
            if d == '_' {
                break;
            }
            if n >= 6 {
                return None;
            }
            code = code * 16 + d.to_digit(16)?;
            n += 1;
        }
        if n == 0 {
            out.push('_');
        } else {
            out.push(char::from_u32(code)?);
        }
    }
    Some(out)
}

/// Go's `%q`: double-quoted with backslash escapes for quotes and control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_prometheus_parses_them() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("1.0006"), Ok(1001));
        assert_eq!(parse_time("1.9999"), Ok(2000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(parse_time(MIN_TIME_FORMATTED), Ok(MIN_TIME_MS));
        assert_eq!(parse_time(MAX_TIME_FORMATTED), Ok(MAX_TIME_MS));
        assert_eq!(
            parse_time(""),
            Err("cannot parse \"\" to a valid timestamp".to_string())
        );
        assert!(parse_time("abc").is_err());
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("1e400").is_err());
        assert_eq!(parse_time("1e300"), Ok(MAX_TIME_MS));
    }

    #[test]
    fn empty_matching_selectors_are_refused_for_lookups_only() {
        assert_eq!(
            parse_match_params(&[r#"{foo=""}"#]),
            Err(EMPTY_MATCHERS.to_string())
        );
        let sets = parse_metric_selectors(&[r#"{foo="", bar=~".*"}"#]).unwrap();
        assert_eq!(sets.len(), 1);
        let ops: Vec<(MatchOp, &str, &str)> = sets[0]
            .iter()
            .map(|m| (m.op, m.name.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            ops,
            vec![
                (MatchOp::Equal, "foo", ""),
                (MatchOp::RegexMatch, "bar", ".*")
            ]
        );
        // Non-empty selectors read the same either way.
        assert_eq!(
            format!("{:?}", parse_metric_selectors(&[r#"up{job="a"}"#])),
            format!("{:?}", parse_match_params(&[r#"up{job="a"}"#]))
        );
        // Syntax errors stay errors.
        assert!(parse_metric_selectors(&["{foo="]).is_err());
    }

    #[test]
    fn durations_parse_as_prometheus_parses_them() {
        let s = 1_000_000_000;
        assert_eq!(parse_duration("15s"), Ok(15 * s));
        assert_eq!(parse_duration("1h30m"), Ok(5400 * s));
        assert_eq!(parse_duration("1d2h"), Ok(26 * 3600 * s));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1m500ms"), Ok(60 * s + 500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration("-3"), Ok(-3 * s));
        assert_eq!(parse_duration("1y"), Ok(365 * 86400 * s));
        assert_eq!(parse_duration("NaN"), Ok(i64::MIN));
        for bad in ["", "1m1h", "1s1s", "5x", "h", "1.5h", "300y", "s5"] {
            assert_eq!(
                parse_duration(bad),
                Err(format!(
                    "cannot parse {} to a valid duration",
                    go_quote(bad)
                )),
                "{bad}"
            );
        }
        assert_eq!(
            parse_duration("1e10"),
            Err("cannot parse \"1e10\" to a valid duration. It overflows int64".into())
        );
    }

    #[test]
    fn limit_errors_use_go_texts() {
        let p = |v: &str| Params::from_pairs([("limit", v)]);
        assert_eq!(parse_limit(&Params::default()).ok(), Some(0));
        assert_eq!(parse_limit(&p("7")).ok(), Some(7));
        let msg = |v: &str| parse_limit(&p(v)).err().map(|e| e.to_string());
        assert_eq!(
            msg("x").as_deref(),
            Some("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax")
        );
        assert_eq!(
            msg("-1").as_deref(),
            Some("invalid parameter \"limit\": limit must be non-negative")
        );
        assert_eq!(
            msg("99999999999999999999").as_deref(),
            Some("invalid parameter \"limit\": strconv.Atoi: parsing \"99999999999999999999\": value out of range")
        );
    }

    #[test]
    fn match_params_become_matcher_sets() {
        let sets =
            parse_match_params(&["up{job=~\"a|b\"}", "{x!=\"1\", y=\"2\"}"]).unwrap_or_default();
        assert_eq!(sets.len(), 2);
        let names: Vec<_> = sets[0].iter().map(|m| (m.name.as_str(), m.op)).collect();
        assert_eq!(
            names,
            [("__name__", MatchOp::Equal), ("job", MatchOp::RegexMatch)]
        );
        assert_eq!(sets[0][1].value, "a|b");
        assert_eq!(sets[1].len(), 2);

        let or_sets = parse_match_params(&["{a=\"1\" or b=\"2\"}"]).unwrap_or_default();
        assert_eq!(or_sets.len(), 2);

        for bad in ["rate(up[5m])", "up[5m]", "{", "1"] {
            assert!(parse_match_params(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names_are_validated_and_unescaped() {
        assert_eq!(label_name_param("job").ok().as_deref(), Some("job"));
        assert_eq!(
            label_name_param("__name__").ok().as_deref(),
            Some("__name__")
        );
        assert_eq!(
            label_name_param("U__foo_2e_bar").ok().as_deref(),
            Some("foo.bar")
        );
        assert_eq!(label_name_param("U__a__b").ok().as_deref(), Some("a_b"));
        assert_eq!(
            label_name_param("foo-bar")
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("invalid label name: \"foo-bar\"")
        );
        assert!(label_name_param("0abc").is_err());
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("a\"b\\\n\u{1}é"), "\"a\\\"b\\\\\\n\\x01é\"");
    }
}
