//! Parser for Prometheus's `.test` script format (see the conformance folder's README).

use tianshu_tsdb::{stale_nan, Labels};

/// One value of a series sequence; `None` is `_` (no sample).
pub type SeqValue = Option<f64>;

#[derive(Debug)]
pub struct SeriesDef {
    pub labels: Labels,
    pub values: Vec<SeqValue>,
}

#[derive(Debug, Default)]
pub struct Expect {
    pub fail: bool,
    pub fail_msg: Option<String>,
    pub fail_regex: Option<String>,
    pub ordered: bool,
    pub warn: bool,
    pub info: bool,
    /// Expected warnings/infos: `(is_regex, text)`.
    pub warns: Vec<(bool, String)>,
    pub infos: Vec<(bool, String)>,
    pub no_warn: bool,
    pub no_info: bool,
    pub string: Option<String>,
    pub range_vector: Option<(i64, i64, i64)>,
}

#[derive(Debug)]
pub enum Expected {
    Scalar(f64),
    /// Series with their 1-based position among the expectation lines.
    Series(Vec<(usize, SeriesDef)>),
}

#[derive(Debug)]
pub enum Cmd {
    Clear,
    Load {
        interval: i64,
        series: Vec<SeriesDef>,
        /// Series given native histogram samples (or created from classic buckets by
        /// `load_with_nhcb`); we cannot store those.
        histogram_series: Vec<Labels>,
    },
    Eval(Box<Eval>),
}

#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub query: String,
    /// `Some((start, end, step))` for a range eval; `None` with `at` for an instant one.
    pub range: Option<(i64, i64, i64)>,
    pub at: i64,
    pub expect: Expect,
    pub expected: Expected,
    /// The eval's data needs something we do not model (native histograms).
    pub unsupported: Option<String>,
}

/// Prometheus's `model.ParseDuration`: `1h30m`, `5m`, `100ms`, `0`; optionally negative.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body == "0" {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let mut rest = body;
    if rest.is_empty() {
        return Err(format!("invalid duration {s:?}"));
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let n: i64 = rest[..digits].parse().map_err(|e| format!("{e}"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(format!("invalid duration unit in {s:?}")),
        };
        total += n * ms;
    }
    Ok(if neg { -total } else { total })
}

/// The native histogram series `load_with_nhcb` derives from a classic bucket series.
fn nhcb_base(l: &Labels) -> Labels {
    let mut out = l.clone();
    if let Some(n) = l.get("__name__") {
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = n.strip_suffix(suffix) {
                out.set("__name__", base);
                out.remove("le");
            }
        }
    }
    out
}

pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "Inf" | "+Inf" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-Inf" | "-inf" => return Some(f64::NEG_INFINITY),
        "NaN" | "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Parses `name{a="b", ...}` at the start of `s`; returns the labels and the rest.
pub fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_len = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == ':'))
        .map_or(s.len(), |(i, _)| i);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if name_len > 0 {
        pairs.push(("__name__".into(), s[..name_len].to_string()));
    }
    let mut rest = &s[name_len..];
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches([' ', ',', '\t']);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with('"') {
                let (n, r) = parse_quoted(rest)?;
                (n, r)
            } else {
                let l = rest
                    .char_indices()
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                    .map_or(rest.len(), |(i, _)| i);
                (rest[..l].to_string(), &rest[l..])
            };
            let r = r.trim_start();
            if r.starts_with(',') || r.starts_with('}') {
                // `{"name"}`: a quoted metric name.
                pairs.push(("__name__".into(), name));
                rest = r;
                continue;
            }
            let r = r
                .strip_prefix('=')
                .ok_or_else(|| format!("expected '=' in {s:?}"))?;
            let (value, r) = parse_quoted(r.trim_start())?;
            pairs.push((name, value));
            rest = r;
        }
    }
    Ok((Labels::from_pairs(pairs), rest))
}

fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("expected string")?;
    if quote != '"' && quote != '\'' && quote != '`' {
        return Err(format!("expected quoted string at {s:?}"));
    }
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &s[i + 1..]));
        }
        if c == '\\' && quote != '`' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\'')) => out.push('\''),
                Some((_, o)) => {
                    out.push('\\');
                    out.push(o);
                }
                None => break,
            }
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string in {s:?}"))
}

/// Expands a value sequence: `1 2 _ stale 1+2x3 _x2 5x2 -1-1x2`.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for item in s.split_whitespace() {
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repeat {item:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if item == "stale" {
            out.push(Some(stale_nan()));
            continue;
        }
        if let Some(v) = parse_number(item) {
            out.push(Some(v));
            continue;
        }
        let x = item
            .rfind('x')
            .ok_or_else(|| format!("bad value {item:?}"))?;
        let times: usize = item[x + 1..]
            .parse()
            .map_err(|_| format!("bad repeat {item:?}"))?;
        let head = &item[..x];
        // Find the operator between start value and increment (not a sign or exponent).
        let bytes = head.as_bytes();
        let mut op = None;
        for i in 1..bytes.len() {
            if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                op = Some(i);
                break;
            }
        }
        let (start, inc) = match op {
            Some(i) => {
                let a = parse_number(&head[..i]).ok_or_else(|| format!("bad value {item:?}"))?;
                let b =
                    parse_number(&head[i + 1..]).ok_or_else(|| format!("bad value {item:?}"))?;
                (a, if bytes[i] == b'-' { -b } else { b })
            }
            None => (
                parse_number(head).ok_or_else(|| format!("bad value {item:?}"))?,
                0.0,
            ),
        };
        let mut v = start;
        for _ in 0..=times {
            out.push(Some(v));
            v += inc;
        }
    }
    Ok(out)
}

fn parse_series(line: &str) -> Result<SeriesDef, String> {
    let (labels, rest) = parse_metric(line)?;
    Ok(SeriesDef {
        labels,
        values: parse_values(rest)?,
    })
}

fn strip_expect_text(s: &str) -> (bool, String) {
    let s = s.trim();
    if let Some(r) = s.strip_prefix("msg:") {
        return (false, r.trim().to_string());
    }
    if let Some(r) = s.strip_prefix("regex:") {
        return (true, r.trim().to_string());
    }
    (true, "^.*$".into())
}

pub fn parse_file(text: &str) -> Result<Vec<Cmd>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let re_instant = regex::Regex::new(
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let re_range = regex::Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let re_expect_range =
        regex::Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
            .map_err(|e| e.to_string())?;
    let hist_re = regex::Regex::new(r"\{\{[^}]*\}\}(?:[+-]\{\{[^}]*\}\})?(?:x(\d+))?")
        .map_err(|e| e.to_string())?;
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split_whitespace().next().unwrap_or("").to_lowercase();
        if word == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let arg = l.split_whitespace().nth(1).unwrap_or("");
            let interval = parse_duration(arg).map_err(|e| format!("line {}: {e}", i + 1))?;
            let mut series = Vec::new();
            let mut histogram_series = Vec::new();
            let nhcb = word == "load_with_nhcb";
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let (labels, _) =
                    parse_metric(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?;
                if lines[i].contains("{{") {
                    histogram_series.push(labels);
                    // Keep the float samples; histogram samples become gaps.
                    let floats = hist_re.replace_all(&lines[i], |c: &regex::Captures| {
                        let n = c
                            .get(1)
                            .map_or(1, |m| m.as_str().parse::<usize>().unwrap_or(0) + 1);
                        vec!["_"; n].join(" ")
                    });
                    series.push(parse_series(&floats).map_err(|e| format!("line {}: {e}", i + 1))?);
                } else if !lines[i].contains("@st") {
                    if nhcb {
                        histogram_series.push(nhcb_base(&labels));
                    }
                    series
                        .push(parse_series(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?);
                }
                i += 1;
            }
            cmds.push(Cmd::Load {
                interval,
                series,
                histogram_series,
            });
        } else if word.starts_with("eval") {
            let line_no = i + 1;
            let (modifier, range, at, query) = if let Some(c) = re_instant.captures(l) {
                let at = c.get(2).map_or(Ok(0), |m| parse_duration(m.as_str()))?;
                (
                    c.get(1).map(|m| m.as_str().to_string()),
                    None,
                    at,
                    c[3].to_string(),
                )
            } else if let Some(c) = re_range.captures(l) {
                let s = parse_duration(&c[2])?;
                let e = parse_duration(&c[3])?;
                let st = parse_duration(&c[4])?;
                (
                    c.get(1).map(|m| m.as_str().to_string()),
                    Some((s, e, st)),
                    0,
                    c[5].to_string(),
                )
            } else {
                return Err(format!("line {line_no}: invalid eval command"));
            };
            let mut expect = Expect::default();
            match modifier.as_deref() {
                Some("fail") => expect.fail = true,
                Some("warn") => expect.warn = true,
                Some("info") => expect.info = true,
                Some("ordered") => expect.ordered = true,
                _ => {}
            }
            let mut scalar = None;
            let mut series = Vec::new();
            let mut unsupported = None;
            let mut pos = 0;
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let d = lines[i].as_str();
                i += 1;
                if expect.fail && d.starts_with("expected_fail_message") {
                    expect.fail_msg = Some(d["expected_fail_message".len()..].trim().to_string());
                    continue;
                }
                if expect.fail && d.starts_with("expected_fail_regexp") {
                    expect.fail_regex = Some(d["expected_fail_regexp".len()..].trim().to_string());
                    continue;
                }
                if let Some(c) = re_expect_range.captures(d) {
                    expect.range_vector = Some((
                        parse_duration(&c[1])?,
                        parse_duration(&c[2])?,
                        parse_duration(&c[3])?,
                    ));
                    continue;
                }
                if let Some(r) = d.strip_prefix("expect string") {
                    expect.string = Some(
                        parse_quoted(r.trim())
                            .map(|(s, _)| s)
                            .map_err(|e| format!("line {i}: {e}"))?,
                    );
                    continue;
                }
                if d.split(' ').next() == Some("expect") {
                    let rest = d["expect".len()..].trim();
                    let kind = rest.split_whitespace().next().unwrap_or("");
                    let text = rest[kind.len()..].trim();
                    match kind {
                        "fail" => {
                            expect.fail = true;
                            if !text.is_empty() {
                                let (is_re, t) = strip_expect_text(text);
                                if is_re {
                                    expect.fail_regex = Some(t);
                                } else {
                                    expect.fail_msg = Some(t);
                                }
                            }
                        }
                        "ordered" => expect.ordered = true,
                        "warn" => expect.warns.push(strip_expect_text(text)),
                        "info" => expect.infos.push(strip_expect_text(text)),
                        "no_warn" => expect.no_warn = true,
                        "no_info" => expect.no_info = true,
                        other => return Err(format!("line {i}: unknown expect {other:?}")),
                    }
                    continue;
                }
                if d.contains("{{") {
                    unsupported = Some("native histogram in expected result".to_string());
                    continue;
                }
                let hex = d
                    .strip_prefix("0x")
                    .and_then(|h| i64::from_str_radix(h, 16).ok())
                    .map(|v| v as f64);
                if let Some(v) = hex.or_else(|| parse_number(d)) {
                    scalar = Some(v);
                    continue;
                }
                pos += 1;
                series.push((pos, parse_series(d).map_err(|e| format!("line {i}: {e}"))?));
            }
            let expected = match scalar {
                Some(v) => Expected::Scalar(v),
                None => Expected::Series(series),
            };
            cmds.push(Cmd::Eval(Box::new(Eval {
                line: line_no,
                query,
                range,
                at,
                expect,
                expected,
                unsupported,
            })));
        } else {
            return Err(format!("line {}: unknown command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}
