//! Tianshu's PromQL front end: decides whether a query is valid and, when it is not, words
//! and positions the error exactly as Prometheus does (`1:5: parse error: unexpected end
//! of input`), because clients such as Grafana show these texts to users.
//!
//! Design: the engine evaluates `promql_parser`'s syntax tree, and this front end does not
//! replace that tree. It is a second, independent parser built to Prometheus's rules —
//! a lexer with Prometheus's states and error texts ([`lex`]), a recursive-descent parser
//! that reproduces the context of yacc's error productions ([`parser`]) and the type
//! checks of `checkAST` ([`check`]). [`parse`] runs it first: if it rejects the query,
//! its error is the answer; if it accepts, promql-parser builds the tree. Keeping the two
//! apart means the evaluator does not change with this module, while acceptance and
//! wording follow Prometheus rather than promql-parser (whose messages differ and carry no
//! positions). Should promql-parser still refuse a query this front end accepts, its own
//! message is passed on, so no invalid query reaches the engine.
//!
//! Which Prometheus: the one the conformance scripts describe (3.x), where durations and
//! numbers stand for each other (`x[30]`, `offset 5`, `predict_linear(x, 1h)`) and
//! `fill()`, `info()`, quoted UTF-8 names and the duration functions exist, while the
//! errors keep the 3.x texts users meet (`bad duration syntax: "5"` for `up[5x]`). One
//! Tianshu extension stays accepted: `or` between label matchers (`x{a="1" or b="2"}`),
//! which selects alternative matcher sets.
//!
//! Positions: an error sits at a byte offset; it is shown as `line:col` with lines counted
//! from 1 and `col` the byte offset from the last newline before it, plus one. Only the
//! first error is reported, as Prometheus's `ParseErrors.Error` does.

pub mod ast;
pub mod check;
pub mod functions;
pub mod lex;
pub mod parser;
pub mod regex_check;

use promql_parser::parser::Expr;

/// The label holding the metric name.
const MATCHER_NAME: &str = "__name__";

/// One parse error at a byte offset of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseErr {
    pub pos: usize,
    pub msg: String,
}

impl ParseErr {
    /// Prometheus's `ParseErr.Error`: `line:col: parse error: msg`.
    pub fn render(&self, query: &str) -> String {
        let pos = self.pos.min(query.len());
        let before = &query.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        format!("{line}:{col}: parse error: {}", self.msg)
    }
}

/// Checks `query` by Prometheus's rules; the error is Prometheus's text for the first
/// problem found.
pub fn check(query: &str) -> Result<(), String> {
    check_tokens(query, lex::tokenize(query))
}

/// [`check`] of `query` lexed into `toks`.
fn check_tokens(query: &str, toks: Vec<lex::Token>) -> Result<(), String> {
    let mut p = parser::Parser::new(query, toks);
    let res = p.parse_query();
    if let Some(e) = p.errors.first() {
        return Err(e.render(query));
    }
    if p.too_deep {
        return Err(format!(
            "expression nested more than {} levels deep",
            parser::MAX_NESTING
        ));
    }
    // Without an error recorded the parse succeeded.
    let Ok(tree) = res else {
        return Err(ParseErr {
            pos: 0,
            msg: "unexpected error".into(),
        }
        .render(query));
    };
    let mut c = check::Checker::new(p.input());
    c.check(&tree);
    match c.errors.first() {
        Some(e) => Err(e.render(query)),
        None => Ok(()),
    }
}

/// Checks a series selector (`match[]`) by Prometheus's `ParseMetricSelector` rules; the
/// error is Prometheus's text.
pub fn check_selector(selector: &str) -> Result<(), String> {
    let toks = lex::tokenize(selector);
    let mut p = parser::Parser::new(selector, toks);
    let res = p.parse_selector_only();
    match (p.errors.first(), res) {
        (Some(e), _) => Err(e.render(selector)),
        (None, Ok(_)) => Ok(()),
        (None, Err(_)) => Err(ParseErr {
            pos: 0,
            msg: "unexpected error".into(),
        }
        .render(selector)),
    }
}

/// A series selector's metric name and matchers, read by Prometheus's `ParseMetricSelector`
/// rules. `None` when the selector carries `or` between matchers (alternative matcher
/// sets, which this flat form cannot hold) or does not parse; [`check_selector`] words the
/// error.
pub fn selector_matchers(selector: &str) -> Option<(Option<String>, Vec<ast::Matcher>)> {
    let toks = lex::tokenize(selector);
    let has_or = toks
        .iter()
        .any(|t| t.kind == lex::Kind::Identifier && t.val.eq_ignore_ascii_case("or"));
    let mut p = parser::Parser::new(selector, toks);
    let node = p.parse_selector_only().ok()?;
    if !p.errors.is_empty() || has_or {
        return None;
    }
    match node.kind {
        ast::NodeKind::Vector { name, matchers, .. } => Some((name, matchers)),
        _ => None,
    }
}

/// Parses `query` into the tree the engine evaluates, refusing it with Prometheus's error
/// text when Prometheus would.
pub fn parse(query: &str) -> Result<Expr, String> {
    // One lexing serves both the check and the literals' rewrite.
    let toks = lex::tokenize(query);
    let rewritten = go_strings(query, &toks);
    check_tokens(query, toks)?;
    match rewritten {
        Some(rewritten) => promql_parser::parser::parse(&rewritten),
        None => promql_parser::parser::parse(query),
    }
}

/// The query, lexed into `toks`, with every string literal whose byte escapes (`\xNN`, `\NNN`) Go and
/// promql-parser decode differently written out again so that both read the same string;
/// `None` when there is none (almost always).
///
/// Go's `strconv.Unquote`, which Prometheus uses, turns a byte escape into that byte, so
/// `"\xc3\xa9"` is `é`; promql-parser turns it into the code point U+00NN, which makes
/// `Ã©` of it. Such literals are re-encoded from [`unquote`]'s reading. A byte sequence
/// that is not UTF-8 (`"\xff"`) cannot be a Rust string: its bytes become U+FFFD, as
/// Go's JSON encoder writes them in Prometheus's answers, and a label name holding U+FFFD
/// is refused where Prometheus refuses one that is not UTF-8 (`label_replace`'s
/// destination, see `engine::functions::labels`).
fn go_strings(query: &str, toks: &[lex::Token]) -> Option<String> {
    let differs = |t: &lex::Token| {
        t.kind == lex::Kind::String && !t.val.starts_with('`') && has_high_byte_escape(&t.val)
    };
    if !toks.iter().any(differs) {
        return None;
    }
    let mut out = String::with_capacity(query.len());
    let mut at = 0;
    for t in toks.iter().filter(|t| differs(t)) {
        let end = t.pos + t.val.len();
        let (Some(before), true) = (query.get(at..t.pos), query.get(t.pos..end) == Some(&t.val))
        else {
            return None;
        };
        out.push_str(before);
        push_quoted(&mut out, &unquote(&t.val));
        at = end;
    }
    out.push_str(query.get(at..)?);
    Some(out)
}

/// Whether a quoted literal holds a `\x` or octal escape of a byte at or above 0x80 (below
/// it, a byte and a code point are the same character).
fn has_high_byte_escape(lit: &str) -> bool {
    let b = lit.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let digits = |from: usize, n: usize, radix: u32| {
            lit.get(from..from + n)
                .and_then(|d| u32::from_str_radix(d, radix).ok())
        };
        let high = match b[i + 1] {
            b'x' => digits(i + 2, 2, 16),
            b'0'..=b'7' => digits(i + 1, 3, 8),
            _ => None,
        };
        if high.is_some_and(|v| v >= 0x80) {
            return true;
        }
        i += 2;
    }
    false
}

/// `s` as a double-quoted PromQL string literal that Prometheus and promql-parser both read
/// back as `s`: quotes, backslashes and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

/// Appends [`quote`]`(s)` to `out`.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Prometheus's `strutil.Unquote` for a lexed string token (its escapes were validated by
/// the lexer). Bytes that do not form UTF-8 are replaced.
pub fn unquote(s: &str) -> String {
    let mut cs = s.chars();
    let Some(q) = cs.next() else {
        return String::new();
    };
    let body = s.get(q.len_utf8()..s.len() - q.len_utf8()).unwrap_or("");
    if q == '`' {
        return body.to_string();
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut it = body.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = it.next() {
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(e) = it.next() else { break };
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, base) = match e {
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => continue,
        };
        let mut v = if base == 8 {
            e.to_digit(8).unwrap_or(0)
        } else {
            0
        };
        for _ in 0..n {
            if let Some(d) = it.peek().and_then(|c| c.to_digit(base)) {
                v = v * base + d;
                it.next();
            }
        }
        if e == 'x' || base == 8 {
            out.push(v as u8);
        } else if let Some(ch) = char::from_u32(v) {
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `regexp` error for a label matcher's pattern (see [`regex_check`]).
fn regex_error(re: &str) -> Result<(), String> {
    match regex_check::go_regex_error(re) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether a matcher accepts the empty string (an absent label).
fn matches_empty(m: &ast::Matcher) -> bool {
    match m.op {
        lex::Kind::Eql => m.value.is_empty(),
        lex::Kind::Neq => !m.value.is_empty(),
        op => {
            let hit = regex::Regex::new(&format!("^(?s:{})$", m.value))
                .map(|r| r.is_match(""))
                .unwrap_or(false);
            if op == lex::Kind::EqlRegex {
                hit
            } else {
                !hit
            }
        }
    }
}

/// Prometheus's `model.ParseDuration`, in milliseconds, with its error texts.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let invalid = || {
        format!(
            "not a valid duration string: {}",
            crate::http::params::go_quote(s)
        )
    };
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let mut rest = s;
    let mut last_unit: Option<usize> = None;
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let v: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let ulen = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if ulen == 0 {
            return Err(invalid());
        }
        let u = &rest[..ulen];
        rest = &rest[ulen..];
        let Some(idx) = UNITS.iter().position(|(n, _)| *n == u) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                crate::http::params::go_quote(u),
                crate::http::params::go_quote(s)
            ));
        };
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(invalid());
        }
        last_unit = Some(idx);
        let ns_per = u128::from(UNITS[idx].1) * 1_000_000;
        total_ns += u128::from(v) * ns_per;
        if total_ns > i64::MAX as u128 {
            return Err("duration out of range".into());
        }
    }
    Ok((total_ns / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_bytes() {
        let e = ParseErr {
            pos: 9,
            msg: "x".into(),
        };
        assert_eq!(e.render("sum(\n  up +"), "2:5: parse error: x");
        assert_eq!(e.render("abcdefghij"), "1:10: parse error: x");
    }

    #[test]
    fn durations_follow_model_parse_duration() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("5ms"), Ok(5));
        assert_eq!(
            parse_duration("1m1h"),
            Err("not a valid duration string: \"1m1h\"".into())
        );
        assert_eq!(
            parse_duration("5hs"),
            Err("unknown unit \"hs\" in duration \"5hs\"".into())
        );
    }

    #[test]
    fn unquote_handles_escapes() {
        assert_eq!(unquote(r#""a\"b\n""#), "a\"b\n");
        assert_eq!(unquote("'x'"), "x");
        assert_eq!(unquote(r"`a\n`"), r"a\n");
        assert_eq!(unquote(r#""\u00e9\x41""#), "éA");
    }

    /// The matcher values and string arguments the engine gets, as Go reads the literals.
    fn strings_of(q: &str) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::VectorSelector(v) => {
                    out.extend(v.matchers.matchers.iter().map(|m| m.value.clone()));
                }
                Expr::StringLiteral(s) => out.push(s.val.clone()),
                Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&parse(q).expect(q), &mut out);
        out
    }

    #[test]
    fn quoted_strings_read_back_as_themselves() {
        for s in [
            "",
            "a",
            "a\"b",
            "c:\\x",
            "l1\nl2\t\u{1}\u{7f}",
            "é€😀",
            "\\xff",
        ] {
            let q = quote(s);
            assert_eq!(strings_of(&format!("x{{a={q}}}")), [s], "{q}");
        }
    }

    fn rewrite(q: &str) -> Option<String> {
        go_strings(q, &lex::tokenize(q))
    }

    #[test]
    fn byte_escapes_read_as_go_reads_them() {
        // Two byte escapes are one UTF-8 character, not two Latin-1 ones.
        assert_eq!(strings_of(r#"x{a="\xc3\xa9"}"#), ["é"]);
        assert_eq!(strings_of(r#"x{a='\303\251'}"#), ["é"]);
        // Bytes that are not UTF-8 become U+FFFD; the rest of the literal is kept.
        assert_eq!(
            strings_of(r#"label_replace(x, "a\xffb\"\\\n", "", "src", "(.*)")"#),
            ["a\u{FFFD}b\"\\\n", "", "src", "(.*)"]
        );
        // Escapes below 0x80, `\u` escapes and raw strings need no rewrite.
        assert_eq!(rewrite(r#"x{a="\x41\101\u00e9"}"#), None);
        assert_eq!(rewrite(r#"x{a=`\xff`}"#), None);
        assert_eq!(strings_of(r#"x{a=`\xff`}"#), [r"\xff"]);
        // Text around rewritten literals stays as it was.
        assert_eq!(
            rewrite(
                r#"sum(x{a="\xc3\xa9"}) # c "\xff"
 + y{b="\xe2\x82\xac"}"#
            )
            .as_deref(),
            Some("sum(x{a=\"é\"}) # c \"\\xff\"\n + y{b=\"€\"}")
        );
    }
}
