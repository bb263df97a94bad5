//! Label matchers for the `match_target` parameter of `/api/v1/targets/metadata`: a
//! series selector (`{job="node", instance=~"a.*"}`, optionally after a metric name)
//! matched against a target's labels. Regexes are anchored, as in PromQL.

use regex::Regex;

/// One `name op "value"` matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Eq(String),
    Ne(String),
    Re(Regex),
    NotRe(Regex),
}

impl Matcher {
    /// Whether a label's value (empty when absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match &self.op {
            Op::Eq(v) => value == v,
            Op::Ne(v) => value != v,
            Op::Re(r) => r.is_match(value),
            Op::NotRe(r) => !r.is_match(value),
        }
    }
}

/// Parses a selector; the error is worded for a `bad_data` answer.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    let bad = |why: &str| format!("1:1: parse error: {why}");
    let s = s.trim();
    let mut out = Vec::new();
    let (name, rest) = match s.find('{') {
        Some(i) => (s[..i].trim(), &s[i..]),
        None => (s, ""),
    };
    if !name.is_empty() {
        if !is_name(name) {
            return Err(bad(&format!("unexpected character in selector: {name:?}")));
        }
        out.push(Matcher {
            name: "__name__".to_string(),
            op: Op::Eq(name.to_string()),
        });
    }
    if !rest.is_empty() {
        let inner = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| bad("unclosed left brace"))?;
        let mut cur = inner.trim();
        while !cur.is_empty() {
            let end = cur
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(cur.len());
            let label = &cur[..end];
            if !is_name(label) {
                return Err(bad("unexpected character inside braces"));
            }
            cur = cur[end..].trim_start();
            let op = ["=~", "!~", "!=", "="]
                .into_iter()
                .find(|op| cur.starts_with(op))
                .ok_or_else(|| bad("unexpected character inside braces"))?;
            cur = cur[op.len()..].trim_start();
            let (value, after) = quoted(cur).ok_or_else(|| bad("unterminated quoted string"))?;
            let anchored = || {
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| bad(&format!("invalid regular expression: {e}")))
            };
            let op = match op {
                "=" => Op::Eq(value),
                "!=" => Op::Ne(value),
                "=~" => Op::Re(anchored()?),
                _ => Op::NotRe(anchored()?),
            };
            out.push(Matcher {
                name: label.to_string(),
                op,
            });
            cur = after.trim_start();
            cur = cur.strip_prefix(',').unwrap_or(cur).trim_start();
        }
    }
    if out.is_empty() {
        return Err(bad(
            "vector selector must contain at least one non-empty matcher",
        ));
    }
    Ok(out)
}

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// A `"..."` or `'...'` string with `\` escapes at the start of `s`, and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c if c == q => return Some((out, &s[1 + i + 1..])),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let m = parse_selector(r#"{job="node", instance=~"a.*",x!="y"}"#).expect("valid");
        assert_eq!(m.len(), 3);
        assert!(m[0].matches("node") && !m[0].matches("nodes"));
        assert!(m[1].matches("abc") && !m[1].matches("bac"));
        assert!(m[2].matches("") && !m[2].matches("y"));
        let m = parse_selector("up").expect("valid");
        assert_eq!(m[0].name, "__name__");
        for bad in ["{", "{job}", "{job=\"x}", "{}", "{job=~\"(\"}"] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
